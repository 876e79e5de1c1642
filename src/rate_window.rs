//! The sliding window both sides of the API count requests in: the client, so it never sends
//! more than the account's limit, and the emulator, so it refuses what Twilio would.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// At most `limit` requests in any `window`, whatever their timing.
#[derive(Debug)]
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    sent: VecDeque<Instant>,
}

impl SlidingWindow {
    /// `limit` = 0 means no limit.
    pub fn new(limit: u32, window: Duration) -> Self {
        SlidingWindow { limit: limit as usize, window, sent: VecDeque::new() }
    }

    /// Counts one more request at `now` if it fits; otherwise how long until one would.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        while self.sent.front().is_some_and(|t| now.saturating_duration_since(*t) >= self.window) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit {
            self.sent.push_back(now);
            return Ok(());
        }
        let oldest = *self.sent.front().expect("a full window has a first request");
        Err((oldest + self.window).saturating_duration_since(now))
    }

    /// Counts the window as full until `resume`: no request fits before it.
    pub fn fill_until(&mut self, resume: Instant) {
        if self.limit == 0 {
            return;
        }
        let filler = resume.checked_sub(self.window).unwrap_or(resume);
        self.sent.clear();
        self.sent.extend(std::iter::repeat_n(filler, self.limit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_window_says_how_long_until_the_oldest_request_leaves_it() {
        let start = Instant::now();
        let mut window = SlidingWindow::new(2, Duration::from_secs(60));
        assert_eq!(window.try_take(start), Ok(()));
        assert_eq!(window.try_take(start + Duration::from_secs(10)), Ok(()));
        assert_eq!(window.try_take(start + Duration::from_secs(20)), Err(Duration::from_secs(40)));
        assert_eq!(window.try_take(start + Duration::from_secs(60)), Ok(()), "the first has left");
        assert_eq!(window.try_take(start + Duration::from_secs(61)), Err(Duration::from_secs(9)));
    }

    #[test]
    fn no_limit_always_fits_and_a_fill_holds_until_its_end() {
        let start = Instant::now();
        let mut open = SlidingWindow::new(0, Duration::from_secs(60));
        open.fill_until(start + Duration::from_secs(5));
        assert!((0..1000).all(|_| open.try_take(start).is_ok()));
        let mut window = SlidingWindow::new(3, Duration::from_secs(60));
        window.fill_until(start + Duration::from_secs(5));
        assert_eq!(window.try_take(start), Err(Duration::from_secs(5)));
        assert_eq!(window.try_take(start + Duration::from_secs(5)), Ok(()));
    }
}
