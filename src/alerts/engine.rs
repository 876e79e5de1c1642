//! When rules are evaluated and messages sent: after each sync that changed the snapshot,
//! on a schedule (relative ranges move, snoozes end, digests fall due), and when a page asks.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::AlertError;
use super::condition::Evaluation;
use super::deliver::{self, RetryPolicy};
use super::destinations::{DestinationKind, Destinations};
use super::figures::{self, Snapshot};
use super::message::{Message, SentFor, ViewLink};
use super::store::{self, Outgoing, Rule};
use crate::model::twilio_time;
use crate::state::AppState;

/// The deployment's alert settings, shared by the pages and the background task.
pub struct AlertSettings {
    pub destinations: Destinations,
    /// Where users reach the dashboard (`--public-url`), without a trailing slash or the
    /// base path, for the links in messages.
    pub link_origin: String,
    pub retry: RetryPolicy,
    /// How often rules are evaluated without a sync (relative ranges move, snoozes end).
    pub check_every: Duration,
    /// Wakes the background task: a rule was created, a test queued.
    pub wake: tokio::sync::Notify,
    /// The built-in emulator, in demo mode: the inbox can start an incident in it.
    pub demo_emulator: Option<Arc<crate::emulator::Emulator>>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            destinations: Destinations::default(),
            link_origin: "http://127.0.0.1:3000".into(),
            retry: RetryPolicy::default(),
            check_every: Duration::from_secs(60),
            wake: tokio::sync::Notify::new(),
            demo_emulator: None,
        }
    }
}

/// What one evaluation of every rule did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvaluationRun {
    pub evaluated: usize,
    pub started_firing: usize,
    pub resolved: usize,
}

/// Evaluates every rule that is neither paused nor snoozed at `now`, from the snapshot, and
/// records the evaluations, the state changes and the messages they send in one transaction.
pub async fn evaluate_all(state: &AppState, now: DateTime<Utc>) -> Result<EvaluationRun, AlertError> {
    let rules = store::rules(&state.store).await?;
    let at = twilio_time::format(&now);
    let active: Vec<&Rule> = rules.iter().filter(|r| !r.paused && !r.snoozed_at(&at)).collect();
    evaluate(state, &active, now).await
}

/// Evaluates one rule now (after it is created or changed).
pub async fn evaluate_rule(state: &AppState, rule_id: i64, now: DateTime<Utc>) -> Result<(), AlertError> {
    let rule = store::rule(&state.store, rule_id).await?;
    if rule.paused || rule.snoozed_at(&twilio_time::format(&now)) {
        return Ok(());
    }
    evaluate(state, &[&rule], now).await?;
    Ok(())
}

async fn evaluate(state: &AppState, rules: &[&Rule], now: DateTime<Utc>) -> Result<EvaluationRun, AlertError> {
    // Nothing to judge before the first complete sync (and no rollups to load for it).
    if rules.is_empty() || state.figures.watermark().await?.is_none() {
        return Ok(EvaluationRun::default());
    }
    let index = state.rollups.get_current(&state.figures).await?;
    let snapshot = Snapshot { store: &state.figures, scans: &state.raw_scans, index: &index };
    let at = twilio_time::format(&now);
    // Two at a time: rules on short windows read raw rows, which run on the pool's connections
    // (two at once, as `RawScans` allows) while the other rule reads the rollups.
    let mut outcomes = Vec::with_capacity(rules.len());
    for pair in rules.chunks(2) {
        match pair {
            [a, b] => {
                let (x, y) =
                    tokio::join!(transition(state, &snapshot, a, now, &at), transition(state, &snapshot, b, now, &at));
                outcomes.extend([(a, x), (b, y)]);
            }
            [a] => outcomes.push((a, transition(state, &snapshot, a, now, &at).await)),
            _ => {}
        }
    }
    let mut transitions = Vec::with_capacity(rules.len());
    for (rule, outcome) in outcomes {
        match outcome {
            Ok(t) => transitions.push(t),
            // One rule's failure leaves the others to be evaluated.
            Err(e) => tracing::error!("alert rule {} ({}) could not be evaluated: {e}", rule.id, rule.name),
        }
    }
    let changed = store::record_evaluations(&state.store, &transitions).await?;
    let mut run = EvaluationRun { evaluated: transitions.len(), ..EvaluationRun::default() };
    for (t, changed) in transitions.iter().zip(changed) {
        if changed {
            let firing = t.to == "firing";
            tracing::info!("alert rule {}: {}", t.rule_id, if firing { "firing" } else { "resolved" });
            if firing { run.started_firing += 1 } else { run.resolved += 1 }
        }
    }
    if run.started_firing + run.resolved > 0 {
        state.alerts.wake.notify_one();
    }
    Ok(run)
}

