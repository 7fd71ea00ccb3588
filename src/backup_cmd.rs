//! `kubectl persist backup`, `backups` and `restore`: snapshots of a
//! workload's claims, taken together, and a restore that first backs up what
//! it replaces.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::{ArgAction, Args, ValueEnum};

use kubectl_persist::backup;
use kubectl_persist::decide::select::Target;
use kubectl_persist::live::Key;

use crate::cluster::Cluster;
use crate::live_cmd::{parse_duration, runtime, KubeArgs};

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "kubectl-persist: {msg}");
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The workload: statefulset/NAME or deployment/NAME.
    #[arg(value_name = "TYPE/NAME")]
    pub target: String,
    /// Namespace [default: the context's].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The backup's name [default: <workload>-<UTC time>].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A VolumeGroupSnapshotClass (one snapshot of all claims) or a
    /// VolumeSnapshotClass (one per claim) [default: the default class of the
    /// claims' CSI driver, a group one where there is one].
    #[arg(long, value_name = "CLASS")]
    pub class: Option<String>,
    /// Wait until the snapshots are ready to use (not only taken).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub wait: bool,
    /// How long each wait may take.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub timeout: Duration,
    /// After the backup, delete this workload's oldest backups beyond the N
    /// newest (only those kubectl-persist made).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Args, Debug)]
pub struct BackupsArgs {
    /// Only this workload's backups.
    #[arg(value_name = "TYPE/NAME")]
    pub target: Option<String>,
    /// Namespace [default: the context's].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// table, json or yaml.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    pub output: ListOutput,
    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ListOutput {
    Table,
    Json,
    Yaml,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The workload: statefulset/NAME or deployment/NAME.
    #[arg(value_name = "TYPE/NAME")]
    pub target: String,
    /// The backup to restore (see `kubectl persist backups`).
    #[arg(long, value_name = "BACKUP")]
    pub from: String,
    /// Namespace [default: the context's].
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Skip the backup of the current data that a restore takes first (so
    /// that the restore itself can be undone).
    #[arg(long)]
    pub no_safety_backup: bool,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long each wait may take.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub timeout: Duration,
    #[command(flatten)]
    pub kube: KubeArgs,
}

fn workload(target: &str, ns: &str) -> Result<Key> {
    let t = Target::parse(target).map_err(crate::exit::Exit::Usage)?;
    Ok(Key { kind: t.kind.as_str().to_string(), namespace: ns.to_string(), name: t.name })
}

async fn connect(k: &KubeArgs) -> Result<Cluster> {
    Cluster::connect(k.kubeconfig.as_deref(), k.context.as_deref(), k.as_user.as_deref()).await
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn backup(args: &BackupArgs) -> Result<ExitCode> {
    if let Some(n) = &args.name {
        backup::check_name(n).map_err(|e| crate::exit::Exit::Usage(format!("--name: {e}")))?;
    }
    runtime()?.block_on(async {
        let cluster = connect(&args.kube).await?;
        let ns = args.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        let key = workload(&args.target, &ns)?;
        let name = args.name.clone().unwrap_or_else(|| backup::default_name(&key.name, now()));
        take(&cluster, &ns, &key, &name, args.class.as_deref(), args.wait, args.timeout).await?;
        if let Some(keep) = args.keep {
            let mut progress = |s: &str| say(&format!("  {s}"));
            cluster.prune(&ns, &key, keep as usize, &mut progress).await?;
        }
        println!("{name}");
        Ok(ExitCode::SUCCESS)
    })
}

async fn take(
    cluster: &Cluster,
    ns: &str,
    key: &Key,
    name: &str,
    class: Option<&str>,
    wait: bool,
    timeout: Duration,
) -> Result<()> {
    let mut progress = |s: &str| say(&format!("  {s}"));
    let t = cluster.backup(ns, key, name, class, wait, timeout, &mut progress).await?;
    let how = match (&t.group, &t.why_not_group) {
        (Some(c), _) => format!("one group snapshot (class {c}), all claims at one moment"),
        (None, Some(why)) => format!("one snapshot per claim ({why})"),
        (None, None) => "one snapshot per claim".into(),
    };
    say(&format!(
        "backup {name} of {key}: {} claim{} ({}), {how}{}",
        t.claims.len(),
        if t.claims.len() == 1 { "" } else { "s" },
        t.claims.join(", "),
        if wait { ", ready" } else { ", taken (ready later; kubectl persist backups shows when)" }
    ));
    Ok(())
}

pub fn backups(args: &BackupsArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let cluster = connect(&args.kube).await?;
        let ns = args.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        let key = args.target.as_deref().map(|t| workload(t, &ns)).transpose()?;
        let list = cluster.backups(&ns, key.as_ref()).await?;
        let text = match args.output {
            ListOutput::Json => {
                serde_json::to_string_pretty(&list.iter().map(backup::Backup::to_json).collect::<Vec<_>>())? + "\n"
            }
            ListOutput::Yaml => {
                let v: Vec<serde_json::Value> = list.iter().map(backup::Backup::to_json).collect();
                kubectl_persist::live::yaml_stream(&v)
            }
            ListOutput::Table => table(&list),
        };
        if list.is_empty() && args.output == ListOutput::Table {
            say(&format!("no backups in namespace {ns}"));
            return Ok(ExitCode::SUCCESS);
        }
        std::io::stdout().lock().write_all(text.as_bytes())?;
        Ok(ExitCode::SUCCESS)
    })
}

fn table(list: &[backup::Backup]) -> String {
    let mut rows = vec![["NAME", "WORKLOAD", "CREATED", "KIND", "CLASS", "READY", "CLAIMS"].map(String::from).to_vec()];
    for b in list {
        let claims: Vec<String> =
            b.members.iter().map(|m| format!("{}({})", m.claim, m.size.as_deref().unwrap_or("?"))).collect();
        rows.push(vec![
            b.name.clone(),
            b.workload.clone(),
            b.created.clone(),
            if b.group.is_some() { "group".into() } else { "per-claim".into() },
            b.class.clone().unwrap_or_else(|| "(default)".into()),
            format!("{}/{}", b.members.iter().filter(|m| m.ready).count(), b.members.len()),
            claims.join(","),
        ]);
    }
    let widths: Vec<usize> = (0..7).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| if i == 6 { c.clone() } else { format!("{c:<w$}", w = widths[i]) })
                .collect::<Vec<_>>()
                .join("   ")
                + "\n"
        })
        .collect()
}

