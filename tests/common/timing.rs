//! Times of repeated runs, summarised, and the memory and CPU a process uses.

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

/// CPU time of the whole process so far (every thread's), from the scheduler's counters.
#[allow(dead_code)]
pub fn process_cpu() -> Duration {
    let nanos: u64 = std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
                .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// How long each of `runs` runs of `run` took.
#[allow(dead_code)]
pub async fn time_runs<F: std::future::Future>(runs: usize, mut run: impl FnMut() -> F) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = std::time::Instant::now();
        run().await;
        times.push(started.elapsed());
    }
    times
}
