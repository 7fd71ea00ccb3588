//! Live mode, the pure part: live objects become the transformer's input, and
//! the transformer's output becomes a list of operations ([`Op`]) that
//! `cluster.rs` in the binary carries out. Nothing here talks to a cluster.
//!
//! The switch of a Deployment to a StatefulSet is ordered so that two pods
//! never write one ReadWriteOnce claim and no claim is ever deleted:
//!
//! 1. remember the Deployment's replicas in an annotation (so an interrupted
//!    run can finish the job), guarded by its generation;
//! 2. create the headless Service and the StatefulSet with 0 replicas;
//! 3. scale the Deployment to 0 and wait until its pods are gone;
//! 4. scale the StatefulSet to the Deployment's replicas and (with `--wait`)
//!    wait until they are ready;
//! 5. point autoscalers at the StatefulSet;
//! 6. delete the Deployment (its ReplicaSets go with it; claims stay).
//!
//! If a step fails, [`rollback`] gives the operations that undo it: the
//! Deployment gets its replicas back, what was created goes, claims stay.

use serde_json::{json, Value};

use crate::carry::{self, Unit};
use crate::rules::scale_targets::SCALERS;
use crate::{Input, Outcome};

/// The annotation that remembers the Deployment's replicas during a switch.
pub const REPLICAS_ANNOTATION: &str = "kubectl-persist/original-replicas";

/// The name of the input made of live objects.
pub const LIVE_INPUT: &str = "<cluster>";

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "kubectl-persist";

/// Helm's field manager (Helm 4 applies server-side under it; Helm 3 patches
/// under it).
pub const HELM_FIELD_MANAGER: &str = "helm";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn of(v: &Value) -> Key {
        let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
        Key { kind: s(&v["kind"]), namespace: s(&v["metadata"]["namespace"]), name: s(&v["metadata"]["name"]) }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind.to_ascii_lowercase(), self.name)
    }
}

/// Fields the server writes; a manifest made from a live object drops them.
const SERVER_METADATA: [&str; 7] =
    ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp"];

/// A live object as a manifest: no status, no server-set metadata, no
/// last-applied annotation. Its generation is returned apart, for the patch
/// that guards against concurrent changes (the generation moves when someone
/// changes the spec, not when a controller updates the status).
pub fn to_manifest(live: &Value) -> (Value, Option<i64>) {
    let mut v = live.clone();
    let rv = v["metadata"]["generation"].as_i64();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v["metadata"].as_object_mut() {
        for f in SERVER_METADATA {
            m.remove(f);
        }
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("deployment.kubernetes.io/revision");
            if a.is_empty() {
                m.remove("annotations");
            }
        }
    }
    (v, rv)
}

/// The live manifests as one stream for the transformer. A StatefulSet
/// beside the Deployment of its name (a switch half done) is left out: the
/// transformer makes the Deployment's StatefulSet, and [`plan`] compares it
/// with the live one.
pub fn input(manifests: &[Value]) -> Input {
    let mut text = String::new();
    let half_done = |m: &Value| {
        m["kind"] == "StatefulSet"
            && manifests.iter().any(|d| {
                d["kind"] == "Deployment"
                    && Key::of(d).name == Key::of(m).name
                    && Key::of(d).namespace == Key::of(m).namespace
            })
    };
    for m in manifests.iter().filter(|m| !half_done(m)) {
        text.push_str("---\n");
        text.push_str(&serde_json::to_string_pretty(m).expect("JSON values serialise"));
        text.push('\n');
    }
    Input { name: LIVE_INPUT.into(), bytes: text.into_bytes() }
}

/// One step of a live change.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Server-side apply (field manager `kubectl-persist`).
    Apply { obj: Value },
    /// An RFC 6902 JSON patch to an existing object; the first operation tests
    /// its generation, so a concurrent change of its spec makes it fail instead
    /// of being overwritten.
    Patch { key: Key, patch: Value },
    /// Set replicas through the scale subresource.
    Scale { key: Key, replicas: i64 },
    /// Wait until no pod selected by `selector` and owned by a ReplicaSet is left.
    WaitPodsGone { key: Key, selector: String },
    /// Wait until the StatefulSet has `replicas` ready pods.
    WaitReady { key: Key, replicas: i64 },
    /// Wait until the Deployment has rolled out.
    WaitRollout { key: Key },
    /// Delete with background propagation (claims are never deleted).
    Delete { key: Key },
    /// Copy the running pods' data into the claims that will serve it
    /// (creating them), verified, before the pods go.
    Carry { job: Box<CarryJob> },
    /// Give the fields of an object this run created to Helm's field manager
    /// (apply it as `helm`, then release them as `kubectl-persist`), so the
    /// release's next server-side apply (Helm 4) owns them without conflicts.
    Handover { obj: Value },
}

/// The claims a carry fills.
#[derive(Debug, Clone, PartialEq)]
pub enum CarryClaims {
    /// StatefulSet mode: ordinal N's claim of template T is `T-<statefulset>-N`,
    /// the name the StatefulSet controller adopts.
    Templates { statefulset: String, templates: Vec<Value>, labels: Value },
    /// pvc mode: the standalone claims, shared by every pod.
    Standalone(Vec<Value>),
}

