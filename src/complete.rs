//! `kubectl persist <TAB>`: completion candidates in Cobra's `__complete`
//! protocol, which kubectl (1.26+) speaks with plugins.
//!
//! For `kubectl persist ARGS... WORD<TAB>` kubectl runs the executable
//! `kubectl_complete-persist` from PATH with `ARGS... WORD` (an empty `WORD`
//! when the cursor starts a new word), with the terminal on stdin and stderr,
//! and reads one candidate per line from stdout (`candidate<TAB>description`),
//! the last line optionally `:<directive>`. The shipped
//! `kubectl_complete-persist` script runs `kubectl-persist __complete ARGS...`,
//! which lands here.
//!
//! Everything comes from the clap definitions in `cli.rs`: subcommands, flags,
//! which flags take a value, the values of enum flags and which values are
//! paths. Object names (`deployment/<name>`) come from the `-f` files when
//! there are any, else from the cluster; storage classes and contexts from the
//! cluster and the kubeconfig. Lookups are bounded in time and silent: a
//! completion never prints an error and never reads stdin.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::ValueHint;
use clap::{Arg, ArgAction, Command, CommandFactory};

use kubectl_persist::decide::select::{Target, WorkloadKind};
use kubectl_persist::decide::values::ACCESS_MODES;

use crate::cli::Cli;

/// Cobra's `ShellCompDirective` bits.
pub const NO_SPACE: u32 = 2;
pub const NO_FILE_COMP: u32 = 4;

/// How long a completion may wait for the cluster, in all.
const CLUSTER_BUDGET: Duration = Duration::from_secs(3);

/// The workload kinds a `TYPE/NAME` can name, as kubectl spells them.
const KINDS: [WorkloadKind; 2] = [WorkloadKind::Deployment, WorkloadKind::StatefulSet];
const KIND_ALIASES: [&str; 4] = ["deploy", "deployments", "sts", "statefulsets"];

/// What the command line says about where names come from.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ctx {
    pub namespace: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub as_user: Option<String>,
    /// `-f` files (not `-`: stdin is the terminal while completing).
    pub files: Vec<PathBuf>,
    pub recursive: bool,
}

/// Where names come from: the cluster and the kubeconfig in the binary,
/// fixed lists in tests.
pub trait Source {
    /// Names of workloads of this kind (from the `-f` files, else the cluster).
    fn names(&self, kind: WorkloadKind, ctx: &Ctx) -> Vec<String>;
    fn storage_classes(&self, ctx: &Ctx) -> Vec<String>;
    fn contexts(&self, ctx: &Ctx) -> Vec<String>;
}

/// The candidates (`value` or `value\tdescription`) and the directive.
#[derive(Debug, Default, PartialEq)]
pub struct Completions {
    pub items: Vec<String>,
    pub directive: u32,
}

impl Completions {
    /// The protocol's text: one candidate per line, then `:<directive>`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for i in &self.items {
            s.push_str(i);
            s.push('\n');
        }
        s.push_str(&format!(":{}\n", self.directive));
        s
    }
}

