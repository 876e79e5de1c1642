//! Saved views, rules, digests and messages in the snapshot's database.

use sqlx::{Row, SqlitePool};

use super::AlertError;
use super::condition::{Condition, Evaluation};
use super::destinations::DestinationKind;
use super::message::Message;

#[derive(Clone, Debug, PartialEq)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The view's query string, without `?`.
    pub query: String,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub id: i64,
    pub view: SavedView,
    pub name: String,
    pub condition: Condition,
    pub min_verifications: u64,
    /// Rates over the last this many minutes instead of the view's range.
    pub window_minutes: Option<u32>,
    pub destinations: Vec<DestinationKind>,
    pub email_to: String,
    pub paused: bool,
    pub snoozed_until: Option<String>,
    /// `ok` or `firing`.
    pub state: String,
    pub state_since: Option<String>,
    pub episode: i64,
    pub last_evaluated_at: Option<String>,
    pub last_evaluation: Option<Evaluation>,
}

impl Rule {
    /// Snoozed at `now` (ISO 8601 UTC compares as text).
    pub fn snoozed_at(&self, now: &str) -> bool {
        self.snoozed_until.as_deref().is_some_and(|until| until > now)
    }

    /// The condition in words, with the window its rates are read over.
    pub fn describe(&self) -> String {
        let rates = matches!(self.condition, Condition::ConversionBelow { .. } | Condition::DeliveryBelow { .. });
        match self.window_minutes {
            Some(minutes) if rates => format!("{}, over the last {minutes} minutes", self.condition.describe()),
            _ => self.condition.describe(),
        }
    }

    /// What the page shows: `paused`, `snoozed`, `firing` or `ok`.
    pub fn shown_state(&self, now: &str) -> &str {
        if self.paused {
            "paused"
        } else if self.snoozed_at(now) {
            "snoozed"
        } else {
            &self.state
        }
    }
}

/// A rule as the form gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleInput {
    pub view_id: i64,
    pub name: String,
    pub condition: Condition,
    pub min_verifications: u64,
    pub window_minutes: Option<u32>,
    pub destinations: Vec<DestinationKind>,
    pub email_to: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Digest {
    pub id: i64,
    pub view: SavedView,
    /// `daily` or `weekly`.
    pub frequency: String,
    pub hour: u32,
    pub destinations: Vec<DestinationKind>,
    pub email_to: String,
    pub last_due_at: Option<String>,
}

/// A message as stored for one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    pub id: i64,
    pub rule_id: Option<i64>,
    pub destination: DestinationKind,
    pub recipients: String,
    pub kind: String,
    pub idempotency_key: String,
    pub message: Message,
    pub status: String,
    pub tries: i64,
    pub next_try_at: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryLog {
    pub message_id: i64,
    pub destination: String,
    pub title: String,
    pub at: String,
    pub outcome: String,
    pub detail: String,
}

fn kinds_json(kinds: &[DestinationKind]) -> String {
    serde_json::to_string(kinds).unwrap_or_else(|_| "[]".into())
}

fn kinds_from(text: &str) -> Vec<DestinationKind> {
    serde_json::from_str(text).unwrap_or_default()
}

pub async fn create_view(pool: &SqlitePool, name: &str, query: &str, now: &str) -> Result<i64, AlertError> {
    Ok(sqlx::query_scalar("INSERT INTO saved_views (name, query, created_at) VALUES (?, ?, ?) RETURNING id")
        .bind(name)
        .bind(query)
        .bind(now)
        .fetch_one(pool)
        .await?)
}

pub async fn views(pool: &SqlitePool) -> Result<Vec<SavedView>, AlertError> {
    let rows = sqlx::query("SELECT id, name, query, created_at FROM saved_views ORDER BY name COLLATE NOCASE, id")
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(view_from).collect())
}

fn view_from(row: &sqlx::sqlite::SqliteRow) -> SavedView {
    SavedView { id: row.get("id"), name: row.get("name"), query: row.get("query"), created_at: row.get("created_at") }
}

