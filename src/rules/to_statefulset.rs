//! Turn a Deployment into a StatefulSet of the same name, labels, selector
//! and pod template.
//!
//! Deployment-only fields go (`strategy`, `progressDeadlineSeconds`,
//! `paused`); the strategy maps to `updateStrategy: RollingUpdate`, the only
//! StatefulSet strategy that replaces pods by itself (it never surges, so
//! `maxSurge` has no counterpart; a Deployment's `Recreate` is what a
//! StatefulSet does to each pod anyway). Pods are managed in parallel, as a
//! Deployment's are. Claims are retained when the StatefulSet is deleted or
//! scaled down. Fields a live object carries (uid, resourceVersion, status)
//! are removed: they belong to the Deployment, not to the new object.

use super::{editable, Change, RuleResult};
use crate::yaml::Node;

const DEPLOYMENT_ONLY: [&str; 3] = ["strategy", "progressDeadlineSeconds", "paused"];
const LIVE_METADATA: [&str; 6] =
    ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"];
const DEPLOYMENT_ANNOTATIONS: [&str; 2] =
    ["deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration"];

pub fn apply(obj: &mut Node, service_name: &str) -> RuleResult {
    editable(obj, "the object")?;
    let mut changes = vec![Change("kind Deployment → StatefulSet".into())];
    obj.get_mut("kind").ok_or("the object has no kind")?.set_str("StatefulSet");
    if obj.str_at(&["apiVersion"]) != Some("apps/v1") {
        changes.push(Change(format!("apiVersion {} → apps/v1", obj.str_at(&["apiVersion"]).unwrap_or("(none)"))));
        match obj.get_mut("apiVersion") {
            Some(v) => v.set_str("apps/v1"),
            None => obj.set("apiVersion", Node::str("apps/v1")),
        }
    }
    if let Some(meta) = obj.get_mut("metadata") {
        editable(meta, "metadata")?;
        for f in LIVE_METADATA {
            if meta.remove(f).is_some() {
                changes.push(Change(format!("dropped metadata.{f} (it belongs to the Deployment)")));
            }
        }
        if let Some(ann) = meta.get_mut("annotations") {
            editable(ann, "metadata.annotations")?;
            for a in DEPLOYMENT_ANNOTATIONS {
                if ann.remove(a).is_some() {
                    changes.push(Change(format!("dropped annotation {a}")));
                }
            }
        }
    }
    if obj.remove("status").is_some() {
        changes.push(Change("dropped status".into()));
    }
    let template_labels = super::pairs(obj.path(&["spec", "template", "metadata", "labels"]));
    let spec = obj.get_mut("spec").ok_or("the Deployment has no spec")?;
    editable(spec, "spec")?;
    for f in DEPLOYMENT_ONLY {
        if spec.remove(f).is_some() {
            changes.push(Change(format!("dropped spec.{f} (Deployment only)")));
        }
    }
    if spec.get("selector").is_none() {
        // Old API versions defaulted the selector to the template labels.
        spec.set("selector", Node::map().with("matchLabels", super::string_map(&template_labels)));
        changes.push(Change("added spec.selector from the pod template labels".into()));
    }
    spec.set("serviceName", Node::str(service_name));
    spec.set("podManagementPolicy", Node::str("Parallel"));
    spec.set("updateStrategy", Node::map().with("type", Node::str("RollingUpdate")));
    spec.set(
        "persistentVolumeClaimRetentionPolicy",
        Node::map().with("whenDeleted", Node::str("Retain")).with("whenScaled", Node::str("Retain")),
    );
    changes.push(Change(format!(
        "serviceName {service_name}, podManagementPolicy Parallel, updateStrategy RollingUpdate, claims retained on delete and scale-down"
    )));
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;

    #[test]
    fn cases() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "minimal",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  strategy:\n    type: Recreate\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n  serviceName: web-headless\n  podManagementPolicy: Parallel\n  updateStrategy:\n    type: RollingUpdate\n  persistentVolumeClaimRetentionPolicy:\n    whenDeleted: Retain\n    whenScaled: Retain\n",
            ),
            (
                "old api without selector, live fields",
                "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata:\n  name: web\n  uid: 1234\n  annotations:\n    deployment.kubernetes.io/revision: \"3\"\n    keep: me\nspec:\n  progressDeadlineSeconds: 600\n  template:\n    metadata:\n      labels:\n        app: web\nstatus:\n  replicas: 1\n",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\n  annotations:\n    keep: me\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n  selector:\n    matchLabels:\n      app: web\n  serviceName: web-headless\n  podManagementPolicy: Parallel\n  updateStrategy:\n    type: RollingUpdate\n  persistentVolumeClaimRetentionPolicy:\n    whenDeleted: Retain\n    whenScaled: Retain\n",
            ),
        ];
        for (name, given, want) in cases {
            assert_eq!(run_rule(given, |n| apply(n, "web-headless")).unwrap(), *want, "{name}");
        }
        let e = run_rule("kind: Deployment\nbase: &s {}\nspec: *s\n", |n| apply(n, "x")).unwrap_err();
        assert!(e.contains("alias") || e.contains("spec"), "{e}");
    }
}
