//! The in-memory index of the snapshot's current rollups, refreshed as syncs change them.

use std::sync::{Arc, RwLock};

use super::rollup_index::RollupIndex;
use crate::fees::FeeSchedule;
use crate::store::{RollupChanges, Store, StoreError};

/// The index of the snapshot's current rollups. A sync changes them with every commit,
/// so a stale index is refreshed in the background (the periods the sync wrote are read
/// again, the others kept), one build at a time and at most once per
/// cool-down (twice the last build's time, at least a second); requests meanwhile use the
/// index they have. Only a request that finds no index at all waits for one.
#[derive(Default)]
pub struct RollupCache {
    current: RwLock<Option<Arc<RollupIndex>>>,
    building: Arc<tokio::sync::Mutex<()>>,
    /// When the last build ended, and how long it took.
    last_build: std::sync::Mutex<Option<(std::time::Instant, std::time::Duration)>>,
    /// The fee each converted verification costs, which every index applies.
    fees: Arc<FeeSchedule>,
}

impl RollupCache {
    /// A cache whose indexes apply `fees`.
    pub fn with_fees(fees: FeeSchedule) -> RollupCache {
        RollupCache { fees: Arc::new(fees), ..RollupCache::default() }
    }

    pub fn fees(&self) -> &FeeSchedule {
        &self.fees
    }

    fn current(&self) -> Option<Arc<RollupIndex>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The index for the snapshot's rollups: current, or at most a cool-down behind them.
    pub async fn get(self: &Arc<Self>, store: &Store) -> Result<Arc<RollupIndex>, StoreError> {
        let generation = store.rollup_generation().await?;
        let Some(cached) = self.current() else {
            let _turn = self.building.lock().await;
            if let Some(index) = self.current() {
                return Ok(index);
            }
            return self.build(store).await;
        };
        if cached.generation < generation
            && self.cooled_down()
            && let Ok(turn) = self.building.clone().try_lock_owned()
        {
            let (cache, store) = (self.clone(), store.clone());
            tokio::spawn(async move {
                let _turn = turn;
                if let Err(e) = cache.build(&store).await {
                    tracing::warn!("the rollups could not be reloaded: {e}");
                }
            });
        }
        Ok(cached)
    }

    /// The index of the rollups as they are now, built first when a sync has changed them
    /// since: for alerts, which judge what the sync just wrote.
    pub async fn get_current(self: &Arc<Self>, store: &Store) -> Result<Arc<RollupIndex>, StoreError> {
        let generation = store.rollup_generation().await?;
        let fresh = |index: &Option<Arc<RollupIndex>>| index.as_ref().is_some_and(|i| i.generation >= generation);
        let cached = self.current();
        if fresh(&cached) {
            return Ok(cached.expect("fresh"));
        }
        let _turn = self.building.lock().await;
        let cached = self.current();
        if fresh(&cached) {
            return Ok(cached.expect("fresh"));
        }
        self.build(store).await
    }

    fn cooled_down(&self) -> bool {
        self.cooled_down_at(std::time::Instant::now())
    }

    fn cooled_down_at(&self, now: std::time::Instant) -> bool {
        let last = *self.last_build.lock().unwrap_or_else(|e| e.into_inner());
        last.is_none_or(|(ended, took)| {
            now.saturating_duration_since(ended) >= (took * 2).max(std::time::Duration::from_secs(1))
        })
    }

    /// The index of the rollups as they are now: the current index with the periods written
    /// since it was built read again, or, with none or after a rebuild of the rollups, every row.
    async fn build(&self, store: &Store) -> Result<Arc<RollupIndex>, StoreError> {
        let started = std::time::Instant::now();
        let built = match self.current() {
            Some(index) => store.read_rollup_changes(index.generation).await.map(|changes| match changes {
                RollupChanges::Periods { periods, rows } => index.refreshed(&periods, rows),
                RollupChanges::Everything(rows) => RollupIndex::build(rows, self.fees.clone()),
            }),
            None => store.read_rollup_rows().await.map(|rows| RollupIndex::build(rows, self.fees.clone())),
        }
        .map(Arc::new);
        metrics::histogram!("verilens_rollup_refresh_seconds").record(started.elapsed().as_secs_f64());
        // A failed build cools down too: otherwise every request would start it again.
        *self.last_build.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((std::time::Instant::now(), started.elapsed()));
        let index = built?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(index.clone());
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_build_cools_down_like_a_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::store::open(&dir.path().join("s.db")).await.unwrap();
        let store = Store::from(pool.clone());
        let cache = Arc::new(RollupCache::default());
        cache.get(&store).await.unwrap();
        sqlx::query("DROP TABLE rollup_attempts").execute(&pool).await.unwrap();
        assert!(cache.build(&store).await.is_err());
        let (ended, took) = cache.last_build.lock().unwrap().expect("the failed build is recorded");
        assert!(!cache.cooled_down_at(ended), "no build right after a failed one");
        let later = ended + (took * 2).max(std::time::Duration::from_secs(1));
        assert!(cache.cooled_down_at(later), "and one again after the cool-down");
        assert!(cache.current().is_some(), "the last good index still answers");
    }
}