pub async fn view(pool: &SqlitePool, id: i64) -> Result<SavedView, AlertError> {
    let row = sqlx::query("SELECT id, name, query, created_at FROM saved_views WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(AlertError::NotFound("saved view"))?;
    Ok(view_from(&row))
}

pub async fn rename_view(pool: &SqlitePool, id: i64, name: &str) -> Result<(), AlertError> {
    let done = sqlx::query("UPDATE saved_views SET name = ? WHERE id = ?").bind(name).bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(AlertError::NotFound("saved view"));
    }
    Ok(())
}

/// Deletes a view with its rules and digests (their sent messages stay in the log).
pub async fn delete_view(pool: &SqlitePool, id: i64) -> Result<(), AlertError> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM alert_rules WHERE view_id = ?").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM digests WHERE view_id = ?").bind(id).execute(&mut *tx).await?;
    let done = sqlx::query("DELETE FROM saved_views WHERE id = ?").bind(id).execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Err(AlertError::NotFound("saved view"));
    }
    tx.commit().await?;
    Ok(())
}

const RULE_COLUMNS: &str = "r.id, r.name, r.condition, r.min_verifications, r.window_minutes, r.destinations, r.email_to, r.paused, \
     r.snoozed_until, r.state, r.state_since, r.episode, r.last_evaluated_at, r.last_evaluation, \
     v.id AS view_id, v.name AS view_name, v.query AS view_query, v.created_at AS view_created_at";

fn rule_from(row: &sqlx::sqlite::SqliteRow) -> Rule {
    let condition: String = row.get("condition");
    let evaluation: Option<String> = row.get("last_evaluation");
    Rule {
        id: row.get("id"),
        view: SavedView {
            id: row.get("view_id"),
            name: row.get("view_name"),
            query: row.get("view_query"),
            created_at: row.get("view_created_at"),
        },
        name: row.get("name"),
        condition: serde_json::from_str(&condition).unwrap_or(Condition::Anomaly),
        min_verifications: row.get::<i64, _>("min_verifications").max(0) as u64,
        window_minutes: row.get::<Option<i64>, _>("window_minutes").map(|m| m.clamp(1, 1440) as u32),
        destinations: kinds_from(&row.get::<String, _>("destinations")),
        email_to: row.get("email_to"),
        paused: row.get("paused"),
        snoozed_until: row.get("snoozed_until"),
        state: row.get("state"),
        state_since: row.get("state_since"),
        episode: row.get("episode"),
        last_evaluated_at: row.get("last_evaluated_at"),
        last_evaluation: evaluation.and_then(|e| serde_json::from_str(&e).ok()),
    }
}

pub async fn rules(pool: &SqlitePool) -> Result<Vec<Rule>, AlertError> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules r JOIN saved_views v ON v.id = r.view_id ORDER BY r.id");
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    Ok(rows.iter().map(rule_from).collect())
}

pub async fn rule(pool: &SqlitePool, id: i64) -> Result<Rule, AlertError> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules r JOIN saved_views v ON v.id = r.view_id WHERE r.id = ?");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?.ok_or(AlertError::NotFound("alert rule"))?;
    Ok(rule_from(&row))
}

pub async fn create_rule(pool: &SqlitePool, input: &RuleInput, now: &str) -> Result<i64, AlertError> {
    view(pool, input.view_id).await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO alert_rules (view_id, name, condition, min_verifications, window_minutes, destinations, email_to, \
         created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(input.view_id)
    .bind(&input.name)
    .bind(serde_json::to_string(&input.condition).unwrap_or_default())
    .bind(input.min_verifications as i64)
    .bind(input.window_minutes.map(i64::from))
    .bind(kinds_json(&input.destinations))
    .bind(&input.email_to)
    .bind(now)
    .fetch_one(pool)
    .await?)
}

