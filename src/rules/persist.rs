//! The rewrite of one workload: the rules, in order, for the chosen mode.

use super::add_claim::{self, ClaimSpec};
use super::locate::{locate, Located};
use super::{
    add_env, add_mount, fit_name, fs_group, headless, pairs, pod_spec, pod_spec_mut, strategy, to_statefulset, verify,
    Change,
};
use crate::decide::select::WorkloadKind;
use crate::decide::{Mode, Plan};
use crate::yaml::Node;

/// What the rest of the stream tells a rewrite.
pub struct Env<'a> {
    pub name: &'a str,
    /// The object's own `metadata.namespace`, copied onto new objects.
    pub namespace: Option<&'a str>,
    /// An existing headless Service that selects the pods.
    pub headless: Option<String>,
    /// Access modes of a claim the stream defines, by name.
    pub claim_modes: &'a dyn Fn(&str) -> Option<Vec<String>>,
    /// Annotations every new object gets (Helm 4's postrender filename).
    pub annotations: Vec<(&'static str, String)>,
    /// Size for a claim when nothing else gives one.
    pub default_size: &'a str,
    /// The workload runs already (a live object, or one `--cluster` found):
    /// its data exists and its data directories stay where they are.
    pub data_exists: bool,
    /// `--per-pod-data`: several replicas may each get their own claims.
    pub per_pod_data: bool,
}

#[derive(Debug, Default)]
pub struct Rewritten {
    pub changes: Vec<Change>,
    /// Paths left alone, with the reason.
    pub skipped: Vec<String>,
    pub new_objects: Vec<Node>,
    pub warnings: Vec<String>,
    /// The Deployment became a StatefulSet.
    pub converted: bool,
}

