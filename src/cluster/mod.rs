//! The one module that talks to a cluster (kube-rs). It reads live objects
//! into a [`Snapshot`], carries out the [`Op`]s the library planned, and waits
//! for conditions. About five things: `connect`, `snapshot`, `execute`,
//! `wait`, `storage_classes`, plus small reads for `status` and `--cluster`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use serde_json::{json, Value};

mod carry;
mod snapshots;

use kubectl_persist::decide::select::Target;
use kubectl_persist::live::{Key, Op, Snapshot, FIELD_MANAGER, HELM_FIELD_MANAGER};

pub struct Cluster {
    client: Client,
    /// The namespace of the kubeconfig context (or `default`).
    pub default_namespace: String,
    /// Time between polls while waiting.
    pub poll: Duration,
}

/// Kinds this tool reads or writes, with where they live in the API.
fn resource(kind: &str) -> Result<(ApiResource, bool)> {
    let (group, version, plural, namespaced) = match kind {
        "Deployment" => ("apps", "v1", "deployments", true),
        "StatefulSet" => ("apps", "v1", "statefulsets", true),
        "Service" => ("", "v1", "services", true),
        "PersistentVolumeClaim" => ("", "v1", "persistentvolumeclaims", true),
        "Pod" => ("", "v1", "pods", true),
        "HorizontalPodAutoscaler" => ("autoscaling", "v2", "horizontalpodautoscalers", true),
        // Custom resources: read where their API is installed (see `snapshot`).
        "VerticalPodAutoscaler" => ("autoscaling.k8s.io", "v1", "verticalpodautoscalers", true),
        "ScaledObject" => ("keda.sh", "v1alpha1", "scaledobjects", true),
        "StorageClass" => ("storage.k8s.io", "v1", "storageclasses", false),
        other => bail!("kubectl-persist does not write {other} objects"),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Ok((ApiResource::from_gvk_with_plural(&gvk, plural), namespaced))
}

/// Say what a failed request means, with the verb and resource for RBAC.
fn explain(e: kube::Error, verb: &str, what: &str) -> anyhow::Error {
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            anyhow!("forbidden: cannot {verb} {what}: {} (see plugin-manifest/rbac.yaml for the permissions kubectl-persist needs)", s.message)
        }
        kube::Error::Api(s) if s.code == 409 => anyhow!(
            "conflict while trying to {verb} {what}: {}\nAnother field manager owns these fields; re-run with --force-conflicts to take them over",
            s.message
        ),
        kube::Error::Api(s) if s.code == 422 && verb == "patch" => anyhow!(
            "cannot patch {what}: {} (422). If another client changed its spec since it was read (its generation \
             moved), nothing was overwritten: run the command again",
            s.message
        ),
        kube::Error::Api(s) => anyhow!("cannot {verb} {what}: {} ({})", s.message, s.code),
        // Not an answer from the server: say which server, and the cause at
        // the bottom of the chain once (as kubectl does), not every layer.
        other => match SERVER.get() {
            Some(server) => anyhow!("cannot {verb} {what}: server {server}: {}", root_cause(&other)),
            None => anyhow!("cannot {verb} {what}: {}", root_cause(&other)),
        },
    }
}

/// The server the run talks to, for messages about reaching it.
static SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The last error of a chain, lowercase first, without the OS error number:
/// `connection refused`.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    let mut chars = text.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Where kubectl looks for a kubeconfig without --kubeconfig.
fn kubeconfig_paths() -> String {
    match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(v) => std::env::split_paths(&v).map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        None => std::env::var_os("HOME")
            .map(|h| std::path::Path::new(&h).join(".kube/config").display().to_string())
            .unwrap_or_else(|| "~/.kube/config".into()),
    }
}

fn to_value(o: DynamicObject) -> Value {
    serde_json::to_value(o).expect("objects serialise")
}

