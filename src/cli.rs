//! The command line: clap definitions (their doc comments are the help), and
//! the checks that turn what was typed into the library's [`Options`].

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use kubectl_persist::decide::detect::Level;
use kubectl_persist::decide::select::{Selector, Target};
use kubectl_persist::decide::{values, Mode};
use kubectl_persist::emit::Format;
use kubectl_persist::yaml::Limits;
use kubectl_persist::Options;

/// The examples, first in `--help` as kubectl puts them: one per mode of use.
/// (The heading is part of the text: clap trims the start of `before_help`.)
const EXAMPLES: &str = "\
Examples:
  # Files: every Deployment in app.yaml becomes a StatefulSet with a claim for /data
  kubectl persist -f app.yaml --path /data

  # A pipe, no flags: annotations and detection decide, --explain says why
  helm template my-app ./chart | kubectl persist --explain

  # As a Helm 3 post-renderer
  helm install my-app ./chart --post-renderer kubectl-persist \\
    --post-renderer-args=--path --post-renderer-args=/data

  # As a Helm 4 post-renderer plugin (helm plugin install plugin-manifest/persist)
  helm install my-app ./chart --post-renderer persist \\
    --post-renderer-args=--path --post-renderer-args=/data

  # Keep the Deployment, add standalone claims instead, and show what changed
  kubectl persist -f app.yaml --mode pvc --path app:/var/lib/app -o diff

  # One workload of a file, with size and storage class
  kubectl persist -f app.yaml deployment/web --path /data --size 10Gi --storage-class fast

  # Flux or kustomize: a JSON patch per changed object (new objects follow)
  helm template my-app ./chart | kubectl persist --path /data -o patch

  # A live Deployment: show the plan, then switch it to a StatefulSet
  kubectl persist deployment/web --path /data -n demo

  # Print what would be applied, or have the API server check it
  kubectl persist deployment/web --path /data -n demo --dry-run
  kubectl persist deployment/web --path /data -n demo --dry-run=server -o yaml

  # Upgrades through the post-renderer keep what the live StatefulSets cannot change
  helm upgrade my-app ./chart --post-renderer kubectl-persist \\
    --post-renderer-args=--cluster --post-renderer-args=--path --post-renderer-args=/data

  # Where each workload of a namespace keeps its data
  kubectl persist status -n demo";

const STATUS_EXAMPLES: &str = "\
Examples:
  # The workloads of the current namespace: on claims, in emptyDirs, or in the container layer
  kubectl persist status

  # One workload, in another namespace and context
  kubectl persist status deployment/web -n demo --context prod

  # Every namespace, as JSON
  kubectl persist status -A -o json";

const COMPLETION_EXAMPLES: &str = "\
Examples:
  # kubectl persist <TAB> (kubectl 1.26+): put kubectl_complete-persist on PATH beside
  # kubectl-persist; kubectl's own completion then asks it

  # kubectl-persist <TAB>, bash (for the current shell; add it to ~/.bashrc to keep it)
  source <(kubectl-persist completion bash)

  # zsh
  kubectl-persist completion zsh > \"${fpath[1]}/_kubectl-persist\"

  # fish
  kubectl-persist completion fish > ~/.config/fish/completions/kubectl-persist.fish

  # PowerShell
  kubectl-persist completion powershell | Out-String | Invoke-Expression";

const TEMPLATE: &str = "\
{about-with-newline}
{before-help}{usage-heading} {usage}

{all-args}{after-help}";

