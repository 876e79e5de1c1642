//! A panic anywhere, a spawned task's included, reaches the log as one line with its message
//! and place (`verilens::guards::log_panics`, installed by the binary at start).

use std::io::Write;
use std::sync::{Arc, Mutex};

/// The log's lines, as the binary's subscriber would write them to stderr.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_in_tasks_and_threads_are_one_line_of_the_log() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    verilens::guards::log_panics();

    let (task, panic_line) =
        (tokio::spawn(async { panic!("Tried to access a reactive value\nthat has already been disposed.") }), line!());
    assert!(task.await.unwrap_err().is_panic());
    let thread = std::thread::spawn(|| panic!("a thread's panic"));
    assert!(thread.join().is_err());

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("ERROR"), "{text}");
    assert!(lines[0].contains(&format!("panic at tests/panic_log.rs:{panic_line}: ")), "{text}");
    assert!(lines[0].ends_with("Tried to access a reactive value that has already been disposed."), "{text}");
    assert!(lines[1].contains("panic at tests/panic_log.rs:") && lines[1].ends_with("a thread's panic"), "{text}");
}
