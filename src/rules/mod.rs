//! The rewrite: one small rule per file, each editing one object tree and
//! reporting what it changed. `persist::rewrite` composes them for a workload.
//!
//! Where a pod template lives is data ([`pod_template_path`]); rules never
//! spell those paths themselves.

pub mod add_claim;
pub mod add_env;
pub mod add_mount;
pub mod fs_group;
pub mod headless;
pub mod keep_live;
pub mod locate;
pub mod persist;
pub mod scale_targets;
pub mod strategy;
pub mod to_statefulset;
pub mod verify;

use crate::yaml::Node;

/// One edit, for `--explain` and the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Change(pub String);

pub type RuleResult<T = Vec<Change>> = Result<T, String>;

/// Path from an object to its pod template, by kind.
pub fn pod_template_path(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some(&["spec", "template"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

/// The pod spec of a workload object (or of a Pod).
pub fn pod_spec<'n>(obj: &'n Node, kind: &str) -> Option<&'n Node> {
    if kind == "Pod" {
        return obj.get("spec");
    }
    obj.path(pod_template_path(kind)?)?.get("spec")
}

pub fn pod_spec_mut<'n>(obj: &'n mut Node, kind: &str) -> Option<&'n mut Node> {
    if kind == "Pod" {
        return obj.get_mut("spec");
    }
    obj.path_mut(pod_template_path(kind)?)?.get_mut("spec")
}

/// Refuse to edit through YAML aliases and merge keys: the edit would change
/// other parts of the document, or be shadowed by merged keys.
pub fn editable(n: &Node, what: &str) -> RuleResult<()> {
    if n.is_alias() {
        return Err(format!("{what} is a YAML alias; kubectl-persist does not edit through aliases (expand it first)"));
    }
    if has_merge_key(n) {
        return Err(format!(
            "{what} uses a YAML merge key ('<<'); kubectl-persist does not edit merged mappings: write the merged \
             keys out in this mapping instead of '<<: *anchor' (kubectl reads both the same)"
        ));
    }
    Ok(())
}

/// A mapping with a `<<` merge key: some of its keys come from elsewhere.
pub fn has_merge_key(n: &Node) -> bool {
    n.entries().iter().any(|e| e.key.key_str() == Some("<<"))
}

/// A volume that Kubernetes gives an emptyDir: one with `emptyDir`, or one
/// with only a name (the API server defaults its source to an emptyDir).
pub fn is_empty_dir(vol: &Node) -> bool {
    vol.get("emptyDir").is_some() || (vol.is_map() && vol.entries().iter().all(|e| e.key.key_str() == Some("name")))
}

/// The names of the containers of a pod spec, app containers first.
pub fn container_names(pod: &Node, field: &str) -> Vec<String> {
    pod.get(field).into_iter().flat_map(|c| c.items()).filter_map(|c| c.str_at(&["name"]).map(str::to_string)).collect()
}

/// A new string-to-string mapping (labels, annotations, selectors).
/// A string map's entries (labels, a selector), owned; none for a missing node.
pub fn pairs(n: Option<&Node>) -> Vec<(String, String)> {
    n.map(|l| l.string_pairs().into_iter().map(|(k, v)| (k.to_string(), v.into_owned())).collect()).unwrap_or_default()
}

pub fn string_map<K: AsRef<str>>(pairs: &[(K, String)]) -> Node {
    pairs.iter().fold(Node::map(), |m, (k, v)| m.with(k.as_ref(), Node::str(v.as_str())))
}

/// Metadata of an object this tool adds: name, the workload's namespace (if
/// it names one), labels and annotations (when there are any).
pub fn new_metadata(
    name: &str,
    namespace: Option<&str>,
    labels: &[(String, String)],
    annotations: &[(&str, String)],
) -> Node {
    let mut meta = Node::map().with("name", Node::str(name));
    if let Some(ns) = namespace {
        meta.set("namespace", Node::str(ns));
    }
    if !labels.is_empty() {
        meta.set("labels", string_map(labels));
    }
    if !annotations.is_empty() {
        meta.set("annotations", string_map(annotations));
    }
    meta
}

/// Deterministic DNS-label name for a path: `/var/lib/data` → `var-lib-data`.
/// Long names keep a hash suffix so different paths never share a name.
pub fn slug(path: &str) -> String {
    let mut s = String::new();
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_matches('-').to_string();
    let s = if s.is_empty() { "data".to_string() } else { s };
    fit_name(&s, 63)
}

/// Shorten a name to `max` characters deterministically, keeping it unique by
/// a hash of the full name.
pub fn fit_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()) as u32);
    let keep = max - hash.len() - 1;
    let head = name[..keep].trim_end_matches('-');
    format!("{head}-{hash}")
}

/// FNV-1a: stable across builds and platforms (std's hasher is not).
pub fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Shared test runner: given an object in YAML, apply a rule to it and get
/// the rendered text back (checked to parse and to mean the edited tree).
#[cfg(test)]
pub(crate) fn run_rule<T>(src: &str, rule: impl FnOnce(&mut Node) -> RuleResult<T>) -> Result<String, String> {
    use crate::yaml::{parse, render};
    let orig = parse::parse(src, &Default::default()).unwrap().unwrap();
    let mut new = orig.clone();
    rule(&mut new)?;
    let style = render::DocStyle::detect(src, &orig);
    let mut out = String::new();
    render::Renderer { src, style: &style }.document(&orig, &new, &mut out);
    let back = parse::parse(&out, &Default::default()).unwrap_or_else(|e| panic!("{out}\n{e:?}")).unwrap();
    assert!(back.same_value(&new), "rendered text differs from the edited tree:\n{out}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("/data"), "data");
        assert_eq!(slug("/var/lib/postgresql/data"), "var-lib-postgresql-data");
        assert_eq!(slug("/Some Dir/x_y"), "some-dir-x-y");
        assert_eq!(slug("/"), "data");
        let long = format!("/{}", "a".repeat(100));
        let s = slug(&long);
        assert!(s.len() <= 63 && crate::decide::values::is_dns_label(&s), "{s}");
        assert_ne!(slug(&long), slug(&format!("{long}b")));
    }
}
