//! Times of repeated runs, summarised.

use std::time::Duration;

/// The `p` quantile (0 to 1) of `times` in milliseconds, by the nearest-rank method: the
/// smallest time at least `p` of the runs took no longer than; 0 without times.
pub fn percentile_ms(times: &[Duration], p: f64) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}
