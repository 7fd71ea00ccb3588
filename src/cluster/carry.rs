//! Carrying a running pod's data into new claims: the part that talks to the
//! cluster. The plan ([`CarryJob`]) and the comparison of trees are pure
//! (`kubectl_persist::carry`); here they meet pods.
//!
//! How: an ephemeral container in the running pod, targeting the app
//! container, sees the pod's emptyDirs (mounted by name) and the app's
//! writable layer (under `/proc/1/root`, the app's root in its process
//! namespace). A loader pod mounts the new claims. `tar` in the first streams
//! through this process into `tar` in the second (exec, WebSocket v5, whose
//! close frame ends the stream). Then both sides list their tree
//! ([`carry::LIST_SCRIPT`]) and the listings must be equal; the quiesce hook
//! runs before the last passes, which copy only what changed.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use kubectl_persist::carry::{self, Hook, Hooks, Listing, Mode, Unit, CARRY_ANNOTATION, DEST_ROOT, SOURCE_ROOT};
use kubectl_persist::live::{CarryClaims, CarryJob, FIELD_MANAGER};

use super::Cluster;

/// Rounds of delta copies before giving up on a source that keeps changing.
const MAX_ROUNDS: usize = 4;
/// How long the helper containers live if this process dies (a re-run
/// replaces the loader pod; the ephemeral container ends by itself).
const HELPER_LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// A running pod to copy from, with the claims its data goes to.
#[derive(Debug, Clone)]
pub struct SourcePod {
    pub name: String,
    pub uid: String,
    pub ordinal: usize,
    pub pod: Value,
}

/// What a carry found before changing anything.
#[derive(Debug)]
pub struct Preflight {
    pub pods: Vec<SourcePod>,
    pub lines: Vec<String>,
}