/// Make an app's data survive redeploys: put its data paths on
/// PersistentVolumeClaims and turn its Deployments into StatefulSets with
/// volumeClaimTemplates (or add standalone claims with --mode pvc).
///
/// Reads manifests from files (-f) or stdin, as a Helm post-renderer does,
/// and writes the whole stream to stdout. Documents it does not rewrite come
/// out byte for byte.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-persist",
    bin_name = "kubectl persist",
    version = version_string(),
    before_help = EXAMPLES,
    help_template = TEMPLATE,
    args_conflicts_with_subcommands = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(before_help = COMPLETION_EXAMPLES, help_template = TEMPLATE)]
    Completion {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Show where each workload of a cluster keeps its data: on claims (phase,
    /// capacity, storage class, retention), or still in emptyDirs or the
    /// container layer.
    #[command(before_help = STATUS_EXAMPLES, help_template = TEMPLATE)]
    Status(crate::live_cmd::StatusArgs),
    /// Snapshot every claim a workload's pods use, at one moment: one
    /// VolumeGroupSnapshot where the cluster has a group class for the CSI
    /// driver, else one VolumeSnapshot per claim; the pod's quiesce hooks run
    /// around the cut.
    Backup(crate::backup_cmd::BackupArgs),
    /// List the backups kubectl-persist made: time, claims, sizes, ready, kind, class.
    Backups(crate::backup_cmd::BackupsArgs),
    /// Bring a workload back to a backup's data (after a backup of the current
    /// data, unless --no-safety-backup).
    Restore(crate::backup_cmd::RestoreArgs),
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub live: crate::live_cmd::LiveArgs,

    /// Workloads to change: deployment/NAME, deploy/NAME, statefulset/NAME, sts/NAME.
    /// Without these, every Deployment in the input is changed (StatefulSets only when named).
    #[arg(value_name = "TYPE/NAME")]
    pub targets: Vec<String>,

    /// File, directory (*.yaml, *.yml, *.json) or '-' for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "FILE", help_heading = "Input")]
    pub filenames: Vec<PathBuf>,

    /// Read directories given with -f recursively.
    #[arg(short = 'R', long, help_heading = "Input")]
    pub recursive: bool,

    /// Only Deployments whose labels match, e.g. app=web,tier!=cache.
    /// (As kubectl, not together with TYPE/NAME.)
    #[arg(short = 'l', long, value_name = "SELECTOR", conflicts_with = "targets", help_heading = "Selection")]
    pub selector: Option<String>,

    /// Every Deployment in the input (what happens anyway without TYPE/NAME or -l).
    #[arg(long, conflicts_with_all = ["selector", "targets"], help_heading = "Selection")]
    pub all: bool,

    /// Namespace of objects that do not name one; narrows the selection to it.
    #[arg(short = 'n', long, value_name = "NAMESPACE", help_heading = "Selection")]
    pub namespace: Option<String>,

    /// A path to persist, [CONTAINER:]MOUNT_PATH. Repeatable.
    /// Without --path, --config, annotations and detection decide.
    #[arg(long = "path", value_name = "[CONTAINER:]PATH", help_heading = "What to persist")]
    pub paths: Vec<String>,

    /// statefulset: Deployment → StatefulSet with volumeClaimTemplates (default).
    /// pvc: keep the Deployment, add PersistentVolumeClaims (kept on helm uninstall).
    #[arg(long, value_enum, help_heading = "What to persist")]
    pub mode: Option<ModeArg>,

    /// Claim size, a Kubernetes quantity [default: the catalog's size for the image
    /// (1Gi to 50Gi), else the emptyDir's sizeLimit, else 1Gi].
    #[arg(long, value_name = "QUANTITY", allow_hyphen_values = true, help_heading = "What to persist")]
    pub size: Option<String>,

    /// StorageClass of new claims [default: the cluster's default class].
    #[arg(long, value_name = "NAME", help_heading = "What to persist")]
    pub storage_class: Option<String>,

    /// Access mode of new claims (ReadWriteOnce, ReadWriteMany, RWO, RWX, ...). Repeatable.
    #[arg(long = "access-mode", value_name = "MODE", value_delimiter = ',', help_heading = "What to persist")]
    pub access_modes: Vec<String>,

    /// Set the pod's securityContext.fsGroup so non-root containers can write to new claims.
    #[arg(long, value_name = "GID", help_heading = "What to persist")]
    pub fs_group: Option<i64>,

    /// Let a Deployment of several replicas become a StatefulSet whose pods each get
    /// their own claims (for apps that replicate or shard their data themselves).
    #[arg(long, help_heading = "What to persist")]
    pub per_pod_data: bool,

    /// Rules file (see README: "Config file").
    #[arg(long, value_name = "FILE", help_heading = "What to persist")]
    pub config: Option<PathBuf>,

    /// An image catalog to add to the built-in one (same schema as data/catalog.yaml; its
    /// entries win over built-in ones). Repeatable; later files win.
    #[arg(long = "catalog", value_name = "FILE", help_heading = "What to persist")]
    pub catalogs: Vec<PathBuf>,

    /// What detection may persist when nothing else says: off, safe (clear data paths only), all.
    #[arg(long, value_enum, default_value = "safe", help_heading = "What to persist")]
    pub detect: DetectArg,

    /// Output format: yaml (the stream), json (one v1 List), diff (per changed object),
    /// patch (kustomize patches with RFC 6902 JSON patches, for Flux post-renderers).
    #[arg(short = 'o', long, value_enum, default_value = "yaml", help_heading = "Output")]
    pub output: OutputArg,

    /// Write the output to this file instead of stdout: all or nothing (written to a
    /// temporary file beside it, then renamed; removed if interrupted).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub output_file: Option<PathBuf>,

    /// Also write every decision, warning and error to this file (replaced each run): Helm 3
    /// shows none of a post-renderer's messages, Helm 4 only that it failed.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,

    /// Explain every decision on stderr (workload, path, where the decision came from, claim, size).
    #[arg(long, help_heading = "Output")]
    pub explain: bool,

    /// Deepest nesting accepted in a document that is rewritten.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_depth, help_heading = "Limits")]
    pub max_depth: usize,

    /// Largest document, in bytes, that may be rewritten (others pass through unparsed).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_doc_bytes, help_heading = "Limits")]
    pub max_doc_bytes: usize,

    /// Most nodes YAML aliases may expand to.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_alias_nodes, help_heading = "Limits")]
    pub max_alias_nodes: usize,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ModeArg {
    Statefulset,
    Pvc,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum DetectArg {
    Off,
    #[default]
    Safe,
    All,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum OutputArg {
    #[default]
    Yaml,
    Json,
    Diff,
    Patch,
}

fn version_string() -> &'static str {
    concat!(env!("CARGO_PKG_VERSION"), " (", env!("PERSIST_GIT_COMMIT"), ")")
}

/// A run, resolved: the library's options plus what the binary itself needs.
#[derive(Debug)]
pub struct Config {
    pub opts: Options,
    pub filenames: Vec<PathBuf>,
    pub recursive: bool,
    pub config_file: Option<PathBuf>,
    /// `--catalog` files, in order.
    pub catalog_files: Vec<PathBuf>,
    pub format: Format,
    pub explain: bool,
    pub output_file: Option<PathBuf>,
    /// `--all` was given (with -l: live objects when stdin is a terminal).
    pub all: bool,
    pub live: crate::live_cmd::LiveArgs,
}

/// A usage error: the message names the flag and how to fix it. Exit 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl From<UsageError> for crate::exit::Exit {
    fn from(e: UsageError) -> Self {
        crate::exit::Exit::Usage(e.0)
    }
}

impl RunArgs {
    /// Check the flags and build the configuration. The config file itself is
    /// read later (it is I/O).
    pub fn resolve(self) -> Result<Config, UsageError> {
        let u = |m: String| UsageError(m);
        let targets = self.targets.iter().map(|t| Target::parse(t)).collect::<Result<Vec<_>, _>>().map_err(u)?;
        let selector = self.selector.as_deref().map(Selector::parse).transpose().map_err(|e| u(format!("-l: {e}")))?;
        let paths = self
            .paths
            .iter()
            .map(|p| values::parse_path_spec(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| u(format!("--path: {e}")))?;
        let size =
            self.size.as_deref().map(values::check_quantity).transpose().map_err(|e| u(format!("--size: {e}")))?;
        let storage_class = self
            .storage_class
            .as_deref()
            .map(values::check_storage_class)
            .transpose()
            .map_err(|e| u(format!("--storage-class: {e}")))?;
        let access_modes = if self.access_modes.is_empty() {
            None
        } else {
            Some(values::check_access_modes(&self.access_modes).map_err(|e| u(format!("--access-mode: {e}")))?)
        };
        if let Some(g) = self.fs_group {
            values::check_fs_group(g).map_err(|e| u(format!("--fs-group: {e}")))?;
        }
        if self.max_depth == 0 || self.max_alias_nodes == 0 || self.max_doc_bytes == 0 {
            return Err(u("--max-depth, --max-doc-bytes and --max-alias-nodes must be above 0".into()));
        }
        let format = match self.output {
            OutputArg::Yaml => Format::Yaml,
            OutputArg::Json => Format::Json,
            OutputArg::Diff => Format::Diff,
            OutputArg::Patch => Format::Patch,
        };
        let opts = Options {
            targets,
            selector,
            paths,
            mode: self.mode.map(|m| match m {
                ModeArg::Statefulset => Mode::StatefulSet,
                ModeArg::Pvc => Mode::Pvc,
            }),
            size,
            storage_class,
            access_modes,
            fs_group: self.fs_group,
            namespace: self.namespace,
            config: None,
            detect: match self.detect {
                DetectArg::Off => Level::Off,
                DetectArg::Safe => Level::Safe,
                DetectArg::All => Level::All,
            },
            limits: Limits {
                max_depth: self.max_depth,
                max_doc_bytes: self.max_doc_bytes,
                max_alias_nodes: self.max_alias_nodes,
            },
            parse_all: format == Format::Json,
            per_pod_data: self.per_pod_data,
            ..Options::default()
        };
        Ok(Config {
            opts,
            filenames: self.filenames,
            recursive: self.recursive,
            config_file: self.config,
            catalog_files: self.catalogs,
            format,
            explain: self.explain,
            output_file: self.output_file,
            all: self.all,
            live: self.live,
        })
    }
}

/// kubectl takes flags before a subcommand (`kubectl -n demo get pods`);
/// so does this: `kubectl persist -n demo status` is read as
/// `kubectl persist status -n demo`. The first word that is neither a flag
/// nor a flag's value decides; a subcommand name there moves to the front.
pub fn subcommand_first(mut args: Vec<String>) -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let takes_value = |a: &clap::Arg| a.get_action().takes_values();
    let long_takes = |name: &str| cmd.get_arguments().any(|a| a.get_long() == Some(name) && takes_value(a));
    let short_takes = |c: char| cmd.get_arguments().any(|a| a.get_short() == Some(c) && takes_value(a));
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            i += if !long.contains('=') && long_takes(long) { 2 } else { 1 };
            continue;
        }
        if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            // -n demo, -ndemo, -Rf file: the value follows the last flag that takes one.
            let takes = short.chars().last().is_some_and(short_takes) && short.chars().count() == 1;
            i += if takes { 2 } else { 1 };
            continue;
        }
        if i > 0 && cmd.get_subcommands().any(|s| s.get_name() == a) {
            let sub = args.remove(i);
            args.insert(0, sub);
        }
        break;
    }
    args
}

