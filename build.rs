//! Names the commit the binary is built from, for `verilens --version`.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=VERILENS_COMMIT={commit}");
    // A new commit moves HEAD or its branch (a file of its own, or packed-refs): build again
    // then. Only files that exist are watched: cargo takes a missing one as always changed.
    let mut watched = vec![".git/HEAD".to_string(), ".git/packed-refs".to_string()];
    let head = std::fs::read_to_string(".git/HEAD").unwrap_or_default();
    if let Some(branch) = head.strip_prefix("ref: ") {
        watched.push(format!(".git/{}", branch.trim()));
    }
    for path in watched.iter().filter(|path| std::path::Path::new(path).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    // Without a checkout, build.rs itself is all there is to watch.
    println!("cargo:rerun-if-changed=build.rs");
}
