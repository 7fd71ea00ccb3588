//! Find out, for each requested path, what serves it today: an emptyDir to
//! switch to a claim, nothing (a new volume), or something that already keeps
//! the data or must not be touched (left alone and reported).

use super::{container_names, RuleResult};
use crate::decide::PathReq;
use crate::yaml::Node;

/// What to do for the requested paths of one pod template.
#[derive(Debug, Default, PartialEq)]
pub struct Located {
    /// emptyDir volumes that become claims (name, index of the request).
    pub converts: Vec<(String, usize)>,
    /// Paths nothing mounts: a new volume mounted in these containers.
    pub news: Vec<NewVolume>,
    /// Paths left alone, with the reason.
    pub skips: Vec<Skip>,
}

#[derive(Debug, PartialEq)]
pub struct NewVolume {
    pub name: String,
    pub path: String,
    pub containers: Vec<String>,
    pub req: usize,
}

#[derive(Debug, PartialEq)]
pub struct Skip {
    pub req: usize,
    pub why: String,
    /// The claim that already holds the path, if one does.
    pub claim: Option<String>,
}

/// How a pod volume keeps its data.
#[derive(Debug, PartialEq)]
enum Source {
    EmptyDir {
        memory: bool,
    },
    Claim(String),
    Template(String),
    ReadOnlyContent(&'static str),
    Persistent(String),
    Ephemeral,
    Missing,
    /// Written through a YAML merge key or alias: not read here.
    Merged,
}

fn volume_source(pod: &Node, templates: &[String], name: &str) -> Source {
    let vol = pod.get("volumes").into_iter().flat_map(|v| v.items()).find(|v| v.str_at(&["name"]) == Some(name));
    let Some(vol) = vol else {
        if templates.iter().any(|t| t == name) {
            return Source::Template(name.to_string());
        }
        // A volume whose name comes through a merge key or an alias.
        if pod.get("volumes").into_iter().flat_map(|v| v.items()).any(|v| v.is_alias() || super::has_merge_key(v)) {
            return Source::Merged;
        }
        return Source::Missing;
    };
    if vol.is_alias() || super::has_merge_key(vol) {
        return Source::Merged;
    }
    if super::is_empty_dir(vol) && vol.get("emptyDir").is_none() {
        // Only a name: Kubernetes makes it an emptyDir.
        return Source::EmptyDir { memory: false };
    }
    for e in vol.entries() {
        match e.key.key_str() {
            Some("emptyDir") => {
                let memory = e.value.str_at(&["medium"]) == Some("Memory");
                return Source::EmptyDir { memory };
            }
            Some("persistentVolumeClaim") => {
                return Source::Claim(e.value.str_at(&["claimName"]).unwrap_or_default().to_string())
            }
            Some(k @ ("configMap" | "secret" | "projected" | "downwardAPI")) => {
                return Source::ReadOnlyContent(match k {
                    "configMap" => "configMap",
                    "secret" => "secret",
                    "projected" => "projected",
                    _ => "downwardAPI",
                })
            }
            Some("ephemeral") => return Source::Ephemeral,
            Some("name") | None => {}
            Some(other) => return Source::Persistent(other.to_string()),
        }
    }
    Source::Missing
}

/// Mounts of a container: (mountPath normalised, volume name).
fn mounts<'n>(pod: &'n Node, container: &str) -> Vec<(String, &'n str)> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.get(f))
        .flat_map(|c| c.items())
        .filter(|c| c.str_at(&["name"]) == Some(container))
        .flat_map(|c| c.get("volumeMounts").into_iter().flat_map(|m| m.items()))
        .filter_map(|m| {
            let p = m.str_at(&["mountPath"])?;
            Some((crate::decide::values::normalize_path(p), m.str_at(&["name"])?))
        })
        .collect()
}