/// What an evaluation of `rule` at `now` moves it to, with the messages that move sends.
async fn transition(
    state: &AppState,
    snapshot: &Snapshot<'_>,
    rule: &Rule,
    now: DateTime<Utc>,
    at: &str,
) -> Result<store::Transition, AlertError> {
    let filters = state.parse_view(&rule.view.query).filters;
    let evaluation = figures::evaluate(snapshot, &filters, &terms(rule), now).await?;
    let (to, episode, kind) = match (rule.state.as_str(), evaluation.firing) {
        ("firing", false) => ("ok", rule.episode, Some("resolved")),
        ("firing", true) => ("firing", rule.episode, None),
        (_, true) => ("firing", rule.episode + 1, Some("firing")),
        (_, false) => ("ok", rule.episode, None),
    };
    let outgoing = match kind {
        Some(kind) => {
            let message =
                rule_message(state, rule, &evaluation, kind, &format!("rule-{}-{episode}-{kind}", rule.id), now);
            outgoing_for(&rule.destinations, &rule.email_to, message)
        }
        None => Vec::new(),
    };
    Ok(store::Transition {
        rule_id: rule.id,
        from: rule.state.clone(),
        to: to.to_string(),
        episode,
        evaluation,
        outgoing,
        at: at.to_string(),
    })
}

fn terms(rule: &Rule) -> figures::RuleTerms<'_> {
    figures::RuleTerms {
        condition: &rule.condition,
        min_verifications: rule.min_verifications,
        window_minutes: rule.window_minutes,
    }
}

/// The message for each of `destinations` (the inbox when there is none).
pub fn outgoing_for(destinations: &[DestinationKind], email_to: &str, message: Message) -> Vec<Outgoing> {
    let kinds = if destinations.is_empty() { vec![DestinationKind::Inbox] } else { destinations.to_vec() };
    kinds
        .into_iter()
        .map(|destination| Outgoing {
            destination,
            recipients: if destination == DestinationKind::Email { email_to.to_string() } else { String::new() },
            message: message.clone(),
        })
        .collect()
}

/// A link to the saved view `query` with its range fixed at `now`, as a message carries it.
pub fn view_link(state: &AppState, query: &str, now: DateTime<Utc>) -> String {
    let mut filters = state.parse_view(query).filters;
    filters.range = filters.range.absolute(now);
    format!("{}{}", state.alerts.link_origin, filters.href("/"))
}

