//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cluster;

use std::path::{Path, PathBuf};

/// `../shared` beside the repository.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn persist_bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubectl-persist")
}

/// A test that needs something from outside the repository: with `CI=true`
/// its absence is a failure; otherwise the test says it skipped and passes.
pub fn require(present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing, and CI=true: this test must run in CI");
    }
    eprintln!("SKIPPED: {what} is missing (set it up, or run with CI=true to make this a failure)");
    false
}

/// kubectl: KUBECTL135_BIN (../shared/tools/install-helm.sh), else PATH;
/// `None` (after saying so, or failing with CI=true) when there is none.
pub fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("KUBECTL135_BIN")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .or_else(|| std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("kubectl")).find(|p| p.is_file()));
    require(found.is_some(), "kubectl (KUBECTL135_BIN from ../shared/tools/install-helm.sh, or on PATH)")
        .then(|| found.unwrap())
}

/// The corpus renders, sorted; `None` (after saying so) when absent.
pub fn corpus_files() -> Option<Vec<PathBuf>> {
    let dir = shared().join("corpus/rendered");
    if !require(dir.is_dir(), "the corpus ../shared/corpus/rendered") {
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    Some(files)
}

/// Run a command with `stdin`, written from a thread so that a big input
/// cannot deadlock against a full stdout pipe; its whole output.
pub fn output(cmd: &mut std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the command starts");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("the command runs");
    writer.join().unwrap();
    out
}

/// Run the binary with arguments and stdin; (status, stdout, stderr).
pub fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let out = output(std::process::Command::new(persist_bin()).args(args), stdin);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run the binary with nothing on stdin (as from a terminal or cron: live
/// mode); (status, stdout, stderr).
pub fn run_no_stdin(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(persist_bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the command runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