/// Complete the last of `words` (the words after `kubectl persist`).
pub fn complete(words: &[String], src: &dyn Source) -> Completions {
    let mut root = Cli::command();
    root.build();
    let (cur, prev) = match words.split_last() {
        Some((cur, prev)) => (cur.as_str(), prev),
        None => ("", &[][..]),
    };
    // A subcommand is only recognised as the first word.
    let sub =
        prev.first().and_then(|w| root.get_subcommands().find(|c| c.get_name() == w && !c.is_hide_set()).cloned());
    let (cmd, prev) = match &sub {
        Some(s) => (s, &prev[1..]),
        None => (&root, prev),
    };
    let line = scan(cmd, prev);
    let mut out = Completions { items: Vec::new(), directive: NO_FILE_COMP };

    if let Some(arg) = &line.pending {
        return values(arg, cur, "", &line.ctx, src);
    }
    if !line.after_dashdash && cur.starts_with("--") && cur.contains('=') {
        let (name, partial) = cur.split_once('=').expect("has '='");
        return match find_long(cmd, &name[2..]) {
            Some(arg) if arg.get_action().takes_values() => values(arg, partial, &format!("{name}="), &line.ctx, src),
            _ => out,
        };
    }
    if !line.after_dashdash && cur.starts_with('-') {
        for arg in cmd.get_arguments().filter(|a| !a.is_positional() && !a.is_hide_set()) {
            if line.seen.contains(arg.get_id().as_str()) && !repeatable(arg) {
                continue;
            }
            let help = flag_help(arg);
            if let Some(long) = arg.get_long() {
                push(&mut out, &format!("--{long}"), cur, &help);
            }
            if let Some(short) = arg.get_short().map(|c| format!("-{c}")).filter(|s| cur == "-" || cur == s) {
                push(&mut out, &short, cur, &help);
            }
        }
        return out;
    }

    // A positional argument.
    let positional = cmd.get_arguments().find(|a| a.is_positional());
    match positional {
        Some(arg) if !arg.get_possible_values().is_empty() => return values(arg, cur, "", &line.ctx, src),
        Some(arg) if arg.get_value_names().is_some_and(|n| n.iter().any(|n| n == "TYPE/NAME")) => {}
        _ => return out,
    }
    if let Some((ty, partial)) = cur.split_once('/') {
        let Ok(target) = Target::parse(&format!("{ty}/x")) else { return out };
        for name in src.names(target.kind, &line.ctx) {
            push(&mut out, &format!("{ty}/{name}"), &format!("{ty}/{partial}"), "");
        }
        return out;
    }
    if sub.is_none() && prev.is_empty() {
        for c in root.get_subcommands().filter(|c| !c.is_hide_set()) {
            push(&mut out, c.get_name(), cur, &describe(c.get_about().map(|a| a.to_string())));
        }
    }
    let before = out.items.len();
    for k in KINDS {
        push(&mut out, &format!("{}/", k.resource()), cur, "");
    }
    if out.items.len() == before {
        for a in KIND_ALIASES {
            push(&mut out, &format!("{a}/"), cur, "");
        }
    }
    if !out.items.is_empty() && out.items.iter().all(|i| i.ends_with('/')) {
        out.directive |= NO_SPACE;
    }
    out
}

/// What the words before the one being completed say.
#[derive(Default)]
struct Line {
    /// A flag whose value is the word being completed.
    pending: Option<Arg>,
    after_dashdash: bool,
    /// Ids of the flags given.
    seen: HashSet<String>,
    ctx: Ctx,
}

fn scan(cmd: &Command, prev: &[String]) -> Line {
    let mut line = Line::default();
    let mut i = 0;
    while i < prev.len() {
        let w = &prev[i];
        i += 1;
        if line.after_dashdash {
            continue;
        }
        if w == "--" {
            line.after_dashdash = true;
            continue;
        }
        let (arg, inline) = if let Some(long) = w.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            (find_long(cmd, name).cloned(), value)
        } else if let Some(shorts) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
            // -R, -Rf FILE, -ojson, -o=json: the first flag that takes a value
            // ends the cluster.
            let mut found = None;
            for (at, c) in shorts.char_indices() {
                let Some(arg) = cmd.get_arguments().find(|a| a.get_short() == Some(c)) else { break };
                line.seen.insert(arg.get_id().to_string());
                if needs_value(arg) {
                    let rest = &shorts[at + c.len_utf8()..];
                    let rest = rest.strip_prefix('=').unwrap_or(rest);
                    found = Some((arg.clone(), (!rest.is_empty()).then(|| rest.to_string())));
                    break;
                }
            }
            match found {
                Some((arg, value)) => (Some(arg), value),
                None => continue,
            }
        } else {
            continue; // a positional argument
        };
        let Some(arg) = arg else { continue };
        line.seen.insert(arg.get_id().to_string());
        let value = match inline {
            Some(v) => Some(v),
            None if needs_value(&arg) => match prev.get(i) {
                Some(v) => {
                    i += 1;
                    Some(v.clone())
                }
                None => {
                    line.pending = Some(arg);
                    continue;
                }
            },
            None => None,
        };
        let c = &mut line.ctx;
        match (arg.get_id().as_str(), value) {
            ("namespace", Some(v)) => c.namespace = Some(v),
            ("kubeconfig", Some(v)) => c.kubeconfig = Some(v.into()),
            ("context", Some(v)) => c.context = Some(v),
            ("as_user", Some(v)) => c.as_user = Some(v),
            ("filenames", Some(v)) if v != "-" => c.files.push(v.into()),
            ("recursive", _) => c.recursive = true,
            _ => {}
        }
    }
    line
}