/// Rewrite `obj` (a workload) by `plan`. `before` is the object as the input
/// had it: the final check compares the two.
pub fn rewrite(obj: &mut Node, before: &Node, kind: WorkloadKind, plan: &Plan, env: &Env) -> Result<Rewritten, String> {
    let kind_s = kind.as_str();
    let pod = pod_spec(obj, kind_s).ok_or("the workload has no pod template (spec.template.spec)")?;
    let templates: Vec<String> = obj
        .path(&["spec", "volumeClaimTemplates"])
        .into_iter()
        .flat_map(|t| t.items())
        .filter_map(|t| t.str_at(&["metadata", "name"]).map(str::to_string))
        .collect();
    let Located { converts, news, skips } = locate(pod, &templates, &plan.paths)?;
    let mut out = Rewritten::default();
    for s in &skips {
        out.skipped.push(format!("{}: {}", plan.paths[s.req].path, s.why));
    }
    let claim_for = |req: usize, volume: Option<&str>| ClaimSpec {
        size: plan.paths[req]
            .size
            .clone()
            .or_else(|| volume.and_then(|v| add_claim::size_limit(pod, v)))
            .unwrap_or_else(|| env.default_size.to_string()),
        storage_class: plan.paths[req].storage_class.clone(),
        access_modes: plan.paths[req].access_modes.clone(),
    };
    let converts_req: Vec<usize> = converts.iter().map(|(_, r)| *r).collect();
    let converts: Vec<(String, ClaimSpec)> =
        converts.iter().map(|(v, r)| (v.clone(), claim_for(*r, Some(v)))).collect();
    let news: Vec<(&super::locate::NewVolume, ClaimSpec)> = news.iter().map(|n| (n, claim_for(n.req, None))).collect();
    let replicas = obj.path(&["spec", "replicas"]).map_or(Some(1), Node::as_i64).unwrap_or(1);
    let selector = pairs(obj.path(&["spec", "selector", "matchLabels"]));
    let nonroot = fs_group::nonroot_without_fs_group(pod);

    // Paths asked for that are already on a claim which may be ReadWriteOnce
    // (unknown claims may be): the Deployment must not roll over them.
    let skipped_rwo =
        skips.iter().filter_map(|s| s.claim.as_deref()).chain(plan.on_claims.iter().map(String::as_str)).any(|c| {
            (env.claim_modes)(c).is_none_or(|m| m.iter().any(|m| m == "ReadWriteOnce" || m == "ReadWriteOncePod"))
        });
    if converts.is_empty() && news.is_empty() {
        // Everything asked for is already on a claim (or must stay as it is).
        let rwo = skipped_rwo;
        if kind == WorkloadKind::Deployment && rwo {
            out.changes.extend(strategy::recreate(obj)?);
        }
        if kind == WorkloadKind::Deployment {
            out.warnings.extend(strategy::shared_rwo_warning(obj, env.name, env.claim_modes));
        }
        verify::verify(before, kind_s, obj, kind_s)?;
        return Ok(out);
    }

    let mode =
        if kind == WorkloadKind::StatefulSet && plan.mode == Mode::StatefulSet { Mode::StatefulSet } else { plan.mode };
    match mode {
        Mode::StatefulSet => {
            if kind == WorkloadKind::Deployment && replicas > 1 {
                // Every pod of a StatefulSet mounts the same plain claim volume:
                // fine for ReadWriteMany, not for a claim one node can hold.
                let shared: Vec<String> = pod
                    .get("volumes")
                    .into_iter()
                    .flat_map(|v| v.items())
                    .filter_map(|v| v.str_at(&["persistentVolumeClaim", "claimName"]))
                    .filter(|c| {
                        (env.claim_modes)(c)
                            .is_none_or(|m| !m.iter().any(|m| m == "ReadWriteMany" || m == "ReadOnlyMany"))
                    })
                    .map(str::to_string)
                    .collect();
                if !shared.is_empty() {
                    return Err(format!(
                        "{} has {replicas} replicas and mounts claim {} (ReadWriteOnce, or its access mode is not in the input); \
                         as a StatefulSet every pod would need that one claim. Scale it to 1 replica, move the data to a \
                         ReadWriteMany claim, or use --mode pvc (the Deployment stays) if it does not run as a \
                         StatefulSet already: one that does keeps its data on its own claims",
                        env.name,
                        shared.join(", ")
                    ));
                }
            }
            // A running app's pods each hold their own data already (each its
            // emptyDir or layer); the live switch carries each into its claim.
            if kind == WorkloadKind::Deployment && replicas > 1 && !env.per_pod_data && !env.data_exists {
                // Each pod of a StatefulSet gets its own claims: three
                // replicas would be three separate, diverging datasets.
                return Err(format!(
                    "{} has {replicas} replicas; as a StatefulSet each pod would get its own, empty claims, and each \
                     replica would keep a dataset of its own. Scale it to 1 replica; or, for an app that replicates or \
                     shards its data itself, add --per-pod-data; or keep one shared claim with --mode pvc \
                     (ReadWriteOnce: Recreate, one node)",
                    env.name
                ));
            }
            if kind == WorkloadKind::Deployment {
                let service = env.headless.clone().unwrap_or_else(|| headless::default_name(env.name));
                if env.headless.is_none() {
                    let labels = pairs(obj.path(&["metadata", "labels"]));
                    let sel = if selector.is_empty() {
                        pairs(obj.path(&["spec", "template", "metadata", "labels"]))
                    } else {
                        selector.clone()
                    };
                    out.new_objects.push(headless::service(&service, env.namespace, &labels, &sel, &env.annotations));
                    out.changes.push(Change(format!("new headless Service {service}")));
                }
                out.changes.extend(to_statefulset::apply(obj, &service)?);
                out.converted = true;
            }
            for (v, claim) in &converts {
                let pod = pod_spec_mut(obj, kind_s).expect("checked");
                out.changes.extend(add_claim::remove_volume(pod, v)?);
                out.changes.extend(add_claim::add_template(obj, v, claim)?);
            }
            for (n, claim) in &news {
                out.changes.extend(add_claim::add_template(obj, &n.name, claim)?);
                let pod = pod_spec_mut(obj, kind_s).expect("checked");
                for c in &n.containers {
                    out.changes.extend(add_mount::add(pod, c, &n.name, &n.path)?);
                }
            }
        }
        Mode::Pvc => {
            // As when nothing is added (so a second run changes nothing).
            let mut rwo = skipped_rwo;
            let mut add_object = |claim_name: &str, claim: &ClaimSpec, out: &mut Rewritten| {
                rwo |= claim.read_write_once();
                out.new_objects.push(add_claim::claim_object(
                    claim_name,
                    env.namespace,
                    &selector,
                    &env.annotations,
                    claim,
                ));
                out.changes.push(Change(format!(
                    "new PersistentVolumeClaim {claim_name}: {} (kept on helm uninstall)",
                    claim.describe()
                )));
            };
            for (v, claim) in &converts {
                let claim_name = fit_name(&format!("{}-{v}", env.name), 253);
                if (env.claim_modes)(&claim_name).is_some() {
                    return Err(format!("a PersistentVolumeClaim named {claim_name} is already in the input; it would be shared by accident"));
                }
                let pod = pod_spec_mut(obj, kind_s).expect("checked");
                out.changes.extend(add_claim::volume_to_claim(pod, v, &claim_name)?);
                add_object(&claim_name, claim, &mut out);
            }
            for (n, claim) in &news {
                let claim_name = fit_name(&format!("{}-{}", env.name, n.name), 253);
                if (env.claim_modes)(&claim_name).is_some() {
                    return Err(format!("a PersistentVolumeClaim named {claim_name} is already in the input; it would be shared by accident"));
                }
                let pod = pod_spec_mut(obj, kind_s).expect("checked");
                out.changes.extend(add_claim::add_claim_volume(pod, &n.name, &claim_name)?);
                for c in &n.containers {
                    out.changes.extend(add_mount::add(pod, c, &n.name, &n.path)?);
                }
                add_object(&claim_name, claim, &mut out);
            }
            if rwo && kind == WorkloadKind::Deployment {
                out.changes.extend(strategy::recreate(obj)?);
            }
            if rwo && replicas > 1 {
                out.warnings.push(format!(
                    "{} has {replicas} replicas sharing ReadWriteOnce claims: pods on other nodes cannot start; use --access-mode ReadWriteMany only for files several pods may write at once (never a database's: two servers on one data directory corrupt it; run one replica), or --mode statefulset --per-pod-data so each pod gets its own claim (for an app that does not already keep data on a claim)",
                    env.name
                ));
            } else if kind == WorkloadKind::Deployment {
                // The new claims are shared safely; claims it had already may not be.
                out.warnings.extend(strategy::shared_rwo_warning(obj, env.name, env.claim_modes));
            }
        }
    }
    // Paths that get a new claim, whose image initialises only in an empty
    // directory: a new block volume's root holds lost+found.
    let fresh: Vec<usize> = converts_req.iter().copied().chain(news.iter().map(|(n, _)| n.req)).collect();
    for r in fresh {
        let req = &plan.paths[r];
        for n in &req.needs_empty {
            match (&n.fix, env.data_exists) {
                (Some((var, value)), false) => {
                    let pod = pod_spec_mut(obj, kind_s).expect("checked");
                    out.changes.extend(
                        add_env::set(pod, &n.container, var, value)?
                            .into_iter()
                            .map(|c| Change(format!("{} (image {} initialises only in an empty directory, and a new claim's root may hold lost+found; {})", c.0, n.image, n.source))),
                    );
                }
                (_, true) => {}
                (None, false) => out.warnings.push(format!(
                    "container {} of {}: image {} initialises its data only in an empty directory, and a new claim's root \
                     on block storage holds lost+found; point it at a folder inside {} ({})",
                    n.container, env.name, n.image, req.path, n.source
                )),
            }
        }
    }
    let gid = plan.fs_group;
    let pod = pod_spec_mut(obj, kind_s).expect("checked");
    match gid {
        Some(g) => {
            let (ch, warn) = fs_group::apply(pod, g)?;
            out.changes.extend(ch);
            out.warnings.extend(warn);
        }
        None => {
            if let Some(c) = nonroot {
                out.warnings.push(format!(
                    "container {c} of {} runs as non-root and the pod sets no fsGroup: the new claim may not be writable (use --fs-group GID)",
                    env.name
                ));
            }
        }
    }
    let after_kind = if out.converted { "StatefulSet" } else { kind_s };
    verify::verify(before, kind_s, obj, after_kind)
        .map_err(|e| format!("internal check failed, nothing written: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{PathReq, Source};
    use crate::yaml::parse;

    fn deployment(replicas: u32) -> Node {
        let src = format!(
            "kind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        volumeMounts:\n        - {{name: up, mountPath: /uploads}}\n      volumes:\n      - name: up\n        persistentVolumeClaim: {{claimName: uploads}}\n"
        );
        parse::parse(&src, &Default::default()).unwrap().unwrap()
    }

    fn run(replicas: u32, modes: Option<Vec<String>>, mode: Mode) -> Result<Rewritten, String> {
        let plan = Plan {
            mode,
            paths: vec![PathReq {
                path: "/data".into(),
                access_modes: vec!["ReadWriteOnce".into()],
                ..PathReq::new(Source::Flag)
            }],
            fs_group: None,
            notes: vec![],
            warnings: vec![],
            on_claims: vec![],
        };
        let claim_modes = move |c: &str| if c == "uploads" { modes.clone() } else { None };
        let env = Env {
            name: "web",
            namespace: None,
            headless: None,
            claim_modes: &claim_modes,
            annotations: vec![],
            default_size: "1Gi",
            data_exists: false,
            per_pod_data: true,
        };
        let before = deployment(replicas);
        let mut obj = before.clone();
        rewrite(&mut obj, &before, WorkloadKind::Deployment, &plan, &env)
    }

    #[test]
    fn a_shared_read_write_once_claim_stops_a_multi_replica_switch() {
        let e = run(3, Some(vec!["ReadWriteOnce".into()]), Mode::StatefulSet).unwrap_err();
        assert!(e.contains("3 replicas") && e.contains("uploads") && e.contains("--mode pvc"), "{e}");
        assert!(run(3, None, Mode::StatefulSet).is_err(), "an unknown access mode is treated as ReadWriteOnce");
        assert!(run(3, Some(vec!["ReadWriteMany".into()]), Mode::StatefulSet).unwrap().converted);
        assert!(run(1, Some(vec!["ReadWriteOnce".into()]), Mode::StatefulSet).unwrap().converted);
        assert!(!run(3, Some(vec!["ReadWriteOnce".into()]), Mode::Pvc).unwrap().converted);
    }
}
