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
}