/// The values of a flag (or positional argument) that start with `partial`,
/// each written after `prefix` (`--mode=` for `--mode=st<TAB>`).
fn values(arg: &Arg, partial: &str, prefix: &str, ctx: &Ctx, src: &dyn Source) -> Completions {
    let mut out = Completions { items: Vec::new(), directive: NO_FILE_COMP };
    let possible = arg.get_possible_values();
    let from: Vec<(String, String)> = if !possible.is_empty() {
        possible
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| (p.get_name().to_string(), describe(p.get_help().map(|h| h.to_string()))))
            .collect()
    } else if matches!(arg.get_value_hint(), ValueHint::AnyPath | ValueHint::FilePath | ValueHint::DirPath) {
        // Let the shell complete file names.
        out.directive = 0;
        return out;
    } else {
        let names = match arg.get_id().as_str() {
            "storage_class" => src.storage_classes(ctx),
            "context" => src.contexts(ctx),
            "access_modes" => ACCESS_MODES.iter().map(|m| m.to_string()).collect(),
            _ => Vec::new(),
        };
        names.into_iter().map(|n| (n, String::new())).collect()
    };
    for (v, help) in from {
        push(&mut out, &format!("{prefix}{v}"), &format!("{prefix}{partial}"), &help);
    }
    out
}

fn push(out: &mut Completions, candidate: &str, typed: &str, help: &str) {
    if !candidate.starts_with(typed) {
        return;
    }
    if help.is_empty() {
        out.items.push(candidate.to_string());
    } else {
        out.items.push(format!("{candidate}\t{help}"));
    }
}

fn find_long<'a>(cmd: &'a Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name)))
}

/// Whether the flag consumes the next word (`--dry-run` and `--wait` take an
/// optional value, which must be attached with `=`).
fn needs_value(arg: &Arg) -> bool {
    arg.get_action().takes_values() && arg.get_num_args().is_none_or(|n| n.min_values() > 0)
}

fn repeatable(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
}

/// A flag's description: the first sentence of its help, or its values when
/// the help describes them one by one (`statefulset: ...`).
fn flag_help(arg: &Arg) -> String {
    let help = describe(arg.get_help().map(|h| h.to_string()));
    let values: Vec<String> = arg.get_possible_values().iter().map(|p| p.get_name().to_string()).collect();
    if values.iter().any(|v| help.starts_with(&format!("{v}:"))) {
        format!("one of {}", values.join(", "))
    } else {
        help
    }
}

/// The first sentence of a help text, on one line.
fn describe(help: Option<String>) -> String {
    let h = help.unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    let first = match h.find(". ") {
        Some(i) => &h[..i],
        None => h.trim_end_matches('.'),
    };
    first.to_string()
}

/// Names from the `-f` files, the cluster and the kubeconfig.
pub struct Live;