/// What a carry copies: from the running pods of `workload` (selected by
/// `selector`), each unit's path into its claim.
#[derive(Debug, Clone, PartialEq)]
pub struct CarryJob {
    pub workload: Key,
    pub selector: String,
    pub units: Vec<Unit>,
    pub claims: CarryClaims,
    pub mode: carry::Mode,
    pub helper_image: String,
    /// The pods the workload will run (ordinals beyond the running pods start empty).
    pub replicas: i64,
    /// The pod template's nodeSelector, affinity and tolerations: the loader
    /// pod goes where the app may run, so a claim bound for it suits the app.
    pub placement: Value,
}

impl CarryJob {
    /// The claim object a unit's claim name means for pod `ordinal`.
    pub fn claim(&self, unit_claim: &str, ordinal: usize) -> Option<Value> {
        match &self.claims {
            CarryClaims::Templates { statefulset, templates, labels } => {
                let t = templates.iter().find(|t| t["metadata"]["name"] == unit_claim)?;
                let mut c = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": format!("{unit_claim}-{statefulset}-{ordinal}"),
                                 "namespace": self.workload.namespace},
                    "spec": t["spec"].clone()});
                let mut l = labels.as_object().cloned().unwrap_or_default();
                if let Some(tl) = t["metadata"]["labels"].as_object() {
                    l.extend(tl.clone());
                }
                if !l.is_empty() {
                    c["metadata"]["labels"] = Value::Object(l);
                }
                if let Some(a) = t["metadata"]["annotations"].as_object() {
                    c["metadata"]["annotations"] = Value::Object(a.clone());
                }
                Some(c)
            }
            CarryClaims::Standalone(claims) => claims.iter().find(|c| c["metadata"]["name"] == unit_claim).cloned(),
        }
    }

    /// Whether each pod has claims of its own (StatefulSet mode).
    pub fn per_ordinal(&self) -> bool {
        matches!(self.claims, CarryClaims::Templates { .. })
    }

    /// One line per unit, for the plan.
    pub fn describe_units(&self) -> Vec<String> {
        self.units
            .iter()
            .map(|u| {
                let claim = match &self.claims {
                    CarryClaims::Templates { statefulset, .. } => format!("claim {}-{statefulset}-<ordinal>", u.claim),
                    CarryClaims::Standalone(_) => format!("claim {}", u.claim),
                };
                let sub = if u.dest_sub.is_empty() { String::new() } else { format!(" (subPath {})", u.dest_sub) };
                format!("{}:{} ({}) → {claim}{sub}", u.container, u.path, u.describe_source())
            })
            .collect()
    }
}

impl Op {
    /// Whether the step changes the cluster (waits do not).
    pub fn writes(&self) -> bool {
        !matches!(self, Op::WaitPodsGone { .. } | Op::WaitReady { .. } | Op::WaitRollout { .. })
    }

    /// The object the step acts on.
    pub fn key(&self) -> Key {
        match self {
            Op::Apply { obj } => Key::of(obj),
            Op::Patch { key, .. }
            | Op::Scale { key, .. }
            | Op::WaitPodsGone { key, .. }
            | Op::WaitReady { key, .. }
            | Op::WaitRollout { key }
            | Op::Delete { key } => key.clone(),
            Op::Carry { job } => job.workload.clone(),
            Op::Handover { obj } => Key::of(obj),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Op::Apply { obj } => format!("apply {}", Key::of(obj)),
            Op::Patch { key, .. } => format!("patch {key}"),
            Op::Scale { key, replicas } => format!("scale {key} to {replicas}"),
            Op::WaitPodsGone { key, .. } => format!("wait until the pods of {key} are gone"),
            Op::WaitReady { key, replicas } => format!("wait until {key} has {replicas} ready pods"),
            Op::WaitRollout { key } => format!("wait until {key} has rolled out"),
            Op::Delete { key } if matches!(key.kind.as_str(), "Deployment" | "StatefulSet") => {
                format!("delete {key} (its claims stay)")
            }
            Op::Delete { key } => format!("delete {key}"),
            Op::Carry { job } => format!("carry the data of {}'s pods into its claims", job.workload),
            Op::Handover { obj } => format!("hand {} over to Helm's field manager", Key::of(obj)),
        }
    }
}

/// What a live run will do.
#[derive(Debug, Default, PartialEq)]
pub struct LivePlan {
    pub ops: Vec<Op>,
    /// Lines for the user, before anything changes.
    pub summary: Vec<String>,
    /// Nothing to change: the workloads are already persistent.
    pub nothing_to_do: bool,
}

impl LivePlan {
    /// Whether the plan switches this Deployment to a StatefulSet.
    pub fn switches(&self, deployment: &Key) -> bool {
        self.ops.iter().any(|o| matches!(o, Op::Scale { key, replicas: 0 } if key == deployment))
    }
}

/// The live state of one namespace, as manifests plus their generations.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub objects: Vec<(Value, Option<i64>)>,
    /// Objects this tool has written before (a field manager of theirs is
    /// `kubectl-persist`): a StatefulSet beside its Deployment is then a
    /// half-done switch, not someone else's.
    pub managed: Vec<Key>,
    /// Objects that have annotations live, also ones a manifest drops
    /// (kubectl's last-applied configuration): a patch adds keys to them
    /// one by one rather than replace the map.
    pub annotated: Vec<Key>,
}