pub fn restore(args: &RestoreArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let cluster = connect(&args.kube).await?;
        let ns = args.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        let key = workload(&args.target, &ns)?;
        let list = cluster.backups(&ns, Some(&key)).await?;
        let from = list.iter().find(|b| b.name == args.from).ok_or_else(|| {
            anyhow!(
                "{key} has no backup {} in namespace {ns} (its backups: {})",
                args.from,
                if list.is_empty() {
                    "none".into()
                } else {
                    list.iter().map(|b| b.name.clone()).collect::<Vec<_>>().join(", ")
                }
            )
        })?;
        let not_ready: Vec<&str> = from.members.iter().filter(|m| !m.ready).map(|m| m.snapshot.as_str()).collect();
        if from.members.is_empty() || !not_ready.is_empty() {
            bail!(
                "backup {} is not ready to restore: {}. Nothing was changed; wait and run again",
                from.name,
                if not_ready.is_empty() {
                    "it has no snapshots".into()
                } else {
                    format!("snapshot(s) {} not ready", not_ready.join(", "))
                }
            );
        }
        let plan: Vec<String> = from
            .members
            .iter()
            .map(|m| {
                if key.kind == "StatefulSet" {
                    format!(
                        "claim {} re-created from snapshot {} (its current volume kept, reclaim policy Retain)",
                        m.claim, m.snapshot
                    )
                } else {
                    format!(
                        "a new claim from snapshot {} replaces claim {} in the pods (which is kept)",
                        m.snapshot, m.claim
                    )
                }
            })
            .collect();
        let safety = backup::default_name(&format!("{}-before-restore", key.name), now());
        say(&format!("restore {key} from backup {} ({}):", from.name, from.created));
        if !args.no_safety_backup {
            say(&format!("  first, backup {safety} of the current data (undo with --from {safety})"));
        }
        say(&format!("  scale {key} to 0 and wait for its pods to go"));
        for l in &plan {
            say(&format!("  {l}"));
        }
        say(&format!("  scale {key} back and wait until ready"));
        if args.dry_run {
            say("dry run: nothing was changed");
            return Ok(ExitCode::SUCCESS);
        }
        if !args.no_safety_backup {
            take(&cluster, &ns, &key, &safety, None, true, args.timeout).await?;
            println!("safety backup: {safety}");
        }
        let mut progress = |s: &str| say(&format!("  {s}"));
        cluster.restore(&ns, &key, from, args.timeout, &mut progress).await.map_err(|e| {
            let undo = if args.no_safety_backup {
                String::new()
            } else {
                format!("; the data from before is in backup {safety}")
            };
            anyhow!("{e:#}{undo}")
        })?;
        say(&format!("done: {key} runs on the data of backup {}", from.name));
        Ok(ExitCode::SUCCESS)
    })
}
