//! The binary and the dashboard's password: never printed back, readable from a file, and a
//! warning when the dashboard listens beyond this machine without one.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Far longer than a start takes: only a server that never starts misses it.
const NEVER: Duration = Duration::from_secs(60);

/// `verilens serve` that fails at start: its stderr.
fn refused_start(args: &[&str], envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("never.db"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "{args:?} {envs:?} started: {stderr}");
    assert!(!dir.path().join("never.db").exists(), "refused before opening the snapshot");
    stderr
}

#[test]
fn a_malformed_password_setting_is_refused_without_being_printed() {
    for (args, envs) in [
        (&[][..], &[("VERILENS_BASIC_AUTH", "hunter2")][..]),
        (&["--basic-auth", "hunter2"][..], &[][..]),
        (&["--basic-auth", "hunter2:"][..], &[][..]),
        (&["--basic-auth", ":hunter2"][..], &[][..]),
    ] {
        let stderr = refused_start(args, envs);
        assert!(!stderr.contains("hunter2"), "{args:?} {envs:?}: {stderr}");
        assert!(stderr.contains("VERILENS_BASIC_AUTH") && stderr.contains("user:password"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, "hunter2\n").unwrap();
    let stderr = refused_start(&[], &[("VERILENS_BASIC_AUTH_FILE", file.to_str().unwrap())]);
    assert!(!stderr.contains("hunter2") && stderr.contains("user:password"), "{stderr}");
    assert!(stderr.contains(file.to_str().unwrap()), "the error names the file: {stderr}");
    let both = refused_start(&["--basic-auth-file", file.to_str().unwrap()], &[("VERILENS_BASIC_AUTH", "pm:hunter2")]);
    assert!(!both.contains("hunter2"), "{both}");
}

/// A started `verilens serve` with `args`, on an API that cannot be reached (so it starts
/// without a first sync), and its address.
struct Served {
    child: tokio::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

async fn serve(args: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_verilens"))
        .args(["serve", "--sync-every", "1h", "--db"])
        .arg(dir.path().join("s.db"))
        .args(args)
        .env("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")
        .env("TWILIO_AUTH_TOKEN", "unused")
        .env("VERILENS_API_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(NEVER, stdout.read_line(&mut line)).await.expect("the dashboard prints its address").unwrap();
    let addr = line.split("http://").nth(1).expect("an address").split('/').next().unwrap();
    Served { child, base: format!("http://{}", addr.replace("0.0.0.0", "127.0.0.1")), _dir: dir }
}

impl Served {
    /// Stops the server and returns what it logged.
    async fn log(mut self) -> String {
        self.child.start_kill().unwrap();
        let mut log = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut log).await.unwrap();
        log
    }
}

#[tokio::test]
async fn a_password_file_guards_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, "pm:correct horse:battery\n").unwrap();
    let served = serve(&["--addr", "127.0.0.1:0", "--basic-auth-file", file.to_str().unwrap()]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/attempts", served.base);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let wrong = http.get(&url).basic_auth("pm", Some("correct horse:battery\n")).send().await.unwrap();
    assert_eq!(wrong.status(), 401, "the file's line ending is not part of the password");
    let right = http.get(&url).basic_auth("pm", Some("correct horse:battery")).send().await.unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn serving_beyond_loopback_without_a_password_is_a_warning() {
    let warning = "without access control";
    let open = serve(&["--addr", "0.0.0.0:0"]).await.log().await;
    assert!(open.lines().any(|l| l.contains("WARN") && l.contains(warning)), "{open}");
    let local = serve(&["--addr", "127.0.0.1:0"]).await.log().await;
    assert!(!local.contains(warning), "{local}");
    let guarded = serve(&["--addr", "0.0.0.0:0", "--basic-auth", "pm:correct-horse"]).await.log().await;
    assert!(!guarded.contains(warning), "{guarded}");
}