impl Source for Live {
    fn names(&self, kind: WorkloadKind, ctx: &Ctx) -> Vec<String> {
        if !ctx.files.is_empty() {
            return file_names(kind, ctx).unwrap_or_default();
        }
        let ns = ctx.namespace.clone();
        with_cluster(ctx, |c| async move {
            let ns = ns.unwrap_or_else(|| c.default_namespace.clone());
            let items = c.list(kind.as_str(), Some(&ns), None).await?;
            Ok(items.iter().filter_map(|o| o["metadata"]["name"].as_str().map(str::to_string)).collect())
        })
    }

    fn storage_classes(&self, ctx: &Ctx) -> Vec<String> {
        with_cluster(ctx, |c| async move { Ok(c.storage_classes().await?.into_iter().map(|s| s.0).collect()) })
    }

    fn contexts(&self, ctx: &Ctx) -> Vec<String> {
        let kc = match &ctx.kubeconfig {
            Some(p) => kube::config::Kubeconfig::read_from(p),
            None => kube::config::Kubeconfig::read(),
        };
        kc.map(|k| k.contexts.into_iter().map(|c| c.name).collect()).unwrap_or_default()
    }
}

fn file_names(kind: WorkloadKind, ctx: &Ctx) -> Option<Vec<String>> {
    let inputs = crate::read::read_inputs(&ctx.files, ctx.recursive).ok()?;
    let limits = kubectl_persist::yaml::Limits::default();
    let stream = kubectl_persist::stream::Stream::read(&inputs, &limits, false).ok()?;
    let mut names: Vec<String> = stream
        .objects
        .iter()
        .filter(|o| o.kind == kind.as_str())
        .filter(|o| ctx.namespace.is_none() || o.namespace.is_none() || o.namespace == ctx.namespace)
        .map(|o| o.name.clone())
        .collect();
    names.sort();
    names.dedup();
    Some(names)
}

