//! A last check on every rewritten workload, before anything is written:
//! nothing the pod had is lost or re-pointed, and every mount names a volume
//! that exists. A failure here is a bug in a rule; the run stops instead of
//! writing a manifest that could lose data.

use super::pod_spec;
use crate::yaml::Node;

pub fn verify(before: &Node, before_kind: &str, after: &Node, after_kind: &str) -> Result<(), String> {
    let (Some(pb), Some(pa)) = (pod_spec(before, before_kind), pod_spec(after, after_kind)) else {
        return Err("the pod template disappeared".into());
    };
    let vols = |p: &Node| -> Vec<(String, Node)> {
        p.get("volumes")
            .into_iter()
            .flat_map(|v| v.items())
            .filter_map(|v| Some((v.str_at(&["name"])?.to_string(), v.clone())))
            .collect()
    };
    let templates: Vec<String> = after
        .path(&["spec", "volumeClaimTemplates"])
        .into_iter()
        .flat_map(|t| t.items())
        .filter_map(|t| t.str_at(&["metadata", "name"]).map(str::to_string))
        .collect();
    let after_vols = vols(pa);
    for (name, v) in vols(pb) {
        match after_vols.iter().find(|(n, _)| *n == name) {
            Some((_, nv)) if nv.same_value(&v) => {}
            Some((_, nv)) if super::is_empty_dir(&v) && nv.get("persistentVolumeClaim").is_some() => {}
            None if super::is_empty_dir(&v) && templates.contains(&name) => {}
            Some(_) => return Err(format!("volume {name} was changed")),
            None => return Err(format!("volume {name} was removed")),
        }
        if let Some(claim) = v.str_at(&["persistentVolumeClaim", "claimName"]) {
            let still = after_vols
                .iter()
                .any(|(n, nv)| *n == name && nv.str_at(&["persistentVolumeClaim", "claimName"]) == Some(claim));
            if !still {
                return Err(format!("volume {name} no longer points at claim {claim}"));
            }
        }
    }
    // Old templates stay as they were.
    for t in before.path(&["spec", "volumeClaimTemplates"]).into_iter().flat_map(|t| t.items()) {
        let n = t.str_at(&["metadata", "name"]).unwrap_or_default();
        let kept =
            after.path(&["spec", "volumeClaimTemplates"]).into_iter().flat_map(|t| t.items()).any(|a| a.same_value(t));
        if !kept {
            return Err(format!("volumeClaimTemplate {n} was changed or removed"));
        }
    }
    // Every mount names a volume or a template; no mount was lost.
    let names: Vec<&str> =
        after_vols.iter().map(|(n, _)| n.as_str()).chain(templates.iter().map(String::as_str)).collect();
    for field in ["containers", "initContainers"] {
        let cb: Vec<&Node> = pb.get(field).into_iter().flat_map(|c| c.items()).collect();
        let ca: Vec<&Node> = pa.get(field).into_iter().flat_map(|c| c.items()).collect();
        if cb.len() != ca.len() {
            return Err(format!("the number of {field} changed"));
        }
        for (b, a) in cb.iter().zip(&ca) {
            let cname = a.str_at(&["name"]).unwrap_or("?");
            let ma: Vec<&Node> = a.get("volumeMounts").into_iter().flat_map(|m| m.items()).collect();
            for m in b.get("volumeMounts").into_iter().flat_map(|m| m.items()) {
                if !ma.iter().any(|x| x.same_value(m)) {
                    return Err(format!("container {cname} lost a volumeMount"));
                }
            }
            for m in &ma {
                let v = m.str_at(&["name"]).unwrap_or_default();
                if !names.contains(&v) {
                    return Err(format!(
                        "container {cname} mounts {v}, which is neither a volume nor a claim template"
                    ));
                }
            }
        }
    }
    Ok(())
}