/// Changes a rule's settings; its state stays (a changed condition is judged at the next evaluation).
pub async fn update_rule(pool: &SqlitePool, id: i64, input: &RuleInput) -> Result<(), AlertError> {
    view(pool, input.view_id).await?;
    let done = sqlx::query(
        "UPDATE alert_rules SET view_id = ?, name = ?, condition = ?, min_verifications = ?, window_minutes = ?, \
         destinations = ?, email_to = ? WHERE id = ?",
    )
    .bind(input.view_id)
    .bind(&input.name)
    .bind(serde_json::to_string(&input.condition).unwrap_or_default())
    .bind(input.min_verifications as i64)
    .bind(input.window_minutes.map(i64::from))
    .bind(kinds_json(&input.destinations))
    .bind(&input.email_to)
    .bind(id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(AlertError::NotFound("alert rule"));
    }
    Ok(())
}

pub async fn set_paused(pool: &SqlitePool, id: i64, paused: bool) -> Result<(), AlertError> {
    let done =
        sqlx::query("UPDATE alert_rules SET paused = ? WHERE id = ?").bind(paused).bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(AlertError::NotFound("alert rule"));
    }
    Ok(())
}

pub async fn set_snooze(pool: &SqlitePool, id: i64, until: Option<&str>) -> Result<(), AlertError> {
    let done =
        sqlx::query("UPDATE alert_rules SET snoozed_until = ? WHERE id = ?").bind(until).bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(AlertError::NotFound("alert rule"));
    }
    Ok(())
}

/// Deletes a rule and its messages not sent yet (those sent stay in the log).
pub async fn delete_rule(pool: &SqlitePool, id: i64) -> Result<(), AlertError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("DELETE FROM alert_rules WHERE id = ?").bind(id).execute(&mut *tx).await?;
    if done.rows_affected() == 0 {
        return Err(AlertError::NotFound("alert rule"));
    }
    sqlx::query("DELETE FROM alert_messages WHERE rule_id = ? AND status = 'pending' AND tries = 0")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A message to queue for one destination.
pub struct Outgoing {
    pub destination: DestinationKind,
    /// The e-mail's recipients, comma-separated.
    pub recipients: String,
    pub message: Message,
}

