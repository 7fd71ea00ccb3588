//! `kubectl persist status`, the pure part: for live workloads and claims,
//! one row per data path saying where it lives — on a claim (with phase,
//! capacity, storage class and retention), on a claim template, or still in an
//! emptyDir or the container layer (those found by detection).

use serde::Serialize;
use serde_json::Value;

use crate::decide::detect;
use crate::live::json_to_node;
use crate::Options;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub path: String,
    pub container: String,
    /// claim, claimTemplate, emptyDir, containerLayer, hostPath, ...
    pub storage: String,
    pub claims: Vec<String>,
    /// The claims' phases (null: no claim exists yet, or the claim is missing).
    pub phase: Option<String>,
    pub capacity: Option<String>,
    /// null: the cluster's default class.
    pub storage_class: Option<String>,
    /// What happens to the data when the workload goes (null: nothing keeps it on purpose).
    pub retention: Option<String>,
    /// The data survives a redeploy.
    pub persistent: bool,
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Rows for these workloads (Deployments, StatefulSets) given the claims of
/// their namespaces.
pub fn rows(workloads: &[Value], claims: &[Value], opts: &Options) -> Vec<Row> {
    let mut out = Vec::new();
    for w in workloads {
        let kind = s(&w["kind"]);
        let ns = s(&w["metadata"]["namespace"]);
        let name = s(&w["metadata"]["name"]);
        let pod = &w["spec"]["template"]["spec"];
        let replicas = w["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
        let claim =
            |cn: &str| claims.iter().find(|c| c["metadata"]["name"] == cn && c["metadata"]["namespace"] == ns.as_str());
        let volumes: Vec<&Value> = pod["volumes"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        let templates: Vec<&Value> =
            w["spec"]["volumeClaimTemplates"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        let mut mounted: Vec<String> = Vec::new();
        for c in pod["containers"].as_array().into_iter().flatten() {
            let cname = s(&c["name"]);
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                let vname = s(&m["name"]);
                let path = s(&m["mountPath"]);
                let base = Row {
                    namespace: ns.clone(),
                    kind: kind.clone(),
                    name: name.clone(),
                    path: path.clone(),
                    container: cname.clone(),
                    storage: String::new(),
                    claims: Vec::new(),
                    phase: None,
                    capacity: None,
                    storage_class: None,
                    retention: None,
                    persistent: false,
                };
                let row = if let Some(t) = templates.iter().find(|t| t["metadata"]["name"] == vname.as_str()) {
                    let names: Vec<String> = (0..replicas).map(|i| format!("{vname}-{name}-{i}")).collect();
                    let found: Vec<&Value> = names.iter().filter_map(|n| claim(n)).collect();
                    let retention =
                        w["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"].as_str().unwrap_or("Retain");
                    Row {
                        storage: "claimTemplate".into(),
                        phase: join(found.iter().map(|c| s(&c["status"]["phase"]))),
                        capacity: join(found.iter().map(|c| s(&c["status"]["capacity"]["storage"]))),
                        storage_class: t["spec"]["storageClassName"].as_str().map(str::to_string),
                        retention: Some(format!("{retention} on delete")),
                        claims: names,
                        persistent: true,
                        ..base
                    }
                } else if let Some(v) = volumes.iter().find(|v| v["name"] == vname.as_str()) {
                    if let Some(cn) = v["persistentVolumeClaim"]["claimName"].as_str() {
                        let c = claim(cn);
                        let keep = c.is_some_and(|c| c["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep");
                        Row {
                            storage: "claim".into(),
                            claims: vec![cn.to_string()],
                            phase: join(c.map(|c| s(&c["status"]["phase"])).into_iter()),
                            capacity: join(c.map(|c| s(&c["status"]["capacity"]["storage"])).into_iter()),
                            storage_class: c.and_then(|c| c["spec"]["storageClassName"].as_str()).map(str::to_string),
                            retention: keep.then(|| "kept on helm uninstall".into()),
                            persistent: true,
                            ..base
                        }
                    } else if v.get("emptyDir").is_some() {
                        Row { storage: "emptyDir".into(), retention: Some("lost with the pod".into()), ..base }
                    } else if v.get("hostPath").is_some() {
                        Row {
                            storage: "hostPath".into(),
                            retention: Some("stays on the node".into()),
                            persistent: true,
                            ..base
                        }
                    } else {
                        // configMap, secret, projected...: content, not data.
                        continue;
                    }
                } else {
                    continue;
                };
                mounted.push(path);
                // Two containers mounting one volume at one path: one row.
                let same = |r: &Row| Row { container: row.container.clone(), ..r.clone() } == row;
                match out.iter_mut().find(|r| same(r)) {
                    Some(r) => r.container = format!("{},{}", r.container, row.container),
                    None => out.push(row),
                }
            }
        }
        // Paths detection finds that nothing mounts: data in the container layer.
        let obj_node = json_to_node(w);
        let Some(pod_node) = obj_node.path(&["spec", "template", "spec"]) else { continue };
        for p in detect::detect(&obj_node, &kind, pod_node, opts) {
            if p.confidence == detect::Confidence::None || mounted.contains(&p.path) {
                continue;
            }
            out.push(Row {
                namespace: ns.clone(),
                kind: kind.clone(),
                name: name.clone(),
                path: p.path.clone(),
                container: p.container.clone().unwrap_or_default(),
                storage: "containerLayer".into(),
                claims: Vec::new(),
                phase: None,
                capacity: None,
                storage_class: None,
                retention: Some("lost with the pod".into()),
                persistent: false,
            });
        }
    }
    out
}

fn join(it: impl Iterator<Item = String>) -> Option<String> {
    let mut v: Vec<String> = it.filter(|x| !x.is_empty()).collect();
    v.dedup();
    (!v.is_empty()).then(|| v.join(","))
}

/// A kubectl-style table.
pub fn table(rows: &[Row], all_namespaces: bool) -> String {
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut head = vec!["KIND", "NAME", "PATH", "STORAGE", "CLAIMS", "PHASE", "CAPACITY", "CLASS", "RETENTION"];
    if all_namespaces {
        head.insert(0, "NAMESPACE");
    }
    lines.push(head.iter().map(|h| h.to_string()).collect());
    for r in rows {
        let or = |x: &Option<String>, none: &str| x.clone().unwrap_or_else(|| none.to_string());
        let on_claim = matches!(r.storage.as_str(), "claim" | "claimTemplate");
        let (no_phase, no_class) = match r.storage.as_str() {
            "claim" => ("(missing)", "(default)"),
            "claimTemplate" => ("(none yet)", "(default)"),
            _ => ("-", "-"),
        };
        let mut l = vec![
            r.kind.to_ascii_lowercase(),
            r.name.clone(),
            r.path.clone(),
            r.storage.clone(),
            if r.claims.is_empty() { "-".into() } else { r.claims.join(",") },
            or(&r.phase, no_phase),
            or(&r.capacity, "-"),
            or(&r.storage_class, if on_claim { no_class } else { "-" }),
            or(&r.retention, "-"),
        ];
        if all_namespaces {
            l.insert(0, r.namespace.clone());
        }
        lines.push(l);
    }
    let widths: Vec<usize> =
        (0..lines[0].len()).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for l in lines {
        let cells: Vec<String> = l.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_say_where_each_path_lives() {
        let sts = json!({"kind": "StatefulSet", "metadata": {"name": "db", "namespace": "demo"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "db", "image": "postgres:16",
                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}, {"name": "tmp", "mountPath": "/tmp"}]}],
                "volumes": [{"name": "tmp", "emptyDir": {}}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"storageClassName": "fast"}}]}});
        let dep = json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx",
                "volumeMounts": [{"name": "up", "mountPath": "/uploads"}]}],
                "volumes": [{"name": "up", "persistentVolumeClaim": {"claimName": "web-up"}}]}}}});
        let claims = vec![
            json!({"metadata": {"name": "data-db-0", "namespace": "demo"}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}}),
            json!({"metadata": {"name": "web-up", "namespace": "demo", "annotations": {"helm.sh/resource-policy": "keep"}},
                   "spec": {"storageClassName": "slow"}, "status": {"phase": "Pending"}}),
        ];
        let r = rows(&[sts, dep], &claims, &Options::default());
        let find = |p: &str| r.iter().find(|x| x.path == p).unwrap();
        let data = find("/var/lib/postgresql/data");
        assert_eq!(
            (data.storage.as_str(), data.claims.len(), data.phase.as_deref()),
            ("claimTemplate", 2, Some("Bound"))
        );
        assert_eq!(data.retention.as_deref(), Some("Retain on delete"));
        assert_eq!(find("/tmp").storage, "emptyDir");
        let up = find("/uploads");
        assert_eq!(
            (up.storage.as_str(), up.retention.as_deref(), up.storage_class.as_deref()),
            ("claim", Some("kept on helm uninstall"), Some("slow"))
        );
        // Two containers on one claim at one path: one row naming both.
        let two = json!({"kind": "Deployment", "metadata": {"name": "w", "namespace": "demo"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "a", "image": "nginx", "volumeMounts": [{"name": "up", "mountPath": "/up"}]},
                {"name": "b", "image": "nginx", "volumeMounts": [{"name": "up", "mountPath": "/up"}]}],
                "volumes": [{"name": "up", "persistentVolumeClaim": {"claimName": "web-up"}}]}}}});
        let r2 = rows(&[two], &claims, &Options::default());
        assert_eq!((r2.len(), r2[0].container.as_str()), (1, "a,b"));
        // Scripts get null, not the table's placeholders.
        assert_eq!(find("/tmp").capacity, None);
        let t = table(&r, false);
        assert!(t.starts_with("KIND ") && t.contains("statefulset   db"), "{t}");
    }
}