impl Snapshot {
    /// Read live objects (as the API server returns them).
    pub fn of(live: &[Value]) -> Snapshot {
        let managed = live
            .iter()
            .filter(|v| {
                v["metadata"]["managedFields"]
                    .as_array()
                    .is_some_and(|m| m.iter().any(|f| f["manager"] == FIELD_MANAGER))
            })
            .map(Key::of)
            .collect();
        let annotated = live
            .iter()
            .filter(|v| v["metadata"]["annotations"].as_object().is_some_and(|a| !a.is_empty()))
            .map(Key::of)
            .collect();
        Snapshot { objects: live.iter().map(to_manifest).collect(), managed, annotated }
    }

    /// A guarded JSON patch from the live `from` to `to` that keeps the
    /// annotations a manifest does not show (an `add` of the whole map would
    /// drop kubectl's last-applied configuration, and with it `kubectl
    /// apply`'s way to delete fields).
    pub fn patch(&self, key: &Key, from: &Value, to: &Value, generation: Option<i64>) -> Value {
        let p = guarded_patch(from, to, generation);
        if !self.annotated.contains(key) {
            return p;
        }
        let mut ops = Vec::new();
        for op in p.as_array().cloned().unwrap_or_default() {
            match (&op["op"], &op["path"], op["value"].as_object()) {
                (o, path, Some(map)) if o == "add" && path == "/metadata/annotations" => {
                    for (k, v) in map {
                        let k = k.replace('~', "~0").replace('/', "~1");
                        ops.push(json!({"op": "add", "path": format!("/metadata/annotations/{k}"), "value": v}));
                    }
                }
                _ => ops.push(op),
            }
        }
        Value::Array(ops)
    }

    pub fn find(&self, key: &Key) -> Option<&(Value, Option<i64>)> {
        self.objects.iter().find(|(v, _)| Key::of(v) == *key)
    }
}

fn replicas_of(v: &Value) -> i64 {
    v["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// A workload's `matchLabels` as a label selector (`a=b,c=d`, sorted).
pub fn selector_string(v: &Value) -> String {
    let mut parts: Vec<String> = v["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    parts.sort();
    parts.join(",")
}

/// A JSON patch from `from` to `to`, guarded by the object's generation.
pub fn guarded_patch(from: &Value, to: &Value, generation: Option<i64>) -> Value {
    let diff = json_patch::diff(from, to);
    let mut ops = Vec::new();
    if let Some(g) = generation {
        ops.push(json!({"op": "test", "path": "/metadata/generation", "value": g}));
    }
    ops.extend(serde_json::to_value(&diff).expect("patches serialise").as_array().cloned().unwrap_or_default());
    Value::Array(ops)
}

/// How a live run acts beyond the rewrite.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `--wait`: add the readiness waits.
    pub wait: bool,
    /// `--carry`.
    pub carry: carry::Mode,
    /// `--helper-image`.
    pub helper_image: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { wait: true, carry: carry::Mode::Auto, helper_image: carry::DEFAULT_HELPER_IMAGE.into() }
    }
}

fn pod_spec_of(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]
}

/// The scheduling fields of a workload's pod template.
fn placement(v: &Value) -> Value {
    let spec = pod_spec_of(v);
    let mut p = serde_json::Map::new();
    for f in ["nodeSelector", "affinity", "tolerations"] {
        if !spec[f].is_null() {
            p.insert(f.into(), spec[f].clone());
        }
    }
    Value::Object(p)
}