/// Queues `outgoing`, due at once. Delivery runs on the clock's time even when the views'
/// time is pinned (`--now`), so a message is due by the clock.
async fn queue(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    rule_id: Option<i64>,
    digest_id: Option<i64>,
    outgoing: &[Outgoing],
) -> Result<(), AlertError> {
    let now = crate::model::twilio_time::format(&chrono::Utc::now());
    for o in outgoing {
        // A key already queued for the destination is the same message: queued once.
        sqlx::query(
            "INSERT OR IGNORE INTO alert_messages (rule_id, digest_id, destination, recipients, kind, idempotency_key, \
             payload, next_try_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(rule_id)
        .bind(digest_id)
        .bind(o.destination.as_str())
        .bind(&o.recipients)
        .bind(&o.message.kind)
        .bind(&o.message.idempotency_key)
        .bind(serde_json::to_string(&o.message).unwrap_or_default())
        .bind(&now)
        .bind(&now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// One evaluation of a rule: the state it moves to from the one it was read in, and the
/// messages that move sends.
pub struct Transition {
    pub rule_id: i64,
    pub from: String,
    pub to: String,
    pub episode: i64,
    pub evaluation: Evaluation,
    pub outgoing: Vec<Outgoing>,
    pub at: String,
}

/// Records evaluations in one transaction; where the state changes (and is still the one it
/// was read in), the state and the messages it sends are written with it. For each, whether
/// it changed.
pub async fn record_evaluations(pool: &SqlitePool, transitions: &[Transition]) -> Result<Vec<bool>, AlertError> {
    let mut tx = pool.begin().await?;
    let mut moved = Vec::with_capacity(transitions.len());
    for t in transitions {
        let evaluation_json = serde_json::to_string(&t.evaluation).unwrap_or_default();
        let changed = t.from != t.to;
        let done = if changed {
            sqlx::query(
                "UPDATE alert_rules SET state = ?, state_since = ?, episode = ?, last_evaluated_at = ?, \
                 last_evaluation = ? WHERE id = ? AND state = ?",
            )
            .bind(&t.to)
            .bind(&t.at)
            .bind(t.episode)
            .bind(&t.at)
            .bind(&evaluation_json)
            .bind(t.rule_id)
            .bind(&t.from)
            .execute(&mut *tx)
            .await?
        } else {
            sqlx::query("UPDATE alert_rules SET last_evaluated_at = ?, last_evaluation = ? WHERE id = ?")
                .bind(&t.at)
                .bind(&evaluation_json)
                .bind(t.rule_id)
                .execute(&mut *tx)
                .await?
        };
        let this_moved = changed && done.rows_affected() == 1;
        if this_moved {
            queue(&mut tx, Some(t.rule_id), None, &t.outgoing).await?;
        }
        moved.push(this_moved);
    }
    tx.commit().await?;
    Ok(moved)
}

/// Queues messages outside any state change (a test message).
pub async fn queue_messages(pool: &SqlitePool, rule_id: Option<i64>, outgoing: &[Outgoing]) -> Result<(), AlertError> {
    let mut tx = pool.begin().await?;
    queue(&mut tx, rule_id, None, outgoing).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn create_digest(
    pool: &SqlitePool,
    view_id: i64,
    frequency: &str,
    hour: u32,
    destinations: &[DestinationKind],
    email_to: &str,
    now: &str,
) -> Result<i64, AlertError> {
    view(pool, view_id).await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO digests (view_id, frequency, hour, destinations, email_to, created_at) VALUES (?, ?, ?, ?, ?, ?) \
         RETURNING id",
    )
    .bind(view_id)
    .bind(frequency)
    .bind(hour as i64)
    .bind(kinds_json(destinations))
    .bind(email_to)
    .bind(now)
    .fetch_one(pool)
    .await?)
}

pub async fn digests(pool: &SqlitePool) -> Result<Vec<Digest>, AlertError> {
    let rows = sqlx::query(
        "SELECT d.id, d.frequency, d.hour, d.destinations, d.email_to, d.last_due_at, v.id AS view_id, \
         v.name AS view_name, v.query AS view_query, v.created_at AS view_created_at \
         FROM digests d JOIN saved_views v ON v.id = d.view_id ORDER BY d.id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| Digest {
            id: row.get("id"),
            view: SavedView {
                id: row.get("view_id"),
                name: row.get("view_name"),
                query: row.get("view_query"),
                created_at: row.get("view_created_at"),
            },
            frequency: row.get("frequency"),
            hour: row.get::<i64, _>("hour").clamp(0, 23) as u32,
            destinations: kinds_from(&row.get::<String, _>("destinations")),
            email_to: row.get("email_to"),
            last_due_at: row.get("last_due_at"),
        })
        .collect())
}

pub async fn delete_digest(pool: &SqlitePool, id: i64) -> Result<(), AlertError> {
    let done = sqlx::query("DELETE FROM digests WHERE id = ?").bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(AlertError::NotFound("digest"));
    }
    Ok(())
}

