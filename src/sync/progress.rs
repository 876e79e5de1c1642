use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The progress of the current or last sync, shared with the dashboard and the terminal.
#[derive(Clone, Debug)]
pub struct SyncProgress(Arc<Mutex<State>>, Arc<tokio::sync::watch::Sender<u64>>);

impl Default for SyncProgress {
    fn default() -> Self {
        SyncProgress(Arc::default(), Arc::new(tokio::sync::watch::channel(0).0))
    }
}

#[derive(Debug, Default)]
struct State {
    snapshot: SyncProgressSnapshot,
    started: Option<Instant>,
}

/// A copy of the progress at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncProgressSnapshot {
    pub running: bool,
    pub window_start: String,
    pub window_end: String,
    pub pages: u64,
    pub attempts: u64,
    /// The Summary endpoint's count for the window, when known.
    pub expected: Option<u64>,
    pub attempts_per_second: f64,
    pub last_error: Option<String>,
}

impl SyncProgress {
    pub fn snapshot(&self) -> SyncProgressSnapshot {
        self.0.lock().expect("progress lock").snapshot.clone()
    }

    /// Counts the syncs that changed the snapshot: a receiver wakes after each.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.1.subscribe()
    }

    pub(super) fn snapshot_changed(&self) {
        self.1.send_modify(|count| *count += 1);
    }

    pub(super) fn start(&self, from: &str, to: &str) {
        let mut state = self.0.lock().expect("progress lock");
        let last_error = state.snapshot.last_error.take();
        state.snapshot = SyncProgressSnapshot {
            running: true,
            window_start: from.to_string(),
            window_end: to.to_string(),
            last_error,
            ..Default::default()
        };
        state.started = Some(Instant::now());
    }

    pub(super) fn expect(&self, total: u64) {
        self.0.lock().expect("progress lock").snapshot.expected = Some(total);
    }

    pub(super) fn page_done(&self, attempts: u64) {
        let mut state = self.0.lock().expect("progress lock");
        state.snapshot.pages += 1;
        state.snapshot.attempts += attempts;
        metrics::counter!("verilens_sync_pages_total").increment(1);
        metrics::counter!("verilens_sync_attempts_total").increment(attempts);
        if let Some(started) = state.started {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            state.snapshot.attempts_per_second = state.snapshot.attempts as f64 / secs;
        }
    }

    pub(super) fn finish(&self, error: Option<String>) {
        let mut state = self.0.lock().expect("progress lock");
        state.snapshot.running = false;
        state.snapshot.last_error = error;
    }
}
