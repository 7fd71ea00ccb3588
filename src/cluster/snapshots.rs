//! Backups and restores of a workload's claims with CSI snapshots: the part
//! that talks to the cluster (`kubectl_persist::backup` is the pure part).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};

use kubectl_persist::backup::{self, Backup, BACKUP_LABEL, CLAIM_LABEL, SELECT_LABEL, WORKLOAD_LABEL};
use kubectl_persist::carry::Hooks;
use kubectl_persist::live::{Key, FIELD_MANAGER};

use super::{explain, Cluster};

const SNAP_GROUP: &str = "snapshot.storage.k8s.io";
const GROUP_GROUP: &str = "groupsnapshot.storage.k8s.io";

/// What `backup` took.
#[derive(Debug)]
pub struct Taken {
    pub claims: Vec<String>,
    /// `Some(class)`: one group snapshot; `None`: one snapshot per claim.
    pub group: Option<String>,
    pub why_not_group: Option<String>,
}

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn name_of(v: &Value) -> String {
    v["metadata"]["name"].as_str().unwrap_or_default().to_string()
}

impl Cluster {
    fn dynamic(&self, r: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
        match ns {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, r),
            None => Api::all_with(self.client.clone(), r),
        }
    }

    async fn dyn_list(&self, r: &ApiResource, ns: Option<&str>, selector: Option<&str>) -> Result<Vec<Value>> {
        let mut lp = ListParams::default();
        if let Some(s) = selector {
            lp = lp.labels(s);
        }
        let what = format!("{}{}", r.plural, ns.map(|n| format!(" in namespace {n}")).unwrap_or_default());
        let list = self.dynamic(r, ns).list(&lp).await.map_err(|e| explain(e, "list", &what))?;
        Ok(list
            .items
            .into_iter()
            .map(|o| {
                let mut v = serde_json::to_value(o).expect("objects serialise");
                v["apiVersion"] = json!(r.api_version);
                v["kind"] = json!(r.kind);
                v
            })
            .collect())
    }

    /// The group snapshot API version the server serves: v1, else v1beta2.
    async fn group_version(&self) -> Result<Option<String>> {
        let groups = self.client.list_api_groups().await.map_err(|e| anyhow!("cannot read the API groups: {e}"))?;
        let Some(g) = groups.groups.iter().find(|g| g.name == GROUP_GROUP) else { return Ok(None) };
        for want in ["v1", "v1beta2"] {
            if g.versions.iter().any(|v| v.version == want) {
                return Ok(Some(want.to_string()));
            }
        }
        Ok(None)
    }

    fn snapshots_ar() -> ApiResource {
        ar(SNAP_GROUP, "v1", "VolumeSnapshot", "volumesnapshots")
    }

    /// The workload, its claims (bound, with their CSI driver), its running pods.
    async fn workload_claims(&self, ns: &str, key: &Key) -> Result<(Value, Vec<(Value, String)>)> {
        let w =
            self.get(&key.kind, ns, &key.name).await?.ok_or_else(|| anyhow!("{key} not found in namespace {ns}"))?;
        let existing: Vec<Value> = self.list("PersistentVolumeClaim", Some(ns), None).await?;
        let names: Vec<String> = existing.iter().map(name_of).collect();
        let mut out = Vec::new();
        for c in backup::claims_of(&w, &names) {
            let claim = existing.iter().find(|e| name_of(e) == c).cloned().ok_or_else(|| {
                anyhow!(
                    "{key} mounts claim {c}, which does not exist in namespace {ns}: there is nothing to back up there"
                )
            })?;
            let pv = claim["spec"]["volumeName"].as_str().filter(|_| claim["status"]["phase"] == "Bound");
            let Some(pv) = pv else {
                bail!("claim {c} of {key} is not bound to a volume yet: a snapshot needs a bound claim");
            };
            let pv = self
                .get_cluster("PersistentVolume", pv)
                .await?
                .ok_or_else(|| anyhow!("volume {pv} of claim {c} is gone"))?;
            let driver = pv["spec"]["csi"]["driver"].as_str().ok_or_else(|| {
                anyhow!(
                    "claim {c} is on volume {} that no CSI driver serves: only CSI volumes can be snapshotted",
                    name_of(&pv)
                )
            })?;
            out.push((claim, driver.to_string()));
        }
        if out.is_empty() {
            bail!("{key} has no claims: nothing to back up (make its data persistent first: kubectl persist {key})");
        }
        Ok((w, out))
    }

    async fn get_cluster(&self, kind: &str, name: &str) -> Result<Option<Value>> {
        let r = match kind {
            "PersistentVolume" => ar("", "v1", "PersistentVolume", "persistentvolumes"),
            other => bail!("no cluster-scoped {other} here"),
        };
        let o = self.dynamic(&r, None).get_opt(name).await.map_err(|e| explain(e, "get", &format!("{kind} {name}")))?;
        Ok(o.map(|o| serde_json::to_value(o).expect("objects serialise")))
    }

    async fn running_pods(&self, ns: &str, w: &Value) -> Result<Vec<Value>> {
        let sel = kubectl_persist::live::selector_string(w);
        Ok(self
            .list("Pod", Some(ns), Some(&sel))
            .await?
            .into_iter()
            .filter(|p| p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null())
            .collect())
    }

    async fn hooks(&self, ns: &str, pods: &[Value], phase: &str, progress: &mut dyn FnMut(&str)) -> Result<()> {
        for p in pods {
            let hooks = Hooks::of(&p["metadata"]["annotations"]).map_err(|e| anyhow!("pod {}: {e}", name_of(p)))?;
            let h = if phase == "pre" { hooks.pre } else { hooks.post };
            if let Some(h) = h {
                let container = h
                    .container
                    .clone()
                    .unwrap_or_else(|| p["spec"]["containers"][0]["name"].as_str().unwrap_or_default().to_string());
                progress(&format!(
                    "{phase} hook ({}command) in {}/{container}: {}",
                    h.from,
                    name_of(p),
                    h.command.join(" ")
                ));
                let r = tokio::time::timeout(
                    h.timeout,
                    self.exec_capture(ns, &name_of(p), &container, h.command.clone(), None),
                )
                .await;
                let err = match r {
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => format!("{e:#}"),
                    Err(_) => format!("timed out after {}s", h.timeout.as_secs_f64()),
                };
                if h.continue_on_error {
                    progress(&format!("{phase} hook failed, going on (on-error: Continue): {err}"));
                } else {
                    bail!("the {phase} hook in pod {} failed ({}on-error is Fail): {err}", name_of(p), h.from);
                }
            }
        }
        Ok(())
    }

    /// Snapshot every claim of the workload at one moment.
    #[allow(clippy::too_many_arguments)]
    pub async fn backup(
        &self,
        ns: &str,
        key: &Key,
        name: &str,
        class: Option<&str>,
        wait: bool,
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Taken> {
        let (w, claims) = self.workload_claims(ns, key).await?;
        let names: Vec<String> = claims.iter().map(|(c, _)| name_of(c)).collect();
        let mut drivers: Vec<&str> = claims.iter().map(|(_, d)| d.as_str()).collect();
        drivers.sort();
        drivers.dedup();
        let workload = backup::workload_label(&key.kind, &key.name);
        // A group snapshot where the API and a class for the (one) driver exist.
        let mut why_not = None;
        let mut group = None;
        match self.group_version().await? {
            None => why_not = Some("the cluster serves no group snapshot API".to_string()),
            Some(_) if drivers.len() > 1 => {
                why_not = Some(format!("the claims are on {} CSI drivers ({})", drivers.len(), drivers.join(", ")))
            }
            Some(v) => {
                let classes = self
                    .dyn_list(
                        &ar(GROUP_GROUP, &v, "VolumeGroupSnapshotClass", "volumegroupsnapshotclasses"),
                        None,
                        None,
                    )
                    .await?;
                let for_driver: Vec<&Value> = classes.iter().filter(|c| c["driver"] == drivers[0]).collect();
                let chosen = match class {
                    Some(c) => for_driver.iter().find(|x| name_of(x) == c).copied(),
                    None => for_driver
                        .iter()
                        .find(|x| {
                            x["metadata"]["annotations"]["groupsnapshot.storage.kubernetes.io/is-default-class"]
                                == "true"
                        })
                        .or(if for_driver.len() == 1 { for_driver.first() } else { None })
                        .copied(),
                };
                match chosen {
                    Some(c) => group = Some((v, name_of(c))),
                    None if class.is_some() => {
                        why_not = Some(format!(
                            "{} is not a group snapshot class of driver {}",
                            class.unwrap_or_default(),
                            drivers[0]
                        ))
                    }
                    None => why_not = Some(format!("no default group snapshot class for driver {}", drivers[0])),
                }
            }
        }
        let pods = self.running_pods(ns, &w).await?;
        self.hooks(ns, &pods, "pre", progress).await?;
        let labels = json!({BACKUP_LABEL: name, WORKLOAD_LABEL: workload});
        let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
        let result = async {
            if let Some((version, gclass)) = &group {
                let r = ar(GROUP_GROUP, version, "VolumeGroupSnapshot", "volumegroupsnapshots");
                for c in &names {
                    self.label_claim(ns, c, Some(name)).await?;
                }
                let obj = json!({"apiVersion": r.api_version, "kind": "VolumeGroupSnapshot",
                    "metadata": {"name": name, "namespace": ns, "labels": labels},
                    "spec": {"source": {"selector": {"matchLabels": {SELECT_LABEL: name}}},
                             "volumeGroupSnapshotClassName": gclass}});
                let obj: DynamicObject = serde_json::from_value(obj)?;
                self.dynamic(&r, Some(ns))
                    .create(&pp, &obj)
                    .await
                    .map_err(|e| explain(e, "create", &format!("volumegroupsnapshot/{name}")))?;
                progress(&format!("volumegroupsnapshot/{name} (class {gclass}) over {}", names.join(", ")));
                self.wait_snapshot(&r, ns, name, false, timeout).await?;
                Ok::<(), anyhow::Error>(())
            } else {
                let r = Self::snapshots_ar();
                for c in &names {
                    let mut l = labels.clone();
                    l[CLAIM_LABEL] = json!(backup::label_value(c));
                    let mut obj = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                        "metadata": {"name": snapshot_name(name, c), "namespace": ns, "labels": l},
                        "spec": {"source": {"persistentVolumeClaimName": c}}});
                    if let Some(cl) = class {
                        obj["spec"]["volumeSnapshotClassName"] = json!(cl);
                    }
                    let obj: DynamicObject = serde_json::from_value(obj)?;
                    self.dynamic(&r, Some(ns))
                        .create(&pp, &obj)
                        .await
                        .map_err(|e| explain(e, "create", &format!("volumesnapshot/{}", snapshot_name(name, c))))?;
                }
                progress(&format!("{} volumesnapshots, one per claim", names.len()));
                for c in &names {
                    self.wait_snapshot(&r, ns, &snapshot_name(name, c), false, timeout).await?;
                }
                Ok(())
            }
        }
        .await;
        // The snapshot is cut (or failed): the app may write again.
        let post = self.hooks(ns, &pods, "post", progress).await;
        if group.is_some() {
            for c in &names {
                let _ = self.label_claim(ns, c, None).await;
            }
        }
        result?;
        post?;
        if let Some((version, _)) = &group {
            // The members name their claims; label them for listing and retention.
            let r = Self::snapshots_ar();
            let g = self
                .dynamic(&ar(GROUP_GROUP, version, "VolumeGroupSnapshot", "volumegroupsnapshots"), Some(ns))
                .get(name)
                .await
                .map_err(|e| explain(e, "get", &format!("volumegroupsnapshot/{name}")))?;
            let uid = g.metadata.uid.clone().unwrap_or_default();
            let start = Instant::now();
            loop {
                let members: Vec<Value> = self
                    .dyn_list(&r, Some(ns), None)
                    .await?
                    .into_iter()
                    .filter(|s| {
                        s["metadata"]["ownerReferences"].as_array().is_some_and(|o| o.iter().any(|x| x["uid"] == uid))
                    })
                    .collect();
                if members.len() >= names.len() || start.elapsed() >= timeout {
                    for m in &members {
                        let claim = m["spec"]["source"]["persistentVolumeClaimName"].as_str().unwrap_or_default();
                        let mut l = labels.clone();
                        l[CLAIM_LABEL] = json!(backup::label_value(claim));
                        let _ = self
                            .dynamic(&r, Some(ns))
                            .patch(
                                &name_of(m),
                                &PatchParams::default(),
                                &Patch::Merge(json!({"metadata": {"labels": l}})),
                            )
                            .await;
                    }
                    break;
                }
                tokio::time::sleep(self.poll.max(Duration::from_millis(300))).await;
            }
        }
        if wait {
            match &group {
                Some((version, _)) => {
                    let r = ar(GROUP_GROUP, version, "VolumeGroupSnapshot", "volumegroupsnapshots");
                    self.wait_snapshot(&r, ns, name, true, timeout).await?;
                }
                None => {
                    for c in &names {
                        self.wait_snapshot(&Self::snapshots_ar(), ns, &snapshot_name(name, c), true, timeout).await?;
                    }
                }
            }
        }
        Ok(Taken { claims: names, group: group.map(|g| g.1), why_not_group: why_not })
    }

    async fn label_claim(&self, ns: &str, claim: &str, value: Option<&str>) -> Result<()> {
        let patch = json!({"metadata": {"labels": {SELECT_LABEL: value}}});
        self.api("PersistentVolumeClaim", Some(ns))?
            .patch(
                claim,
                &PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() },
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| explain(e, "patch", &format!("persistentvolumeclaim/{claim}")))?;
        Ok(())
    }

    /// Wait until a (group) snapshot is cut (`status.creationTime`), or with
    /// `ready` until it is ready to use; fail on its error.
    async fn wait_snapshot(&self, r: &ApiResource, ns: &str, name: &str, ready: bool, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let o = self
                .dynamic(r, Some(ns))
                .get(name)
                .await
                .map_err(|e| explain(e, "get", &format!("{}/{name}", r.kind)))?;
            let v = serde_json::to_value(o).expect("objects serialise");
            if let Some(msg) = v["status"]["error"]["message"].as_str() {
                bail!("{} {name} failed: {msg}", r.kind);
            }
            let done = if ready {
                v["status"]["readyToUse"] == true
            } else {
                !v["status"]["creationTime"].is_null() || v["status"]["readyToUse"] == true
            };
            if done {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                bail!(
                    "timed out after {} waiting for {} {name} to be {} (--timeout)",
                    super::humantime(timeout),
                    r.kind,
                    if ready { "ready" } else { "taken" }
                );
            }
            tokio::time::sleep(self.poll.max(Duration::from_millis(300))).await;
        }
    }

    /// Every backup kubectl-persist made in the namespace (of one workload).
    pub async fn backups(&self, ns: &str, workload: Option<&Key>) -> Result<Vec<Backup>> {
        let sel = workload.map(|k| format!("{WORKLOAD_LABEL}={}", backup::workload_label(&k.kind, &k.name)));
        let groups = match self.group_version().await? {
            Some(v) => {
                self.dyn_list(
                    &ar(GROUP_GROUP, &v, "VolumeGroupSnapshot", "volumegroupsnapshots"),
                    Some(ns),
                    sel.as_deref(),
                )
                .await?
            }
            None => Vec::new(),
        };
        let snaps = self.dyn_list(&Self::snapshots_ar(), Some(ns), None).await?;
        // What is being deleted (--keep) is no backup any more.
        let alive = |v: &Value| v["metadata"]["deletionTimestamp"].is_null();
        let groups: Vec<Value> = groups.into_iter().filter(alive).collect();
        let snaps: Vec<Value> = snaps.into_iter().filter(alive).collect();
        let mut out = backup::backups(&groups, &snaps);
        if let Some(k) = workload {
            let l = backup::workload_label(&k.kind, &k.name);
            out.retain(|b| b.workload == l);
        }
        Ok(out)
    }

    /// Delete the workload's backups beyond the `keep` newest (only backups
    /// kubectl-persist made: they carry its labels). Returns their names.
    pub async fn prune(&self, ns: &str, key: &Key, keep: usize, progress: &mut dyn FnMut(&str)) -> Result<Vec<String>> {
        let list = self.backups(ns, Some(key)).await?;
        let mut gone = Vec::new();
        let version = self.group_version().await?;
        for b in list.iter().skip(keep) {
            match (&b.group, &version) {
                (Some(g), Some(v)) => {
                    let r = ar(GROUP_GROUP, v, "VolumeGroupSnapshot", "volumegroupsnapshots");
                    self.dynamic(&r, Some(ns))
                        .delete(g, &Default::default())
                        .await
                        .map_err(|e| explain(e, "delete", &format!("volumegroupsnapshot/{g}")))?;
                }
                _ => {
                    for m in &b.members {
                        match self
                            .dynamic(&Self::snapshots_ar(), Some(ns))
                            .delete(&m.snapshot, &Default::default())
                            .await
                        {
                            Ok(_) => {}
                            Err(kube::Error::Api(e)) if e.code == 404 => {}
                            Err(e) => return Err(explain(e, "delete", &format!("volumesnapshot/{}", m.snapshot))),
                        }
                    }
                }
            }
            progress(&format!("deleted backup {} ({}), beyond --keep {keep}", b.name, b.created));
            gone.push(b.name.clone());
        }
        Ok(gone)
    }

    /// Bring the workload's claims back to a backup's data. A failure before
    /// any claim changed starts the workload again as it was; after, it stays
    /// stopped, and the message says so (the caller names the safety backup).
    pub async fn restore(
        &self,
        ns: &str,
        key: &Key,
        from: &Backup,
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let w =
            self.get(&key.kind, ns, &key.name).await?.ok_or_else(|| anyhow!("{key} not found in namespace {ns}"))?;
        let replicas = w["spec"]["replicas"].as_i64().unwrap_or(1);
        let mut changed = false;
        let r = self.restore_steps(ns, key, from, &w, replicas, &mut changed, timeout, progress).await;
        if let Err(e) = r {
            if changed {
                bail!("{e:#}; some claims were already replaced, so {key} stays stopped (0 replicas)");
            }
            let back = self
                .execute(
                    &kubectl_persist::live::Op::Scale { key: key.clone(), replicas },
                    false,
                    false,
                    timeout,
                    progress,
                )
                .await;
            return Err(match back {
                Ok(_) => anyhow!("{e:#}; nothing was changed: {key} is scaled back to {replicas}"),
                Err(e2) => anyhow!("{e:#}; and scaling {key} back to {replicas} failed: {e2:#}"),
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn restore_steps(
        &self,
        ns: &str,
        key: &Key,
        from: &Backup,
        w: &Value,
        replicas: i64,
        changed: &mut bool,
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<()> {
        let snaps = self.dyn_list(&Self::snapshots_ar(), Some(ns), None).await?;
        // Stop the workload: no pod may write while its claims are replaced.
        progress(&format!("scale {key} to 0"));
        self.execute(
            &kubectl_persist::live::Op::Scale { key: key.clone(), replicas: 0 },
            false,
            false,
            timeout,
            progress,
        )
        .await?;
        let selector = kubectl_persist::live::selector_string(w);
        self.wait(&kubectl_persist::live::Op::WaitPodsGone { key: key.clone(), selector }, timeout, progress).await?;
        let templates: Vec<Value> = w["spec"]["volumeClaimTemplates"].as_array().cloned().unwrap_or_default();
        let mut repoint: Vec<(String, String)> = Vec::new();
        for m in &from.members {
            let snap = snaps
                .iter()
                .find(|s| name_of(s) == m.snapshot)
                .ok_or_else(|| anyhow!("snapshot {} is gone", m.snapshot))?;
            let current = self.get("PersistentVolumeClaim", ns, &m.claim).await?;
            let base = match &current {
                Some(c) => c.clone(),
                None => {
                    // A claim of an ordinal that is gone: made as its template says.
                    let t = templates
                        .iter()
                        .find(|t| {
                            m.claim.starts_with(&format!(
                                "{}-{}-",
                                t["metadata"]["name"].as_str().unwrap_or_default(),
                                key.name
                            ))
                        })
                        .ok_or_else(|| anyhow!("claim {} is gone and no template of {key} makes it", m.claim))?;
                    json!({"metadata": {"name": m.claim, "namespace": ns, "labels": t["metadata"]["labels"]}, "spec": t["spec"]})
                }
            };
            let restore_size = snap["status"]["restoreSize"].as_str();
            if key.kind == "StatefulSet" {
                // Same name: the old claim goes, its volume is kept (Retain).
                if let Some(c) = &current {
                    if let Some(pv) = c["spec"]["volumeName"].as_str() {
                        let r = ar("", "v1", "PersistentVolume", "persistentvolumes");
                        self.dynamic(&r, None)
                            .patch(
                                pv,
                                &PatchParams::default(),
                                &Patch::Merge(json!({"spec": {"persistentVolumeReclaimPolicy": "Retain"}})),
                            )
                            .await
                            .map_err(|e| explain(e, "patch", &format!("persistentvolume/{pv}")))?;
                        progress(&format!("volume {pv} of claim {} kept (reclaim policy Retain)", m.claim));
                    }
                    *changed = true;
                    self.execute(
                        &kubectl_persist::live::Op::Delete {
                            key: Key {
                                kind: "PersistentVolumeClaim".into(),
                                namespace: ns.into(),
                                name: m.claim.clone(),
                            },
                        },
                        false,
                        false,
                        timeout,
                        progress,
                    )
                    .await?;
                    let start = Instant::now();
                    while self.get("PersistentVolumeClaim", ns, &m.claim).await?.is_some() {
                        if start.elapsed() >= timeout {
                            bail!("timed out waiting for claim {} to go", m.claim);
                        }
                        tokio::time::sleep(self.poll.max(Duration::from_millis(300))).await;
                    }
                }
                let new = backup::restored_claim(&base, &m.snapshot, restore_size);
                self.create_claim(ns, &new).await?;
                progress(&format!("claim {} re-created from snapshot {}", m.claim, m.snapshot));
            } else {
                // A Deployment's claims: new ones beside the old, the pods re-pointed.
                let new_name = backup::label_value(&format!("{}-{}", m.claim, from.name));
                let mut new = backup::restored_claim(&base, &m.snapshot, restore_size);
                new["metadata"]["name"] = json!(new_name);
                if self.get("PersistentVolumeClaim", ns, &new_name).await?.is_none() {
                    self.create_claim(ns, &new).await?;
                }
                progress(&format!("claim {new_name} made from snapshot {} (claim {} kept)", m.snapshot, m.claim));
                repoint.push((m.claim.clone(), new_name));
            }
        }
        if !repoint.is_empty() {
            // Read again: scaling moved its generation, which the patch tests.
            let w = self.get(&key.kind, ns, &key.name).await?.ok_or_else(|| anyhow!("{key} disappeared"))?;
            let mut desired = kubectl_persist::live::to_manifest(&w).0;
            for v in desired["spec"]["template"]["spec"]["volumes"].as_array_mut().into_iter().flatten() {
                if let Some((_, n)) =
                    repoint.iter().find(|(o, _)| v["persistentVolumeClaim"]["claimName"] == o.as_str())
                {
                    v["persistentVolumeClaim"]["claimName"] = json!(n);
                }
            }
            let (live, generation) = kubectl_persist::live::to_manifest(&w);
            let snapshot = kubectl_persist::live::Snapshot::of(std::slice::from_ref(&w));
            let patch = snapshot.patch(key, &live, &desired, generation);
            *changed = true;
            self.execute(
                &kubectl_persist::live::Op::Patch { key: key.clone(), patch },
                false,
                false,
                timeout,
                progress,
            )
            .await?;
            progress(&format!(
                "{key} now mounts {}",
                repoint.iter().map(|r| r.1.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        progress(&format!("scale {key} to {replicas}"));
        self.execute(&kubectl_persist::live::Op::Scale { key: key.clone(), replicas }, false, false, timeout, progress)
            .await?;
        if key.kind == "StatefulSet" {
            self.wait(&kubectl_persist::live::Op::WaitReady { key: key.clone(), replicas }, timeout, progress).await?;
        } else {
            self.wait(&kubectl_persist::live::Op::WaitRollout { key: key.clone() }, timeout, progress).await?;
        }
        Ok(())
    }

    async fn create_claim(&self, ns: &str, claim: &Value) -> Result<()> {
        let name = name_of(claim);
        self.api("PersistentVolumeClaim", Some(ns))?
            .patch(&name, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(claim))
            .await
            .map_err(|e| explain(e, "create", &format!("persistentvolumeclaim/{name}")))
            .context("restoring a claim")?;
        Ok(())
    }
}

/// `<backup>-<claim>`, cut with a hash to a valid object name.
pub fn snapshot_name(backup: &str, claim: &str) -> String {
    let n = format!("{backup}-{claim}");
    if n.len() <= 253 {
        n
    } else {
        format!("{}-{}", &n[..240], backup::label_value(&n).rsplit('-').next().unwrap_or_default())
    }
}
