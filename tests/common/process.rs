//! `verilens serve` as its own process, as an operator runs it, and what its CSVs total.

use std::collections::BTreeMap;

/// `verilens serve` on a free loopback port with the snapshot `db` and `args`, logging at
/// info; without the environment's Twilio credentials, so that only `args` give any.
pub fn serve_command(db: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_verilens"));
    command
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(args)
        .env_remove("TWILIO_ACCOUNT_SID")
        .env_remove("TWILIO_AUTH_TOKEN")
        .env_remove("TWILIO_API_KEY")
        .env_remove("TWILIO_API_SECRET")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A CSV's rows, each by column name (for CSVs none of whose cells holds a comma).
pub fn csv_rows(csv: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|line| header.iter().cloned().zip(line.split(',').map(str::to_string)).collect())
        .collect()
}

/// Attempts and converted attempts of the whole snapshot with `filters` (`&account=…`), as
/// the dashboard's breakdown CSV gives them.
pub async fn dashboard_totals(base: &str, filters: &str) -> (u64, u64) {
    let csv =
        reqwest::get(format!("{base}/export.csv?by=channel&range=all{filters}")).await.unwrap().text().await.unwrap();
    csv_rows(&csv).iter().fold((0, 0), |(a, c), row| {
        (a + row["attempts"].parse::<u64>().unwrap(), c + row["converted_attempts"].parse::<u64>().unwrap())
    })
}

/// `verilens serve` with the snapshot `db` (a path or a PostgreSQL URL) and `args`, its log,
/// and its base URL once it listens.
pub async fn start_serve(db: &str, args: &[&str]) -> (tokio::process::Child, super::lines::Lines, String) {
    let mut child = serve_command(std::path::Path::new(db), args).spawn().unwrap();
    let mut out = super::lines::Lines::follow(child.stdout.take().unwrap());
    let log = super::lines::Lines::follow(child.stderr.take().unwrap());
    let listening = out.wait_for("verilens dashboard: http://", 1).await;
    let base = listening[0].split_whitespace().nth(2).unwrap().trim_end_matches('/').to_string();
    (child, log, base)
}

/// Waits until the dashboard's totals are `expected`: a dashboard learns of a sync's writes
/// from the rollups' generation; the deadline only turns a hang into a failure.
pub async fn wait_for_totals(base: &str, expected: (u64, u64)) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let shown = dashboard_totals(base, "").await;
        if shown == expected {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{base} shows {shown:?}, the APIs {expected:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
