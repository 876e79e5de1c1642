//! A slice of the run's window, paged through and handed to the writer.

use std::sync::{Arc, Mutex};

use crate::model::Attempt;
use crate::store::{self, Store, StoreError};
use crate::twilio::{ListQuery, TwilioClient, TwilioError};

use super::writer::{PageRows, PageWrite};
use super::{StopSignal, SyncError, SyncOptions};

/// How walkers hand their pages to the writer. In a bulk load, each walker prepares its
/// pages' statements and sums their rollups (when the load started from an empty
/// snapshot), so that this work is spread over the walkers and the writer only writes.
#[derive(Clone)]
pub(super) enum Handoff {
    Upsert,
    Append { summing: Option<Arc<Mutex<store::LoadRollups>>> },
}

impl Handoff {
    pub(super) async fn for_run(
        store: &Store,
        run: &store::RunWindow,
        options: &SyncOptions,
    ) -> Result<Handoff, StoreError> {
        Ok(match run.bulk {
            true => Handoff::Append {
                summing: store.rollups_to_sum(options.summed_verifications).await?.map(|r| Arc::new(Mutex::new(r))),
            },
            false => Handoff::Upsert,
        })
    }

    pub(super) fn rows(&self, attempts: Vec<Attempt>) -> PageRows {
        match self {
            Handoff::Upsert => PageRows::Upsert(attempts),
            Handoff::Append { summing } => {
                if let Some(summing) = summing {
                    summing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(&attempts);
                }
                PageRows::Append(store::PreparedAppend::of(attempts))
            }
        }
    }

    /// The rollups summed, once every walker is done.
    pub(super) fn into_summed(self) -> Option<store::LoadRollups> {
        match self {
            Handoff::Append { summing: Some(summing) } => Arc::into_inner(summing)?.into_inner().ok(),
            _ => None,
        }
    }
}

/// Pages through one slice, handing each page to the writer and fetching the next
/// while it waits to be written.
pub(super) async fn walk_slice(
    client: &TwilioClient,
    writes: &tokio::sync::mpsc::Sender<PageWrite>,
    handoff: &Handoff,
    page_size: u32,
    slice: store::SliceState,
    stop: &StopSignal,
) -> Result<(), SyncError> {
    let first_query = ListQuery {
        date_created_after: Some(slice.window_start.clone()),
        date_created_before: Some(slice.window_end.clone()),
        page_size: Some(page_size),
    };
    let first_page = || stop.unless_stopped(client.list_attempts(&first_query));
    let mut page = match &slice.next_page_url {
        // A page token the API no longer accepts: read the slice again from its start.
        Some(url) => match stop.unless_stopped(client.list_attempts_at(url)).await {
            Err(SyncError::Twilio(TwilioError::BadRequest { .. } | TwilioError::NotFound { .. })) => {
                first_page().await?
            }
            other => other?,
        },
        None => first_page().await?,
    };
    loop {
        let next_url = page.meta.next_page_url.clone();
        let rows = handoff.rows(std::mem::take(&mut page.attempts));
        let write = PageWrite { slice: slice.slice, rows, next_url: next_url.clone() };
        writes.send(write).await.map_err(|_| SyncError::WriterStopped)?;
        match next_url {
            Some(url) => page = stop.unless_stopped(client.list_attempts_at(&url)).await?,
            None => return Ok(()),
        }
    }
}
