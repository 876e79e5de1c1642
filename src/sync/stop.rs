//! How a running sync is asked to stop at a page boundary.

use super::SyncError;

/// Asks a running sync to stop: the pages already fetched are written, then it returns
/// `SyncError::Stopped` and leaves its run for the next one to finish.
#[derive(Clone, Debug)]
pub struct StopSignal(std::sync::Arc<tokio::sync::watch::Sender<bool>>);

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal(std::sync::Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl StopSignal {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once `stop` has been called.
    pub async fn stopped(&self) {
        let mut receiver = self.0.subscribe();
        let _ = receiver.wait_for(|stopped| *stopped).await;
    }

    /// Runs `work` unless the signal comes first.
    pub(super) async fn unless_stopped<T, E: Into<SyncError>>(
        &self,
        work: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, SyncError> {
        tokio::select! {
            biased;
            () = self.stopped() => Err(SyncError::Stopped),
            result = work => result.map_err(Into::into),
        }
    }
}
