//! Mount a volume into a container.

use super::{editable, Change, RuleResult};
use crate::yaml::Node;

pub fn add(pod: &mut Node, container: &str, volume: &str, path: &str) -> RuleResult {
    let c = ["containers", "initContainers"]
        .into_iter()
        .filter_map(|f| pod.get(f).map(|_| f))
        .collect::<Vec<_>>()
        .into_iter()
        .find(|f| pod.get(f).is_some_and(|l| l.items().any(|c| c.str_at(&["name"]) == Some(container))))
        .ok_or_else(|| format!("no container {container:?}"))?;
    let list = pod.get_mut(c).expect("checked above");
    editable(list, c)?;
    let node = list.items_mut().find(|x| x.str_at(&["name"]) == Some(container)).expect("checked above");
    editable(node, &format!("container {container}"))?;
    let mounts = node.ensure("volumeMounts", Node::seq).ok_or("the container is not a mapping")?;
    editable(mounts, &format!("volumeMounts of {container}"))?;
    if mounts
        .items()
        .any(|m| m.str_at(&["mountPath"]).map(crate::decide::values::normalize_path).as_deref() == Some(path))
    {
        return Err(format!("container {container} already mounts something at {path}"));
    }
    mounts.push(Node::map().with("name", Node::str(volume)).with("mountPath", Node::str(path)));
    Ok(vec![Change(format!("container {container} mounts {volume} at {path}"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;

    #[test]
    fn cases() {
        let src = "containers:\n  - name: app\n    image: x\n  - name: side\n    volumeMounts: []\n";
        assert_eq!(
            run_rule(src, |p| {
                add(p, "app", "data", "/data")?;
                add(p, "side", "data", "/data")
            })
            .unwrap(),
            "containers:\n  - name: app\n    image: x\n    volumeMounts:\n      - name: data\n        mountPath: /data\n  - name: side\n    volumeMounts:\n      - name: data\n        mountPath: /data\n"
        );
        assert!(run_rule(src, |p| add(p, "nope", "d", "/d")).unwrap_err().contains("no container"));
        assert!(run_rule("containers:\n- name: a\n  volumeMounts:\n  - {name: x, mountPath: /d/}\n", |p| add(
            p, "a", "d", "/d"
        ))
        .unwrap_err()
        .contains("already mounts"));
    }
}