/// Run `f` against the cluster, within [`CLUSTER_BUDGET`]; nothing on any error.
fn with_cluster<F, Fut>(ctx: &Ctx, f: F) -> Vec<String>
where
    F: FnOnce(crate::cluster::Cluster) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<String>>>,
{
    let Ok(rt) = crate::live_cmd::runtime() else { return Vec::new() };
    let mut names = rt
        .block_on(async {
            tokio::time::timeout(CLUSTER_BUDGET, async {
                let c = crate::cluster::Cluster::connect(
                    ctx.kubeconfig.as_deref(),
                    ctx.context.as_deref(),
                    ctx.as_user.as_deref(),
                )
                .await?;
                f(c).await
            })
            .await
        })
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;

    impl Source for Fixed {
        fn names(&self, kind: WorkloadKind, ctx: &Ctx) -> Vec<String> {
            let ns = ctx.namespace.as_deref().unwrap_or("default");
            match kind {
                WorkloadKind::Deployment => vec![format!("web-{ns}"), format!("worker-{ns}")],
                WorkloadKind::StatefulSet => vec!["db".into()],
            }
        }
        fn storage_classes(&self, _: &Ctx) -> Vec<String> {
            vec!["fast".into(), "standard".into()]
        }
        fn contexts(&self, _: &Ctx) -> Vec<String> {
            vec!["prod".into(), "kind-dev".into()]
        }
    }

    fn given(line: &str) -> Completions {
        let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
        if line.is_empty() {
            words = vec![String::new()];
        }
        complete(&words, &Fixed)
    }

    fn names(c: &Completions) -> Vec<&str> {
        c.items.iter().map(|i| i.split('\t').next().unwrap()).collect()
    }

    #[test]
    fn cases() {
        // (words after `kubectl persist`, the last being completed; candidates; directive)
        let cases: &[(&str, &[&str], u32)] = &[
            ("--mo", &["--mode"], NO_FILE_COMP),
            ("--mode ", &["statefulset", "pvc"], NO_FILE_COMP),
            ("--mode p", &["pvc"], NO_FILE_COMP),
            ("--mode=s", &["--mode=statefulset"], NO_FILE_COMP),
            ("-o ", &["yaml", "json", "diff", "patch"], NO_FILE_COMP),
            ("-o p", &["patch"], NO_FILE_COMP),
            ("-ojs", &[], NO_FILE_COMP),
            ("--detect a", &["all"], NO_FILE_COMP),
            ("--dry-run=", &["--dry-run=none", "--dry-run=client", "--dry-run=server"], NO_FILE_COMP),
            ("-f ", &[], 0),
            ("--config ", &[], 0),
            ("--size ", &[], NO_FILE_COMP),
            ("--storage-class f", &["fast"], NO_FILE_COMP),
            ("--context ", &["prod", "kind-dev"], NO_FILE_COMP),
            ("--access-mode ReadWriteO", &["ReadWriteOnce", "ReadWriteOncePod"], NO_FILE_COMP),
            (
                "",
                &["backup", "backups", "completion", "help", "restore", "status", "deployment/", "statefulset/"],
                NO_FILE_COMP,
            ),
            ("d", &["deployment/"], NO_FILE_COMP | NO_SPACE),
            ("st", &["status", "statefulset/"], NO_FILE_COMP),
            ("sts", &["sts/"], NO_FILE_COMP | NO_SPACE),
            ("--path /data ", &["deployment/", "statefulset/"], NO_FILE_COMP | NO_SPACE),
            ("deployment/", &["deployment/web-default", "deployment/worker-default"], NO_FILE_COMP),
            ("-n demo deploy/we", &["deploy/web-demo"], NO_FILE_COMP),
            ("--namespace=demo sts/", &["sts/db"], NO_FILE_COMP),
            ("daemonset/", &[], NO_FILE_COMP),
            ("completion ", &["bash", "elvish", "fish", "powershell", "zsh"], NO_FILE_COMP),
            ("completion f", &["fish"], NO_FILE_COMP),
            ("status -o ", &["table", "json", "yaml"], NO_FILE_COMP),
            ("status deployment/w", &["deployment/web-default", "deployment/worker-default"], NO_FILE_COMP),
            ("status --all", &["--all-namespaces"], NO_FILE_COMP),
            ("-- --mo", &[], NO_FILE_COMP),
        ];
        for (line, want, directive) in cases {
            let got = given(line);
            let mut g = names(&got);
            let mut w = want.to_vec();
            g.sort();
            w.sort();
            assert_eq!(g, w, "candidates for {line:?}");
            assert_eq!(got.directive, *directive, "directive for {line:?}");
        }
    }

    #[test]
    fn flags_given_once_are_not_offered_again() {
        let c = given("--mode pvc --");
        assert!(!names(&c).contains(&"--mode"), "{c:?}");
        let c = given("--path /a --");
        assert!(names(&c).contains(&"--path"), "--path is repeatable: {c:?}");
        // Short flags only for a lone '-'.
        assert!(names(&given("-")).contains(&"-f"));
        assert!(!names(&given("--")).contains(&"-f"));
        assert_eq!(names(&given("-f")), ["-f"]);
    }

    #[test]
    fn flags_carry_their_help_as_description() {
        let c = given("--explain");
        assert_eq!(c.items.len(), 1);
        let (flag, help) = c.items[0].split_once('\t').expect("a description");
        assert_eq!(flag, "--explain");
        assert!(help.starts_with("Explain every decision"), "{help}");
    }

    #[test]
    fn a_flag_whose_help_lists_its_values_shows_the_values() {
        assert_eq!(given("--mo").items, ["--mode\tone of statefulset, pvc"]);
    }

    #[test]
    fn render_ends_with_the_directive() {
        let c = Completions { items: vec!["a".into(), "b\tthe b".into()], directive: 6 };
        assert_eq!(c.render(), "a\nb\tthe b\n:6\n");
    }
}
