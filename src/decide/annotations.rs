//! `kubectl-persist/*` annotations on a workload, so chart users can switch
//! persistence on through values. The workload's own annotations are read
//! first; the pod template's are the fallback (charts often expose only
//! `podAnnotations`).

use super::config::{ModeName, Settings};
use super::values;
use crate::yaml::Node;

pub const PREFIX: &str = "kubectl-persist/";

/// The annotation names, for messages and docs.
pub const KNOWN: [&str; 7] = ["paths", "size", "storage-class", "access-mode", "skip", "mode", "fs-group"];

/// Written by live mode during a switch (see `live`), not by users.
const INTERNAL: [&str; 1] = ["original-replicas"];

#[derive(Debug, Default, Clone)]
pub struct Annotations {
    pub paths: Vec<(Option<String>, String)>,
    pub skip: bool,
    pub settings: Settings,
}

pub fn read(obj: &Node) -> Result<Annotations, String> {
    let mut out = Annotations::default();
    let sources = [obj.path(&["metadata", "annotations"]), obj.path(&["spec", "template", "metadata", "annotations"])];
    let mut seen: Vec<&str> = Vec::new();
    for ann in sources.into_iter().flatten() {
        for e in ann.entries() {
            let Some(key) = e.key.key_str() else { continue };
            let Some(name) = key.strip_prefix(PREFIX) else { continue };
            if INTERNAL.contains(&name) {
                continue;
            }
            if seen.contains(&name) {
                continue; // the workload's own annotation wins
            }
            seen.push(name);
            let value = e.value.as_str().unwrap_or_default().trim();
            let bad = |m: String| format!("{key}: {m}");
            match name {
                "paths" => {
                    for spec in value.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
                        out.paths.push(values::parse_path_spec(spec).map_err(bad)?);
                    }
                }
                "size" => out.settings.size = Some(values::check_quantity(value).map_err(bad)?),
                "storage-class" => out.settings.storage_class = Some(values::check_storage_class(value).map_err(bad)?),
                "access-mode" => {
                    let modes: Vec<&str> = value.split(',').collect();
                    let modes = values::check_access_modes(&modes).map_err(bad)?;
                    out.settings.access_modes = Some(modes);
                }
                // One rule, as the config file's `skip:`: true or false (any
                // case); "yes", "off" or "" are errors, not guesses.
                "skip" => {
                    out.skip = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad(format!("{value:?} is not \"true\" or \"false\""))),
                    }
                }
                "mode" => {
                    out.settings.mode = Some(match value {
                        "statefulset" => ModeName::Statefulset,
                        "pvc" => ModeName::Pvc,
                        _ => return Err(bad(format!("{value:?} is not statefulset or pvc"))),
                    })
                }
                "fs-group" => {
                    let gid = value.parse().map_err(|_| bad(format!("{value:?} is not a group id")))?;
                    out.settings.fs_group = Some(values::check_fs_group(gid).map_err(bad)?)
                }
                // Quiesce hooks, read by the live switch's carry (carry::Hooks).
                h if h.starts_with("pre.hook.") || h.starts_with("post.hook.") => {
                    let field = h.split_once(".hook.").map_or("", |x| x.1);
                    if !["container", "command", "timeout", "on-error"].contains(&field) {
                        return Err(format!(
                            "{key}: not a hook annotation (known: {{pre,post}}.hook.{{container,command,timeout,on-error}})"
                        ));
                    }
                }
                _ => return Err(format!("{key}: not a kubectl-persist annotation (known: {})", KNOWN.join(", "))),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn ann(src: &str) -> Result<Annotations, String> {
        read(&parse::parse(src, &Default::default()).unwrap().unwrap())
    }

    #[test]
    fn reads_all_keys() {
        let a = ann("metadata:\n  annotations:\n    kubectl-persist/paths: /data, app:/config\n    kubectl-persist/size: 5Gi\n    kubectl-persist/storage-class: fast\n    kubectl-persist/access-mode: RWX\n    kubectl-persist/mode: pvc\n    other: x\n").unwrap();
        assert_eq!(a.paths, vec![(None, "/data".into()), (Some("app".into()), "/config".into())]);
        assert_eq!(a.settings.size.as_deref(), Some("5Gi"));
        assert_eq!(a.settings.storage_class.as_deref(), Some("fast"));
        assert_eq!(a.settings.access_modes, Some(vec!["ReadWriteMany".into()]));
        assert_eq!(a.settings.mode, Some(ModeName::Pvc));
    }

    #[test]
    fn workload_wins_over_pod_template() {
        let a = ann("metadata:\n  annotations:\n    kubectl-persist/size: 5Gi\nspec:\n  template:\n    metadata:\n      annotations:\n        kubectl-persist/size: 1Gi\n        kubectl-persist/skip: \"true\"\n").unwrap();
        assert_eq!(a.settings.size.as_deref(), Some("5Gi"));
        assert!(a.skip);
    }

    #[test]
    fn hook_annotations_are_known() {
        let a = ann("metadata:\n  annotations:\n    kubectl-persist/pre.hook.command: sync\n    kubectl-persist/post.hook.on-error: Continue\n");
        assert!(a.is_ok(), "{a:?}");
        let e = ann("metadata:\n  annotations:\n    kubectl-persist/pre.hook.cmd: sync\n").unwrap_err();
        assert!(e.contains("not a hook annotation"), "{e}");
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(ann("metadata:\n  annotations:\n    kubectl-persist/size: big\n")
            .unwrap_err()
            .contains("kubectl-persist/size"));
        assert!(ann("metadata:\n  annotations:\n    kubectl-persist/path: /x\n")
            .unwrap_err()
            .contains("not a kubectl-persist annotation"));
        assert!(ann("metadata:\n  annotations:\n    kubectl-persist/paths: data\n")
            .unwrap_err()
            .contains("not absolute"));
    }
}