fn under(path: &str, dir: &str) -> bool {
    dir == "/" || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// Decide, for each request, what serves its path. `templates` are the names
/// of existing volumeClaimTemplates (StatefulSets).
pub fn locate(pod: &Node, templates: &[String], reqs: &[PathReq]) -> RuleResult<Located> {
    let apps = container_names(pod, "containers");
    let inits = container_names(pod, "initContainers");
    if apps.is_empty() {
        return Err("the pod template has no containers".into());
    }
    let mut out = Located::default();
    let mut taken: Vec<String> = pod
        .get("volumes")
        .into_iter()
        .flat_map(|v| v.items())
        .filter_map(|v| v.str_at(&["name"]).map(str::to_string))
        .chain(templates.iter().cloned())
        .collect();
    for (i, req) in reqs.iter().enumerate() {
        let targets: Vec<String> = match &req.container {
            Some(c) if apps.contains(c) || inits.contains(c) => vec![c.clone()],
            Some(c) => {
                return Err(format!(
                    "container {c:?} (from {}) is not in the pod; its containers are: {}",
                    req.source.describe(),
                    apps.iter().chain(&inits).cloned().collect::<Vec<_>>().join(", ")
                ))
            }
            None => apps.clone(),
        };
        // Who mounts exactly this path? Any container counts unless one was named.
        let scope: Vec<&String> =
            if req.container.is_some() { targets.iter().collect() } else { apps.iter().chain(&inits).collect() };
        let mut at_path: Vec<&str> =
            scope.iter().flat_map(|c| mounts(pod, c)).filter(|(p, _)| *p == req.path).map(|(_, v)| v).collect();
        at_path.sort();
        at_path.dedup();
        if !at_path.is_empty() {
            for v in at_path {
                match volume_source(pod, templates, v) {
                    Source::EmptyDir { .. } => {
                        if !out.converts.iter().any(|(n, _)| n == v) {
                            out.converts.push((v.to_string(), i));
                        }
                    }
                    Source::Claim(c) => out.skips.push(Skip {
                        req: i,
                        why: format!("already on claim {c} (volume {v})"),
                        claim: Some(c),
                    }),
                    Source::Template(t) => out.skips.push(Skip {
                        req: i,
                        why: format!("already on volumeClaimTemplate {t}"),
                        claim: Some(t),
                    }),
                    Source::ReadOnlyContent(k) => out.skips.push(Skip {
                        req: i,
                        why: format!("served by {k} volume {v}, which holds content, not data; left alone"),
                        claim: None,
                    }),
                    Source::Persistent(k) => out.skips.push(Skip {
                        req: i,
                        why: format!("already on {k} volume {v}; left alone"),
                        claim: None,
                    }),
                    Source::Ephemeral => out.skips.push(Skip {
                        req: i,
                        why: format!("on generic ephemeral volume {v} (a claim deleted with its pod); left alone, change it by hand"),
                        claim: None,
                    }),
                    Source::Merged => {
                        return Err(format!(
                            "a volumeMount at {} names volume {v:?}, which the pod defines through a YAML merge key \
                             ('<<') or alias; kubectl-persist does not read through those: write the volume out in \
                             full in the pod's volumes",
                            req.path
                        ))
                    }
                    Source::Missing => {
                        return Err(format!("a volumeMount at {} names volume {v:?}, which the pod does not define", req.path))
                    }
                }
            }
            continue;
        }
        // Nothing mounts the path: is it inside something that already keeps data?
        let parent = targets
            .iter()
            .flat_map(|c| mounts(pod, c))
            .filter(|(p, _)| under(&req.path, p))
            .max_by_key(|(p, _)| p.len());
        if let Some((dir, v)) = parent {
            let why = match volume_source(pod, templates, v) {
                Source::Claim(c) => Some((format!("already persistent: inside {dir}, on claim {c}"), Some(c))),
                Source::Template(t) => {
                    Some((format!("already persistent: inside {dir}, on volumeClaimTemplate {t}"), Some(t)))
                }
                Source::Persistent(k) => Some((format!("already persistent: inside {dir}, on {k} volume {v}"), None)),
                Source::ReadOnlyContent(k) => Some((
                    format!("inside {dir}, a read-only {k} volume where no mount point can be made; left alone"),
                    None,
                )),
                _ => None,
            };
            if let Some((why, claim)) = why {
                out.skips.push(Skip { req: i, why, claim });
                continue;
            }
        }
        let name = req.claim_name.clone().unwrap_or_else(|| super::slug(&req.path));
        if let Some(n) = out.news.iter().find(|n| n.name == name) {
            return Err(format!(
                "paths {} and {} would both use the volume name {name:?}; give one a claimName in the config file",
                n.path, req.path
            ));
        }
        if taken.contains(&name) {
            return Err(format!(
                "the volume name {name:?} for {} is already used by another volume of the pod; give the path a claimName in the config file",
                req.path
            ));
        }
        taken.push(name.clone());
        out.news.push(NewVolume { name, path: req.path.clone(), containers: targets, req: i });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{PathReq, Source as ReqSource};
    use crate::yaml::parse;

    fn req(path: &str, container: Option<&str>) -> PathReq {
        PathReq { path: path.into(), container: container.map(String::from), ..PathReq::new(ReqSource::Flag) }
    }

    fn pod(src: &str) -> Node {
        parse::parse(src, &Default::default()).unwrap().unwrap()
    }

    const POD: &str = "containers:\n- name: app\n  volumeMounts:\n  - {name: cache, mountPath: /cache}\n  - {name: data, mountPath: /data/}\n  - {name: old, mountPath: /srv}\n  - {name: cfg, mountPath: /etc/app}\n- name: side\ninitContainers:\n- name: init\n  volumeMounts:\n  - {name: data, mountPath: /data}\nvolumes:\n- {name: cache, emptyDir: {medium: Memory}}\n- {name: data, emptyDir: {}}\n- {name: old, persistentVolumeClaim: {claimName: old-pvc}}\n- {name: cfg, configMap: {name: c}}\n";

    #[test]
    fn cases() {
        let p = pod(POD);
        let l = locate(&p, &[], &[req("/data", None)]).unwrap();
        assert_eq!(l.converts, vec![("data".to_string(), 0)]);
        let l = locate(&p, &[], &[req("/new", None)]).unwrap();
        assert_eq!(
            l.news,
            vec![NewVolume {
                name: "new".into(),
                path: "/new".into(),
                containers: vec!["app".into(), "side".into()],
                req: 0
            }]
        );
        let l = locate(&p, &[], &[req("/new", Some("side"))]).unwrap();
        assert_eq!(l.news[0].containers, vec!["side".to_string()]);
        let l = locate(&p, &[], &[req("/srv", None), req("/srv/x", Some("app")), req("/etc/app", None)]).unwrap();
        assert_eq!(l.skips.len(), 3);
        assert_eq!(l.skips[0].claim.as_deref(), Some("old-pvc"));
        assert!(l.skips[1].why.contains("inside /srv"));
        assert!(l.skips[2].why.contains("configMap"));
        assert!(locate(&p, &[], &[req("/x", Some("nope"))]).unwrap_err().contains("app, side, init"));
        assert!(locate(
            &p,
            &[],
            &[req("/cfg", None), PathReq { claim_name: Some("cfg".into()), ..req("/other", None) }]
        )
        .unwrap_err()
        .contains("already used"));
        assert!(locate(&pod("containers: []\n"), &[], &[req("/x", None)]).unwrap_err().contains("no containers"));
    }

    #[test]
    fn a_volume_with_only_a_name_is_an_empty_dir_and_merged_ones_are_refused() {
        let mounts = "containers:\n- name: app\n  volumeMounts:\n  - {name: data, mountPath: /data}\n";
        let p = pod(&format!("{mounts}volumes:\n- name: data\n"));
        assert_eq!(locate(&p, &[], &[req("/data", None)]).unwrap().converts, vec![("data".to_string(), 0)]);
        let p = pod(&format!("{mounts}volumes:\n- <<: {{name: data, emptyDir: {{}}}}\n"));
        let e = locate(&p, &[], &[req("/data", None)]).unwrap_err();
        assert!(e.contains("merge key") && e.contains("write the volume out in full"), "{e}");
    }
}
