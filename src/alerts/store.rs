//! Saved views, rules, digests and messages in the snapshot's database: the same SQL on
//! either store.

use crate::on_either;
use crate::store::Store;

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

#[derive(sqlx::FromRow)]
struct ViewRow {
    id: i64,
    name: String,
    query: String,
    created_at: String,
}

impl From<ViewRow> for SavedView {
    fn from(r: ViewRow) -> SavedView {
        SavedView { id: r.id, name: r.name, query: r.query, created_at: r.created_at }
    }
}

pub async fn create_view(store: &Store, name: &str, query: &str, now: &str) -> Result<i64, AlertError> {
    Ok(on_either!(store, |pool, _dialect| {
        sqlx::query_scalar("INSERT INTO saved_views (name, query, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(name)
            .bind(query)
            .bind(now)
            .fetch_one(pool)
            .await?
    }))
}

pub async fn views(store: &Store) -> Result<Vec<SavedView>, AlertError> {
    let rows: Vec<ViewRow> = on_either!(store, |pool, _dialect| {
        sqlx::query_as("SELECT id, name, query, created_at FROM saved_views ORDER BY lower(name), id")
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().map(SavedView::from).collect())
}

pub async fn view(store: &Store, id: i64) -> Result<SavedView, AlertError> {
    let row: Option<ViewRow> = on_either!(store, |pool, _dialect| {
        sqlx::query_as("SELECT id, name, query, created_at FROM saved_views WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    row.map(SavedView::from).ok_or(AlertError::NotFound("saved view"))
}

pub async fn rename_view(store: &Store, id: i64, name: &str) -> Result<(), AlertError> {
    let renamed = on_either!(store, |pool, _dialect| {
        sqlx::query("UPDATE saved_views SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if renamed == 0 {
        return Err(AlertError::NotFound("saved view"));
    }
    Ok(())
}

/// Deletes a view with its rules and digests (their sent messages stay in the log).
pub async fn delete_view(store: &Store, id: i64) -> Result<(), AlertError> {
    on_either!(store, |pool, _dialect| {
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM alert_rules WHERE view_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM digests WHERE view_id = $1").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM saved_views WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(AlertError::NotFound("saved view"));
        }
        tx.commit().await?;
    });
    Ok(())
}

const RULE_COLUMNS: &str = "r.id, r.name, r.condition, r.min_verifications, r.window_minutes, r.destinations, r.email_to, r.paused, \
     r.snoozed_until, r.state, r.state_since, r.episode, r.last_evaluated_at, r.last_evaluation, \
     v.id AS view_id, v.name AS view_name, v.query AS view_query, v.created_at AS view_created_at";

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    name: String,
    condition: String,
    min_verifications: i64,
    window_minutes: Option<i64>,
    destinations: String,
    email_to: String,
    paused: bool,
    snoozed_until: Option<String>,
    state: String,
    state_since: Option<String>,
    episode: i64,
    last_evaluated_at: Option<String>,
    last_evaluation: Option<String>,
    view_id: i64,
    view_name: String,
    view_query: String,
    view_created_at: String,
}

impl From<RuleRow> for Rule {
    fn from(r: RuleRow) -> Rule {
        Rule {
            id: r.id,
            view: SavedView { id: r.view_id, name: r.view_name, query: r.view_query, created_at: r.view_created_at },
            name: r.name,
            condition: serde_json::from_str(&r.condition).unwrap_or(Condition::Anomaly),
            min_verifications: r.min_verifications.max(0) as u64,
            window_minutes: r.window_minutes.map(|m| m.clamp(1, 1440) as u32),
            destinations: kinds_from(&r.destinations),
            email_to: r.email_to,
            paused: r.paused,
            snoozed_until: r.snoozed_until,
            state: r.state,
            state_since: r.state_since,
            episode: r.episode,
            last_evaluated_at: r.last_evaluated_at,
            last_evaluation: r.last_evaluation.and_then(|e| serde_json::from_str(&e).ok()),
        }
    }
}

pub async fn rules(store: &Store) -> Result<Vec<Rule>, AlertError> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules r JOIN saved_views v ON v.id = r.view_id ORDER BY r.id");
    let rows: Vec<RuleRow> = on_either!(store, |pool, _dialect| sqlx::query_as(&sql).fetch_all(pool).await?);
    Ok(rows.into_iter().map(Rule::from).collect())
}

pub async fn rule(store: &Store, id: i64) -> Result<Rule, AlertError> {
    let sql =
        format!("SELECT {RULE_COLUMNS} FROM alert_rules r JOIN saved_views v ON v.id = r.view_id WHERE r.id = $1");
    let row: Option<RuleRow> =
        on_either!(store, |pool, _dialect| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
    row.map(Rule::from).ok_or(AlertError::NotFound("alert rule"))
}

pub async fn create_rule(store: &Store, input: &RuleInput, now: &str) -> Result<i64, AlertError> {
    view(store, input.view_id).await?;
    Ok(on_either!(store, |pool, _dialect| {
        sqlx::query_scalar(
            "INSERT INTO alert_rules (view_id, name, condition, min_verifications, window_minutes, destinations, \
             email_to, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
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
        .await?
    }))
}

/// Changes a rule's settings; its state stays (a changed condition is judged at the next evaluation).
pub async fn update_rule(store: &Store, id: i64, input: &RuleInput) -> Result<(), AlertError> {
    view(store, input.view_id).await?;
    let updated = on_either!(store, |pool, _dialect| {
        sqlx::query(
            "UPDATE alert_rules SET view_id = $1, name = $2, condition = $3, min_verifications = $4, \
             window_minutes = $5, destinations = $6, email_to = $7 WHERE id = $8",
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
        .await?
        .rows_affected()
    });
    if updated == 0 {
        return Err(AlertError::NotFound("alert rule"));
    }
    Ok(())
}

pub async fn set_paused(store: &Store, id: i64, paused: bool) -> Result<(), AlertError> {
    let updated = on_either!(store, |pool, _dialect| {
        sqlx::query("UPDATE alert_rules SET paused = $1 WHERE id = $2")
            .bind(paused)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if updated == 0 {
        return Err(AlertError::NotFound("alert rule"));
    }
    Ok(())
}

pub async fn set_snooze(store: &Store, id: i64, until: Option<&str>) -> Result<(), AlertError> {
    let updated = on_either!(store, |pool, _dialect| {
        sqlx::query("UPDATE alert_rules SET snoozed_until = $1 WHERE id = $2")
            .bind(until)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if updated == 0 {
        return Err(AlertError::NotFound("alert rule"));
    }
    Ok(())
}

/// Deletes a rule and its messages not sent yet (those sent stay in the log).
pub async fn delete_rule(store: &Store, id: i64) -> Result<(), AlertError> {
    on_either!(store, |pool, _dialect| {
        let mut tx = pool.begin().await?;
        let done = sqlx::query("DELETE FROM alert_rules WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(AlertError::NotFound("alert rule"));
        }
        sqlx::query("DELETE FROM alert_messages WHERE rule_id = $1 AND status = 'pending' AND tries = 0")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// A message to queue for one destination.
pub struct Outgoing {
    pub destination: DestinationKind,
    /// The e-mail's recipients, comma-separated.
    pub recipients: String,
    pub message: Message,
}

/// Queues `outgoing` in the transaction `tx`, due at once. Delivery runs on the clock's time
/// even when the views' time is pinned (`--now`), so a message is due by the clock. A key
/// already queued for the destination is the same message: queued once.
macro_rules! queue {
    ($tx:expr, $rule_id:expr, $digest_id:expr, $outgoing:expr) => {{
        let now = crate::model::twilio_time::format(&chrono::Utc::now());
        for o in $outgoing {
            sqlx::query(
                "INSERT INTO alert_messages (rule_id, digest_id, destination, recipients, kind, idempotency_key, \
                 payload, next_try_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (idempotency_key, destination) DO NOTHING",
            )
            .bind($rule_id)
            .bind($digest_id)
            .bind(o.destination.as_str())
            .bind(&o.recipients)
            .bind(&o.message.kind)
            .bind(&o.message.idempotency_key)
            .bind(serde_json::to_string(&o.message).unwrap_or_default())
            .bind(&now)
            .bind(&now)
            .execute(&mut *$tx)
            .await?;
        }
    }};
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
pub async fn record_evaluations(store: &Store, transitions: &[Transition]) -> Result<Vec<bool>, AlertError> {
    Ok(on_either!(store, |pool, _dialect| {
        let mut tx = pool.begin().await?;
        let mut moved = Vec::with_capacity(transitions.len());
        for t in transitions {
            let evaluation_json = serde_json::to_string(&t.evaluation).unwrap_or_default();
            let changed = t.from != t.to;
            let done = if changed {
                sqlx::query(
                    "UPDATE alert_rules SET state = $1, state_since = $2, episode = $3, last_evaluated_at = $4, \
                     last_evaluation = $5 WHERE id = $6 AND state = $7",
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
                sqlx::query("UPDATE alert_rules SET last_evaluated_at = $1, last_evaluation = $2 WHERE id = $3")
                    .bind(&t.at)
                    .bind(&evaluation_json)
                    .bind(t.rule_id)
                    .execute(&mut *tx)
                    .await?
            };
            let this_moved = changed && done.rows_affected() == 1;
            if this_moved {
                queue!(tx, Some(t.rule_id), None::<i64>, &t.outgoing);
            }
            moved.push(this_moved);
        }
        tx.commit().await?;
        moved
    }))
}

/// Queues messages outside any state change (a test message).
pub async fn queue_messages(store: &Store, rule_id: Option<i64>, outgoing: &[Outgoing]) -> Result<(), AlertError> {
    on_either!(store, |pool, _dialect| {
        let mut tx = pool.begin().await?;
        queue!(tx, rule_id, None::<i64>, outgoing);
        tx.commit().await?;
    });
    Ok(())
}

pub async fn create_digest(
    store: &Store,
    view_id: i64,
    frequency: &str,
    hour: u32,
    destinations: &[DestinationKind],
    email_to: &str,
    now: &str,
) -> Result<i64, AlertError> {
    view(store, view_id).await?;
    Ok(on_either!(store, |pool, _dialect| {
        sqlx::query_scalar(
            "INSERT INTO digests (view_id, frequency, hour, destinations, email_to, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(view_id)
        .bind(frequency)
        .bind(hour as i64)
        .bind(kinds_json(destinations))
        .bind(email_to)
        .bind(now)
        .fetch_one(pool)
        .await?
    }))
}

#[derive(sqlx::FromRow)]
struct DigestRow {
    id: i64,
    frequency: String,
    hour: i64,
    destinations: String,
    email_to: String,
    last_due_at: Option<String>,
    view_id: i64,
    view_name: String,
    view_query: String,
    view_created_at: String,
}

pub async fn digests(store: &Store) -> Result<Vec<Digest>, AlertError> {
    let rows: Vec<DigestRow> = on_either!(store, |pool, _dialect| {
        sqlx::query_as(
            "SELECT d.id, d.frequency, d.hour, d.destinations, d.email_to, d.last_due_at, v.id AS view_id, \
             v.name AS view_name, v.query AS view_query, v.created_at AS view_created_at \
             FROM digests d JOIN saved_views v ON v.id = d.view_id ORDER BY d.id",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| Digest {
            id: r.id,
            view: SavedView { id: r.view_id, name: r.view_name, query: r.view_query, created_at: r.view_created_at },
            frequency: r.frequency,
            hour: r.hour.clamp(0, 23) as u32,
            destinations: kinds_from(&r.destinations),
            email_to: r.email_to,
            last_due_at: r.last_due_at,
        })
        .collect())
}

pub async fn delete_digest(store: &Store, id: i64) -> Result<(), AlertError> {
    let deleted = on_either!(store, |pool, _dialect| {
        sqlx::query("DELETE FROM digests WHERE id = $1").bind(id).execute(pool).await?.rows_affected()
    });
    if deleted == 0 {
        return Err(AlertError::NotFound("digest"));
    }
    Ok(())
}

/// Marks a digest's occurrence `due` as queued, with its messages, once: false when it was already.
pub async fn queue_digest(
    store: &Store,
    id: i64,
    previous_due: Option<&str>,
    due: &str,
    outgoing: &[Outgoing],
) -> Result<bool, AlertError> {
    Ok(on_either!(store, |pool, _dialect| {
        let mut tx = pool.begin().await?;
        let done =
            sqlx::query("UPDATE digests SET last_due_at = $1 WHERE id = $2 AND last_due_at IS NOT DISTINCT FROM $3")
                .bind(due)
                .bind(id)
                .bind(previous_due)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 1 {
            queue!(tx, None::<i64>, Some(id), outgoing);
        }
        tx.commit().await?;
        done.rows_affected() == 1
    }))
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    rule_id: Option<i64>,
    destination: String,
    recipients: String,
    kind: String,
    idempotency_key: String,
    payload: String,
    status: String,
    tries: i64,
    next_try_at: String,
    created_at: String,
    delivered_at: Option<String>,
}

impl MessageRow {
    fn into_message(self) -> Option<StoredMessage> {
        Some(StoredMessage {
            id: self.id,
            rule_id: self.rule_id,
            destination: DestinationKind::parse(&self.destination)?,
            recipients: self.recipients,
            kind: self.kind,
            idempotency_key: self.idempotency_key,
            message: serde_json::from_str(&self.payload).ok()?,
            status: self.status,
            tries: self.tries,
            next_try_at: self.next_try_at,
            created_at: self.created_at,
            delivered_at: self.delivered_at,
        })
    }
}

const MESSAGE_COLUMNS: &str = "id, rule_id, destination, recipients, kind, idempotency_key, payload, status, tries, next_try_at, created_at, delivered_at";

/// Messages waiting to be sent whose time has come, oldest first.
pub async fn due_messages(store: &Store, now: &str, limit: i64) -> Result<Vec<StoredMessage>, AlertError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM alert_messages WHERE status = 'pending' AND next_try_at <= $1 \
         ORDER BY next_try_at, id LIMIT $2"
    );
    let rows: Vec<MessageRow> =
        on_either!(store, |pool, _dialect| sqlx::query_as(&sql).bind(now).bind(limit).fetch_all(pool).await?);
    Ok(rows.into_iter().filter_map(MessageRow::into_message).collect())
}

/// When the next pending message is due, if any is.
pub async fn next_due(store: &Store) -> Result<Option<String>, AlertError> {
    Ok(on_either!(store, |pool, _dialect| {
        sqlx::query_scalar("SELECT MIN(next_try_at) FROM alert_messages WHERE status = 'pending'")
            .fetch_one(pool)
            .await?
    }))
}

/// The inbox: messages to it, newest first.
pub async fn inbox(store: &Store, limit: i64) -> Result<Vec<StoredMessage>, AlertError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM alert_messages WHERE destination = 'inbox' AND status = 'delivered' \
         ORDER BY id DESC LIMIT $1"
    );
    let rows: Vec<MessageRow> =
        on_either!(store, |pool, _dialect| sqlx::query_as(&sql).bind(limit).fetch_all(pool).await?);
    Ok(rows.into_iter().filter_map(MessageRow::into_message).collect())
}

/// Every message, oldest first.
pub async fn messages(store: &Store) -> Result<Vec<StoredMessage>, AlertError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM alert_messages ORDER BY id");
    let rows: Vec<MessageRow> = on_either!(store, |pool, _dialect| sqlx::query_as(&sql).fetch_all(pool).await?);
    Ok(rows.into_iter().filter_map(MessageRow::into_message).collect())
}

/// Records one try of a message: delivered, failed with the next try at `retry_at`, or given up.
pub async fn record_try(
    store: &Store,
    id: i64,
    now: &str,
    outcome: Result<String, (String, Option<String>)>,
) -> Result<(), AlertError> {
    let (status, log_outcome, detail, next) = match &outcome {
        Ok(detail) => ("delivered", "delivered", detail.clone(), None),
        Err((detail, Some(retry_at))) => ("pending", "failed", detail.clone(), Some(retry_at.clone())),
        Err((detail, None)) => ("failed", "gave up", detail.clone(), None),
    };
    on_either!(store, |pool, _dialect| {
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE alert_messages SET status = $1, tries = tries + 1, next_try_at = COALESCE($2, next_try_at), \
             delivered_at = CASE WHEN $1 = 'delivered' THEN $3 ELSE delivered_at END WHERE id = $4",
        )
        .bind(status)
        .bind(&next)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO alert_deliveries (message_id, at, outcome, detail) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(now)
            .bind(log_outcome)
            .bind(&detail)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    message_id: i64,
    destination: String,
    payload: String,
    at: String,
    outcome: String,
    detail: String,
}

/// The newest deliveries and failures, for `/alerts`.
pub async fn delivery_log(store: &Store, limit: i64) -> Result<Vec<DeliveryLog>, AlertError> {
    let rows: Vec<DeliveryRow> = on_either!(store, |pool, _dialect| {
        sqlx::query_as(
            "SELECT d.message_id, m.destination, m.payload, d.at, d.outcome, d.detail FROM alert_deliveries d \
             JOIN alert_messages m ON m.id = d.message_id ORDER BY d.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| DeliveryLog {
            message_id: r.message_id,
            destination: r.destination,
            title: serde_json::from_str::<Message>(&r.payload).map(|m| m.title).unwrap_or_default(),
            at: r.at,
            outcome: r.outcome,
            detail: r.detail,
        })
        .collect())
}
