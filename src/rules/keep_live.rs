//! Cluster-aware rendering (`--cluster`): a StatefulSet that already runs
//! keeps the fields Kubernetes will not let an upgrade change — its
//! `volumeClaimTemplates`, `serviceName` and `selector` — exactly as they are
//! live, so `helm upgrade` through the post-renderer never fails on them.
//!
//! A template the render wants that the live object lacks cannot be added:
//! that is an error. A template whose requested size grew is kept as it is
//! live and reported as an [`Expansion`], for the binary to grow the existing
//! claims where the StorageClass allows it.

use serde_json::Value;

use super::{Change, RuleResult};
use crate::decide::values::quantity_bytes;
use crate::live::json_to_node;
use crate::yaml::Node;

/// A claim template whose requested size is larger than the live one.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    pub namespace: Option<String>,
    pub statefulset: String,
    pub template: String,
    pub from: String,
    pub to: String,
    pub replicas: i64,
    pub storage_class: Option<String>,
}

fn templates(v: &Value) -> Vec<&Value> {
    v["spec"]["volumeClaimTemplates"].as_array().map(|a| a.iter().collect()).unwrap_or_default()
}

fn template_name(t: &Value) -> &str {
    t["metadata"]["name"].as_str().unwrap_or_default()
}

/// What the API server adds to a template, dropped so the kept template reads
/// like a manifest.
fn clean_template(t: &Value) -> Value {
    let mut t = t.clone();
    if let Some(o) = t.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = t["metadata"].as_object_mut() {
        m.remove("creationTimestamp");
    }
    t
}

/// Make a rendered StatefulSet (`obj`, as rendered) agree with its live self.
/// `desired` is `obj` as JSON.
pub fn apply(obj: &mut Node, desired: &Value, live: &Value) -> RuleResult<(Vec<Change>, Vec<Expansion>)> {
    let name = desired["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let mut changes = Vec::new();
    let mut expansions = Vec::new();
    let live_t = templates(live);
    for t in templates(desired) {
        let tn = template_name(t);
        let Some(l) = live_t.iter().find(|l| template_name(l) == tn) else {
            return Err(format!(
                "the live StatefulSet {name} has no volumeClaimTemplate {tn}, and Kubernetes does not let templates be added; \
                 keep the paths it has (live templates: {}), or re-create the StatefulSet keeping its pods \
                 (kubectl delete statefulset {name} --cascade=orphan) before the upgrade",
                live_t.iter().map(|l| template_name(l)).collect::<Vec<_>>().join(", ")
            ));
        };
        let want = t["spec"]["resources"]["requests"]["storage"].as_str().unwrap_or_default();
        let have = l["spec"]["resources"]["requests"]["storage"].as_str().unwrap_or_default();
        if let (Some(w), Some(h)) = (quantity_bytes(want), quantity_bytes(have)) {
            if w < h {
                changes.push(Change(format!(
                    "claim template {tn} stays at its live {have}: {want} was asked, and a claim cannot shrink"
                )));
            }
            if w > h {
                expansions.push(Expansion {
                    namespace: desired["metadata"]["namespace"].as_str().map(str::to_string),
                    statefulset: name.clone(),
                    template: tn.to_string(),
                    from: have.to_string(),
                    to: want.to_string(),
                    replicas: live["spec"]["replicas"].as_i64().unwrap_or(1),
                    storage_class: l["spec"]["storageClassName"].as_str().map(str::to_string),
                });
            }
        }
    }
    let spec = obj.get_mut("spec").ok_or("the StatefulSet has no spec")?;
    super::editable(spec, "spec")?;
    let live_templates: Vec<Value> = live_t.iter().map(|t| clean_template(t)).collect();
    if templates(desired).iter().map(|t| clean_template(t)).collect::<Vec<_>>() != live_templates {
        if live_templates.is_empty() {
            spec.remove("volumeClaimTemplates");
        } else {
            spec.set("volumeClaimTemplates", json_to_node(&Value::Array(live_templates)));
        }
        changes.push(Change("volumeClaimTemplates kept as they are live".into()));
    }
    for (field, what) in [("serviceName", "serviceName"), ("selector", "selector")] {
        let l = &live["spec"][field];
        if !l.is_null() && desired["spec"][field] != *l {
            spec.set(field, json_to_node(l));
            changes.push(Change(format!("{what} kept as it is live ({l})")));
        }
    }
    Ok((changes, expansions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;
    use serde_json::json;

    const RENDERED: &str = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  serviceName: web-headless\n  selector:\n    matchLabels:\n      app: web\n      version: \"2\"\n  volumeClaimTemplates:\n    - metadata:\n        name: data\n      spec:\n        accessModes:\n          - ReadWriteOnce\n        resources:\n          requests:\n            storage: 5Gi\n";

    fn live() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
               "spec": {"replicas": 2, "serviceName": "web-peers", "selector": {"matchLabels": {"app": "web"}},
                        "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": {"name": "data", "creationTimestamp": null},
                            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                                     "volumeMode": "Filesystem", "storageClassName": "fast"},
                            "status": {"phase": "Pending"}}]}})
    }

    fn desired() -> Value {
        let n = crate::yaml::parse::parse(RENDERED, &Default::default()).unwrap().unwrap();
        crate::yaml::to_json(&n, &Default::default()).unwrap()
    }

    #[test]
    fn immutable_fields_follow_the_live_object_and_growth_is_reported() {
        let mut exp = Vec::new();
        let out = run_rule(RENDERED, |n| {
            let (_, e) = apply(n, &desired(), &live())?;
            exp = e;
            Ok(())
        })
        .unwrap();
        assert!(out.contains("serviceName: web-peers"), "{out}");
        assert!(
            out.contains("storage: 1Gi") && out.contains("storageClassName: fast") && !out.contains("phase"),
            "{out}"
        );
        assert!(!out.contains("version: \"2\""), "the live selector wins:\n{out}");
        assert_eq!(exp.len(), 1);
        assert_eq!((exp[0].from.as_str(), exp[0].to.as_str(), exp[0].replicas), ("1Gi", "5Gi", 2));
    }

    #[test]
    fn a_new_template_on_a_live_statefulset_is_an_error() {
        let mut l = live();
        l["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = json!("other");
        let e = run_rule(RENDERED, |n| apply(n, &desired(), &l)).unwrap_err();
        assert!(e.contains("no volumeClaimTemplate data") && e.contains("other"), "{e}");
    }
}