fn rule_message(
    state: &AppState,
    rule: &Rule,
    evaluation: &Evaluation,
    kind: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Message {
    let title = match kind {
        "firing" => format!("Firing: {}", rule.name),
        "resolved" => format!("Resolved: {}", rule.name),
        _ => format!("Test: {}", rule.name),
    };
    Message {
        schema: super::message::SCHEMA.into(),
        idempotency_key: key.into(),
        kind: kind.into(),
        sent_for: SentFor { kind: "rule".into(), id: rule.id, name: rule.name.clone(), condition: rule.describe() },
        view: ViewLink { id: rule.view.id, name: rule.view.name.clone(), url: view_link(state, &rule.view.query, now) },
        evaluation: Some(evaluation.clone()),
        sections: Vec::new(),
        title,
        at: twilio_time::format(&now),
    }
}

/// Queues a test message of a rule, with its current figures, to each of its destinations.
pub async fn send_test(state: &AppState, rule_id: i64, now: DateTime<Utc>) -> Result<(), AlertError> {
    let rule = store::rule(&state.store, rule_id).await?;
    let index = state.rollups.get(&state.figures).await?;
    let snapshot = Snapshot { store: &state.figures, scans: &state.raw_scans, index: &index };
    let filters = state.parse_view(&rule.view.query).filters;
    let evaluation = figures::evaluate(&snapshot, &filters, &terms(&rule), now).await?;
    let key = format!("rule-{}-test-{:016x}", rule.id, rand::random::<u64>());
    let message = rule_message(state, &rule, &evaluation, "test", &key, now);
    let outgoing = outgoing_for(&rule.destinations, &rule.email_to, message);
    store::queue_messages(&state.store, Some(rule.id), &outgoing).await?;
    state.alerts.wake.notify_one();
    Ok(())
}

/// Sends what is due by the clock.
pub async fn deliver_due(state: &AppState, now: DateTime<Utc>) -> Result<usize, AlertError> {
    deliver::deliver_due(&state.store, &state.alerts.destinations, &state.alerts.retry, now).await
}

/// The background task: evaluates after each sync that changed the snapshot and every
/// `check_every`, queues digests that fell due, and sends what is due; ends on `stop`.
async fn read_every_burst_cost(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let index = state.rollups.get_current(&state.figures).await?;
    crate::analytics::read_every_burst_cost(&state.figures, &state.raw_scans, &index).await
}

/// Whether this process still has the alerts' turn.
async fn holds(turn: &mut Option<crate::store::SyncTurn>) -> bool {
    match turn {
        Some(turn) => turn.is_held().await,
        None => false,
    }
}

/// Evaluates the rules after each sync and every `check_every`, queues digests, and sends what
/// is due; on PostgreSQL only while this process holds the alerts' lease.
pub fn spawn(state: AppState, stop: crate::sync::StopSignal) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut changes = state.progress.changes();
        let mut next_check = tokio::time::Instant::now();
        // The syncs whose incidents are on the timeline: noted once per change, not per check.
        let mut noted_syncs: Option<u64> = None;
        let mut turn: Option<crate::store::SyncTurn> = None;
        loop {
            if !holds(&mut turn).await {
                turn = state.store.take_alerts_turn().await.unwrap_or_else(|e| {
                    tracing::error!("the alerts' lease could not be asked for: {e}");
                    None
                });
                if turn.is_none() {
                    // Another process evaluates and sends; ask again a check later.
                    tokio::select! {
                        () = tokio::time::sleep(state.alerts.check_every) => continue,
                        () = stop.stopped() => return,
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if now >= next_check {
                let at = state.now();
                if let Err(e) = evaluate_all(&state, at).await {
                    tracing::error!("alert rules could not be evaluated: {e}");
                }
                if let Err(e) = super::digest::queue_due(&state, at).await {
                    tracing::error!("digests could not be queued: {e}");
                }
                let syncs = *changes.borrow();
                if noted_syncs != Some(syncs) {
                    match crate::annotations::note_incidents(&state, Utc::now()).await {
                        Ok(_) => noted_syncs = Some(syncs),
                        Err(e) => tracing::error!("incidents could not be noted on the timeline: {e}"),
                    }
                    // What the bursts cost (at start, every one; after a sync, those near its
                    // writes) is read now, not by the next page.
                    if let Err(e) = read_every_burst_cost(&state).await {
                        tracing::error!("what the SMS-pumping bursts cost could not be read: {e}");
                    }
                }
                next_check = now + state.alerts.check_every;
            }
            if let Err(e) = deliver_due(&state, Utc::now()).await {
                tracing::error!("alert messages could not be sent: {e}");
            }
            let until_retry = match store::next_due(&state.store).await {
                Ok(Some(due)) => twilio_time::parse(&due)
                    .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(state.alerts.check_every),
                _ => state.alerts.check_every,
            };
            let wait = until_retry.min(next_check.saturating_duration_since(tokio::time::Instant::now()));
            tokio::select! {
                () = tokio::time::sleep(wait.max(Duration::from_millis(200))) => {}
                changed = changes.changed() => {
                    if changed.is_ok() {
                        next_check = tokio::time::Instant::now();
                    }
                }
                () = state.alerts.wake.notified() => {}
                () = stop.stopped() => return,
            }
        }
    })
}
