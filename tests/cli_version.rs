//! `verilens --version` names the version and the commit it was built from.

use std::process::Command;

#[test]
fn the_version_names_the_commit_it_was_built_from() {
    let output = Command::new(env!("CARGO_BIN_EXE_verilens")).arg("--version").output().unwrap();
    assert!(output.status.success());
    let version = String::from_utf8(output.stdout).unwrap();
    let head = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().unwrap();
    let commit = String::from_utf8(head.stdout).unwrap();
    // Built from a checkout, as the README's commands build it.
    assert!(head.status.success() && commit.trim().len() == 12, "{commit}");
    assert_eq!(version, format!("verilens {} (commit {})\n", env!("CARGO_PKG_VERSION"), commit.trim()));
}
