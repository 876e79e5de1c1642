use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::rate_window::SlidingWindow;

/// A sliding-window limiter shared by everything in the process that calls the API:
/// never more than `limit` requests in any window, whatever their timing.
#[derive(Debug)]
pub struct RateLimiter {
    window: Mutex<SlidingWindow>,
}

impl RateLimiter {
    /// `per_minute` = 0 means no limit. The window has a second of slack for clock
    /// and network jitter between us and the server.
    pub fn per_minute(per_minute: u32) -> Self {
        RateLimiter::new(per_minute, Duration::from_secs(61))
    }

    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter { window: Mutex::new(SlidingWindow::new(limit, window)) }
    }

    /// Waits until one more request fits in the window, then counts it.
    pub async fn acquire(&self) {
        loop {
            let wait = match self.window.lock().await.try_take(Instant::now()) {
                Ok(()) => return,
                Err(wait) => wait,
            };
            metrics::counter!("verilens_rate_limiter_waits_total").increment(1);
            metrics::counter!("verilens_rate_limiter_wait_microseconds_total").increment(wait.as_micros() as u64);
            tokio::time::sleep(wait).await;
        }
    }

    /// Makes the limiter wait `delay` before the next request, after the server said so.
    pub async fn pause_for(&self, delay: Duration) {
        self.window.lock().await.fill_until(Instant::now() + delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On tokio's paused clock, time moves only when every task waits: the times are exact.
    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_a_window() {
        let window = Duration::from_millis(300);
        let limiter = RateLimiter::new(5, window);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            limiter.acquire().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times.iter().filter(|u| **u >= *t && **u < *t + window).count();
            assert!(in_window <= 5, "request {i} at {t:?}: {times:?}");
        }
        let expected: Vec<Duration> = (0..12).map(|i| window * (i / 5)).collect();
        assert_eq!(times, expected, "five at once, then five more as each window ends");
    }

    #[tokio::test(start_paused = true)]
    async fn pause_delays_the_next_request_by_exactly_the_pause() {
        let limiter = RateLimiter::new(100, Duration::from_secs(61));
        let start = Instant::now();
        limiter.pause_for(Duration::from_millis(200)).await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(200), "then the window is open again");
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_never_waits() {
        let limiter = RateLimiter::per_minute(0);
        let start = Instant::now();
        for _ in 0..1000 {
            limiter.acquire().await;
        }
        limiter.pause_for(Duration::from_secs(5)).await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
