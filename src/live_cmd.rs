//! `kubectl persist TYPE/NAME` on a live cluster: read, transform with the
//! same library core as file mode, plan, show the plan, then act (or dry-run).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{ArgAction, Args, ValueEnum};
use serde_json::Value;

use kubectl_persist::emit::{self, Format};
use kubectl_persist::live::{self, Key, LivePlan, Op, Snapshot};
use kubectl_persist::{transform, Note, Options, Outcome};

use crate::cluster::Cluster;

#[derive(Args, Debug, Default, Clone)]
pub struct KubeArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "FILE", help_heading = "Cluster")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME", help_heading = "Cluster")]
    pub context: Option<String>,

    /// Username to impersonate for the operation.
    #[arg(long = "as", value_name = "USER", help_heading = "Cluster")]
    pub as_user: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum DryRun {
    #[default]
    None,
    Client,
    Server,
}

#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    #[command(flatten)]
    pub kube: KubeArgs,

    /// client: print the objects that would be applied; server: send them with
    /// server-side dry run so admission and validation speak; none: act.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "client", default_value = "none", help_heading = "Cluster")]
    pub dry_run: DryRun,

    /// Wait until the new StatefulSet (or the rolled-out Deployment) is ready
    /// before the next step; --wait=false goes on as soon as it exists.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "true", action = ArgAction::Set, help_heading = "Cluster")]
    pub wait: bool,

    /// How long each wait may take (30s, 5m, 1h30m).
    #[arg(long, value_parser = parse_duration, default_value = "5m", help_heading = "Cluster")]
    pub timeout: Duration,

    /// Take over fields another field manager owns when applying.
    #[arg(long, help_heading = "Cluster")]
    pub force_conflicts: bool,

    /// With -f or stdin (post-rendering): read the live StatefulSets of the same
    /// names and keep their immutable fields, so `helm upgrade` keeps working.
    #[arg(long, help_heading = "Cluster")]
    pub cluster: bool,

    /// Copy what the running pod holds at each persisted path (emptyDir or
    /// container layer) into its new claim, verified, before the pod goes:
    /// auto (the one running pod; refused when several run), per-pod (pod N's
    /// data into ordinal N's claims), none (start on empty claims) [default: auto].
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "auto", value_parser = kubectl_persist::carry::Mode::parse, help_heading = "Cluster")]
    pub carry: Option<kubectl_persist::carry::Mode>,

    /// Image of the copy helpers (an ephemeral container in the app's pod and
    /// a loader pod); needs sh, tar, find, stat, sort, sha256sum
    /// [default: docker.io/library/busybox:1.37].
    #[arg(long, value_name = "IMAGE", help_heading = "Cluster")]
    pub helper_image: Option<String>,
}

impl Default for LiveArgs {
    fn default() -> Self {
        LiveArgs {
            kube: KubeArgs::default(),
            dry_run: DryRun::None,
            wait: true,
            timeout: Duration::from_secs(300),
            force_conflicts: false,
            cluster: false,
            carry: None,
            helper_image: None,
        }
    }
}

/// A duration as kubectl reads one (Go's syntax): `30s`, `5m`, `1h30m`,
/// `1.5s`, `500ms`; a bare number means seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    kubectl_persist::carry::parse_go_duration(s)
        .ok_or_else(|| format!("{s:?} is not a duration (examples: 30s, 5m, 1h30m, 1.5s)"))
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the async runtime")
}

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "kubectl-persist: {msg}");
}