impl Cluster {
    /// Connect with kubectl's usual sources: `--kubeconfig` (else KUBECONFIG,
    /// else ~/.kube/config), `--context`, and `--as` impersonation.
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>, as_user: Option<&str>) -> Result<Cluster> {
        let options = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
        let mut config = match kubeconfig {
            Some(p) => {
                // kube's message already carries its cause: print it once.
                let kc = Kubeconfig::read_from(p)
                    .map_err(|e| anyhow!("{}: cannot read the kubeconfig: {e}", p.display()))?;
                kube::Config::from_custom_kubeconfig(kc, &options).await.context("cannot use the kubeconfig")?
            }
            None if context.is_some() => {
                kube::Config::from_kubeconfig(&options).await.context("cannot load the kubeconfig for --context")?
            }
            None => kube::Config::infer().await.map_err(|e| {
                anyhow!(
                    "no cluster configured: tried {} ({}) and the in-cluster service account; set KUBECONFIG or use --kubeconfig",
                    kubeconfig_paths(),
                    root_cause(&e)
                )
            })?,
        };
        let _ = SERVER.set(config.cluster_url.to_string());
        if let Some(user) = as_user {
            config.auth_info.impersonate = Some(user.to_string());
        }
        let default_namespace = config.default_namespace.clone();
        let client = Client::try_from(config).context("cannot create a client for the cluster")?;
        Ok(Cluster { client, default_namespace, poll: Duration::from_secs(1) })
    }

    /// A cluster reached through a given client (tests use a mock service).
    #[cfg(test)]
    pub fn with_client(client: Client, namespace: &str) -> Cluster {
        Cluster { client, default_namespace: namespace.to_string(), poll: Duration::from_millis(0) }
    }

    fn api(&self, kind: &str, ns: Option<&str>) -> Result<Api<DynamicObject>> {
        let (ar, namespaced) = resource(kind)?;
        Ok(match (namespaced, ns) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            (true, None) => Api::all_with(self.client.clone(), &ar),
            (false, _) => Api::all_with(self.client.clone(), &ar),
        })
    }

    pub async fn get(&self, kind: &str, ns: &str, name: &str) -> Result<Option<Value>> {
        let what = format!("{}/{name} in namespace {ns}", kind.to_ascii_lowercase());
        let o = self.api(kind, Some(ns))?.get_opt(name).await.map_err(|e| explain(e, "get", &what))?;
        Ok(o.map(to_value))
    }

    pub async fn list(&self, kind: &str, ns: Option<&str>, selector: Option<&str>) -> Result<Vec<Value>> {
        let what =
            format!("{}s{}", kind.to_ascii_lowercase(), ns.map(|n| format!(" in namespace {n}")).unwrap_or_default());
        self.list_raw(kind, ns, selector).await?.map_err(|e| explain(e, "list", &what))
    }

    /// Like `list`, but a kind whose API the cluster does not serve (404) has no objects.
    async fn list_if_installed(&self, kind: &str, ns: &str) -> Result<Vec<Value>> {
        match self.list_raw(kind, Some(ns), None).await? {
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
            r => r.map_err(|e| explain(e, "list", &format!("{}s in namespace {ns}", kind.to_ascii_lowercase()))),
        }
    }

    async fn list_raw(
        &self,
        kind: &str,
        ns: Option<&str>,
        selector: Option<&str>,
    ) -> Result<std::result::Result<Vec<Value>, kube::Error>> {
        let mut lp = ListParams::default();
        if let Some(s) = selector {
            lp = lp.labels(s);
        }
        let (ar, _) = resource(kind)?;
        let list = match self.api(kind, ns)?.list(&lp).await {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        // Items of a list carry no apiVersion and kind: put them back.
        Ok(Ok(list
            .items
            .into_iter()
            .map(|o| {
                let mut v = to_value(o);
                v["apiVersion"] = json!(ar.api_version);
                v["kind"] = json!(kind);
                v
            })
            .collect()))
    }

    /// The live state a run needs in one namespace: the targets (a Deployment
    /// that is gone but has a StatefulSet of its name counts as switched), and
    /// the Services, claims and autoscalers around them. Returns the targets
    /// as they are now.
    pub async fn snapshot(
        &self,
        ns: &str,
        targets: &[Target],
        selector: Option<&str>,
    ) -> Result<(Snapshot, Vec<Target>)> {
        let mut objects = Vec::new();
        let mut found = Vec::new();
        if targets.is_empty() {
            for d in self.list("Deployment", Some(ns), selector).await? {
                let name = d["metadata"]["name"].as_str().unwrap_or_default().to_string();
                found.push(Target { kind: kubectl_persist::decide::select::WorkloadKind::Deployment, name });
                objects.push(d);
            }
        } else {
            for t in targets {
                let kind = t.kind.as_str();
                if let Some(o) = self.get(kind, ns, &t.name).await? {
                    objects.push(o);
                    found.push(t.clone());
                } else if kind == "Deployment" {
                    // Switched already (or half-way): look for the StatefulSet.
                    match self.get("StatefulSet", ns, &t.name).await? {
                        Some(s) => {
                            objects.push(s);
                            found.push(Target {
                                kind: kubectl_persist::decide::select::WorkloadKind::StatefulSet,
                                name: t.name.clone(),
                            });
                        }
                        None => bail!("{t} not found in namespace {ns}"),
                    }
                } else {
                    bail!("{t} not found in namespace {ns}");
                }
            }
        }
        // A half-done switch: the Deployment is still there beside its StatefulSet.
        for t in &found {
            if t.kind.as_str() == "Deployment" {
                if let Some(s) = self.get("StatefulSet", ns, &t.name).await? {
                    objects.push(s);
                }
            }
        }
        // The namespace's other workloads: the claims they mount are taken
        // (the transformer refuses to name a new claim like one of them).
        for kind in ["Deployment", "StatefulSet"] {
            for o in self.list(kind, Some(ns), None).await? {
                let key = Key::of(&o);
                if !objects.iter().any(|x| Key::of(x) == key) {
                    objects.push(o);
                }
            }
        }
        for kind in ["Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler"] {
            objects.extend(self.list(kind, Some(ns), None).await?);
        }
        // VPA and KEDA are add-ons: a cluster without their API has none of
        // them (404). Any other failure stops the run, so a switch never
        // leaves an autoscaler pointing at a Deployment that is gone.
        for kind in ["VerticalPodAutoscaler", "ScaledObject"] {
            objects.extend(self.list_if_installed(kind, ns).await?);
        }
        let snapshot = Snapshot::of(&objects);
        Ok((snapshot, found))
    }

    /// Carry out one operation. `dry_run` sends writes with server-side dry
    /// run and skips waits. Returns the object the server answered with.
    pub async fn execute(
        &self,
        op: &Op,
        dry_run: bool,
        force: bool,
        timeout: Duration,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Option<Value>> {
        match op {
            Op::Apply { obj } => {
                let key = Key::of(obj);
                let mut pp = PatchParams::apply(FIELD_MANAGER);
                if force {
                    pp = pp.force();
                }
                if dry_run {
                    pp = pp.dry_run();
                }
                let api = self.api(&key.kind, Some(&key.namespace))?;
                let r = api
                    .patch(&key.name, &pp, &Patch::Apply(obj))
                    .await
                    .map_err(|e| explain(e, "apply", &key.to_string()))?;
                Ok(Some(to_value(r)))
            }
            Op::Patch { key, patch } => {
                let p: json_patch::Patch =
                    serde_json::from_value(patch.clone()).context("a planned patch is not a JSON patch")?;
                let mut pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
                if dry_run {
                    pp = pp.dry_run();
                }
                let api = self.api(&key.kind, Some(&key.namespace))?;
                let r = api
                    .patch(&key.name, &pp, &Patch::<()>::Json(p))
                    .await
                    .map_err(|e| explain(e, "patch", &key.to_string()))?;
                Ok(Some(to_value(r)))
            }
            Op::Scale { key, replicas } => {
                if dry_run {
                    return Ok(None);
                }
                let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
                let api = self.api(&key.kind, Some(&key.namespace))?;
                api.patch_scale(&key.name, &pp, &Patch::Merge(json!({"spec": {"replicas": replicas}})))
                    .await
                    .map_err(|e| explain(e, "scale", &key.to_string()))?;
                Ok(None)
            }
            Op::Delete { key } => {
                let mut dp = DeleteParams::background();
                if dry_run {
                    dp = dp.dry_run();
                }
                let api = self.api(&key.kind, Some(&key.namespace))?;
                match api.delete(&key.name, &dp).await {
                    Ok(_) => Ok(None),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                    Err(e) => Err(explain(e, "delete", &key.to_string())),
                }
            }
            Op::Handover { obj } => {
                if dry_run {
                    return Ok(None);
                }
                let key = Key::of(obj);
                let api = self.api(&key.kind, Some(&key.namespace))?;
                // Helm takes every field (same values: nothing changes), then
                // this tool lets go of its own.
                api.patch(&key.name, &PatchParams::apply(HELM_FIELD_MANAGER).force(), &Patch::Apply(obj))
                    .await
                    .map_err(|e| explain(e, "apply", &key.to_string()))?;
                let bare = json!({"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                                  "metadata": {"name": key.name, "namespace": key.namespace}});
                api.patch(&key.name, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&bare))
                    .await
                    .map_err(|e| explain(e, "apply", &key.to_string()))?;
                Ok(None)
            }
            Op::Carry { job } => {
                if dry_run {
                    return Ok(None);
                }
                Ok(self.carry(job, timeout, progress).await?.map(Value::String))
            }
            Op::WaitPodsGone { .. } | Op::WaitReady { .. } | Op::WaitRollout { .. } => {
                if !dry_run {
                    self.wait(op, timeout, progress).await?;
                }
                Ok(None)
            }
        }
    }

    /// Poll until the condition of a wait operation holds, or time out.
    pub async fn wait(&self, op: &Op, timeout: Duration, progress: &mut dyn FnMut(&str)) -> Result<()> {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            let (done, state) = self.check(op).await?;
            if state != last {
                progress(&state);
                last = state;
            }
            if done {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                bail!("timed out after {} while waiting: {last} (--timeout)", humantime(timeout));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// One look at a wait condition: (holds, what it looks like now).
    async fn check(&self, op: &Op) -> Result<(bool, String)> {
        match op {
            Op::WaitPodsGone { key, selector } => {
                let pods = self.list("Pod", Some(&key.namespace), Some(selector)).await?;
                // Only the workload's own pods count: a Deployment's are owned by
                // its ReplicaSets, a StatefulSet's by itself.
                let owner = if key.kind == "Deployment" { "ReplicaSet" } else { key.kind.as_str() };
                let left = pods
                    .iter()
                    .filter(|p| {
                        p["metadata"]["ownerReferences"]
                            .as_array()
                            .is_some_and(|o| o.iter().any(|r| r["kind"] == owner))
                    })
                    .count();
                Ok((left == 0, format!("{key}: {left} pod(s) left")))
            }
            Op::WaitReady { key, replicas } => {
                let s = self
                    .get("StatefulSet", &key.namespace, &key.name)
                    .await?
                    .ok_or_else(|| anyhow!("{key} disappeared"))?;
                let ready = s["status"]["readyReplicas"].as_i64().unwrap_or(0);
                let fresh = s["status"]["observedGeneration"].as_i64() >= s["metadata"]["generation"].as_i64();
                Ok((fresh && ready >= *replicas, format!("{key}: {ready}/{replicas} ready")))
            }
            Op::WaitRollout { key } => {
                let d = self
                    .get("Deployment", &key.namespace, &key.name)
                    .await?
                    .ok_or_else(|| anyhow!("{key} disappeared"))?;
                let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
                let updated = d["status"]["updatedReplicas"].as_i64().unwrap_or(0);
                let available = d["status"]["availableReplicas"].as_i64().unwrap_or(0);
                let fresh = d["status"]["observedGeneration"].as_i64() >= d["metadata"]["generation"].as_i64();
                Ok((
                    fresh && updated >= want && available >= want,
                    format!("{key}: {updated}/{want} updated, {available} available"),
                ))
            }
            _ => Ok((true, String::new())),
        }
    }

    /// StorageClasses: (name, is the default, allows expansion).
    pub async fn storage_classes(&self) -> Result<Vec<(String, bool, bool)>> {
        let list = match self.list("StorageClass", None, None).await {
            Ok(l) => l,
            Err(e) if e.to_string().contains("forbidden") => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(list
            .iter()
            .map(|s| {
                let name = s["metadata"]["name"].as_str().unwrap_or_default().to_string();
                let default = s["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true";
                (name, default, s["allowVolumeExpansion"] == true)
            })
            .collect())
    }
}

pub fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
pub(crate) mod mock {
    //! A scripted API server: each step checks one request's method and path
    //! and answers with JSON. A missing call makes the test time out and fail.

    use http::{Request, Response};
    use kube::client::Body;
    use tower_test::mock::{self, Handle};

    pub struct Step {
        pub method: &'static str,
        /// The request path and query must start with this.
        pub path: String,
        pub status: u16,
        pub body: serde_json::Value,
    }

    pub fn step(method: &'static str, path: &str, body: serde_json::Value) -> Step {
        Step { method, path: path.to_string(), status: 200, body }
    }

    pub fn status(method: &'static str, path: &str, code: u16, message: &str) -> Step {
        Step {
            method,
            path: path.to_string(),
            status: code,
            body: serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code,
                "reason": match code { 404 => "NotFound", 403 => "Forbidden", 409 => "Conflict", 422 => "Invalid", _ => "" }}),
        }
    }

    pub fn client() -> (kube::Client, Handle<Request<Body>, Response<Body>>) {
        let (svc, handle) = mock::pair::<Request<Body>, Response<Body>>();
        (kube::Client::new(svc, "demo"), handle)
    }

    /// Serve the steps in order; returns the bodies of the requests.
    pub async fn serve(
        mut handle: Handle<Request<Body>, Response<Body>>,
        steps: Vec<Step>,
    ) -> Vec<(String, String, serde_json::Value)> {
        use http_body_util::BodyExt;
        let mut seen = Vec::new();
        for s in steps {
            let (req, send) = handle.next_request().await.expect("a request");
            let method = req.method().to_string();
            let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
            assert_eq!(
                method,
                s.method,
                "request {}: {method} {path}, expected {} {}",
                seen.len() + 1,
                s.method,
                s.path
            );
            assert!(
                path.starts_with(&s.path),
                "request {}: {method} {path}, expected {} {}",
                seen.len() + 1,
                s.method,
                s.path
            );
            let bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            seen.push((method, path, body));
            let resp =
                Response::builder().status(s.status).body(Body::from(serde_json::to_vec(&s.body).unwrap())).unwrap();
            send.send_response(resp);
        }
        seen
    }
}
