//! A child process's output, line by line, for tests that wait on what it prints.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead};

/// A child's output as it comes: every line kept, and a signal on each new one.
#[derive(Clone)]
pub struct Lines {
    seen: Arc<std::sync::Mutex<Vec<String>>>,
    count: tokio::sync::watch::Receiver<usize>,
}

impl Lines {
    pub fn follow(output: impl AsyncRead + Unpin + Send + 'static) -> Lines {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tell, count) = tokio::sync::watch::channel(0);
        let kept = seen.clone();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(output).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut kept = kept.lock().unwrap();
                kept.push(line);
                tell.send_replace(kept.len());
            }
        });
        Lines { seen, count }
    }

    pub fn text(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }

    pub fn matching(&self, pattern: &str) -> Vec<String> {
        self.seen.lock().unwrap().iter().filter(|l| l.contains(pattern)).cloned().collect()
    }

    /// Waits until `at_least` lines contain `pattern`; the deadline only turns a hang into a failure.
    pub async fn wait_for(&mut self, pattern: &str, at_least: usize) -> Vec<String> {
        let waiting = async {
            loop {
                let found = self.matching(pattern);
                if found.len() >= at_least {
                    return found;
                }
                if self.count.changed().await.is_err() {
                    panic!("the output ended before {at_least} lines with {pattern:?}:\n{}", self.text());
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(900), waiting).await {
            Ok(found) => found,
            Err(_) => panic!("no {at_least} lines with {pattern:?} in 900 s:\n{}", self.text()),
        }
    }
}
