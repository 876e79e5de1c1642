//! Writing many rows through sqlite's C API: a bulk load's attempts and every sync's
//! rollup rows. A bulk load's writer is the bottleneck of a first sync, and sqlx's binding
//! cost it a third of its time: sqlite copies every bound value (`SQLITE_TRANSIENT`), then
//! clears and frees it after each statement. Here the values are bound in place
//! (`SQLITE_STATIC`) into one prepared single-row statement, on the connection of the
//! transaction, which sqlx lends for the purpose (`lock_handle`).

use std::ffi::{CStr, c_char, c_int};
use std::ptr;

use libsqlite3_sys as ffi;
use sqlx::{Sqlite, Transaction};

use super::StoreError;

/// A column's value, as sqlite stores it.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Text(String),
    StaticText(&'static str),
    Real(f64),
    Integer(i64),
}

impl From<Option<String>> for Value {
    fn from(text: Option<String>) -> Value {
        text.map_or(Value::Null, Value::Text)
    }
}

/// Runs `sql`, an `INSERT` of one row, once for each `columns` values of `values`, in `tx`.
pub async fn insert_rows(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    columns: usize,
    values: &[Value],
) -> Result<(), StoreError> {
    let mut handle = tx.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // The guard keeps sqlx's worker off the connection until the rows are in. They are
    // written on this thread, as sqlx's worker would have; the runtime moves its other
    // tasks elsewhere meanwhile when it has other threads.
    // SAFETY: `db` is an open connection that nothing else uses while `handle` lives.
    let write = || unsafe { step_rows(db, sql, columns, values) };
    let written = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(write),
        _ => write(),
    };
    drop(handle);
    written.map_err(|RawError { code, message }| match code {
        ffi::SQLITE_FULL => StoreError::DiskFull(message),
        _ => StoreError::Write { code, message },
    })
}

struct RawError {
    code: c_int,
    message: String,
}

/// Finalizes the statement however the rows end.
struct Statement(*mut ffi::sqlite3_stmt);

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: a statement prepared by `step_rows`, finalized once.
        unsafe { ffi::sqlite3_finalize(self.0) };
    }
}

/// # Safety
/// `db` must be an open connection that no other thread uses during the call.
unsafe fn step_rows(db: *mut ffi::sqlite3, sql: &str, columns: usize, values: &[Value]) -> Result<(), RawError> {
    let error = |code: c_int| RawError {
        code: code & 0xff,
        // SAFETY: sqlite's message for the connection's last error, copied before any other call.
        message: unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }.to_string_lossy().into_owned(),
    };
    let mut raw = ptr::null_mut();
    let sql_len = c_int::try_from(sql.len()).expect("a short statement");
    // SAFETY: `sql` outlives the call, which reads `sql_len` bytes of it.
    let prepared =
        unsafe { ffi::sqlite3_prepare_v3(db, sql.as_ptr().cast::<c_char>(), sql_len, 0, &mut raw, ptr::null_mut()) };
    if prepared != ffi::SQLITE_OK {
        return Err(error(prepared));
    }
    let statement = Statement(raw);
    // SAFETY: `statement` is a prepared statement of `db`. Each value bound in place lives
    // in `values`, which outlives every step that reads it; each row rebinds every parameter
    // before its step, so no step reads a value of an earlier row.
    unsafe {
        let parameters = usize::try_from(ffi::sqlite3_bind_parameter_count(statement.0)).unwrap_or(0);
        if parameters != columns || columns == 0 || !values.len().is_multiple_of(columns) {
            let message = format!("{sql} takes {parameters} values, not rows of {columns} from {}", values.len());
            return Err(RawError { code: ffi::SQLITE_RANGE, message });
        }
        for row in values.chunks_exact(columns) {
            for (index, value) in (1..).zip(row) {
                let bound = match value {
                    Value::Null => ffi::sqlite3_bind_null(statement.0, index),
                    Value::Text(text) => bind_text(statement.0, index, text),
                    Value::StaticText(text) => bind_text(statement.0, index, text),
                    Value::Real(real) => ffi::sqlite3_bind_double(statement.0, index, *real),
                    Value::Integer(integer) => ffi::sqlite3_bind_int64(statement.0, index, *integer),
                };
                if bound != ffi::SQLITE_OK {
                    return Err(error(bound));
                }
            }
            let stepped = ffi::sqlite3_step(statement.0);
            if stepped != ffi::SQLITE_DONE {
                return Err(error(stepped));
            }
            ffi::sqlite3_reset(statement.0);
        }
    }
    Ok(())
}

