//! The sync lease: one process at a time syncs each Twilio account. It holds a PostgreSQL
//! advisory lock on a connection of its own, outside the pool, so the lock lives exactly as long
//! as that connection: a process that dies or loses the network loses it. Taking the lock
//! raises the account's epoch, and every write checks its epoch in its own transaction (the
//! fence), so a syncer that lost its lock without knowing cannot write.

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, Postgres, Transaction};

use crate::store::StoreError;

/// What a write shows to prove it may write an account's attempts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub account_sid: String,
    pub epoch: i64,
}

/// A held lease: its connection keeps the advisory lock.
pub struct SyncLease {
    connection: PgConnection,
    fence: Fence,
}

/// How soon the server notices that a lease's peer is gone without closing its connection (a
/// machine that stopped, a network cut): idle seconds, then probes this often, this many times.
const KEEPALIVES: [(&str, &str); 3] =
    [("tcp_keepalives_idle", "10"), ("tcp_keepalives_interval", "5"), ("tcp_keepalives_count", "3")];

impl SyncLease {
    /// Takes the lease of `account_sid` if no one holds it, raising its epoch; `None` if another
    /// connection holds it. `holder` names this process in `sync_leases`.
    pub async fn try_acquire(
        options: &PgConnectOptions,
        account_sid: &str,
        holder: &str,
    ) -> Result<Option<SyncLease>, StoreError> {
        let options = options.clone().application_name("verilens sync lease").options(KEEPALIVES);
        let mut connection = PgConnection::connect_with(&options).await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(account_sid))
            .fetch_one(&mut connection)
            .await?;
        if !locked {
            connection.close().await.ok();
            return Ok(None);
        }
        let epoch: i64 = sqlx::query_scalar(
            "INSERT INTO sync_leases (account_sid, epoch, holder, acquired_at) VALUES ($1, 1, $2, now()) \
             ON CONFLICT (account_sid) DO UPDATE \
             SET epoch = sync_leases.epoch + 1, holder = EXCLUDED.holder, acquired_at = EXCLUDED.acquired_at \
             RETURNING epoch",
        )
        .bind(account_sid)
        .bind(holder)
        .fetch_one(&mut connection)
        .await?;
        Ok(Some(SyncLease { connection, fence: Fence { account_sid: account_sid.to_string(), epoch } }))
    }

    /// What this lease's writes show.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// The server process of the lease's connection: ending it (`pg_terminate_backend`) is how
    /// an operator, or a test, takes the lease away.
    pub async fn backend_pid(&mut self) -> Result<i32, StoreError> {
        Ok(sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut self.connection).await?)
    }

    /// Whether the lease's connection, and so its lock, is still there. A syncer asks before
    /// each batch; the fence covers the time between the answer and the write.
    pub async fn is_held(&mut self) -> bool {
        self.connection.ping().await.is_ok()
    }

    /// Gives the lease up, for another process to take at once.
    pub async fn release(mut self) {
        let key = lock_key(&self.fence.account_sid);
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut self.connection).await.ok();
        self.connection.close().await.ok();
    }
}

/// Refuses the write of `tx` unless `fence` holds the account's current epoch. The row stays
/// locked until `tx` ends, so a new holder's epoch cannot be raised in between.
pub(super) async fn check(tx: &mut Transaction<'_, Postgres>, fence: &Fence) -> Result<(), StoreError> {
    let current: Option<i64> = sqlx::query_scalar("SELECT epoch FROM sync_leases WHERE account_sid = $1 FOR SHARE")
        .bind(&fence.account_sid)
        .fetch_optional(&mut **tx)
        .await?;
    if current == Some(fence.epoch) {
        return Ok(());
    }
    Err(StoreError::LeaseLost { account_sid: fence.account_sid.clone(), epoch: fence.epoch, current })
}

/// The advisory lock of an account's lease: FNV-1a of the account SID in a namespace of its own,
/// stable across processes and versions.
fn lock_key(account_sid: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"verilens sync lease:".iter().chain(account_sid.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn each_account_has_a_lock_of_its_own_and_always_the_same() {
        let first = lock_key("AC00000000000000000000000000000001");
        assert_eq!(first, lock_key("AC00000000000000000000000000000001"));
        assert_ne!(first, lock_key("AC00000000000000000000000000000002"));
    }
}
