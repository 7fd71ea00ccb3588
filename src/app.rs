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

use crate::cli::{self, Cli, Command};
use crate::exit::Exit;
use crate::read;

/// Stack for the transform: a base, plus enough per nesting level for a debug
/// build (the parser's frames there are about 9 KiB a level).
const STACK_BASE: usize = 8 << 20;
const STACK_PER_LEVEL: usize = 16 << 10;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Some(Command::Completion { shell }) => {
            let mut buf = Vec::new();
            cli::completion(*shell, &mut buf);
            write_stdout(&buf)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Status(args)) => return crate::live_cmd::status(args, &kubectl_persist::Options::default()),
        Some(Command::Backup(args)) => return crate::backup_cmd::backup(args),
        Some(Command::Backups(args)) => return crate::backup_cmd::backups(args),
        Some(Command::Restore(args)) => return crate::backup_cmd::restore(args),
        None => {}
    }
    // First, so that usage errors reach the report too.
    if let Some(path) = &cli.run.report {
        crate::report::open(path).with_context(|| format!("--report {}: cannot write the report", path.display()))?;
    }
    let mut cfg = cli.run.resolve().map_err(Exit::from)?;
    if let Some(path) = &cfg.config_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the config file", path.display()))?;
        let file = ConfigFile::parse(&text, &path.display().to_string())?;
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        // The config's catalogs come before --catalog files, which win.
        for c in &file.catalogs {
            let catalog = dir.join(c);
            let text = std::fs::read_to_string(&catalog).with_context(|| {
                format!("{}: catalogs: {}: cannot read the catalog file", path.display(), catalog.display())
            })?;
            cfg.opts.catalog = cfg.opts.catalog.clone().with_file(&text, &catalog.display().to_string())?;
        }
        if file.cluster == Some(kubectl_persist::decide::config::ClusterSetting::Auto) {
            cfg.live.cluster = true;
        }
        if cfg.live.carry.is_none() {
            if let Some(c) = &file.carry {
                let mode = kubectl_persist::carry::Mode::parse(c)
                    .map_err(|e| anyhow::anyhow!("{}: carry: {e}", path.display()))?;
                cfg.live.carry = Some(mode);
            }
        }
        if cfg.live.helper_image.is_none() {
            cfg.live.helper_image = file.helper_image.clone();
        }
        cfg.opts.config = Some(file);
    }
    cfg.opts.carry = cfg.live.carry.unwrap_or_default();
    cfg.opts.helper_image = cfg.live.helper_image.clone();
    for path in &cfg.catalog_files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the catalog file", path.display()))?;
        cfg.opts.catalog = cfg.opts.catalog.clone().with_file(&text, &path.display().to_string())?;
    }
    // Without -f, TYPE/NAME means live objects, and so do -l and --all when
    // nothing is piped in.
    // A stream on stdin (a pipe or a file: how Helm calls a post-renderer)
    // is always rendered, TYPE/NAME narrowing it: a render never writes to a
    // cluster.
    let broad = cfg.opts.selector.is_some() || cfg.all;
    if cfg.filenames.is_empty() && (!cfg.opts.targets.is_empty() || broad) && nothing_piped() {
        if cfg.live.cluster {
            return Err(Exit::Usage(
                "--cluster is for rendering (-f or stdin); live objects are always read from the cluster".into(),
            )
            .into());
        }
        if cfg.format == Format::Patch {
            return Err(Exit::Usage("-o patch is for rendering (-f or stdin), not for live objects".into()).into());
        }
        return crate::live_cmd::run(&cfg.opts, &cfg.live, cfg.format, cfg.explain);
    }
    if cfg.live.dry_run != crate::live_cmd::DryRun::None {
        return Err(Exit::Usage(
            "--dry-run is for live objects (TYPE/NAME without -f, with nothing piped in); a render changes nothing anyway"
                .into(),
        )
        .into());
    }
    let inputs = if cfg.filenames.is_empty() {
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
    if cfg.live.cluster {
        // Post-rendering for a release that runs: keep what the live
        // StatefulSets cannot change.
        // Helm passes post-renderers no flags, only its environment: the
        // release namespace is HELM_NAMESPACE when it is set there.
        let helm_ns = std::env::var("HELM_NAMESPACE").ok().filter(|n| !n.is_empty());
        let ns = cfg.opts.namespace.clone().or(helm_ns);
        let (ns, live) = crate::live_cmd::live_workloads(&cfg.live, &inputs, ns.as_deref())?;
        if cfg.explain {
            let found = if live.is_empty() {
                "no live workload of these names".to_string()
            } else {
                format!("{} live workloads of these names", live.len())
            };
            eprintln!("kubectl-persist: --cluster: {found} in namespace {ns} (-n sets the release's namespace)");
        }
        cfg.opts.live_namespace = Some(ns);
        cfg.opts.live_workloads = live;
    }
    // The parser and the tree walks recurse once per nesting level: give them
    // a stack sized for --max-depth, so a raised limit is an error message
    // rather than a stack overflow.
    let stack = STACK_BASE.saturating_add(cfg.opts.limits.max_depth.saturating_mul(STACK_PER_LEVEL));
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    one_heap();
    let out = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("transform".into())
            .stack_size(stack)
            .spawn_scoped(scope, || -> Result<Option<String>> {
                let outcome = transform(&inputs, &cfg.opts)?;
                let ns = cfg.opts.namespace.as_deref().or(cfg.opts.live_namespace.as_deref()).unwrap_or("default");
                crate::live_cmd::expand(&cfg.live, &outcome.expansions, ns)?;
                // The report has every note; stderr the warnings, and the
                // decisions with --explain.
                for n in &outcome.notes {
                    match n {
                        Note::Warning(w) => crate::report::say(&format!("kubectl-persist: warning: {w}")),
                        Note::Explain(e) if cfg.explain => crate::report::say(&format!("kubectl-persist: {e}")),
                        Note::Explain(e) => crate::report::record(&format!("kubectl-persist: {e}")),
                    };
                }
                let text = match cfg.format {
                    // Written from here, straight from the input's bytes: the
                    // stream is never copied into one string.
                    Format::Yaml => {
                        // Helm 4 rejects a post-renderer's empty output, even for a
                        // chart that renders nothing; a comment is an empty stream
                        // it accepts. (Helm 4 runs plugins with HELM_PLUGIN_DIR set.)
                        let blank = inputs.iter().all(|i| i.bytes.iter().all(u8::is_ascii_whitespace));
                        if blank && std::env::var_os("HELM_PLUGIN_DIR").is_some() {
                            let note = b"# kubectl-persist: the chart rendered no objects\n";
                            write_output(cfg.output_file.as_deref(), |w| w.write_all(note))?;
                            return Ok(None);
                        }
                        write_output(cfg.output_file.as_deref(), |w| emit::write_yaml(&outcome, &inputs, w))?;
                        // The run is over: leave the trees to the OS rather
                        // than free them node by node (5% of a large run).
                        std::mem::forget(outcome);
                        return Ok(None);
                    }
                    Format::Json => emit::json_named(&outcome, &cfg.opts.limits, &names)?,
                    Format::Diff => emit::diff(&outcome, &names),
                    Format::Patch => emit::patch(&outcome, &cfg.opts.limits, &names)?,
                };
                Ok(Some(text))
            })
            .with_context(|| {
                format!(
                    "cannot start a thread with {} MiB of stack for --max-depth {}; use a lower --max-depth",
                    stack >> 20,
                    cfg.opts.limits.max_depth
                )
            })?;
        match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })?;
    if let Some(text) = out {
        write_output(cfg.output_file.as_deref(), |w| w.write_all(text.as_bytes()))?;
        // As `kubectl diff` and diff(1): 1 when there are differences.
        if cfg.format == Format::Diff && !text.is_empty() {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether standard input carries no stream: a terminal, a character device
/// such as /dev/null (cron, `ssh -n`, CI runners), or closed. Helm and shell
/// pipes give a pipe or a file.
fn nothing_piped() -> bool {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        match stdin.as_fd().try_clone_to_owned() {
            Ok(fd) => std::fs::File::from(fd).metadata().is_ok_and(|m| m.file_type().is_char_device()),
            Err(_) => true,
        }
    }
    #[cfg(not(unix))]
    false
}

/// glibc gives a second thread its own heap, which it grows a page at a time
/// with one mprotect call each: about 2,700 calls (4 ms, 13 % of the run) for
/// a 1 MB Helm render. Only one thread allocates at a time here, so the
/// worker shares the main heap, which grows in large steps.
fn one_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets an allocator parameter; it takes no pointers and is
    // safe to call at any time (glibc takes the arena lock).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Write the output to `--output-file` or stdout, once everything succeeded.
fn write_output(path: Option<&Path>, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    match path {
        Some(path) => write_file(path, write),
        None => write_stdout_with(write),
    }
}

/// `kubectl-persist __complete WORDS...`: completion candidates for
/// `kubectl_complete-persist` (see `complete.rs`). Dispatched before clap
/// parses anything, so it is no subcommand: partial words are not errors,
/// and the generated completion scripts and the help do not show it.
pub fn complete(words: &[String]) -> ExitCode {
    let text = crate::complete::complete(words, &crate::complete::Live).render();
    match write_stdout(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// The temporary output file, while there is one, for the interrupt handler.
static PARTIAL: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Write to a temporary file beside `path` and rename it into place, so the
/// file is either the old one or the whole new output. An interrupt removes
/// the temporary file. A symlink is followed (the file it points at is
/// replaced, not the link), an existing file keeps its permissions, and
/// something that is not a regular file (`/dev/null`, a FIFO) is written in
/// place: renaming over it would replace the device itself.
fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let existing = std::fs::metadata(path).ok();
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("{}: cannot open for writing", path.display()))?;
        return write(&mut f).and_then(|_| f.flush()).with_context(|| format!("{}: cannot write", path.display()));
    }
    let resolved = if existing.is_some() {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let path = resolved.as_path();
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Ctrl-C (or SIGTERM) while writing: remove the partial file, exit 130.
    // The handler is in place before the file exists, so no interrupt can
    // leave one behind.
    let _ = ctrlc::set_handler(|| {
        let partial = PARTIAL.lock().map(|p| p.clone()).unwrap_or_else(|p| p.into_inner().clone());
        if let Some(p) = partial {
            let _ = std::fs::remove_file(p);
        }
        std::process::exit(130);
    });
    let tmp = tempfile::Builder::new().prefix(".kubectl-persist-").tempfile_in(dir).map_err(|e| {
        // tempfile's message ends with the random name it tried, which
        // no user chose: give the cause alone.
        let text = e.to_string();
        let cause = text.split(" at path ").next().unwrap_or(&text);
        anyhow::anyhow!("{}: cannot create a temporary file in {}: {cause}", path.display(), dir.display())
    })?;
    set_partial(Some(tmp.path().to_path_buf()));
    // The temporary file is private (0600); the output gets the old file's
    // permissions, or the usual 0644 for a new one.
    if let Some(perms) = existing.map(|m| m.permissions()).or_else(new_file_permissions) {
        let _ = std::fs::set_permissions(tmp.path(), perms);
    }
    let mut f = tmp.as_file();
    let written = write(&mut f).and_then(|_| f.sync_all()).with_context(|| format!("{}: cannot write", path.display()));
    let placed = written.and_then(|_| {
        tmp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("{}: cannot move the output into place", path.display()))
    });
    set_partial(None);
    placed.map(|_| ())
}

#[cfg(unix)]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    None
}

fn set_partial(p: Option<std::path::PathBuf>) {
    match PARTIAL.lock() {
        Ok(mut g) => *g = p,
        Err(poisoned) => *poisoned.into_inner() = p,
    }
}

/// Write all of it, at once, after everything succeeded.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    write_stdout_with(|w| w.write_all(bytes))
}

fn write_stdout_with(write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    // Stdout is line-buffered: without this, every slice written from the
    // input would be its own write call (two per rewritten document).
    let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
    match write(&mut out).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::BrokenPipe.into()),
        r => r.context("cannot write to standard output"),
    }
}
