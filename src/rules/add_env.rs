//! Set an environment variable on a container, where it sets none of that name.

use super::{editable, Change, RuleResult};
use crate::yaml::Node;

pub fn set(pod: &mut Node, container: &str, name: &str, value: &str) -> RuleResult {
    let list = pod.get_mut("containers").ok_or("the pod has no containers")?;
    editable(list, "containers")?;
    let node = list
        .items_mut()
        .find(|c| c.str_at(&["name"]) == Some(container))
        .ok_or_else(|| format!("no container {container:?}"))?;
    editable(node, &format!("container {container}"))?;
    let env = node.ensure("env", Node::seq).ok_or("the container is not a mapping")?;
    editable(env, &format!("env of {container}"))?;
    if env.items().any(|e| e.str_at(&["name"]) == Some(name)) {
        return Ok(Vec::new());
    }
    env.push(Node::map().with("name", Node::str(name)).with("value", Node::str(value)));
    Ok(vec![Change(format!("container {container}: env {name}={value}"))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;

    #[test]
    fn cases() {
        let src = "containers:\n  - name: db\n    image: postgres:16\n";
        assert_eq!(
            run_rule(src, |p| set(p, "db", "PGDATA", "/var/lib/postgresql/data/pgdata")).unwrap(),
            "containers:\n  - name: db\n    image: postgres:16\n    env:\n      - name: PGDATA\n        value: /var/lib/postgresql/data/pgdata\n"
        );
        // A variable the container sets is left as it is.
        let set_already = "containers:\n- name: db\n  env:\n  - {name: PGDATA, value: /x}\n";
        assert_eq!(run_rule(set_already, |p| set(p, "db", "PGDATA", "/y")).unwrap(), set_already);
        assert!(run_rule(src, |p| set(p, "nope", "A", "b")).unwrap_err().contains("no container"));
    }
}
