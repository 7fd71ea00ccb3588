//! Objects that point at a workload by kind follow it: HorizontalPodAutoscaler
//! and KEDA ScaledObject `scaleTargetRef`, VerticalPodAutoscaler `targetRef`.

use super::{editable, Change, RuleResult};
use crate::yaml::Node;

pub const SCALERS: [&str; 3] = ["HorizontalPodAutoscaler", "VerticalPodAutoscaler", "ScaledObject"];

fn ref_path(kind: &str) -> &'static [&'static str] {
    if kind == "VerticalPodAutoscaler" {
        &["spec", "targetRef"]
    } else {
        &["spec", "scaleTargetRef"]
    }
}

/// The name of the Deployment a scaler points at, if it points at one.
/// (A KEDA ScaledObject without a kind means a Deployment.)
pub fn deployment_target<'n>(obj: &'n Node, kind: &str) -> Option<&'n str> {
    let r = obj.path(ref_path(kind))?;
    let k = r.str_at(&["kind"]);
    let is_deploy = k == Some("Deployment") || (k.is_none() && kind == "ScaledObject");
    is_deploy.then(|| r.str_at(&["name"])).flatten()
}

pub fn retarget(obj: &mut Node, kind: &str) -> RuleResult {
    let r = obj.path_mut(ref_path(kind)).ok_or("no target reference")?;
    editable(r, "the target reference")?;
    match r.get_mut("kind") {
        Some(k) => k.set_str("StatefulSet"),
        None => r.set("kind", Node::str("StatefulSet")),
    }
    match r.get_mut("apiVersion") {
        Some(v) if v.as_str() != Some("apps/v1") => v.set_str("apps/v1"),
        Some(_) => {}
        None => r.set("apiVersion", Node::str("apps/v1")),
    }
    Ok(vec![Change("target Deployment → StatefulSet".into())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;

    #[test]
    fn cases() {
        assert_eq!(
            run_rule("spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web\n", |n| {
                retarget(n, "HorizontalPodAutoscaler")
            })
            .unwrap(),
            "spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: StatefulSet\n    name: web\n"
        );
        assert_eq!(
            run_rule("spec:\n  scaleTargetRef:\n    name: web\n", |n| retarget(n, "ScaledObject")).unwrap(),
            "spec:\n  scaleTargetRef:\n    name: web\n    kind: StatefulSet\n    apiVersion: apps/v1\n"
        );
        assert_eq!(
            run_rule("spec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n", |n| retarget(
                n,
                "VerticalPodAutoscaler"
            ))
            .unwrap(),
            "spec:\n  targetRef: {apiVersion: apps/v1, kind: StatefulSet, name: web}\n"
        );
    }
}