/// The run on a live cluster. `opts` has the selection and rewrite settings.
pub fn run(opts: &Options, live: &LiveArgs, format: Format, explain: bool) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let k = &live.kube;
        let cluster = Cluster::connect(k.kubeconfig.as_deref(), k.context.as_deref(), k.as_user.as_deref()).await?;
        let out = switch(&cluster, opts, live, format, explain).await?;
        if !out.is_empty() {
            std::io::stdout().lock().write_all(out.as_bytes())?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Everything after connecting; returns what goes to stdout.
pub async fn switch(
    cluster: &Cluster,
    opts: &Options,
    live: &LiveArgs,
    format: Format,
    explain: bool,
) -> Result<String> {
    let ns = opts.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
    let selector = opts.selector.as_ref().map(|s| s.to_string());
    let (snapshot, found) = cluster.snapshot(&ns, &opts.targets, selector.as_deref()).await?;
    if found.is_empty() {
        say(&format!("warning: no Deployment in namespace {ns} matches; nothing changed"));
        return Ok(String::new());
    }
    let manifests: Vec<Value> = snapshot.objects.iter().map(|(v, _)| v.clone()).collect();
    let inputs = vec![live::input(&manifests)];
    let run_opts = Options { targets: found.clone(), selector: None, namespace: Some(ns.clone()), ..opts.clone() };
    let outcome = transform(&inputs, &run_opts)?;
    for n in &outcome.notes {
        match n {
            Note::Warning(w) => say(&format!("warning: {w}")),
            Note::Explain(e) if explain => say(e),
            Note::Explain(_) => {}
        }
    }
    let settings = live::Settings {
        wait: live.wait,
        carry: opts.carry,
        helper_image: opts.helper_image.clone().unwrap_or_else(|| kubectl_persist::carry::DEFAULT_HELPER_IMAGE.into()),
    };
    let plan = live::plan(&snapshot, &outcome, &settings).map_err(anyhow::Error::msg)?;
    if plan.nothing_to_do {
        let names: Vec<String> = found.iter().map(|t| t.to_string()).collect();
        say(&format!("{} in namespace {ns}: already persistent; nothing to do", names.join(", ")));
        return Ok(String::new());
    }
    // Whether each carry can run (one pod, or --carry=per-pod; pods running;
    // hooks readable), before anything changes; a dry run also says how much.
    for op in &plan.ops {
        let Op::Carry { job } = op else { continue };
        let pre = cluster.carry_preflight(job, job.replicas).await?;
        for l in &pre.lines {
            say(l);
        }
        if live.dry_run != DryRun::None {
            for p in &pre.pods {
                let sizes = cluster.carry_sizes(job, p).await;
                for (u, size) in job.units.iter().zip(sizes) {
                    let size = size
                        .map(kubectl_persist::carry::human_bytes)
                        .unwrap_or_else(|| "size unknown: the image has no du".into());
                    say(&format!(
                        "would carry from pod {}: {}:{} ({}), {size}",
                        p.name,
                        u.container,
                        u.path,
                        u.describe_source()
                    ));
                }
            }
        }
    }
    helm_notice(&snapshot, &found, opts);
    match live.dry_run {
        crate::live_cmd::DryRun::Client => Ok(changed_output(&outcome, format, opts)?),
        crate::live_cmd::DryRun::Server => {
            let mut answers = Vec::new();
            for op in &plan.ops {
                if matches!(op, Op::Apply { .. } | Op::Patch { .. }) {
                    if let Some(v) = cluster.execute(op, true, live.force_conflicts, live.timeout, &mut |_| {}).await? {
                        answers.push(live::to_manifest(&v).0);
                    }
                }
            }
            say("server-side dry run: the API server accepted every object; nothing was changed");
            // An object sent twice (the StatefulSet at 0 replicas, then at its
            // count) is shown as the server answered last.
            let mut last: Vec<Value> = Vec::new();
            for a in answers.into_iter().rev() {
                if !last.iter().any(|l| Key::of(l) == Key::of(&a)) {
                    last.push(a);
                }
            }
            last.reverse();
            let answers = last;
            Ok(match format {
                Format::Diff => server_diff(&snapshot, &answers),
                Format::Json => {
                    serde_json::to_string_pretty(
                        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": answers}),
                    )? + "\n"
                }
                _ => live::yaml_stream(&answers),
            })
        }
        crate::live_cmd::DryRun::None => {
            for line in summary(cluster, &plan, &outcome).await? {
                say(&line);
            }
            execute(cluster, &plan, &snapshot, live).await?;
            Ok(String::new())
        }
    }
}

/// A unified diff per object from its live state to the server's dry-run answer.
fn server_diff(snapshot: &Snapshot, answers: &[Value]) -> String {
    let mut out = String::new();
    for a in answers {
        let key = Key::of(a);
        let label = format!("{} {}/{}", key.kind, key.namespace, key.name);
        let before = snapshot.find(&key).map(|(v, _)| live::yaml_stream(std::slice::from_ref(v)));
        let after = live::yaml_stream(std::slice::from_ref(a));
        let from = if before.is_some() { format!("a/<cluster>: {label}") } else { "/dev/null".into() };
        let to = format!("b/<server dry run>: {label}");
        out.push_str(&emit::unified_diff(&before.unwrap_or_default(), &after, &from, &to));
    }
    out
}

/// The objects that would be applied, in the chosen format.
fn changed_output(outcome: &Outcome<'_>, format: Format, opts: &Options) -> Result<String> {
    let changed = Outcome {
        docs: outcome
            .docs
            .iter()
            .filter(|d| d.changed())
            .map(|d| kubectl_persist::OutDoc {
                input: d.input,
                number: d.number,
                original: d.original,
                text: d.text.clone(),
                tree: d.tree.clone(),
                added: d.added,
                label: d.label.clone(),
            })
            .collect(),
        notes: Vec::new(),
        expansions: Vec::new(),
    };
    Ok(match format {
        Format::Yaml => emit::yaml(&changed),
        Format::Json => emit::json(&changed, &opts.limits)?,
        Format::Diff => emit::diff(&changed, &[live::LIVE_INPUT.to_string()]),
        Format::Patch => bail!("-o patch is for rendering (-f or stdin), not for live objects"),
    })
}

/// Say what is about to happen: what becomes what, claims, sizes, storage
/// classes and whether they allow expansion.
async fn summary(cluster: &Cluster, plan: &LivePlan, outcome: &Outcome<'_>) -> Result<Vec<String>> {
    let classes = cluster.storage_classes().await.unwrap_or_default();
    let default_class = classes.iter().find(|c| c.1).map(|c| c.0.clone());
    let describe_class = |sc: Option<&str>| -> String {
        let name = sc.map(str::to_string).or(default_class.clone());
        match name {
            Some(n) => match classes.iter().find(|c| c.0 == n) {
                Some(c) => format!("storage class {n} (expansion {})", if c.2 { "allowed" } else { "not allowed" }),
                None if classes.is_empty() => format!("storage class {n}"),
                None => format!("storage class {n} (not found in the cluster)"),
            },
            None => "the cluster's default storage class (none is marked default)".into(),
        }
    };
    let mut lines = plan.summary.clone();
    for d in outcome.docs.iter().filter(|d| d.changed()) {
        let Some(tree) = &d.tree else { continue };
        let v = kubectl_persist::yaml::to_json(tree, &Default::default()).map_err(anyhow::Error::msg)?;
        let claims: Vec<&Value> = match v["kind"].as_str() {
            Some("StatefulSet") => {
                v["spec"]["volumeClaimTemplates"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
            }
            Some("PersistentVolumeClaim") => vec![&v],
            _ => vec![],
        };
        for c in claims {
            lines.push(format!(
                "  claim {}: {}, {}, {}",
                c["metadata"]["name"].as_str().unwrap_or("?"),
                c["spec"]["resources"]["requests"]["storage"].as_str().unwrap_or("?"),
                c["spec"]["accessModes"]
                    .as_array()
                    .map(|m| m.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("+"))
                    .unwrap_or_default(),
                describe_class(c["spec"]["storageClassName"].as_str()),
            ));
        }
    }
    Ok(lines)
}

/// Run the operations in order; on failure undo what ran and say exactly
/// where things stand.
async fn execute(cluster: &Cluster, plan: &LivePlan, snapshot: &Snapshot, live: &LiveArgs) -> Result<()> {
    // An interrupted switch is safe where it stopped (each step is), and a
    // re-run finishes it: say so rather than vanish.
    let _ = ctrlc::set_handler(|| {
        say("interrupted: nothing was rolled back, and no claim was touched; run the same command again to finish \
             (it continues from the state the cluster is in)");
        std::process::exit(130);
    });
    let mut progress = |s: &str| say(&format!("  {s}"));
    let mut carried: Vec<String> = Vec::new();
    for (i, op) in plan.ops.iter().enumerate() {
        say(&op.describe());
        let r = cluster.execute(op, false, live.force_conflicts, live.timeout, &mut progress).await;
        if let (Op::Carry { .. }, Ok(Some(Value::String(line)))) = (op, &r) {
            carried.push(line.clone());
        }
        if let (Op::Handover { .. }, Err(e)) = (op, &r) {
            // The switch is done; only Helm 4's next upgrade would notice.
            say(&format!(
                "warning: {}: {e:#}; the switch is done, but Helm 4 may report field conflicts on the next upgrade \
                 (helm upgrade --force-conflicts settles them)",
                op.describe()
            ));
            continue;
        }
        if let Err(e) = r {
            let undo = live::rollback(plan, i, snapshot);
            let mut lines = vec![format!("step {} of {} failed: {}: {e:#}", i + 1, plan.ops.len(), op.describe())];
            let ran = &plan.ops[..i];
            if !ran.iter().any(Op::writes) {
                lines.push("nothing had changed yet".into());
            }
            for (j, u) in undo.iter().enumerate() {
                if let Err(e2) = cluster.execute(u, false, true, live.timeout, &mut |_| {}).await {
                    // The next steps may only be safe after this one (the
                    // Deployment must not scale up beside StatefulSet pods).
                    lines.push(format!("could not roll back ({}): {e2:#}", u.describe()));
                    for rest in &undo[j + 1..] {
                        lines.push(format!("not done, as it is only safe after that: {}", rest.describe()));
                    }
                    lines.push("finish these by hand, in this order, or run the same command again".into());
                    break;
                }
                lines.push(format!("rolled back: {}", u.describe()));
            }
            let undone = |o: &Op| undo.iter().any(|u| u.key() == o.key());
            let kept: Vec<String> = ran
                .iter()
                .filter(|o| o.writes() && !undone(o))
                .filter_map(|o| match o {
                    Op::Apply { obj } if obj["kind"] == "PersistentVolumeClaim" => {
                        Some(format!("{} (claims are never deleted)", Key::of(obj)))
                    }
                    Op::Patch { key, .. } if key.kind == "Deployment" && plan.switches(key) => {
                        Some(format!("{key} keeps the annotation {}", live::REPLICAS_ANNOTATION))
                    }
                    Op::Patch { key, .. } => Some(format!("the change to {key}")),
                    Op::Apply { obj } => Some(Key::of(obj).to_string()),
                    _ => None,
                })
                .collect();
            if !kept.is_empty() {
                lines.push(format!("these stay: {}", kept.join(", ")));
            }
            lines.push("run the same command again to retry; it continues from the state the cluster is in".into());
            bail!("{}", lines.join("\n  "));
        }
    }
    // The lines that say what became what, else the first.
    let mut what: Vec<&str> =
        plan.summary.iter().filter(|l| l.contains('→') && !l.starts_with(' ')).map(String::as_str).collect();
    if what.is_empty() {
        what.extend(plan.summary.first().map(String::as_str));
    }
    what.extend(carried.iter().map(String::as_str));
    say(&format!("done: {}", what.join("; ")));
    Ok(())
}

/// A workload that Helm owns reverts on the next `helm upgrade` unless the
/// release renders through the post-renderer; say how to keep the change.
fn helm_notice(snapshot: &Snapshot, found: &[kubectl_persist::decide::select::Target], opts: &Options) {
    for t in found {
        let Some((obj, _)) = snapshot
            .objects
            .iter()
            .find(|(v, _)| v["kind"] == t.kind.as_str() && v["metadata"]["name"] == t.name.as_str())
        else {
            continue;
        };
        let ann = &obj["metadata"]["annotations"];
        let (Some(release), ns) =
            (ann["meta.helm.sh/release-name"].as_str(), ann["meta.helm.sh/release-namespace"].as_str())
        else {
            continue;
        };
        let ns = ns.map(|n| format!(" -n {n}")).unwrap_or_default();
        let mut args = String::new();
        for a in opts.rewrite_args() {
            args.push_str(&format!(" --post-renderer-args={a}"));
        }
        // --cluster keeps the live StatefulSet's immutable fields whatever the
        // next chart version renders.
        args.push_str(" --post-renderer-args=--cluster");
        if let Some(n) = ann["meta.helm.sh/release-namespace"].as_str() {
            args.push_str(&format!(" --post-renderer-args=-n --post-renderer-args={n}"));
        }
        say(&format!(
            "note: {t} belongs to the Helm release {release}; the next `helm upgrade` puts the Deployment back unless the release renders through kubectl-persist:\n    Helm 3: helm upgrade {release} <chart>{ns} --reuse-values --post-renderer kubectl-persist{args}\n    Helm 4: helm upgrade {release} <chart>{ns} --reuse-values --post-renderer persist{args}   (after: helm plugin install plugin-manifest/persist)"
        ));
    }
}

/// `kubectl persist status`: where each workload keeps its data.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Workloads to show: deployment/NAME, statefulset/NAME [default: all of them].
    #[arg(value_name = "TYPE/NAME")]
    pub targets: Vec<String>,

    /// Only workloads whose labels match (not together with TYPE/NAME).
    #[arg(short = 'l', long, value_name = "SELECTOR", conflicts_with = "targets")]
    pub selector: Option<String>,

    /// Namespace [default: the context's].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// Every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// table, json or yaml.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: StatusOutput,

    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum StatusOutput {
    Table,
    Json,
    Yaml,
}

pub fn status(args: &StatusArgs, opts: &Options) -> Result<ExitCode> {
    use kubectl_persist::decide::select::{Selector, Target};
    let targets = args
        .targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::exit::Exit::Usage)?;
    if let Some(s) = &args.selector {
        Selector::parse(s).map_err(|e| crate::exit::Exit::Usage(format!("-l: {e}")))?;
    }
    runtime()?.block_on(async {
        let k = &args.kube;
        let cluster = Cluster::connect(k.kubeconfig.as_deref(), k.context.as_deref(), k.as_user.as_deref()).await?;
        let ns = if args.all_namespaces {
            None
        } else {
            Some(args.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone()))
        };
        let mut workloads = Vec::new();
        for kind in ["Deployment", "StatefulSet"] {
            for w in cluster.list(kind, ns.as_deref(), args.selector.as_deref()).await? {
                let name = w["metadata"]["name"].as_str().unwrap_or_default();
                if targets.is_empty() || targets.iter().any(|t| shows(t, kind, name)) {
                    workloads.push(w);
                }
            }
        }
        // Like `kubectl get`, a name that is not there is an error.
        let shown = |t: &Target| {
            workloads.iter().any(|w| {
                shows(t, w["kind"].as_str().unwrap_or_default(), w["metadata"]["name"].as_str().unwrap_or_default())
            })
        };
        if let Some(t) = targets.iter().find(|t| !shown(t)) {
            bail!("{t} not found{}", ns.as_ref().map(|n| format!(" in namespace {n}")).unwrap_or_default());
        }
        let claims = cluster.list("PersistentVolumeClaim", ns.as_deref(), None).await?;
        let rows = kubectl_persist::status::rows(&workloads, &claims, opts);
        let text = match args.output {
            StatusOutput::Table if rows.is_empty() => {
                say(&format!(
                    "no Deployments or StatefulSets found{}",
                    ns.map(|n| format!(" in namespace {n}")).unwrap_or_default()
                ));
                String::new()
            }
            StatusOutput::Table => kubectl_persist::status::table(&rows, args.all_namespaces),
            StatusOutput::Json => serde_json::to_string_pretty(&rows)? + "\n",
            StatusOutput::Yaml => {
                let v = serde_json::to_value(&rows)?;
                let mut out =
                    kubectl_persist::yaml::render::fresh_document(&live::json_to_node(&v), &Default::default());
                out.push('\n');
                out
            }
        };
        std::io::stdout().lock().write_all(text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Whether `status TYPE/NAME` shows this workload: a Deployment that was
/// switched is shown as its StatefulSet.
fn shows(t: &kubectl_persist::decide::select::Target, kind: &str, name: &str) -> bool {
    t.name == name && (t.kind.as_str() == kind || (t.kind.as_str() == "Deployment" && kind == "StatefulSet"))
}

/// `--cluster` while post-rendering: the live StatefulSets and Deployments
/// named like the input's Deployments and StatefulSets, and the namespace
/// they live in.
pub fn live_workloads(
    live: &LiveArgs,
    inputs: &[kubectl_persist::Input],
    namespace: Option<&str>,
) -> Result<(String, Vec<Value>)> {
    // (namespace the object names, name)
    let mut names: Vec<(Option<String>, String)> = Vec::new();
    for i in inputs {
        let Ok(text) = std::str::from_utf8(&i.bytes) else { continue };
        for d in kubectl_persist::yaml::split::split(text) {
            if matches!(d.head.kind, Some("Deployment" | "StatefulSet")) {
                if let Some(n) = d.head.name {
                    let ns = d.head.namespace.filter(|n| !n.is_empty()).map(str::to_string);
                    names.push((ns, n.to_string()));
                }
            }
        }
    }
    runtime()?.block_on(async {
        let k = &live.kube;
        let cluster = Cluster::connect(k.kubeconfig.as_deref(), k.context.as_deref(), k.as_user.as_deref()).await?;
        let ns = namespace.map(str::to_string).unwrap_or_else(|| cluster.default_namespace.clone());
        let mut found = Vec::new();
        for (own_ns, n) in names {
            let ns = own_ns.unwrap_or_else(|| ns.clone());
            for kind in ["StatefulSet", "Deployment"] {
                if let Some(mut w) = cluster.get(kind, &ns, &n).await? {
                    w["kind"] = Value::from(kind);
                    found.push(w);
                }
            }
        }
        Ok((ns, found))
    })
}

/// Grow the live claims of StatefulSet templates whose size was raised, where
/// the StorageClass allows it; stop with a clear message where it does not.
pub fn expand(
    live: &LiveArgs,
    expansions: &[kubectl_persist::rules::keep_live::Expansion],
    namespace: &str,
) -> Result<()> {
    if expansions.is_empty() {
        return Ok(());
    }
    runtime()?.block_on(async {
        let k = &live.kube;
        let cluster = Cluster::connect(k.kubeconfig.as_deref(), k.context.as_deref(), k.as_user.as_deref()).await?;
        let classes = cluster.storage_classes().await?;
        for e in expansions {
            let ns = e.namespace.as_deref().unwrap_or(namespace);
            let class = e.storage_class.clone().or_else(|| classes.iter().find(|c| c.1).map(|c| c.0.clone()));
            let allowed = class.as_ref().and_then(|c| classes.iter().find(|x| x.0 == *c)).is_some_and(|c| c.2);
            // Every claim of the template, also those a scale-down left behind
            // (a later scale-up mounts them again).
            let stem = format!("{}-{}-", e.template, e.statefulset);
            let ordinal = |n: &str| n.strip_prefix(&stem).and_then(|r| r.parse::<u64>().ok());
            let mut found: Vec<(u64, String)> = cluster
                .list("PersistentVolumeClaim", Some(ns), None)
                .await?
                .iter()
                .filter_map(|c| c["metadata"]["name"].as_str())
                .filter_map(|n| Some((ordinal(n)?, n.to_string())))
                .collect();
            found.sort();
            let mut claims: Vec<String> = found.into_iter().map(|(_, n)| n).collect();
            if claims.is_empty() {
                claims = (0..e.replicas).map(|i| format!("{stem}{i}")).collect();
            }
            if !allowed {
                bail!(
                    "statefulset/{} asks for {} instead of {} on claim template {}, but storage class {} does not allow volume expansion; the claims ({}) stay at {}. Keep --size {} or move the data to a class that allows expansion",
                    e.statefulset, e.to, e.from, e.template, class.as_deref().unwrap_or("(none)"), claims.join(", "), e.from, e.from
                );
            }
            for c in &claims {
                if cluster.get("PersistentVolumeClaim", ns, c).await?.is_none() {
                    continue;
                }
                let key = Key { kind: "PersistentVolumeClaim".into(), namespace: ns.to_string(), name: c.clone() };
                let patch = serde_json::json!([{"op": "replace", "path": "/spec/resources/requests/storage", "value": e.to}]);
                cluster.execute(&Op::Patch { key, patch }, false, false, Duration::from_secs(0), &mut |_| {}).await?;
                say(&format!("claim {c}: {} → {} (storage class {} allows expansion)", e.from, e.to, class.as_deref().unwrap_or_default()));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::mock::{self, status, step};
    use kubectl_persist::decide::select::Target;
    use serde_json::json;

    fn deployment(replicas: i64) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo", "resourceVersion": "42", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
        })
    }

    fn list(kind: &str, items: Vec<Value>) -> Value {
        json!({"apiVersion": "v1", "kind": format!("{kind}List"), "metadata": {}, "items": items})
    }

    fn args(wait: bool, dry_run: DryRun) -> LiveArgs {
        LiveArgs {
            kube: KubeArgs::default(),
            dry_run,
            wait,
            timeout: Duration::from_secs(5),
            force_conflicts: false,
            cluster: false,
            carry: None,
            helper_image: None,
        }
    }

    fn opts() -> Options {
        Options {
            targets: vec![Target::parse("deployment/web").unwrap()],
            paths: vec![(None, "/data".into())],
            namespace: Some("demo".into()),
            // The call sequences without a carry; see the carry tests below.
            carry: kubectl_persist::carry::Mode::None,
            ..Options::default()
        }
    }

    /// The reads every run starts with, for a Deployment with no StatefulSet
    /// of its name and no autoscalers.
    fn reads(d: Value) -> Vec<mock::Step> {
        reads_with(d, None, Autoscalers::default())
    }

    /// The autoscalers a namespace has; `vpas: None`: the VPA API is not installed.
    #[derive(Default)]
    struct Autoscalers {
        hpas: Vec<Value>,
        vpas: Option<Vec<Value>>,
        keda: Vec<Value>,
    }

    /// The reads of a run: the Deployment, the StatefulSet of its name (`None`:
    /// 404), the namespace's workloads, Services, claims and autoscalers.
    fn reads_with(d: Value, sts: Option<Value>, a: Autoscalers) -> Vec<mock::Step> {
        let sts_path = "/apis/apps/v1/namespaces/demo/statefulsets/web";
        let vpa_path = "/apis/autoscaling.k8s.io/v1/namespaces/demo/verticalpodautoscalers";
        vec![
            step("GET", "/apis/apps/v1/namespaces/demo/deployments/web", d),
            match sts {
                Some(s) => step("GET", sts_path, s),
                None => status("GET", sts_path, 404, "not found"),
            },
            step("GET", "/apis/apps/v1/namespaces/demo/deployments?", list("Deployment", vec![])),
            step("GET", "/apis/apps/v1/namespaces/demo/statefulsets?", list("StatefulSet", vec![])),
            step("GET", "/api/v1/namespaces/demo/services", list("Service", vec![])),
            step("GET", "/api/v1/namespaces/demo/persistentvolumeclaims", list("PersistentVolumeClaim", vec![])),
            step(
                "GET",
                "/apis/autoscaling/v2/namespaces/demo/horizontalpodautoscalers",
                list("HorizontalPodAutoscaler", a.hpas),
            ),
            match a.vpas {
                Some(v) => step("GET", vpa_path, list("VerticalPodAutoscaler", v)),
                None => not_installed(vpa_path),
            },
            step("GET", "/apis/keda.sh/v1alpha1/namespaces/demo/scaledobjects", list("ScaledObject", a.keda)),
        ]
    }

    /// The answer of a cluster that does not serve an add-on's API.
    fn not_installed(path: &str) -> mock::Step {
        status("GET", path, 404, "the server could not find the requested resource")
    }

    fn sts(replicas: i64, ready: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "demo", "generation": 2,
                     "managedFields": [{"manager": "kubectl-persist", "operation": "Apply"}]},
               "spec": {"replicas": replicas}, "status": {"observedGeneration": 2, "readyReplicas": ready}})
    }

    async fn scenario(steps: Vec<mock::Step>, live: LiveArgs) -> (Result<String>, Vec<(String, String, Value)>) {
        let (client, handle) = mock::client();
        let cluster = Cluster::with_client(client, "demo");
        let server = tokio::spawn(mock::serve(handle, steps));
        let out = tokio::time::timeout(Duration::from_secs(10), switch(&cluster, &opts(), &live, Format::Yaml, false))
            .await
            .expect("the run finished");
        drop(cluster);
        let seen = match tokio::time::timeout(Duration::from_secs(10), server).await.expect("the mock server ends") {
            Ok(seen) => seen,
            Err(e) => panic!("the mock server failed ({e}); the run returned {out:?}"),
        };
        (out, seen)
    }

    #[tokio::test]
    async fn a_switch_makes_these_calls_in_this_order() {
        let mut steps = reads(deployment(2));
        steps.extend([
            step("GET", "/apis/storage.k8s.io/v1/storageclasses", list("StorageClass", vec![])),
            step("PATCH", "/api/v1/namespaces/demo/services/web-headless?", json!({"kind": "Service"})),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web?", deployment(2)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(0, 0)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web/scale", json!({"kind": "Scale"})),
            step(
                "GET",
                "/api/v1/namespaces/demo/pods?",
                list("Pod", vec![json!({"metadata": {"ownerReferences": [{"kind": "ReplicaSet"}]}})]),
            ),
            step("GET", "/api/v1/namespaces/demo/pods?", list("Pod", vec![])),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(2, 0)),
            step("GET", "/apis/apps/v1/namespaces/demo/statefulsets/web", sts(2, 1)),
            step("GET", "/apis/apps/v1/namespaces/demo/statefulsets/web", sts(2, 2)),
            step(
                "DELETE",
                "/apis/apps/v1/namespaces/demo/deployments/web",
                json!({"kind": "Status", "status": "Success"}),
            ),
        ]);
        let (out, seen) = scenario(steps, args(true, DryRun::None)).await;
        out.unwrap();
        let apply = |i: usize| &seen[i].2;
        assert!(seen[10].1.contains("fieldManager=kubectl-persist"), "{}", seen[10].1);
        assert_eq!(apply(10)["spec"]["clusterIP"], "None");
        assert_eq!(
            apply(11)[0],
            json!({"op": "test", "path": "/metadata/generation", "value": 1}),
            "the annotation patch is guarded"
        );
        assert_eq!(apply(12)["spec"]["replicas"], 0);
        assert_eq!(apply(13)["spec"]["replicas"], 0, "scale to 0 via the scale subresource");
        assert_eq!(apply(16)["spec"]["replicas"], 2);
        assert_eq!(apply(16)["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
    }

    #[tokio::test]
    async fn a_failure_mid_way_rolls_back_and_keeps_claims() {
        let mut steps = reads(deployment(2));
        steps.extend([
            step("GET", "/apis/storage.k8s.io/v1/storageclasses", list("StorageClass", vec![])),
            step("PATCH", "/api/v1/namespaces/demo/services/web-headless?", json!({"kind": "Service"})),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web?", deployment(2)),
            status(
                "PATCH",
                "/apis/apps/v1/namespaces/demo/statefulsets/web?",
                422,
                "StatefulSet.apps \"web\" is invalid",
            ),
            // Rollback: the Service created in step 1 goes; nothing was scaled yet.
            step(
                "DELETE",
                "/api/v1/namespaces/demo/services/web-headless",
                json!({"kind": "Status", "status": "Success"}),
            ),
        ]);
        let (out, _) = scenario(steps, args(true, DryRun::None)).await;
        let err = format!("{:#}", out.unwrap_err());
        assert!(err.contains("step 3 of") && err.contains("is invalid"), "{err}");
        assert!(err.contains("rolled back: delete service/web-headless"), "{err}");
        assert!(err.contains("run the same command again"), "{err}");
    }

    #[tokio::test]
    async fn a_timeout_scales_the_deployment_back() {
        let mut steps = reads(deployment(2));
        steps.extend([
            step("GET", "/apis/storage.k8s.io/v1/storageclasses", list("StorageClass", vec![])),
            step("PATCH", "/api/v1/namespaces/demo/services/web-headless?", json!({"kind": "Service"})),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web?", deployment(2)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(0, 0)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web/scale", json!({"kind": "Scale"})),
            step("GET", "/api/v1/namespaces/demo/pods?", list("Pod", vec![])),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(2, 0)),
        ]);
        // Waiting for readiness: never ready; the timeout is 0s.
        steps.push(step("GET", "/apis/apps/v1/namespaces/demo/statefulsets/web", sts(2, 0)));
        // Rollback: the StatefulSet goes and its pods are waited out before the
        // Deployment scales back, then the Service goes.
        steps.extend([
            step(
                "DELETE",
                "/apis/apps/v1/namespaces/demo/statefulsets/web",
                json!({"kind": "Status", "status": "Success"}),
            ),
            step("GET", "/api/v1/namespaces/demo/pods?", list("Pod", vec![])),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web/scale", json!({"kind": "Scale"})),
            step(
                "DELETE",
                "/api/v1/namespaces/demo/services/web-headless",
                json!({"kind": "Status", "status": "Success"}),
            ),
        ]);
        let mut live = args(true, DryRun::None);
        live.timeout = Duration::from_secs(0);
        let (out, seen) = scenario(steps, live).await;
        let err = format!("{:#}", out.unwrap_err());
        assert!(err.contains("timed out"), "{err}");
        let scale_back = &seen[seen.len() - 2];
        assert!(scale_back.1.contains("deployments/web/scale"));
        assert_eq!(scale_back.2["spec"]["replicas"], 2, "the Deployment gets its replicas back");
    }

    #[tokio::test]
    async fn a_rerun_after_an_interruption_finishes_the_job() {
        // Interrupted after scaling down: replicas 0, the count remembered, the StatefulSet there.
        let mut d = deployment(0);
        d["metadata"]["annotations"] = json!({live::REPLICAS_ANNOTATION: "2"});
        // The half-done check finds the StatefulSet of the first run.
        let mut steps = reads_with(d, Some(sts(0, 0)), Autoscalers::default());
        steps.extend([
            step("GET", "/apis/storage.k8s.io/v1/storageclasses", list("StorageClass", vec![])),
            step("PATCH", "/api/v1/namespaces/demo/services/web-headless?", json!({"kind": "Service"})),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(0, 0)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web/scale", json!({"kind": "Scale"})),
            step("GET", "/api/v1/namespaces/demo/pods?", list("Pod", vec![])),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(2, 2)),
            step(
                "DELETE",
                "/apis/apps/v1/namespaces/demo/deployments/web",
                json!({"kind": "Status", "status": "Success"}),
            ),
        ]);
        let (out, seen) = scenario(steps, args(false, DryRun::None)).await;
        out.unwrap();
        assert_eq!(seen[14].2["spec"]["replicas"], 2, "the remembered replicas are restored on the StatefulSet");
    }

    #[tokio::test]
    async fn dry_run_server_sends_writes_with_dry_run_only() {
        let mut steps = reads(deployment(1));
        steps.extend([
            step(
                "PATCH",
                "/api/v1/namespaces/demo/services/web-headless?",
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-headless"}}),
            ),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web?", deployment(1)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(0, 0)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(1, 0)),
        ]);
        let (out, seen) = scenario(steps, args(true, DryRun::Server)).await;
        let out = out.unwrap();
        assert!(out.contains("kind: StatefulSet"), "{out}");
        assert!(seen.iter().skip(9).all(|(_, p, _)| p.contains("dryRun=All")));
    }

    #[tokio::test]
    async fn autoscalers_follow_the_switch() {
        let target = |kind: Option<&str>| match kind {
            Some(k) => json!({"apiVersion": "apps/v1", "kind": k, "name": "web"}),
            None => json!({"name": "web"}),
        };
        let meta = |name: &str| json!({"name": name, "namespace": "demo", "generation": 1});
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("web"),
                         "spec": {"scaleTargetRef": target(Some("Deployment")), "maxReplicas": 3}});
        let vpa = json!({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": meta("web"),
                         "spec": {"targetRef": target(Some("Deployment"))}});
        // KEDA: a ScaledObject without a kind targets a Deployment.
        let keda = json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": meta("web"),
                          "spec": {"scaleTargetRef": target(None)}});
        // Another app's VPA stays as it is.
        let mut other = vpa.clone();
        other["metadata"]["name"] = json!("api");
        other["spec"]["targetRef"]["name"] = json!("api");
        let autoscalers = Autoscalers { hpas: vec![hpa], vpas: Some(vec![vpa, other]), keda: vec![keda] };
        let mut steps = reads_with(deployment(1), None, autoscalers);
        steps.extend([
            step("GET", "/apis/storage.k8s.io/v1/storageclasses", list("StorageClass", vec![])),
            step("PATCH", "/api/v1/namespaces/demo/services/web-headless?", json!({"kind": "Service"})),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web?", deployment(1)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(0, 0)),
            step("PATCH", "/apis/apps/v1/namespaces/demo/deployments/web/scale", json!({"kind": "Scale"})),
            step("GET", "/api/v1/namespaces/demo/pods?", list("Pod", vec![])),
            step("PATCH", "/apis/apps/v1/namespaces/demo/statefulsets/web?", sts(1, 1)),
            step("PATCH", "/apis/autoscaling/v2/namespaces/demo/horizontalpodautoscalers/web?", json!({})),
            step("PATCH", "/apis/autoscaling.k8s.io/v1/namespaces/demo/verticalpodautoscalers/web?", json!({})),
            step("PATCH", "/apis/keda.sh/v1alpha1/namespaces/demo/scaledobjects/web?", json!({})),
            step(
                "DELETE",
                "/apis/apps/v1/namespaces/demo/deployments/web",
                json!({"kind": "Status", "status": "Success"}),
            ),
        ]);
        let (out, seen) = scenario(steps, args(false, DryRun::None)).await;
        out.unwrap();
        for (_, _, body) in &seen[16..19] {
            let patch = body.as_array().expect("a JSON patch");
            assert_eq!(patch[0]["op"], "test", "guarded by the generation: {patch:?}");
            let kinds: Vec<&Value> =
                patch.iter().filter(|op| op["path"].as_str().unwrap().ends_with("/kind")).collect();
            assert_eq!(kinds.len(), 1, "{patch:?}");
            assert_eq!(kinds[0]["value"], "StatefulSet", "{patch:?}");
        }
        assert!(seen[18].2.as_array().unwrap().iter().any(|op| op["path"] == "/spec/scaleTargetRef/apiVersion"));
    }

    fn running_pod(name: &str, created: &str) -> Value {
        json!({"metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": created,
                            "ownerReferences": [{"kind": "ReplicaSet"}]},
               "spec": {"containers": [{"name": "web"}]},
               "status": {"phase": "Running"}})
    }

    async fn carry_scenario(pods: Vec<Value>, carry: kubectl_persist::carry::Mode) -> (Result<String>, usize) {
        let mut steps = reads(deployment(2));
        steps.push(step("GET", "/api/v1/namespaces/demo/pods?", list("Pod", pods)));
        let n = steps.len();
        let (client, handle) = mock::client();
        let cluster = Cluster::with_client(client, "demo");
        let server = tokio::spawn(mock::serve(handle, steps));
        let o = Options { carry, ..opts() };
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            switch(&cluster, &o, &args(true, DryRun::None), Format::Yaml, false),
        )
        .await
        .expect("the run finished");
        drop(cluster);
        let seen = tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
        assert_eq!(seen.len(), n, "no call after the pods were read");
        (out, n)
    }

    #[tokio::test]
    async fn two_running_pods_are_refused_before_anything_changes() {
        use kubectl_persist::carry::Mode;
        let pods = vec![running_pod("web-a", "2026-01-01T00:00:00Z"), running_pod("web-b", "2026-01-01T00:00:01Z")];
        let (out, _) = carry_scenario(pods.clone(), Mode::Auto).await;
        let err = format!("{:#}", out.unwrap_err());
        assert!(
            err.contains("deployment/web runs 2 pods (web-a, web-b)") && err.contains("Nothing was changed"),
            "{err}"
        );
        assert!(err.contains("--carry=per-pod") && err.contains("--carry=none"), "{err}");
    }

    #[tokio::test]
    async fn a_pod_that_is_not_running_is_refused_before_anything_changes() {
        let mut pod = running_pod("web-a", "2026-01-01T00:00:00Z");
        pod["status"] = json!({"phase": "Pending", "containerStatuses": [{"name": "web", "restartCount": 1,
                               "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]});
        let (out, _) = carry_scenario(vec![pod], kubectl_persist::carry::Mode::Auto).await;
        let err = format!("{:#}", out.unwrap_err());
        assert!(err.contains("pod web-a of deployment/web is Pending, not Running"), "{err}");
    }

    #[test]
    fn durations_read_like_kubectl() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs_f64());
        assert_eq!(secs("30"), Ok(30.0));
        assert_eq!(secs("5m"), Ok(300.0));
        assert_eq!(secs("1h30m"), Ok(5400.0));
        assert_eq!(secs("1.5s"), Ok(1.5));
        assert_eq!(secs("500ms"), Ok(0.5));
        for bad in ["", "m", "5x", "1.2.3s", "-5s", "5 m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn forbidden_names_the_verb_and_resource() {
        let steps = vec![status(
            "GET",
            "/apis/apps/v1/namespaces/demo/deployments/web",
            403,
            "deployments.apps \"web\" is forbidden: User \"dev\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"demo\"",
        )];
        let (out, _) = scenario(steps, args(true, DryRun::None)).await;
        let err = format!("{:#}", out.unwrap_err());
        assert!(err.contains("forbidden: cannot get deployment/web") && err.contains("rbac.yaml"), "{err}");
    }
}
