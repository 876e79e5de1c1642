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
