//! The headless Service a StatefulSet names in `serviceName`: an existing one
//! that selects the pods, else a new `<name>-headless`.

use super::fit_name;
use crate::yaml::Node;

/// The selector of a headless Service (`clusterIP: None`) that selects pods;
/// `None` for any other Service.
pub fn headless_selector(service: &Node) -> Option<Vec<(String, String)>> {
    let spec = service.get("spec")?;
    if spec.str_at(&["clusterIP"]) != Some("None") {
        return None;
    }
    // A selector whose values are not strings (no valid Service has one)
    // selects nothing.
    let pairs = super::pairs(spec.get("selector"));
    (!pairs.is_empty()).then_some(pairs)
}

/// Does this Service object select the pods with these labels, headless?
pub fn selects(service: &Node, pod_labels: &[(String, String)]) -> bool {
    headless_selector(service).is_some_and(|sel| sel.iter().all(|p| pod_labels.contains(p)))
}

/// Name of the Service this tool creates for a StatefulSet `name`.
pub fn default_name(name: &str) -> String {
    fit_name(&format!("{name}-headless"), 63)
}

/// A headless Service selecting the workload's pods. No ports: a headless
/// Service only needs to exist for the pods' DNS names.
pub fn service(
    name: &str,
    namespace: Option<&str>,
    labels: &[(String, String)],
    selector: &[(String, String)],
    annotations: &[(&str, String)],
) -> Node {
    let meta = super::new_metadata(name, namespace, labels, annotations);
    Node::map()
        .with("apiVersion", Node::str("v1"))
        .with("kind", Node::str("Service"))
        .with("metadata", meta)
        .with("spec", Node::map().with("clusterIP", Node::str("None")).with("selector", super::string_map(selector)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn selection() {
        let labels = vec![("app".to_string(), "web".to_string()), ("tier".to_string(), "x".to_string())];
        let svc = |s: &str| parse::parse(s, &Default::default()).unwrap().unwrap();
        assert!(selects(&svc("spec:\n  clusterIP: None\n  selector: {app: web}\n"), &labels));
        assert!(!selects(&svc("spec:\n  selector: {app: web}\n"), &labels));
        assert!(!selects(&svc("spec:\n  clusterIP: None\n  selector: {app: db}\n"), &labels));
        assert!(!selects(&svc("spec:\n  clusterIP: None\n"), &labels));
        // Found by the fuzzer: a selector value that is a map selected nothing and panicked.
        assert_eq!(headless_selector(&svc("spec:\n  clusterIP: None\n  selector:\n    a:\n      b: c\n")), None);
        assert_eq!(default_name("web"), "web-headless");
        assert!(default_name(&"a".repeat(70)).len() <= 63);
    }
}
