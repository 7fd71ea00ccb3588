//! `fsGroup` so a fresh, empty claim is writable by a non-root container.

use super::{editable, Change, RuleResult};
use crate::yaml::Node;

/// Set `securityContext.fsGroup` (and `fsGroupChangePolicy: OnRootMismatch`,
/// so large volumes are not walked on every start). An existing, different
/// fsGroup is left alone: the chart chose it.
pub fn apply(pod: &mut Node, gid: i64) -> RuleResult<(Vec<Change>, Option<String>)> {
    editable(pod, "the pod spec")?;
    let sc = pod.ensure("securityContext", Node::map).ok_or("the pod spec is not a mapping")?;
    editable(sc, "securityContext")?;
    if let Some(existing) = sc.get("fsGroup").and_then(Node::as_i64) {
        if existing != gid {
            return Ok((
                vec![],
                Some(format!("securityContext.fsGroup is already {existing}; left as it is (asked for {gid})")),
            ));
        }
        return Ok((vec![], None));
    }
    sc.set("fsGroup", Node::plain(gid.to_string()));
    if sc.get("fsGroupChangePolicy").is_none() {
        sc.set("fsGroupChangePolicy", Node::str("OnRootMismatch"));
    }
    Ok((vec![Change(format!("securityContext.fsGroup {gid}, fsGroupChangePolicy OnRootMismatch"))], None))
}

/// Does a container run as non-root while the pod sets no fsGroup? Then a new
/// claim (owned by root) may not be writable.
pub fn nonroot_without_fs_group(pod: &Node) -> Option<String> {
    if pod.path(&["securityContext", "fsGroup"]).is_some() {
        return None;
    }
    let nonroot = |sc: Option<&Node>| {
        sc.is_some_and(|sc| {
            sc.get("runAsNonRoot").and_then(Node::as_bool) == Some(true)
                || sc.get("runAsUser").and_then(Node::as_i64).is_some_and(|u| u != 0)
        })
    };
    let pod_nonroot = nonroot(pod.get("securityContext"));
    pod.get("containers")
        .into_iter()
        .flat_map(|c| c.items())
        .find(|c| pod_nonroot || nonroot(c.get("securityContext")))
        .map(|c| c.str_at(&["name"]).unwrap_or("?").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;
    use crate::yaml::parse;

    #[test]
    fn cases() {
        assert_eq!(
            run_rule("containers: []\n", |p| apply(p, 1000)).unwrap(),
            "containers: []\nsecurityContext:\n  fsGroup: 1000\n  fsGroupChangePolicy: OnRootMismatch\n"
        );
        let keep = "securityContext:\n  fsGroup: 2000\n";
        assert_eq!(run_rule(keep, |p| apply(p, 1000)).unwrap(), keep);
        let pod = parse::parse("containers:\n- name: a\n  securityContext: {runAsUser: 1001}\n", &Default::default())
            .unwrap()
            .unwrap();
        assert_eq!(nonroot_without_fs_group(&pod).as_deref(), Some("a"));
        let pod = parse::parse(
            "securityContext: {fsGroup: 1}\ncontainers:\n- name: a\n  securityContext: {runAsUser: 1001}\n",
            &Default::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(nonroot_without_fs_group(&pod), None);
    }
}