/// Print a completion script for `shell`. Bash's asks `kubectl-persist
/// __complete`, the engine behind `kubectl persist <TAB>`, so both give the
/// same candidates (object names, contexts, storage classes included); the
/// other shells get clap's static scripts (flags and their fixed values).
pub fn completion(shell: Shell, out: &mut dyn std::io::Write) {
    if shell == Shell::Bash {
        let _ = out.write_all(BASH_COMPLETION.as_bytes());
        return;
    }
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "kubectl-persist", out);
}

/// Bash completion through `kubectl-persist __complete` (Cobra's protocol:
/// candidates, a tab and a description per line, then `:DIRECTIVE`).
const BASH_COMPLETION: &str = r#"# bash completion for kubectl-persist: source <(kubectl-persist completion bash)
_kubectl_persist() {
    local line="${COMP_LINE:0:COMP_POINT}" words cur out directive c
    read -ra words <<< "$line"
    [[ "$line" == *[[:space:]] ]] && words+=("")
    cur="${words[${#words[@]}-1]}"
    out=$("${words[0]}" __complete "${words[@]:1}" 2>/dev/null) || return 0
    directive="${out##*:}"
    out="${out%:*}"
    COMPREPLY=()
    # bash completes only what follows the last '=' or ':' of the word.
    local head="${cur%[=:]*}"
    [[ "$head" == "$cur" ]] && head="" || head="${cur:0:${#head}+1}"
    while IFS=$'	' read -r c _; do
        [[ -n "$c" ]] && COMPREPLY+=("${c#"$head"}")
    done <<< "$out"
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    if (( ${#COMPREPLY[@]} == 0 )) && ! (( directive & 4 )); then
        compopt -o default 2>/dev/null
    fi
    return 0
}
complete -F _kubectl_persist kubectl-persist
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_before_a_subcommand() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(subcommand_first(v("-n demo status")), v("status -n demo"));
        assert_eq!(
            subcommand_first(v("--context prod -n demo status deploy/web")),
            v("status --context prod -n demo deploy/web")
        );
        assert_eq!(subcommand_first(v("--namespace=demo status")), v("status --namespace=demo"));
        // A namespace, file or workload named like a subcommand stays what it is.
        assert_eq!(subcommand_first(v("-n status deploy/web")), v("-n status deploy/web"));
        assert_eq!(subcommand_first(v("-f status")), v("-f status"));
        assert_eq!(subcommand_first(v("deploy/web status")), v("deploy/web status"));
        let cli =
            Cli::try_parse_from(std::iter::once("kubectl-persist".into()).chain(subcommand_first(v("-n demo status"))))
                .unwrap();
        assert!(matches!(cli.command, Some(Command::Status(_))));
    }

    /// Every example in the help is a command line this parser accepts, fits
    /// the help's width, and every mode of use has one.
    #[test]
    fn examples_parse_and_cover_every_mode() {
        for text in [EXAMPLES, STATUS_EXAMPLES, COMPLETION_EXAMPLES] {
            for line in text.lines() {
                assert!(line.chars().count() <= 98, "too wide for the help: {line:?}");
            }
            let joined = text.replace(" \\\n", " ");
            for line in joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                let args: Vec<&str> = if let Some((_, rest)) = line.split_once("kubectl persist") {
                    rest.split_whitespace().collect()
                } else if line.starts_with("helm ") {
                    line.split_whitespace().filter_map(|w| w.strip_prefix("--post-renderer-args=")).collect()
                } else {
                    continue;
                };
                let cli = Cli::try_parse_from(std::iter::once("kubectl-persist").chain(args.iter().copied()))
                    .unwrap_or_else(|e| panic!("{line}: {e}"));
                if cli.command.is_none() {
                    cli.run.resolve().unwrap_or_else(|e| panic!("{line}: {}", e.0));
                }
            }
        }
        for mode in [
            "kubectl persist -f",
            "| kubectl persist",
            "--post-renderer kubectl-persist",
            "--post-renderer persist",
            "kubectl persist deployment/web",
            "--dry-run\n",
            "--dry-run=server",
            "--cluster",
            "--mode pvc",
            "-o diff",
            "-o patch",
            "kubectl persist status",
        ] {
            assert!(EXAMPLES.contains(mode), "no example for {mode}");
        }
    }

    fn resolve(args: &[&str]) -> Result<Config, String> {
        let cli = Cli::try_parse_from(std::iter::once("kubectl-persist").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.run.resolve().map_err(|e| e.0)
    }

    #[test]
    fn flags_resolve() {
        let c = resolve(&[
            "-f",
            "x.yaml",
            "deploy/web",
            "--path",
            "app:/data",
            "--path",
            "/cache",
            "--size",
            "5Gi",
            "--access-mode",
            "RWX",
            "-n",
            "demo",
            "--mode",
            "pvc",
            "-o",
            "json",
            "--catalog",
            "a.yaml",
            "--catalog",
            "b.yaml",
        ])
        .unwrap();
        assert_eq!(c.catalog_files, vec![PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]);
        assert_eq!(c.opts.paths, vec![(Some("app".into()), "/data".into()), (None, "/cache".into())]);
        assert_eq!(c.opts.targets[0].to_string(), "deployment/web");
        assert_eq!(c.opts.access_modes, Some(vec!["ReadWriteMany".into()]));
        assert_eq!(c.opts.mode, Some(Mode::Pvc));
        assert_eq!(c.format, Format::Json);
        assert!(c.opts.parse_all);
    }

    #[test]
    fn bad_values_name_their_flag() {
        assert!(resolve(&["--path", "data"]).unwrap_err().contains("--path"));
        assert!(resolve(&["--path", "/a/../b"]).unwrap_err().contains(".."));
        assert!(resolve(&["--size", "big"]).unwrap_err().contains("--size"));
        assert!(resolve(&["--access-mode", "RW"]).unwrap_err().contains("--access-mode"));
        assert!(resolve(&["-l", "a in b"]).unwrap_err().contains("-l"));
        assert!(resolve(&["web"]).unwrap_err().contains("TYPE/NAME"));
        assert!(resolve(&["--all", "-l", "a=b"]).is_err());
        assert!(resolve(&["--mode", "other"]).is_err());
    }
}