/// Marks a digest's occurrence `due` as queued, with its messages, once: false when it was already.
pub async fn queue_digest(
    pool: &SqlitePool,
    id: i64,
    previous_due: Option<&str>,
    due: &str,
    outgoing: &[Outgoing],
) -> Result<bool, AlertError> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query("UPDATE digests SET last_due_at = ? WHERE id = ? AND last_due_at IS ?")
        .bind(due)
        .bind(id)
        .bind(previous_due)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 1 {
        queue(&mut tx, None, Some(id), outgoing).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

fn message_from(row: &sqlx::sqlite::SqliteRow) -> Option<StoredMessage> {
    let payload: String = row.get("payload");
    Some(StoredMessage {
        id: row.get("id"),
        rule_id: row.get("rule_id"),
        destination: DestinationKind::parse(&row.get::<String, _>("destination"))?,
        recipients: row.get("recipients"),
        kind: row.get("kind"),
        idempotency_key: row.get("idempotency_key"),
        message: serde_json::from_str(&payload).ok()?,
        status: row.get("status"),
        tries: row.get("tries"),
        next_try_at: row.get("next_try_at"),
        created_at: row.get("created_at"),
        delivered_at: row.get("delivered_at"),
    })
}

const MESSAGE_COLUMNS: &str = "id, rule_id, destination, recipients, kind, idempotency_key, payload, status, tries, next_try_at, created_at, delivered_at";

/// Messages waiting to be sent whose time has come, oldest first.
pub async fn due_messages(pool: &SqlitePool, now: &str, limit: i64) -> Result<Vec<StoredMessage>, AlertError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM alert_messages WHERE status = 'pending' AND next_try_at <= ? ORDER BY next_try_at, id LIMIT ?"
    );
    let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(pool).await?;
    Ok(rows.iter().filter_map(message_from).collect())
}

/// When the next pending message is due, if any is.
pub async fn next_due(pool: &SqlitePool) -> Result<Option<String>, AlertError> {
    Ok(sqlx::query_scalar("SELECT MIN(next_try_at) FROM alert_messages WHERE status = 'pending'")
        .fetch_one(pool)
        .await?)
}

/// The inbox: messages to it, newest first.
pub async fn inbox(pool: &SqlitePool, limit: i64) -> Result<Vec<StoredMessage>, AlertError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM alert_messages WHERE destination = 'inbox' AND status = 'delivered' \
         ORDER BY id DESC LIMIT ?"
    );
    let rows = sqlx::query(&sql).bind(limit).fetch_all(pool).await?;
    Ok(rows.iter().filter_map(message_from).collect())
}

/// Every message, oldest first.
pub async fn messages(pool: &SqlitePool) -> Result<Vec<StoredMessage>, AlertError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM alert_messages ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    Ok(rows.iter().filter_map(message_from).collect())
}

/// Records one try of a message: delivered, failed with the next try at `retry_at`, or given up.
pub async fn record_try(
    pool: &SqlitePool,
    id: i64,
    now: &str,
    outcome: Result<String, (String, Option<String>)>,
) -> Result<(), AlertError> {
    let mut tx = pool.begin().await?;
    let (status, log_outcome, detail, next) = match &outcome {
        Ok(detail) => ("delivered", "delivered", detail.clone(), None),
        Err((detail, Some(retry_at))) => ("pending", "failed", detail.clone(), Some(retry_at.clone())),
        Err((detail, None)) => ("failed", "gave up", detail.clone(), None),
    };
    sqlx::query(
        "UPDATE alert_messages SET status = ?, tries = tries + 1, next_try_at = COALESCE(?, next_try_at), \
         delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END WHERE id = ?",
    )
    .bind(status)
    .bind(next)
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO alert_deliveries (message_id, at, outcome, detail) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(now)
        .bind(log_outcome)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The newest deliveries and failures, for `/alerts`.
pub async fn delivery_log(pool: &SqlitePool, limit: i64) -> Result<Vec<DeliveryLog>, AlertError> {
    let rows = sqlx::query(
        "SELECT d.message_id, m.destination, m.payload, d.at, d.outcome, d.detail FROM alert_deliveries d \
         JOIN alert_messages m ON m.id = d.message_id ORDER BY d.id DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let payload: String = row.get("payload");
            DeliveryLog {
                message_id: row.get("message_id"),
                destination: row.get("destination"),
                title: serde_json::from_str::<Message>(&payload).map(|m| m.title).unwrap_or_default(),
                at: row.get("at"),
                outcome: row.get("outcome"),
                detail: row.get("detail"),
            }
        })
        .collect())
}
