//! Wiring: read the inputs, run the transformer, write the output. The only
//! place (with `read` and, for live mode, `cluster`) that touches files,
//! stdin/stdout and the environment.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kubectl_persist::decide::config::ConfigFile;
use kubectl_persist::emit::{self, Format};
use kubectl_persist::{transform, Note};

use crate::cli::{self, Cli, Command, UsageError};
use crate::read;

/// How a run ends, beyond success.
#[derive(Debug)]
pub enum Exit {
    Usage(String),
    /// stdout was closed early (`| head`): end quietly, as a killed filter would.
    BrokenPipe,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Usage(m) => f.write_str(m),
            Exit::BrokenPipe => f.write_str("broken pipe"),
        }
    }
}

impl std::error::Error for Exit {}

impl From<UsageError> for Exit {
    fn from(e: UsageError) -> Self {
        Exit::Usage(e.0)
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    if let Some(Command::Completion { shell }) = cli.command {
        let mut buf = Vec::new();
        cli::completion(shell, &mut buf);
        write_stdout(&buf)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut cfg = cli.run.resolve().map_err(Exit::from)?;
    if let Some(path) = &cfg.config_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the config file", path.display()))?;
        cfg.opts.config = Some(ConfigFile::parse(&text, &path.display().to_string())?);
    }
    let inputs = if cfg.filenames.is_empty() {
        if !cfg.opts.targets.is_empty() {
            return Err(Exit::Usage(
                "TYPE/NAME without -f means a live object, and live mode is not available in this build; give the manifests with -f FILE or on stdin".into(),
            )
            .into());
        }
        if std::io::stdin().is_terminal() {
            return Err(Exit::Usage(
                "no input: pipe manifests in (helm template ... | kubectl persist --path /data) or give -f FILE".into(),
            )
            .into());
        }
        vec![read::read_stdin()?]
    } else {
        read::read_inputs(&cfg.filenames, cfg.recursive)?
    };
    let outcome = transform(&inputs, &cfg.opts)?;
    let mut stderr = std::io::stderr().lock();
    for n in &outcome.notes {
        match n {
            Note::Warning(w) => writeln!(stderr, "kubectl-persist: warning: {w}").ok(),
            Note::Explain(e) if cfg.explain => writeln!(stderr, "kubectl-persist: {e}").ok(),
            Note::Explain(_) => None,
        };
    }
    let out = match cfg.format {
        Format::Yaml => emit::yaml(&outcome),
        Format::Json => emit::json(&outcome, &cfg.opts.limits)?,
        Format::Diff => emit::diff(&outcome, &inputs.iter().map(|i| i.name.clone()).collect::<Vec<_>>()),
    };
    match &cfg.output_file {
        Some(path) => write_file(path, out.as_bytes())?,
        None => write_stdout(out.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Write to a temporary file beside `path` and rename it into place, so the
/// file is either the old one or the whole new output. An interrupt removes
/// the temporary file.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".kubectl-persist-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a temporary file in {}", path.display(), dir.display()))?;
    let tmp_path = tmp.path().to_path_buf();
    // Ctrl-C (or SIGTERM) while writing: remove the partial file, exit 130.
    let _ = ctrlc::set_handler(move || {
        let _ = std::fs::remove_file(&tmp_path);
        std::process::exit(130);
    });
    let mut f = tmp.as_file();
    f.write_all(bytes).and_then(|_| f.sync_all()).with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot move the output into place", path.display()))?;
    Ok(())
}

/// Write all of it, at once, after everything succeeded.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::BrokenPipe.into()),
        r => r.context("cannot write to standard output"),
    }
}