fn pod_name(p: &Value) -> String {
    p["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

fn exec_error(e: kube::Error, what: &str) -> anyhow::Error {
    match e {
        kube::Error::Api(s) if s.code == 403 => anyhow!(
            "forbidden: cannot {what}: {} (see plugin-manifest/rbac.yaml for the permissions kubectl-persist needs)",
            s.message
        ),
        kube::Error::Api(s) => anyhow!("cannot {what}: {} ({})", s.message, s.code),
        other => anyhow!("cannot {what}: {other}"),
    }
}

impl Cluster {
    fn pods(&self, ns: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// The running pods of the job's workload, in order of creation, checked
    /// against `--carry` before anything changes.
    pub async fn carry_preflight(&self, job: &CarryJob, replicas: i64) -> Result<Preflight> {
        let ns = &job.workload.namespace;
        let mut pods: Vec<Value> = self
            .list("Pod", Some(ns), Some(&job.selector))
            .await?
            .into_iter()
            .filter(|p| {
                p["metadata"]["ownerReferences"].as_array().is_some_and(|o| o.iter().any(|r| r["kind"] == "ReplicaSet"))
                    && p["metadata"]["deletionTimestamp"].is_null()
                    && p["status"]["phase"] != "Succeeded"
                    && p["status"]["phase"] != "Failed"
            })
            .collect();
        // A pod whose containers never started holds no data.
        let never_ran = |p: &Value| {
            p["status"]["phase"] == "Pending"
                && p["status"]["containerStatuses"].as_array().into_iter().flatten().all(|c| {
                    c["state"]["running"].is_null()
                        && c["state"]["terminated"].is_null()
                        && c["lastState"]["terminated"].is_null()
                        && c["restartCount"].as_i64().unwrap_or(0) == 0
                })
        };
        let idle = pods.iter().filter(|p| never_ran(p)).count();
        pods.retain(|p| !never_ran(p));
        pods.sort_by(|a, b| {
            let t = |p: &Value| p["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string();
            t(a).cmp(&t(b)).then(pod_name(a).cmp(&pod_name(b)))
        });
        let mut lines = Vec::new();
        let w = &job.workload;
        if pods.is_empty() {
            let why =
                if idle > 0 { format!("{idle} pod(s) of {w} never started") } else { format!("no pod of {w} runs") };
            lines.push(format!("{why}: there is nothing to carry, the claims start empty"));
            return Ok(Preflight { pods: Vec::new(), lines });
        }
        let names: Vec<String> = pods.iter().map(pod_name).collect();
        if pods.len() > 1 {
            match job.mode {
                Mode::PerPod if job.per_ordinal() => {}
                Mode::PerPod => bail!(
                    "{w} runs {} pods ({}), and --mode pvc gives them one set of claims: --carry=per-pod needs \
                     --mode statefulset. Nothing was changed; scale {w} to 1 first, or pass --carry=none to start \
                     on empty claims",
                    pods.len(),
                    names.join(", ")
                ),
                _ => bail!(
                    "{w} runs {} pods ({}), each with its own data in {}; kubectl-persist will not silently keep one \
                     pod's copy. Nothing was changed. Choose: --carry=per-pod (pod N's data, in order of creation, \
                     into ordinal N's claims), scale {w} to 1 first, or --carry=none to start on empty claims",
                    pods.len(),
                    names.join(", "),
                    job.units
                        .iter()
                        .map(|u| format!("{} ({})", u.path, u.describe_source()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        if (pods.len() as i64) < replicas {
            lines.push(format!(
                "{w} wants {replicas} pods but {} run{}: ordinals {}..{} start on empty claims",
                pods.len(),
                if pods.len() == 1 { "s" } else { "" },
                pods.len(),
                replicas - 1
            ));
        }
        let mut out = Vec::new();
        for (i, p) in pods.into_iter().enumerate() {
            let phase = p["status"]["phase"].as_str().unwrap_or("Unknown");
            if phase != "Running" {
                bail!(
                    "pod {} of {w} is {phase}, not Running: its data can only be copied while it runs. Nothing was \
                     changed; wait until it runs, or pass --carry=none to start on empty claims",
                    pod_name(&p)
                );
            }
            Hooks::of(&p["metadata"]["annotations"]).map_err(|e| anyhow!("pod {}: {e}", pod_name(&p)))?;
            if job.units.iter().any(|u| u.source == carry::Source::Layer) && p["spec"]["shareProcessNamespace"] == true
            {
                bail!(
                    "pod {} shares one process namespace among its containers, so the app's container layer cannot \
                     be found at /proc/1/root. Nothing was changed; pass --carry=none, or copy the data by hand",
                    pod_name(&p)
                );
            }
            out.push(SourcePod {
                name: pod_name(&p),
                uid: p["metadata"]["uid"].as_str().unwrap_or_default().to_string(),
                ordinal: i,
                pod: p,
            });
        }
        Ok(Preflight { pods: out, lines })
    }

    /// How much each unit holds now, measured with `du` in the app container
    /// (for a dry run: nothing is added to the pod). `None` where the image
    /// has no `du`.
    pub async fn carry_sizes(&self, job: &CarryJob, pod: &SourcePod) -> Vec<Option<u64>> {
        let mut out = Vec::new();
        for u in &job.units {
            let cmd = vec!["du".to_string(), "-sk".into(), u.path.clone()];
            let r = self.exec_capture(&job.workload.namespace, &pod.name, &u.container, cmd, None).await;
            out.push(r.ok().and_then(|(o, _)| {
                String::from_utf8_lossy(&o).split_whitespace().next()?.parse::<u64>().ok().map(|k| k * 1024)
            }));
        }
        out
    }

    /// Run a command in a container; its stdout (and stderr), or an error
    /// with its stderr when it fails.
    pub async fn exec_capture(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        cmd: Vec<String>,
        stdin: Option<Vec<u8>>,
    ) -> Result<(Vec<u8>, String)> {
        let ap = AttachParams::default().container(container).stdin(stdin.is_some()).stdout(true).stderr(true);
        let what = format!("exec in pod {pod}, container {container}");
        let mut proc = self.pods(ns).exec(pod, cmd.clone(), &ap).await.map_err(|e| exec_error(e, &what))?;
        let status = proc.take_status().expect("status once");
        let mut out = proc.stdout().expect("stdout asked");
        let mut err = proc.stderr().expect("stderr asked");
        let writer = stdin.map(|data| {
            let mut w = proc.stdin().expect("stdin asked");
            tokio::spawn(async move {
                let _ = w.write_all(&data).await;
                let _ = w.shutdown().await;
            })
        });
        let (o, e) = tokio::join!(
            async {
                let mut b = Vec::new();
                let _ = out.read_to_end(&mut b).await;
                b
            },
            async {
                let mut b = Vec::new();
                let _ = err.read_to_end(&mut b).await;
                b
            }
        );
        if let Some(w) = writer {
            let _ = w.await;
        }
        let st = status.await;
        let _ = proc.join().await;
        let stderr = String::from_utf8_lossy(&e).trim().to_string();
        match st {
            Some(s) if s.status.as_deref() == Some("Success") => Ok((o, stderr)),
            Some(s) => bail!(
                "{} in pod {pod}, container {container}: {}{}",
                cmd.first().map(String::as_str).unwrap_or("command"),
                s.message.unwrap_or_default(),
                if stderr.is_empty() { String::new() } else { format!(": {stderr}") }
            ),
            None => bail!(
                "{what}: the connection ended without an exit status{}",
                if stderr.is_empty() { String::new() } else { format!(": {stderr}") }
            ),
        }
    }

    /// Stream `src_cmd`'s stdout into `dst_cmd`'s stdin; the bytes moved.
    async fn pipe(
        &self,
        ns: &str,
        src: (&str, &str, Vec<String>),
        dst: (&str, &str, Vec<String>),
        stall: Duration,
    ) -> Result<u64> {
        let pods = self.pods(ns);
        let sap = AttachParams::default().container(src.1).stdout(true).stderr(true);
        let dap = AttachParams::default().container(dst.1).stdin(true).stdout(true).stderr(true);
        let mut sp = pods
            .exec(src.0, src.2.clone(), &sap)
            .await
            .map_err(|e| exec_error(e, &format!("exec in pod {}", src.0)))?;
        let mut dp = pods
            .exec(dst.0, dst.2.clone(), &dap)
            .await
            .map_err(|e| exec_error(e, &format!("exec in pod {}", dst.0)))?;
        let (s_status, d_status) = (sp.take_status().expect("once"), dp.take_status().expect("once"));
        let mut s_out = sp.stdout().expect("asked");
        let s_err = sp.stderr().expect("asked");
        let mut d_in = dp.stdin().expect("asked");
        let d_out = dp.stdout().expect("asked");
        let d_err = dp.stderr().expect("asked");
        let drain = |mut r: tokio::io::ReadHalf<tokio::io::SimplexStream>| async move {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b).await;
            b
        };
        let copy = async {
            let mut buf = vec![0u8; 256 << 10];
            let mut total = 0u64;
            // A stream that stops moving (a full claim, a hung exec) fails
            // after --timeout without progress, rather than hang the run.
            let stalled = || std::io::Error::new(std::io::ErrorKind::TimedOut, "no progress");
            loop {
                let n = tokio::time::timeout(stall, s_out.read(&mut buf)).await.map_err(|_| stalled())??;
                if n == 0 {
                    break;
                }
                tokio::time::timeout(stall, d_in.write_all(&buf[..n])).await.map_err(|_| stalled())??;
                total += n as u64;
            }
            d_in.shutdown().await?;
            Ok::<u64, std::io::Error>(total)
        };
        let (moved, se, _, de) = tokio::join!(copy, drain(s_err), drain(d_out), drain(d_err));
        if let Err(e) = &moved {
            // The writing side went away or stalled (a full claim?): end both
            // sides rather than wait on them.
            sp.abort();
            dp.abort();
            let ds = tokio::time::timeout(Duration::from_secs(5), d_status).await.ok().flatten();
            bail!(
                "writing in pod {} failed: {} {} (after {}: {e})",
                dst.0,
                ds.and_then(|s| s.message).unwrap_or_else(|| "the stream broke or stalled".into()),
                String::from_utf8_lossy(&de).trim(),
                super::humantime(stall)
            );
        }
        let (ss, ds) = tokio::join!(s_status, d_status);
        let _ = tokio::join!(sp.join(), dp.join());
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).trim().to_string();
        let ok = |s: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>| {
            s.as_ref().is_some_and(|s| s.status.as_deref() == Some("Success"))
        };
        if !ok(&ss) {
            bail!(
                "reading in pod {} failed: {} {}",
                src.0,
                ss.and_then(|s| s.message).unwrap_or_else(|| "no exit status".into()),
                text(se)
            );
        }
        if !ok(&ds) {
            bail!(
                "writing in pod {} failed: {} {}",
                dst.0,
                ds.and_then(|s| s.message).unwrap_or_else(|| "no exit status".into()),
                text(de)
            );
        }
        moved.context("streaming between the pods")
    }

    /// Carry out a carry: create (or resume) the claims, copy, verify, mark.
    /// Returns what was carried, for the closing line.
    pub async fn carry(
        &self,
        job: &CarryJob,
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Option<String>> {
        let started = Instant::now();
        let ns = job.workload.namespace.clone();
        let pre = self.carry_preflight(job, job.replicas).await?;
        for l in &pre.lines {
            progress(l);
        }
        if pre.pods.is_empty() {
            // Nothing to copy; but standalone claims must exist for the pods
            // the Deployment starts next (a StatefulSet makes its own).
            if let CarryClaims::Standalone(claims) = &job.claims {
                for c in claims {
                    let name = c["metadata"]["name"].as_str().unwrap_or_default();
                    if self.get("PersistentVolumeClaim", &ns, name).await?.is_some() {
                        continue;
                    }
                    let mut c = c.clone();
                    c["metadata"]["annotations"][CARRY_ANNOTATION] = json!("empty: no pod ran when it was made");
                    self.api("PersistentVolumeClaim", Some(&ns))?
                        .patch(name, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&c))
                        .await
                        .map_err(|e| super::explain(e, "apply", &format!("persistentvolumeclaim/{name}")))?;
                    progress(&format!("claim {name}: created empty"));
                }
            }
            return Ok(None);
        }
        let mut files = 0usize;
        let mut bytes = 0u64;
        for src in &pre.pods {
            // This pod's claims: (claim name, object, needs filling, wipe first).
            let mut todo: Vec<(String, Value, bool)> = Vec::new();
            for u in &job.units {
                let claim = job.claim(&u.claim, src.ordinal).ok_or_else(|| anyhow!("no claim {} planned", u.claim))?;
                let name = claim["metadata"]["name"].as_str().unwrap_or_default().to_string();
                if todo.iter().any(|(n, _, _)| *n == name) {
                    continue;
                }
                let state = self.get("PersistentVolumeClaim", &ns, &name).await?;
                let fill = match state.as_ref().map(|c| c["metadata"]["annotations"][CARRY_ANNOTATION].as_str()) {
                    None => true,
                    Some(Some("pending")) => true,
                    Some(Some(done)) => {
                        progress(&format!("claim {name}: carried before ({done}); kept as it is"));
                        false
                    }
                    Some(None) => bail!(
                        "claim {name} exists already, and kubectl-persist did not fill it: it may hold other data, and \
                         carrying pod {}'s data into it would mix the two. Nothing of it was touched; pass --carry=none \
                         to use the claim as it is, or rename or remove it first",
                        src.name
                    ),
                };
                todo.push((name, claim, fill));
            }
            if todo.iter().all(|(_, _, fill)| !fill) {
                continue;
            }
            for (name, claim, fill) in &todo {
                if !fill {
                    continue;
                }
                let mut c = claim.clone();
                c["metadata"]["annotations"][CARRY_ANNOTATION] = json!("pending");
                let pp = PatchParams::apply(FIELD_MANAGER);
                self.api("PersistentVolumeClaim", Some(&ns))?
                    .patch(name, &pp, &Patch::Apply(&c))
                    .await
                    .map_err(|e| super::explain(e, "apply", &format!("persistentvolumeclaim/{name}")))?;
                progress(&format!(
                    "claim {name}: created for the copy (annotated {CARRY_ANNOTATION}=pending until verified)"
                ));
            }
            let units: Vec<(usize, &Unit)> = job
                .units
                .iter()
                .filter_map(|u| {
                    let claim = job.claim(&u.claim, src.ordinal)?;
                    let name = claim["metadata"]["name"].as_str()?.to_string();
                    let i = todo.iter().position(|(n, _, f)| *n == name && *f)?;
                    Some((i, u))
                })
                .collect();
            let claims: Vec<String> = todo.iter().map(|(n, _, _)| n.clone()).collect();
            let (f, b) = self.carry_pod(job, src, &claims, &units, timeout, progress).await?;
            files += f;
            bytes += b;
            for (name, _, fill) in &todo {
                if !fill {
                    continue;
                }
                let note = format!("done {} from pod {} ({}), verified", chrono_now(), src.name, src.uid);
                let patch = json!({"metadata": {"annotations": {CARRY_ANNOTATION: note}}});
                self.api("PersistentVolumeClaim", Some(&ns))?
                    .patch(
                        name,
                        &PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() },
                        &Patch::Merge(&patch),
                    )
                    .await
                    .map_err(|e| super::explain(e, "patch", &format!("persistentvolumeclaim/{name}")))?;
            }
        }
        let line = format!(
            "carried {files} files, {} ({bytes} bytes) from {} in {:.1}s, verified",
            carry::human_bytes(bytes),
            pre.pods.iter().map(|p| format!("pod {}", p.name)).collect::<Vec<_>>().join(", "),
            started.elapsed().as_secs_f64()
        );
        progress(&line);
        Ok(Some(line))
    }

    /// Copy one pod's units; (files, bytes) of the verified trees.
    async fn carry_pod(
        &self,
        job: &CarryJob,
        src: &SourcePod,
        claims: &[String],
        units: &[(usize, &Unit)],
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(usize, u64)> {
        let ns = job.workload.namespace.clone();
        let loader = self.start_loader(job, src, claims, timeout, progress).await?;
        let watch = self.restarts(&ns, &src.name, units).await?;
        let result = async {
            let helpers = self.start_helpers(job, src, units, timeout, progress).await?;
            let hooks = Hooks::of(&src.pod["metadata"]["annotations"]).map_err(|e| anyhow!("pod {}: {e}", src.name))?;
            let dest_dir = |i: usize, u: &Unit| {
                let base = format!("{DEST_ROOT}/{i}");
                if u.dest_sub.is_empty() {
                    base
                } else {
                    format!("{base}/{}", u.dest_sub.trim_matches('/'))
                }
            };
            // Pass 1, while the app runs: everything.
            for (i, u) in units {
                let helper = helpers.iter().find(|(c, _)| *c == u.container).map(|(_, h)| h.as_str()).expect("started");
                let dir = dest_dir(*i, u);
                progress(&format!(
                    "copying {}:{} ({}) from pod {}",
                    u.container,
                    u.path,
                    u.describe_source(),
                    src.name
                ));
                self.full_copy(&ns, (&src.name, helper, &u.source_dir()), (&loader, &dir), timeout).await?;
            }
            self.check_restarts(&ns, &src.name, &watch).await?;
            // Quiesce, then copy what changed until both sides agree.
            let ran_pre = match &hooks.pre {
                Some(h) => {
                    self.run_hook(&ns, src, h, "pre", progress).await?;
                    true
                }
                None => false,
            };
            let verified = async {
                let mut totals = (0usize, 0u64);
                for (i, u) in units {
                    let helper =
                        helpers.iter().find(|(c, _)| *c == u.container).map(|(_, h)| h.as_str()).expect("started");
                    let dir = dest_dir(*i, u);
                    let mut round = 0;
                    loop {
                        let s = self.listing(&ns, &src.name, helper, &u.source_dir()).await?;
                        let d = self.listing(&ns, &loader, "loader", &dir).await?;
                        if s.matches(&d) {
                            let (f, b) = s.totals();
                            totals.0 += f;
                            totals.1 += b;
                            progress(&format!(
                                "{}:{}: {f} files, {} verified",
                                u.container,
                                u.path,
                                carry::human_bytes(b)
                            ));
                            break;
                        }
                        round += 1;
                        if round > MAX_ROUNDS {
                            bail!(
                                "{}:{} in pod {} kept changing while it was copied ({MAX_ROUNDS} rounds): {}. Give the \
                                 pod a quiesce hook (annotation kubectl-persist/pre.hook.command or Velero's \
                                 pre.hook.backup.velero.io/command) that stops writes, and run the same command again",
                                u.container,
                                u.path,
                                src.name,
                                s.explain_mismatch(&d, 5).join("; ")
                            );
                        }
                        self.delta_copy(
                            &ns,
                            (&src.name, helper, &u.source_dir()),
                            (&loader, &dir),
                            &s,
                            &d,
                            timeout,
                            progress,
                        )
                        .await?;
                        self.check_restarts(&ns, &src.name, &watch).await?;
                    }
                }
                self.check_restarts(&ns, &src.name, &watch).await?;
                Ok::<_, anyhow::Error>(totals)
            }
            .await;
            if verified.is_err() && ran_pre {
                // The switch stops: the app keeps running, so let it write again.
                if let Some(h) = &hooks.post {
                    let _ = self.run_hook(&ns, src, h, "post", progress).await;
                }
            }
            verified
        }
        .await;
        // A restart of the app's container also ends the helper in its
        // process namespace: say that, rather than the failed exec it causes.
        let result = match result {
            Err(e) => Err(self.restarted_after_all(&ns, &src.name, &watch).await.unwrap_or(e)),
            ok => ok,
        };
        // The loader pod goes either way (claims stay); a StatefulSet pod may
        // need a ReadWriteOnce claim it holds.
        let cleanup = self.delete_pod_and_wait(&ns, &loader, timeout).await;
        let totals = result?;
        cleanup?;
        Ok(totals)
    }

    async fn listing(&self, ns: &str, pod: &str, container: &str, dir: &str) -> Result<Listing> {
        let cmd = vec!["sh".into(), "-c".into(), carry::LIST_SCRIPT.into(), "sh".into(), dir.into()];
        let (out, _) = self
            .exec_capture(ns, pod, container, cmd, None)
            .await
            .with_context(|| format!("listing {dir} in pod {pod}"))?;
        Ok(Listing::parse(&out))
    }

    /// Empty the destination (keeping a filesystem's lost+found) and stream
    /// the whole source folder into it.
    async fn full_copy(&self, ns: &str, src: (&str, &str, &str), dst: (&str, &str), stall: Duration) -> Result<u64> {
        let (dir, q) = (dst.1, String::from_utf8_lossy(&carry::sh_quote(dst.1.as_bytes())).into_owned());
        let prep = format!(
            "set -e; mkdir -p {q}; cd {q}; find . -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {{}} +; exec tar -xf - "
        );
        let _ = dir;
        let scmd = vec!["tar".into(), "-C".into(), src.2.into(), "-cf".into(), "-".into(), ".".into()];
        let dcmd = vec!["sh".into(), "-c".into(), prep];
        self.pipe(ns, (src.0, src.1, scmd), (dst.0, "loader", dcmd), stall).await
    }

    /// Make the destination equal to the source's listing: remove, make
    /// folders, copy changed files (tar -T), set folder modes and owners.
    #[allow(clippy::too_many_arguments)]
    async fn delta_copy(
        &self,
        ns: &str,
        src: (&str, &str, &str),
        dst: (&str, &str),
        s: &Listing,
        d: &Listing,
        stall: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        if s.ambiguous || d.ambiguous {
            // A name with a newline cannot go through a name list: copy all.
            progress("copying again in full (a file name holds a newline)");
            self.full_copy(ns, src, dst, stall).await?;
            return Ok(());
        }
        let delta = s.delta(d);
        progress(&format!(
            "copying what changed: {} to copy, {} to remove, {} folders to set",
            delta.copy.len(),
            delta.remove.len(),
            delta.new_dirs.len() + delta.fix_dirs.len()
        ));
        let (before, after) = carry::delta_scripts(&delta, s, dst.1);
        self.exec_capture(ns, dst.0, "loader", vec!["sh".into(), "-s".into()], Some(before)).await?;
        if !delta.copy.is_empty() {
            let list = carry::copy_list(&delta);
            let list_path = "/tmp/kp-carry-list";
            self.exec_capture(
                ns,
                src.0,
                src.1,
                vec!["sh".into(), "-c".into(), format!("cat > {list_path}")],
                Some(list),
            )
            .await?;
            let scmd =
                vec!["tar".into(), "-C".into(), src.2.into(), "-cf".into(), "-".into(), "-T".into(), list_path.into()];
            let q = String::from_utf8_lossy(&carry::sh_quote(dst.1.as_bytes())).into_owned();
            let dcmd = vec!["sh".into(), "-c".into(), format!("cd {q} && exec tar -xf -")];
            self.pipe(ns, (src.0, src.1, scmd), (dst.0, "loader", dcmd), stall).await?;
        }
        self.exec_capture(ns, dst.0, "loader", vec!["sh".into(), "-s".into()], Some(after)).await?;
        Ok(())
    }

    async fn run_hook(
        &self,
        ns: &str,
        src: &SourcePod,
        h: &Hook,
        phase: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let container = h
            .container
            .clone()
            .unwrap_or_else(|| src.pod["spec"]["containers"][0]["name"].as_str().unwrap_or_default().to_string());
        progress(&format!("{phase} hook ({}command) in {}/{container}: {}", h.from, src.name, h.command.join(" ")));
        let r = tokio::time::timeout(h.timeout, self.exec_capture(ns, &src.name, &container, h.command.clone(), None))
            .await;
        let err = match r {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("timed out after {}s ({}timeout)", h.timeout.as_secs_f64(), h.from),
        };
        if h.continue_on_error {
            progress(&format!("{phase} hook failed, going on (on-error: Continue): {err}"));
            return Ok(());
        }
        bail!("the {phase} hook failed ({}on-error is Fail): {err}", h.from)
    }

    /// The app containers whose layer is copied: (name, restart count, id).
    async fn restarts(&self, ns: &str, pod: &str, units: &[(usize, &Unit)]) -> Result<Vec<(String, i64, String)>> {
        let p = self.get("Pod", ns, pod).await?.ok_or_else(|| anyhow!("pod {pod} is gone"))?;
        let mut out = Vec::new();
        for (_, u) in units.iter().filter(|(_, u)| u.source == carry::Source::Layer) {
            let st = p["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == u.container.as_str())
                .cloned()
                .unwrap_or(Value::Null);
            out.push((
                u.container.clone(),
                st["restartCount"].as_i64().unwrap_or(0),
                st["containerID"].as_str().unwrap_or_default().to_string(),
            ));
        }
        Ok(out)
    }

    /// Fail when the source pod went away or a container whose layer is
    /// copied restarted (a restart starts it on a fresh layer).
    async fn check_restarts(&self, ns: &str, pod: &str, before: &[(String, i64, String)]) -> Result<()> {
        let p = self.get("Pod", ns, pod).await?;
        let Some(p) = p.filter(|p| p["metadata"]["deletionTimestamp"].is_null()) else {
            bail!("pod {pod} went away during the copy; its data went with it, so nothing is switched")
        };
        for (c, count, id) in before {
            let st = p["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == c.as_str())
                .cloned()
                .unwrap_or(Value::Null);
            if st["restartCount"].as_i64().unwrap_or(0) != *count
                || st["containerID"].as_str().unwrap_or_default() != id
            {
                bail!(
                    "container {c} of pod {pod} restarted during the copy (a liveness probe?): a restart starts it on \
                     a fresh container layer, so the copy no longer matches what the app has. Nothing is switched; \
                     the app keeps running. Fix what restarts it, then run the same command again"
                );
            }
        }
        Ok(())
    }

    /// After a failure: whether a restart explains it (the pod's status
    /// reports a restart a moment after the exec into it failed).
    async fn restarted_after_all(
        &self,
        ns: &str,
        pod: &str,
        before: &[(String, i64, String)],
    ) -> Option<anyhow::Error> {
        if before.is_empty() {
            return None;
        }
        for _ in 0..10 {
            if let Err(e) = self.check_restarts(ns, pod, before).await {
                return Some(e);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        None
    }

    /// The loader pod for one source pod: the claims at DEST_ROOT/N; its name.
    async fn start_loader(
        &self,
        job: &CarryJob,
        src: &SourcePod,
        claims: &[String],
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<String> {
        let ns = &job.workload.namespace;
        let name = loader_name(&job.workload.name, src.ordinal);
        // One from an interrupted run goes first.
        self.delete_pod_and_wait(ns, &name, timeout).await?;
        let mounts: Vec<Value> = (0..claims.len())
            .map(|i| json!({"name": format!("claim-{i}"), "mountPath": format!("{DEST_ROOT}/{i}")}))
            .collect();
        let volumes: Vec<Value> = claims
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"name": format!("claim-{i}"), "persistentVolumeClaim": {"claimName": c}}))
            .collect();
        let mut spec = json!({
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "activeDeadlineSeconds": HELPER_LIFETIME.as_secs(),
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "loader",
                "image": job.helper_image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", HELPER_LIFETIME.as_secs().to_string()],
                "volumeMounts": mounts,
                "securityContext": {"runAsUser": 0, "runAsNonRoot": false},
            }],
            "volumes": volumes,
        });
        if let Some(p) = job.placement.as_object() {
            for (k, v) in p {
                spec[k] = v.clone();
            }
        }
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {
                "app.kubernetes.io/managed-by": "kubectl-persist",
                "kubectl-persist/carry-for": job.workload.name}},
            "spec": spec,
        });
        let pod: Pod = serde_json::from_value(pod).context("the loader pod")?;
        self.pods(ns)
            .create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() }, &pod)
            .await
            .map_err(|e| exec_error(e, &format!("create the loader pod {name}")))?;
        progress(&format!("loader pod {name} mounts {}", claims.join(", ")));
        self.wait_container(ns, &name, "loader", false, &job.helper_image, timeout).await?;
        Ok(name)
    }

    /// One ephemeral container per app container the units read from;
    /// (app container, helper name).
    async fn start_helpers(
        &self,
        job: &CarryJob,
        src: &SourcePod,
        units: &[(usize, &Unit)],
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Vec<(String, String)>> {
        let ns = &job.workload.namespace;
        let mut out = Vec::new();
        let existing: Vec<String> = src.pod["spec"]["ephemeralContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        let now = self.get("Pod", ns, &src.name).await?.unwrap_or(Value::Null);
        let taken: Vec<String> = now["spec"]["ephemeralContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .chain(existing)
            .collect();
        let mut containers: Vec<&str> = units.iter().map(|(_, u)| u.container.as_str()).collect();
        containers.dedup();
        for c in containers {
            let mut volumes: Vec<&str> = units
                .iter()
                .filter(|(_, u)| u.container == c)
                .filter_map(|(_, u)| match &u.source {
                    carry::Source::EmptyDir { volume, .. } => Some(volume.as_str()),
                    carry::Source::Layer => None,
                })
                .collect();
            volumes.sort();
            volumes.dedup();
            let layer = units.iter().any(|(_, u)| u.container == c && u.source == carry::Source::Layer);
            let mut n = 0;
            let name = loop {
                let candidate = format!("kp-carry-{n}");
                if !taken.contains(&candidate) {
                    break candidate;
                }
                n += 1;
            };
            let mut caps = vec!["DAC_READ_SEARCH"];
            if layer {
                // /proc/1/root of a process of another user needs ptrace rights.
                caps.push("SYS_PTRACE");
            }
            let ec = json!({
                "name": name,
                "image": job.helper_image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", HELPER_LIFETIME.as_secs().to_string()],
                "targetContainerName": c,
                "volumeMounts": volumes.iter().map(|v| json!({"name": v, "mountPath": format!("{SOURCE_ROOT}/{v}"), "readOnly": true})).collect::<Vec<_>>(),
                "securityContext": {"runAsUser": 0, "runAsNonRoot": false, "capabilities": {"add": caps}},
            });
            let patch = json!({"spec": {"ephemeralContainers": [ec]}});
            self.pods(ns)
                .patch_ephemeral_containers(&src.name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
                .map_err(|e| exec_error(e, &format!("add the ephemeral container {name} to pod {}", src.name)))?;
            progress(&format!("ephemeral container {name} in pod {} reads container {c}", src.name));
            self.wait_container(ns, &src.name, &name, true, &job.helper_image, timeout).await?;
            out.push((c.to_string(), name));
        }
        Ok(out)
    }

    /// Wait until a container runs; fail at once on a pull or config error.
    async fn wait_container(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        ephemeral: bool,
        image: &str,
        timeout: Duration,
    ) -> Result<()> {
        let start = Instant::now();
        let field = if ephemeral { "ephemeralContainerStatuses" } else { "containerStatuses" };
        loop {
            let p = self.get("Pod", ns, pod).await?.ok_or_else(|| anyhow!("pod {pod} is gone"))?;
            let st = p["status"][field]
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == container)
                .cloned()
                .unwrap_or(Value::Null);
            if !st["state"]["running"].is_null() {
                return Ok(());
            }
            if let Some(t) = st["state"]["terminated"].as_object() {
                bail!(
                    "container {container} in pod {pod} ended: {}",
                    t.get("reason").and_then(Value::as_str).unwrap_or("?")
                );
            }
            let reason = st["state"]["waiting"]["reason"].as_str().unwrap_or_default();
            if matches!(
                reason,
                "ErrImagePull"
                    | "ImagePullBackOff"
                    | "ErrImageNeverPull"
                    | "InvalidImageName"
                    | "CreateContainerConfigError"
                    | "CreateContainerError"
                    | "RunContainerError"
            ) {
                bail!(
                    "the helper image {image} cannot run in pod {pod} ({reason}: {}); name one the cluster can pull \
                     with --helper-image (it needs sh, tar, find, stat, sort and sha256sum)",
                    st["state"]["waiting"]["message"].as_str().unwrap_or_default()
                );
            }
            if p["status"]["phase"] == "Failed" {
                bail!("pod {pod} failed: {}", p["status"]["message"].as_str().unwrap_or_default());
            }
            if start.elapsed() >= timeout {
                let why = p["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["message"].as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                bail!(
                    "timed out after {} waiting for container {container} of pod {pod} to run{} (--timeout)",
                    super::humantime(timeout),
                    if why.is_empty() { String::new() } else { format!(": {why}") }
                );
            }
            tokio::time::sleep(self.poll.max(Duration::from_millis(200))).await;
        }
    }

    async fn delete_pod_and_wait(&self, ns: &str, name: &str, timeout: Duration) -> Result<()> {
        let dp = DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::background() };
        match self.pods(ns).delete(name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(e) => return Err(exec_error(e, &format!("delete pod {name}"))),
        }
        let start = Instant::now();
        while self.get("Pod", ns, name).await?.is_some() {
            if start.elapsed() >= timeout {
                bail!("timed out after {} waiting for pod {name} to go (--timeout)", super::humantime(timeout));
            }
            tokio::time::sleep(self.poll.max(Duration::from_millis(200))).await;
        }
        Ok(())
    }
}

/// `<workload>-carry-<ordinal>`, cut to a valid pod name.
fn loader_name(workload: &str, ordinal: usize) -> String {
    let suffix = format!("-carry-{ordinal}");
    let mut base: String = workload.chars().take(63 - suffix.len()).collect();
    while base.ends_with('-') || base.ends_with('.') {
        base.pop();
    }
    format!("{base}{suffix}")
}

/// Now in UTC, RFC 3339, from the system clock.
fn chrono_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (y, m, d, hh, mm, ss) = kubectl_persist::backup::civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_names_are_valid_pod_names() {
        assert_eq!(loader_name("web", 0), "web-carry-0");
        let long = "a".repeat(70);
        assert_eq!(loader_name(&long, 1).len(), 63);
        assert_eq!(loader_name(&format!("{}-x", "b".repeat(54)), 2), format!("{}-carry-2", "b".repeat(54)));
    }

    #[test]
    fn the_clock_reads_as_rfc3339() {
        let t = chrono_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
