//! `--report FILE`: every note, warning and error of a run, also written to a
//! file. Helm 3 shows none of a post-renderer's stderr, and Helm 4 without a
//! terminal shows a failure only as `plugin "persist" exited with error`; the
//! file is where a user reads why.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

static REPORT: Mutex<Option<File>> = Mutex::new(None);

/// Start the report (an existing file is replaced).
pub fn open(path: &Path) -> std::io::Result<()> {
    let file = File::create(path)?;
    *REPORT.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    Ok(())
}

/// A line for stderr: written there, and to the report when there is one.
pub fn say(line: &str) {
    eprintln!("{line}");
    record(line);
}

/// A line for the report only (an `--explain` line the user did not ask to see).
pub fn record(line: &str) {
    if let Some(f) = REPORT.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        let _ = writeln!(f, "{line}");
    }
}
