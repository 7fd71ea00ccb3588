//! Claims: a volumeClaimTemplate on a StatefulSet, or a standalone
//! PersistentVolumeClaim with the pod volume pointing at it.

use super::{editable, Change, RuleResult};
use crate::yaml::Node;

/// What a new claim asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimSpec {
    pub size: String,
    pub storage_class: Option<String>,
    pub access_modes: Vec<String>,
}

impl ClaimSpec {
    pub fn node(&self) -> Node {
        let mut modes = Node::seq();
        for m in &self.access_modes {
            modes.push(Node::str(m.as_str()));
        }
        let mut spec = Node::map().with("accessModes", modes);
        if let Some(sc) = &self.storage_class {
            spec.set("storageClassName", Node::str(sc.as_str()));
        }
        spec.with("resources", Node::map().with("requests", Node::map().with("storage", Node::str(self.size.as_str()))))
    }

    pub fn describe(&self) -> String {
        format!(
            "{}, {}, storage class {}",
            self.size,
            self.access_modes.join("+"),
            self.storage_class.as_deref().unwrap_or("(cluster default)")
        )
    }

    pub fn read_write_once(&self) -> bool {
        self.access_modes.iter().any(|m| m == "ReadWriteOnce" || m == "ReadWriteOncePod")
    }
}

/// Append a volumeClaimTemplate. Its metadata holds only the name: anything
/// else (labels that carry a chart version) would change on upgrade, and the
/// templates of a StatefulSet cannot change.
pub fn add_template(obj: &mut Node, name: &str, claim: &ClaimSpec) -> RuleResult {
    let spec = obj.get_mut("spec").ok_or("the object has no spec")?;
    editable(spec, "spec")?;
    let templates = spec.ensure("volumeClaimTemplates", Node::seq).ok_or("spec is not a mapping")?;
    editable(templates, "spec.volumeClaimTemplates")?;
    if templates.items().any(|t| t.str_at(&["metadata", "name"]) == Some(name)) {
        return Err(format!("a volumeClaimTemplate named {name} already exists"));
    }
    templates.push(Node::map().with("metadata", Node::map().with("name", Node::str(name))).with("spec", claim.node()));
    Ok(vec![Change(format!("volumeClaimTemplate {name}: {}", claim.describe()))])
}

fn volumes_mut(pod: &mut Node) -> RuleResult<&mut Node> {
    let v = pod.get_mut("volumes").ok_or("the pod has no volumes")?;
    editable(v, "volumes")?;
    Ok(v)
}

/// The emptyDir volume's `sizeLimit`, if it has one.
pub fn size_limit(pod: &Node, volume: &str) -> Option<String> {
    pod.get("volumes")?
        .items()
        .find(|v| v.str_at(&["name"]) == Some(volume))?
        .str_at(&["emptyDir", "sizeLimit"])
        .map(str::to_string)
}

/// StatefulSet mode: the emptyDir leaves the pod's volumes; a claim template
/// of the same name takes its place, so every mount keeps pointing at it.
pub fn remove_volume(pod: &mut Node, name: &str) -> RuleResult {
    let vols = volumes_mut(pod)?;
    if let Some(v) = vols.items().find(|v| v.str_at(&["name"]) == Some(name)) {
        if v.anchor.is_some() {
            return Err(format!("volume {name} carries a YAML anchor that other parts may use; expand it first"));
        }
    }
    vols.retain_items(|v| v.str_at(&["name"]) != Some(name));
    if vols.is_empty() {
        pod.remove("volumes");
    }
    Ok(vec![Change(format!("emptyDir volume {name} → volumeClaimTemplate {name}"))])
}

/// pvc mode: the emptyDir volume now points at a claim; its name stays.
pub fn volume_to_claim(pod: &mut Node, name: &str, claim: &str) -> RuleResult {
    let vols = volumes_mut(pod)?;
    let vol =
        vols.items_mut().find(|v| v.str_at(&["name"]) == Some(name)).ok_or_else(|| format!("no volume {name}"))?;
    editable(vol, &format!("volume {name}"))?;
    vol.remove("emptyDir");
    vol.set("persistentVolumeClaim", Node::map().with("claimName", Node::str(claim)));
    Ok(vec![Change(format!("emptyDir volume {name} → claim {claim}"))])
}

/// pvc mode: a new pod volume backed by a claim.
pub fn add_claim_volume(pod: &mut Node, name: &str, claim: &str) -> RuleResult {
    editable(pod, "the pod spec")?;
    let vols = pod.ensure("volumes", Node::seq).ok_or("the pod spec is not a mapping")?;
    editable(vols, "volumes")?;
    vols.push(
        Node::map()
            .with("name", Node::str(name))
            .with("persistentVolumeClaim", Node::map().with("claimName", Node::str(claim))),
    );
    Ok(vec![Change(format!("volume {name} → claim {claim}"))])
}

/// A standalone claim object, kept when its Helm release is uninstalled.
pub fn claim_object(
    name: &str,
    namespace: Option<&str>,
    labels: &[(String, String)],
    annotations: &[(&str, String)],
    claim: &ClaimSpec,
) -> Node {
    // Kept when its Helm release is uninstalled.
    let mut ann: Vec<(&str, String)> = vec![("helm.sh/resource-policy", "keep".to_string())];
    ann.extend(annotations.iter().cloned());
    let meta = super::new_metadata(name, namespace, labels, &ann);
    Node::map()
        .with("apiVersion", Node::str("v1"))
        .with("kind", Node::str("PersistentVolumeClaim"))
        .with("metadata", meta)
        .with("spec", claim.node())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::run_rule;

    fn claim() -> ClaimSpec {
        ClaimSpec { size: "1Gi".into(), storage_class: Some("fast".into()), access_modes: vec!["ReadWriteOnce".into()] }
    }

    #[test]
    fn template_added() {
        let out = run_rule("spec:\n  replicas: 1\n", |n| add_template(n, "data", &claim())).unwrap();
        assert_eq!(out, "spec:\n  replicas: 1\n  volumeClaimTemplates:\n    - metadata:\n        name: data\n      spec:\n        accessModes:\n          - ReadWriteOnce\n        storageClassName: fast\n        resources:\n          requests:\n            storage: 1Gi\n");
        assert!(run_rule("spec:\n  volumeClaimTemplates:\n  - metadata: {name: data}\n", |n| add_template(
            n,
            "data",
            &claim()
        ))
        .is_err());
    }

    #[test]
    fn volume_switches() {
        let src = "volumes:\n- name: data\n  emptyDir: {}\n- name: cfg\n  configMap:\n    name: c\n";
        assert_eq!(
            run_rule(src, |p| remove_volume(p, "data")).unwrap(),
            "volumes:\n- name: cfg\n  configMap:\n    name: c\n"
        );
        assert_eq!(
            run_rule(src, |p| volume_to_claim(p, "data", "web-data")).unwrap(),
            "volumes:\n- name: data\n  persistentVolumeClaim:\n    claimName: web-data\n- name: cfg\n  configMap:\n    name: c\n"
        );
        assert_eq!(run_rule("volumes:\n- name: data\n  emptyDir: {}\n", |p| remove_volume(p, "data")).unwrap(), "{}\n");
        assert_eq!(
            size_limit(
                &crate::yaml::parse::parse("volumes:\n- name: d\n  emptyDir: {sizeLimit: 3Gi}\n", &Default::default())
                    .unwrap()
                    .unwrap(),
                "d"
            )
            .as_deref(),
            Some("3Gi")
        );
    }
}