/// # Safety
/// `text` must live until the statement is stepped for the last time with it bound.
unsafe fn bind_text(statement: *mut ffi::sqlite3_stmt, index: c_int, text: &str) -> c_int {
    let Ok(len) = c_int::try_from(text.len()) else {
        return ffi::SQLITE_TOOBIG;
    };
    // SAFETY: as the caller promises; sqlite reads `len` bytes and does not copy them.
    unsafe { ffi::sqlite3_bind_text(statement, index, text.as_ptr().cast::<c_char>(), len, ffi::SQLITE_STATIC()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn table() -> sqlx::SqlitePool {
        // One connection: each would have its own in-memory database.
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (name TEXT NOT NULL, label TEXT, price REAL, size INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    const INSERT: &str = "INSERT INTO t (name, label, price, size) VALUES (?, ?, ?, ?)";

    #[tokio::test]
    async fn each_row_keeps_its_own_values() {
        let pool = table().await;
        let values: Vec<Value> = (0..300)
            .flat_map(|i| {
                [
                    Value::Text("x".repeat(i % 7 + 1) + &i.to_string()),
                    if i % 3 == 0 { Value::Null } else { Value::StaticText("label") },
                    Value::Real(f64::from(i as u32) / 4.0),
                    if i % 2 == 0 { Value::Integer(i as i64 * 1_000_000_007) } else { Value::Null },
                ]
            })
            .collect();
        let mut tx = pool.begin().await.unwrap();
        insert_rows(&mut tx, INSERT, 4, &values).await.unwrap();
        tx.commit().await.unwrap();
        let stored: Vec<(String, Option<String>, f64, Option<i64>)> =
            sqlx::query_as("SELECT name, label, price, size FROM t ORDER BY rowid").fetch_all(&pool).await.unwrap();
        assert_eq!(stored.len(), 300);
        for (i, (name, label, price, size)) in stored.into_iter().enumerate() {
            assert_eq!(name, "x".repeat(i % 7 + 1) + &i.to_string());
            assert_eq!(label.as_deref(), if i % 3 == 0 { None } else { Some("label") });
            assert_eq!(price, i as f64 / 4.0);
            assert_eq!(size, (i % 2 == 0).then_some(i as i64 * 1_000_000_007));
        }
    }

    #[tokio::test]
    async fn a_rejected_row_is_reported_and_the_connection_goes_on() {
        let pool = table().await;
        let row = |name: Value| [name, Value::Null, Value::Real(1.0), Value::Integer(1)];
        let values: Vec<Value> = [row(Value::StaticText("kept")), row(Value::Null), row(Value::StaticText("never"))]
            .into_iter()
            .flatten()
            .collect();
        let mut tx = pool.begin().await.unwrap();
        let error = insert_rows(&mut tx, INSERT, 4, &values).await.unwrap_err();
        assert!(
            matches!(&error, StoreError::Write { code: ffi::SQLITE_CONSTRAINT, message } if message.contains("NOT NULL")),
            "{error:?}"
        );
        // The rows before the rejected one stay in the transaction; sqlx goes on using it.
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM t").fetch_all(&mut *tx).await.unwrap();
        assert_eq!(names, ["kept"]);
        for (columns, values) in
            [(3, vec![Value::Null, Value::Null, Value::Null]), (0, Vec::new()), (4, vec![Value::Null; 5])]
        {
            let error = insert_rows(&mut tx, INSERT, columns, &values).await.unwrap_err();
            assert!(matches!(&error, StoreError::Write { code: ffi::SQLITE_RANGE, .. }), "{error:?}");
        }
        tx.commit().await.unwrap();
    }
}
