//! Times of repeated runs, summarised, and the memory a process holds.

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

/// This process's memory by a `/proc/self/status` field (`VmRSS:`, `VmHWM:`), in MiB.
#[allow(dead_code)]
pub fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
