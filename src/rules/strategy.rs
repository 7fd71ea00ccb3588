//! `strategy: Recreate` for a Deployment on a ReadWriteOnce claim: a rolling
//! update would start the new pod while the old one holds the claim (a
//! Multi-Attach deadlock across nodes, two writers on one node).

use super::{editable, Change, RuleResult};
use crate::yaml::Node;

pub fn recreate(obj: &mut Node) -> RuleResult {
    let spec = obj.get_mut("spec").ok_or("the object has no spec")?;
    editable(spec, "spec")?;
    match spec.get_mut("strategy") {
        Some(s) if s.is_map() => {
            editable(s, "spec.strategy")?;
            if s.str_at(&["type"]) == Some("Recreate") && s.get("rollingUpdate").is_none() {
                return Ok(vec![]);
            }
            s.remove("rollingUpdate");
            match s.get_mut("type") {
                Some(t) => t.set_str("Recreate"),
                None => s.set("type", Node::str("Recreate")),
            }
        }
        _ => spec.set("strategy", Node::map().with("type", Node::str("Recreate"))),
    }
    Ok(vec![Change("strategy Recreate (a ReadWriteOnce claim cannot be shared by the old and new pod)".into())])
}

/// A warning when a Deployment with more than one replica rolls out
/// (RollingUpdate, the default) while it mounts a claim known to be
/// ReadWriteOnce: the new pod waits for the old one to let go of the claim,
/// and pods on other nodes cannot start at all.
pub fn shared_rwo_warning(obj: &Node, name: &str, claim_modes: &dyn Fn(&str) -> Option<Vec<String>>) -> Option<String> {
    let replicas = obj.path(&["spec", "replicas"]).map_or(Some(1), Node::as_i64).unwrap_or(1);
    let rolling = obj.str_at(&["spec", "strategy", "type"]).unwrap_or("RollingUpdate") == "RollingUpdate";
    if replicas <= 1 || !rolling {
        return None;
    }
    let claims: Vec<&str> = obj
        .path(&["spec", "template", "spec", "volumes"])
        .into_iter()
        .flat_map(|v| v.items())
        .filter_map(|v| v.str_at(&["persistentVolumeClaim", "claimName"]))
        .filter(|c| claim_modes(c).is_some_and(|m| m.iter().any(|m| m == "ReadWriteOnce" || m == "ReadWriteOncePod")))
        .collect();
    (!claims.is_empty()).then(|| {
        format!(
            "{name} has {replicas} replicas and a RollingUpdate strategy on the ReadWriteOnce claim {}: a rollout waits for the old pod to let go, and pods on other nodes cannot start; use ReadWriteMany claims or strategy Recreate",
            claims.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;

    #[test]
    fn cases() {
        assert_eq!(
            run_rule("spec:\n  replicas: 1\n", recreate).unwrap(),
            "spec:\n  replicas: 1\n  strategy:\n    type: Recreate\n"
        );
        assert_eq!(
            run_rule(
                "spec:\n  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n  x: 1\n",
                recreate
            )
            .unwrap(),
            "spec:\n  strategy:\n    type: Recreate\n  x: 1\n"
        );
        let same = "spec:\n  strategy:\n    type: Recreate\n";
        assert_eq!(run_rule(same, recreate).unwrap(), same);
    }

    #[test]
    fn shared_rwo_claims_are_warned_about() {
        let modes = |c: &str| match c {
            "rwo" => Some(vec!["ReadWriteOnce".to_string()]),
            "rwx" => Some(vec!["ReadWriteMany".to_string()]),
            _ => None,
        };
        let obj = |replicas: &str, strategy: &str, claim: &str| {
            let src = format!("spec:\n  {replicas}\n  {strategy}\n  template:\n    spec:\n      volumes:\n      - name: v\n        persistentVolumeClaim:\n          claimName: {claim}\n");
            crate::yaml::parse::parse(&src, &Default::default()).unwrap().unwrap()
        };
        let warn = |o: &Node| shared_rwo_warning(o, "web", &modes);
        assert!(warn(&obj("replicas: 2", "x: 1", "rwo")).unwrap().contains("web has 2 replicas"));
        assert!(warn(&obj("replicas: 3", "strategy: {type: RollingUpdate}", "rwo")).is_some());
        assert!(warn(&obj("replicas: 2", "strategy: {type: Recreate}", "rwo")).is_none());
        assert!(warn(&obj("x: 1", "y: 1", "rwo")).is_none(), "one replica by default");
        assert!(warn(&obj("replicas: 2", "x: 1", "rwx")).is_none());
        assert!(warn(&obj("replicas: 2", "x: 1", "unknown")).is_none());
    }
}