/// Turn the transformer's outcome over a snapshot into operations.
///
/// `outcome` must come from transforming `input(snapshot manifests)`.
pub fn plan(snapshot: &Snapshot, outcome: &Outcome, settings: &Settings) -> Result<LivePlan, String> {
    let wait = settings.wait;
    let mut plan = LivePlan::default();
    let mut new_objects = Vec::new();
    let mut switches = Vec::new();
    let mut patches = Vec::new();
    for d in outcome.docs.iter().filter(|d| d.changed()) {
        let tree = d.tree.as_ref().ok_or("a changed document has no tree")?;
        let desired = crate::yaml::to_json(tree, &Default::default())?;
        if d.added {
            new_objects.push(desired);
            continue;
        }
        let (before, _) = crate::yaml::parse::parse(d.original, &Default::default())
            .ok()
            .flatten()
            .and_then(|t| crate::yaml::to_json(&t, &Default::default()).ok())
            .map(|v| (v, ()))
            .ok_or("cannot read back a live object")?;
        let key_before = Key::of(&before);
        let (live, rv) =
            snapshot.find(&key_before).cloned().ok_or_else(|| format!("{key_before} is not in the snapshot"))?;
        if before["kind"] == "Deployment" && desired["kind"] == "StatefulSet" {
            switches.push((live, rv, desired));
        } else if before["kind"] == "StatefulSet" {
            let changed_templates = before["spec"]["volumeClaimTemplates"] != desired["spec"]["volumeClaimTemplates"];
            if changed_templates {
                return Err(format!(
                    "{key_before} is live, and Kubernetes does not let a StatefulSet's volumeClaimTemplates change; \
                     to add claims to it, re-create it keeping its pods: kubectl delete {key_before} --cascade=orphan, \
                     then apply the output of `kubectl persist -f <its manifest> {key_before} ...`"
                ));
            }
            let patch = snapshot.patch(&key_before, &live, &desired, rv);
            patches.push((key_before, patch, None));
        } else {
            let carry = (before["kind"] == "Deployment").then(|| (live.clone(), desired.clone()));
            let patch = snapshot.patch(&key_before, &live, &desired, rv);
            patches.push((key_before, patch, carry));
        }
    }
    if new_objects.is_empty() && switches.is_empty() && patches.is_empty() {
        plan.nothing_to_do = true;
        return Ok(plan);
    }
    // Claims first: pods must find them.
    new_objects.sort_by_key(|o| if o["kind"] == "PersistentVolumeClaim" { 0 } else { 1 });
    for o in &new_objects {
        plan.summary.push(format!("create {}", Key::of(o)));
    }
    let (scalers, others): (Vec<_>, Vec<_>) =
        patches.into_iter().partition(|(k, _, _)| SCALERS.contains(&k.kind.as_str()));
    // pvc mode: the claims a Deployment's running pods fill before it rolls.
    let mut pvc_carries: Vec<(Key, CarryJob)> = Vec::new();
    if settings.carry != carry::Mode::None {
        for (key, _, c) in &others {
            let Some((live, desired)) = c else { continue };
            let live_claims: Vec<&str> = pod_spec_of(live)["volumes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
                .collect();
            let new_claims: Vec<&Value> = new_objects
                .iter()
                .filter(|o| o["kind"] == "PersistentVolumeClaim")
                .filter(|o| o["metadata"]["name"].as_str().is_some_and(|n| !live_claims.contains(&n)))
                .collect();
            let volumes: Vec<String> = pod_spec_of(desired)["volumes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| {
                    v["persistentVolumeClaim"]["claimName"]
                        .as_str()
                        .is_some_and(|c| new_claims.iter().any(|o| o["metadata"]["name"] == c))
                })
                .filter_map(|v| v["name"].as_str().map(str::to_string))
                .collect();
            let units = carry::units(pod_spec_of(live), pod_spec_of(desired), &volumes);
            if units.is_empty() {
                continue;
            }
            let claims: Vec<Value> = new_claims
                .iter()
                .filter(|o| units.iter().any(|u| o["metadata"]["name"] == u.claim.as_str()))
                .map(|o| (*o).clone())
                .collect();
            let job = CarryJob {
                workload: key.clone(),
                selector: selector_string(live),
                units,
                claims: CarryClaims::Standalone(claims),
                mode: settings.carry,
                helper_image: settings.helper_image.clone(),
                replicas: replicas_of(live),
                placement: placement(live),
            };
            pvc_carries.push((key.clone(), job));
        }
    }
    // A claim a carry fills is created by the carry (marked while it fills).
    let carried = |o: &Value| {
        pvc_carries.iter().any(|(_, j)| matches!(&j.claims, CarryClaims::Standalone(c) if c.iter().any(|c| c == o)))
    };
    for o in new_objects.iter().filter(|o| o["kind"] == "PersistentVolumeClaim" && !carried(o)) {
        plan.ops.push(Op::Apply { obj: o.clone() });
    }
    for (key, patch, _) in &others {
        if let Some((_, job)) = pvc_carries.iter().find(|(k, _)| k == key) {
            plan.summary.push(format!("carry the data of the running pod of {key}:"));
            plan.summary.extend(job.describe_units().into_iter().map(|l| format!("  {l}")));
            plan.ops.push(Op::Carry { job: Box::new(job.clone()) });
        }
        plan.summary.push(format!("patch {key}"));
        plan.ops.push(Op::Patch { key: key.clone(), patch: patch.clone() });
        if key.kind == "Deployment" && wait {
            plan.ops.push(Op::WaitRollout { key: key.clone() });
        }
    }
    for o in new_objects.iter().filter(|o| o["kind"] != "PersistentVolumeClaim") {
        plan.ops.push(Op::Apply { obj: o.clone() });
    }
    for (live, rv, desired) in switches {
        let dkey = Key::of(&live);
        let skey = Key::of(&desired);
        let running = snapshot.find(&skey).map(|(v, _)| replicas_of(v));
        if running.is_some() && !snapshot.managed.contains(&skey) {
            return Err(format!(
                "{skey} already exists in namespace {ns}, and kubectl-persist did not create it: {dkey} cannot become \
                 a StatefulSet of a name that is taken. Nothing was changed; rename or remove one of them first",
                ns = skey.namespace
            ));
        }
        // A run that was interrupted left the count in the annotation.
        let remembered = live["metadata"]["annotations"][REPLICAS_ANNOTATION].as_str().and_then(|s| s.parse().ok());
        let replicas = remembered.unwrap_or_else(|| replicas_of(&live));
        let pods = if replicas == 1 { "1 replica".to_string() } else { format!("{replicas} replicas") };
        plan.summary.push(format!("{dkey} → {skey} ({pods})"));
        if remembered.is_none() {
            let mut annotated = live.clone();
            annotated["metadata"]["annotations"][REPLICAS_ANNOTATION] = json!(replicas.to_string());
            plan.ops.push(Op::Patch { key: dkey.clone(), patch: snapshot.patch(&dkey, &live, &annotated, rv) });
        }
        let mut first = desired.clone();
        // The StatefulSet starts with no pods while the Deployment has any.
        // When a re-run finds the Deployment at 0 already, the StatefulSet of
        // the first run keeps the pods it has rather than restart them.
        let keep = if replicas_of(&live) == 0 { running.unwrap_or(0) } else { 0 };
        first["spec"]["replicas"] = json!(keep);
        if let Some(a) = first["metadata"]["annotations"].as_object_mut() {
            a.remove(REPLICAS_ANNOTATION);
        }
        let mut full = first.clone();
        full["spec"]["replicas"] = json!(replicas);
        plan.ops.push(Op::Apply { obj: first });
        let templates: Vec<Value> = desired["spec"]["volumeClaimTemplates"].as_array().cloned().unwrap_or_default();
        let names: Vec<String> =
            templates.iter().filter_map(|t| t["metadata"]["name"].as_str().map(str::to_string)).collect();
        let units = carry::units(pod_spec_of(&live), pod_spec_of(&desired), &names);
        let carries = settings.carry != carry::Mode::None && !units.is_empty();
        if carries {
            let job = CarryJob {
                workload: dkey.clone(),
                selector: selector_string(&live),
                units,
                claims: CarryClaims::Templates {
                    statefulset: skey.name.clone(),
                    templates,
                    labels: desired["spec"]["selector"]["matchLabels"].clone(),
                },
                mode: settings.carry,
                helper_image: settings.helper_image.clone(),
                replicas,
                placement: placement(&live),
            };
            plan.summary
                .push(format!("carry the data of the running pod{} of {dkey}:", if replicas == 1 { "" } else { "s" }));
            plan.summary.extend(job.describe_units().into_iter().map(|l| format!("  {l}")));
            plan.ops.push(Op::Carry { job: Box::new(job) });
        } else if settings.carry == carry::Mode::None && !units.is_empty() {
            plan.summary.push(format!(
                "--carry=none: the StatefulSet starts on empty claims; what {dkey} holds in {} is not copied",
                units.iter().map(|u| format!("{} ({})", u.path, u.describe_source())).collect::<Vec<_>>().join(", ")
            ));
        }
        plan.ops.push(Op::Scale { key: dkey.clone(), replicas: 0 });
        plan.ops.push(Op::WaitPodsGone { key: dkey.clone(), selector: selector_string(&live) });
        plan.ops.push(Op::Apply { obj: full });
        if wait && replicas > 0 {
            plan.ops.push(Op::WaitReady { key: skey.clone(), replicas });
        }
        let start = match running {
            Some(_) if keep > 0 => format!("keep {skey} (from an earlier run) at {keep} replicas"),
            Some(_) => format!("apply {skey} (from an earlier run) with 0 replicas"),
            None => format!("create {skey} with 0 replicas"),
        };
        plan.summary.push(format!(
            "steps: {start}, {}scale {dkey} to 0 and wait for its pods to go, scale {skey} to {replicas}{}, delete {dkey}",
            if carries { "copy and verify the data, " } else { "" },
            if wait { " and wait until ready" } else { "" }
        ));
    }
    for (key, patch, _) in &scalers {
        plan.summary.push(format!("point {key} at the StatefulSet"));
        plan.ops.push(Op::Patch { key: key.clone(), patch: patch.clone() });
    }
    for op in plan.ops.clone() {
        if let Op::Scale { key, replicas: 0 } = op {
            plan.ops.push(Op::Delete { key });
        }
    }
    // What this run created for a Helm release becomes Helm's: the last
    // version applied of each.
    let mut handed: Vec<Key> = Vec::new();
    for op in plan.ops.clone().iter().rev() {
        let Op::Apply { obj } = op else { continue };
        let key = Key::of(obj);
        if obj["kind"] == "PersistentVolumeClaim" || handed.contains(&key) {
            continue;
        }
        if obj["metadata"]["annotations"]["meta.helm.sh/release-name"].is_string() {
            handed.push(key);
            plan.ops.push(Op::Handover { obj: obj.clone() });
        }
    }
    if !handed.is_empty() {
        plan.summary.push(format!(
            "then {} go to Helm's field manager, so the release's next upgrade owns them (Helm 4 applies server-side)",
            handed.iter().map(Key::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(plan)
}

/// What undoes the first `done` operations of `plan` (those that ran).
/// Autoscalers point back at the Deployment. The StatefulSets of the switch go
/// (those this run created, and those of an earlier, interrupted run of this
/// tool) and their pods are waited out, so the Deployment, scaled back next,
/// never shares a claim with them; then created Services go. Claims are never
/// deleted, and the remembered-replicas annotation stays (it is harmless, and
/// a re-run uses it). Run the steps in order and stop at the first that
/// fails: a later one may only be safe after it.
pub fn rollback(plan: &LivePlan, done: usize, snapshot: &Snapshot) -> Vec<Op> {
    let ran = &plan.ops[..done];
    let mut undo = Vec::new();
    for op in ran {
        if let Op::Patch { key, patch } = op {
            if SCALERS.contains(&key.kind.as_str()) {
                if let Some(p) = inverse(snapshot, key, patch) {
                    undo.push(Op::Patch { key: key.clone(), patch: p });
                }
            }
        }
    }
    let created = |kind: &str| -> Vec<&Value> {
        let mut seen: Vec<Key> = Vec::new();
        ran.iter()
            .filter_map(|op| match op {
                Op::Apply { obj } if obj["kind"] == kind => Some(obj),
                _ => None,
            })
            .filter(|obj| {
                let k = Key::of(obj);
                let fresh = snapshot.find(&k).is_none() && !seen.contains(&k);
                seen.push(k);
                fresh
            })
            .collect()
    };
    let mut gone: Vec<Key> = Vec::new();
    for op in ran {
        let Op::Apply { obj } = op else { continue };
        let key = Key::of(obj);
        let ours = snapshot.find(&key).is_none() || snapshot.managed.contains(&key);
        if obj["kind"] == "StatefulSet" && ours && !gone.contains(&key) {
            undo.push(Op::Delete { key: key.clone() });
            undo.push(Op::WaitPodsGone { key: key.clone(), selector: selector_string(obj) });
            gone.push(key);
        }
    }
    for op in ran {
        if let Op::Scale { key, replicas: 0 } = op {
            if key.kind == "Deployment" {
                let replicas = snapshot
                    .find(key)
                    .map(|(v, _)| {
                        v["metadata"]["annotations"][REPLICAS_ANNOTATION]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or_else(|| replicas_of(v))
                    })
                    .unwrap_or(1);
                undo.push(Op::Scale { key: key.clone(), replicas });
            }
        }
    }
    for svc in created("Service") {
        undo.push(Op::Delete { key: Key::of(svc) });
    }
    undo
}

/// The patch that takes an object patched with `patch` back to its snapshot
/// state (unguarded: its generation moved with the patch).
fn inverse(snapshot: &Snapshot, key: &Key, patch: &Value) -> Option<Value> {
    let (before, _) = snapshot.find(key)?;
    let ops: Vec<Value> = patch.as_array()?.iter().filter(|o| o["op"] != "test").cloned().collect();
    let ops: json_patch::Patch = serde_json::from_value(Value::Array(ops)).ok()?;
    let mut after = before.clone();
    json_patch::patch(&mut after, &ops).ok()?;
    Some(serde_json::to_value(json_patch::diff(&after, before)).expect("patches serialise"))
}

/// A JSON value as a new YAML tree (for printing server answers as YAML).
pub fn json_to_node(v: &Value) -> crate::yaml::Node {
    use crate::yaml::Node;
    match v {
        Value::Null => Node::plain("null"),
        Value::Bool(b) => Node::plain(b.to_string()),
        Value::Number(n) => Node::plain(n.to_string()),
        Value::String(s) => Node::str(s.as_str()),
        Value::Array(a) => a.iter().fold(Node::seq(), |s, x| s.item(json_to_node(x))),
        Value::Object(o) => o.iter().fold(Node::map(), |m, (k, x)| m.with(k, json_to_node(x))),
    }
}

/// Objects as a YAML stream (`---` before each).
pub fn yaml_stream(objects: &[Value]) -> String {
    let style = crate::yaml::render::DocStyle::default();
    let mut out = String::new();
    for o in objects {
        out.push_str("---\n");
        out.push_str(&crate::yaml::render::fresh_document(&json_to_node(o), &style));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{transform, Options};

    fn deployment(replicas: i64) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "demo", "resourceVersion": "42", "generation": 3, "uid": "u",
                          "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
            "status": {"replicas": replicas}
        })
    }

    fn snapshot(objs: &[Value]) -> Snapshot {
        Snapshot::of(objs)
    }

    fn run(snap: &Snapshot, targets: &str, wait: bool) -> LivePlan {
        let manifests: Vec<Value> = snap.objects.iter().map(|(v, _)| v.clone()).collect();
        let inputs = vec![input(&manifests)];
        let opts = Options {
            targets: vec![crate::decide::select::Target::parse(targets).unwrap()],
            paths: vec![(None, "/data".into())],
            ..Options::default()
        };
        let out = transform(&inputs, &opts).unwrap();
        // The step sequences without a carry; carrying has its own tests.
        plan(snap, &out, &Settings { wait, carry: carry::Mode::None, ..Settings::default() }).unwrap()
    }

    #[test]
    fn json_becomes_yaml_that_means_the_same() {
        let v = deployment(2);
        let text = yaml_stream(std::slice::from_ref(&v));
        let back = crate::yaml::parse::parse(&text, &Default::default()).unwrap().unwrap();
        assert_eq!(crate::yaml::to_json(&back, &Default::default()).unwrap(), v);
    }

    #[test]
    fn manifests_drop_server_fields() {
        let (m, generation) = to_manifest(&deployment(2));
        assert_eq!(generation, Some(3));
        assert!(m.get("status").is_none() && m["metadata"].get("uid").is_none());
        assert!(m["metadata"].get("annotations").is_none());
    }

    #[test]
    fn switch_sequence() {
        let snap = snapshot(&[deployment(3)]);
        let p = run(&snap, "deployment/web", true);
        let steps: Vec<String> = p.ops.iter().map(Op::describe).collect();
        assert_eq!(
            steps,
            vec![
                "apply service/web-headless",
                "patch deployment/web",
                "apply statefulset/web",
                "scale deployment/web to 0",
                "wait until the pods of deployment/web are gone",
                "apply statefulset/web",
                "wait until statefulset/web has 3 ready pods",
                "delete deployment/web (its claims stay)",
            ]
        );
        let Op::Apply { obj } = &p.ops[2] else { panic!() };
        assert_eq!(obj["spec"]["replicas"], 0);
        let Op::Apply { obj } = &p.ops[5] else { panic!() };
        assert_eq!(obj["spec"]["replicas"], 3);
        assert_eq!(obj["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
        let Op::Patch { patch, .. } = &p.ops[1] else { panic!() };
        assert_eq!(patch[0], json!({"op": "test", "path": "/metadata/generation", "value": 3}));
        assert_eq!(patch[1]["path"], "/metadata/annotations/kubectl-persist~1original-replicas");
        assert_eq!(patch[1]["value"], "3");
        // Without --wait, no readiness wait (the pods-gone wait stays: it is safety).
        let p = run(&snap, "deployment/web", false);
        assert!(p.ops.iter().all(|o| !matches!(o, Op::WaitReady { .. })));
        assert!(p.ops.iter().any(|o| matches!(o, Op::WaitPodsGone { .. })));
    }

    fn plan_with(snap: &Snapshot, mode: Option<crate::decide::Mode>, carry: carry::Mode) -> LivePlan {
        let manifests: Vec<Value> = snap.objects.iter().map(|(v, _)| v.clone()).collect();
        let opts = Options {
            targets: vec![crate::decide::select::Target::parse("deployment/web").unwrap()],
            paths: vec![(None, "/data".into()), (None, "/cache".into())],
            mode,
            ..Options::default()
        };
        let inputs = [input(&manifests)];
        let out = transform(&inputs, &opts).unwrap();
        plan(snap, &out, &Settings { carry, ..Settings::default() }).unwrap()
    }

    fn with_cache_emptydir(mut d: Value) -> Value {
        d["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] =
            json!([{"name": "cache", "mountPath": "/cache"}]);
        d["spec"]["template"]["spec"]["volumes"] = json!([{"name": "cache", "emptyDir": {}}]);
        d["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
        d
    }

    #[test]
    fn a_switch_carries_the_data_after_the_statefulset_exists_and_before_the_pods_go() {
        let snap = snapshot(&[with_cache_emptydir(deployment(1))]);
        let p = plan_with(&snap, None, carry::Mode::Auto);
        let steps: Vec<String> = p.ops.iter().map(Op::describe).collect();
        let at = |s: &str| steps.iter().position(|x| x.starts_with(s)).unwrap_or_else(|| panic!("{s}: {steps:?}"));
        assert!(at("apply statefulset/web") < at("carry the data"), "{steps:?}");
        assert!(at("carry the data") < at("scale deployment/web to 0"), "{steps:?}");
        let Op::Carry { job } = &p.ops[at("carry the data")] else { unreachable!() };
        let got: Vec<(&str, &carry::Source)> = job.units.iter().map(|u| (u.path.as_str(), &u.source)).collect();
        assert_eq!(
            got,
            vec![
                ("/cache", &carry::Source::EmptyDir { volume: "cache".into(), sub: String::new() }),
                ("/data", &carry::Source::Layer),
            ]
        );
        let claim = job.claim("cache", 0).unwrap();
        assert_eq!(claim["metadata"]["name"], "cache-web-0", "the name the StatefulSet controller adopts");
        assert_eq!(claim["metadata"]["labels"]["app"], "web");
        assert_eq!(job.placement, json!({"nodeSelector": {"disk": "ssd"}}));
        assert!(
            p.summary.iter().any(|l| l.contains("web:/cache (emptyDir cache) → claim cache-web-<ordinal>")),
            "{:?}",
            p.summary
        );
        // --carry=none says what it leaves behind, and copies nothing.
        let p = plan_with(&snap, None, carry::Mode::None);
        assert!(!p.ops.iter().any(|o| matches!(o, Op::Carry { .. })));
        assert!(
            p.summary.iter().any(|l| l.starts_with("--carry=none: the StatefulSet starts on empty claims")),
            "{:?}",
            p.summary
        );
    }

    #[test]
    fn pvc_mode_carries_into_the_claims_before_the_deployment_rolls() {
        let snap = snapshot(&[with_cache_emptydir(deployment(1))]);
        let p = plan_with(&snap, Some(crate::decide::Mode::Pvc), carry::Mode::Auto);
        let steps: Vec<String> = p.ops.iter().map(Op::describe).collect();
        let carry_at = steps.iter().position(|s| s.starts_with("carry the data")).expect("a carry");
        let patch_at = steps.iter().position(|s| s == "patch deployment/web").expect("a patch");
        assert!(carry_at < patch_at, "{steps:?}");
        // The carry creates its claims; they are not applied beforehand.
        assert!(!steps.iter().any(|s| s.starts_with("apply persistentvolumeclaim/")), "{steps:?}");
        let Op::Carry { job } = &p.ops[carry_at] else { unreachable!() };
        assert!(!job.per_ordinal());
        for u in &job.units {
            assert!(job.claim(&u.claim, 0).is_some(), "{u:?}");
            assert!(job.claim(&u.claim, 5).is_some(), "one set of claims for every pod");
        }
    }

    #[test]
    fn remembering_the_replicas_keeps_kubectls_last_applied_configuration() {
        let mut d = deployment(1);
        d["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": "{}"});
        let p = run(&snapshot(&[d]), "deployment/web", false);
        let Op::Patch { patch, .. } = &p.ops[1] else { panic!("{:?}", p.ops) };
        assert_eq!(
            patch[1],
            json!({"op": "add", "path": "/metadata/annotations/kubectl-persist~1original-replicas", "value": "1"}),
            "one key added, not the map replaced"
        );
    }

    #[test]
    fn an_interrupted_switch_resumes_with_the_remembered_replicas() {
        let mut d = deployment(0);
        d["metadata"]["annotations"] = json!({REPLICAS_ANNOTATION: "3"});
        let snap = snapshot(&[d]);
        let p = run(&snap, "deployment/web", true);
        assert!(p.ops.iter().any(|o| matches!(o, Op::WaitReady { replicas: 3, .. })));
        assert!(!p.ops.iter().any(|o| matches!(o, Op::Patch { key, .. } if key.kind == "Deployment")));
    }

    #[test]
    fn rollback_restores_replicas_and_keeps_claims() {
        let snap = snapshot(&[deployment(3)]);
        let p = run(&snap, "deployment/web", true);
        let undo = rollback(&p, 5, &snap);
        let steps: Vec<String> = undo.iter().map(Op::describe).collect();
        assert_eq!(
            steps,
            vec![
                "delete statefulset/web (its claims stay)",
                "wait until the pods of statefulset/web are gone",
                "scale deployment/web to 3",
                "delete service/web-headless"
            ]
        );
        // Before anything was scaled, only what was created goes.
        let undo = rollback(&p, 1, &snap);
        assert_eq!(undo.iter().map(Op::describe).collect::<Vec<_>>(), vec!["delete service/web-headless"]);
    }

    fn statefulset(replicas: i64, ours: bool) -> Value {
        let manager = if ours { FIELD_MANAGER } else { "helm" };
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "demo", "generation": 1,
                          "managedFields": [{"manager": manager, "operation": "Apply"}]},
            "spec": {"replicas": replicas, "serviceName": "web-headless", "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
        })
    }

    fn plan_of(snap: &Snapshot) -> Result<LivePlan, String> {
        let manifests: Vec<Value> = snap.objects.iter().map(|(v, _)| v.clone()).collect();
        let opts = Options {
            targets: vec![crate::decide::select::Target::parse("deployment/web").unwrap()],
            paths: vec![(None, "/data".into())],
            ..Options::default()
        };
        let inputs = [input(&manifests)];
        let out = transform(&inputs, &opts).unwrap();
        plan(snap, &out, &Settings::default())
    }

    #[test]
    fn a_statefulset_of_the_name_that_is_not_ours_stops_the_switch() {
        let err = plan_of(&Snapshot::of(&[deployment(2), statefulset(1, false)])).unwrap_err();
        assert!(err.contains("statefulset/web already exists") && err.contains("Nothing was changed"), "{err}");
    }

    #[test]
    fn a_resumed_switch_neither_restarts_nor_leaves_two_writers() {
        let mut d = deployment(0);
        d["metadata"]["annotations"] = json!({REPLICAS_ANNOTATION: "1"});
        let snap = Snapshot::of(&[d, statefulset(1, true)]);
        let p = plan_of(&snap).unwrap();
        // The Deployment has no pods left: the StatefulSet keeps its pod.
        let Op::Apply { obj } =
            p.ops.iter().find(|o| matches!(o, Op::Apply { obj } if obj["kind"] == "StatefulSet")).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(obj["spec"]["replicas"], 1);
        // A failure while waiting: the StatefulSet of the earlier run goes
        // before the Deployment scales back.
        let wait = p.ops.iter().position(|o| matches!(o, Op::WaitReady { .. })).unwrap();
        let steps: Vec<String> = rollback(&p, wait, &snap).iter().map(Op::describe).collect();
        let delete = steps.iter().position(|s| s == "delete statefulset/web (its claims stay)").expect("deleted");
        let scale = steps.iter().position(|s| s == "scale deployment/web to 1").expect("scaled back");
        assert!(delete < scale, "{steps:?}");
    }

    #[test]
    fn a_claim_another_workload_mounts_is_never_adopted() {
        let mut other = deployment(1);
        other["metadata"]["name"] = json!("other");
        other["spec"]["template"]["spec"]["volumes"] =
            json!([{"name": "v", "persistentVolumeClaim": {"claimName": "data-web-0"}}]);
        let manifests: Vec<Value> = Snapshot::of(&[deployment(1), other]).objects.into_iter().map(|(v, _)| v).collect();
        let opts = Options {
            targets: vec![crate::decide::select::Target::parse("deployment/web").unwrap()],
            paths: vec![(None, "/data".into())],
            ..Options::default()
        };
        let err = transform(&[input(&manifests)], &opts).unwrap_err().to_string();
        assert!(err.contains("claim data-web-0 is Deployment demo/other's"), "{err}");
    }

    #[test]
    fn a_rollback_points_autoscalers_back() {
        let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                         "metadata": {"name": "web", "namespace": "demo", "generation": 4},
                         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}});
        let snap = Snapshot::of(&[deployment(2), hpa]);
        let p = plan_of(&snap).unwrap();
        let last = p.ops.len() - 1;
        assert!(matches!(&p.ops[last], Op::Delete { key } if key.kind == "Deployment"));
        let undo = rollback(&p, last, &snap);
        let Op::Patch { key, patch } = &undo[0] else { panic!("{undo:?}") };
        assert_eq!(key.kind, "HorizontalPodAutoscaler");
        assert_eq!(patch, &json!([{"op": "replace", "path": "/spec/scaleTargetRef/kind", "value": "Deployment"}]));
    }

    #[test]
    fn already_switched_is_nothing_to_do() {
        let snap = snapshot(&[deployment(1)]);
        let p = run(&snap, "deployment/web", false);
        let Op::Apply { obj } = &p.ops[5] else { panic!() };
        let mut sts = obj.clone();
        sts["metadata"]["generation"] = json!(7);
        let svc = match &p.ops[0] {
            Op::Apply { obj } => obj.clone(),
            _ => panic!(),
        };
        let snap = snapshot(&[sts, svc]);
        let p = run(&snap, "statefulset/web", false);
        assert!(p.nothing_to_do, "{p:?}");
    }
}
