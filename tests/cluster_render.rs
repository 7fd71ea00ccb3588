//! Cluster-aware rendering (`--cluster`) through the library: the live
//! StatefulSets come in as `Options::live_workloads`, as the binary reads
//! them, so these cases need no cluster. What a `helm upgrade` through the
//! post-renderer must never do: move the app to other claims, leave the
//! StatefulSet without its governing Service, or send the API server a
//! selector it rejects halfway through the upgrade.

use kubectl_persist::decide::Mode;
use kubectl_persist::{transform, Input, Options};
use serde_json::{json, Value};

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          volumeMounts:
            - {name: data, mountPath: /data}
      volumes:
        - name: data
          emptyDir: {}
";

/// The StatefulSet a first render through kubectl-persist made, as it runs.
fn live() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {
            "replicas": 1, "serviceName": "web-headless",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }
    })
}

fn render(text: &str, mode: Option<Mode>) -> Result<String, String> {
    let inputs = vec![Input { name: "chart.yaml".into(), bytes: text.as_bytes().to_vec() }];
    let opts = Options {
        paths: vec![(None, "/data".into())],
        mode,
        namespace: Some("demo".into()),
        live_workloads: vec![live()],
        ..Options::default()
    };
    let out = transform(&inputs, &opts).map_err(|e| e.to_string())?;
    Ok(kubectl_persist::emit::yaml(&out))
}

#[test]
fn an_upgrade_keeps_the_live_statefulset_and_its_service() {
    let out = render(DEPLOYMENT, None).unwrap();
    assert!(out.contains("kind: StatefulSet") && out.contains("serviceName: web-headless"), "{out}");
    assert_eq!(out.matches("name: web-headless").count(), 1, "{out}");
}

#[test]
fn switching_a_running_statefulset_to_pvc_mode_is_refused() {
    let err = render(DEPLOYMENT, Some(Mode::Pvc)).unwrap_err();
    assert!(err.contains("statefulset/web runs in the cluster") && err.contains("empty claims"), "{err}");
}

#[test]
fn the_live_service_name_gets_its_service_when_the_chart_brings_another() {
    // The chart now has its own headless Service for the pods, which the
    // render prefers; the live serviceName cannot change, so its Service stays.
    let chart = format!(
        "{DEPLOYMENT}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-peers\nspec:\n  clusterIP: None\n  selector: {{app: web}}\n"
    );
    let out = render(&chart, None).unwrap();
    assert!(out.contains("serviceName: web-headless"), "{out}");
    assert!(out.contains("name: web-headless\n") && out.contains("clusterIP: None"), "{out}");
    // Idempotent: the added Service is there on the next run, not added twice.
    let again = render(&out, None).unwrap();
    assert_eq!(again.matches("name: web-headless\n").count(), 1, "{again}");
}

#[test]
fn a_hook_service_never_governs_the_statefulset() {
    let chart = format!(
        "{DEPLOYMENT}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web-hook\n  annotations:\n    helm.sh/hook: pre-install\nspec:\n  clusterIP: None\n  selector: {{app: web}}\n"
    );
    let inputs = vec![Input { name: "chart.yaml".into(), bytes: chart.into_bytes() }];
    let opts = Options { paths: vec![(None, "/data".into())], ..Options::default() };
    let out = kubectl_persist::emit::yaml(&transform(&inputs, &opts).unwrap());
    assert!(out.contains("serviceName: web-headless"), "{out}");
}

#[test]
fn pod_labels_that_left_the_live_selector_are_an_error_not_a_rejected_upgrade() {
    let chart = DEPLOYMENT
        .replace("app: web}\n    spec", "app: other}\n    spec")
        .replace("matchLabels: {app: web}", "matchLabels: {app: other}");
    let err = render(&chart, None).unwrap_err();
    assert!(err.contains("selects pods by app=web"), "{err}");
}

#[test]
fn an_app_installed_in_pvc_mode_is_not_moved_to_new_claims() {
    // `--mode pvc` made the emptyDir `data` a claim; a later default-mode
    // render would make `data` a claim template: new, empty claims.
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"template": {"spec": {
            "containers": [{"name": "web", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]}}}
    });
    let inputs = vec![Input { name: "chart.yaml".into(), bytes: DEPLOYMENT.as_bytes().to_vec() }];
    let opts = Options {
        paths: vec![(None, "/data".into())],
        namespace: Some("demo".into()),
        live_workloads: vec![deployment.clone()],
        ..Options::default()
    };
    let err = transform(&inputs, &opts).unwrap_err().to_string();
    assert!(err.contains("deployment/web runs in the cluster with its data on claim web-data (volume data)"), "{err}");
    // The same render in pvc mode keeps the app where it is.
    let opts = Options { mode: Some(Mode::Pvc), ..opts };
    let out = kubectl_persist::emit::yaml(&transform(&inputs, &opts).unwrap());
    assert!(out.contains("claimName: web-data"), "{out}");
}

#[test]
fn the_kubeconfig_namespace_finds_live_objects_without_narrowing_the_selection() {
    // --cluster without -n: live objects were read from the context's
    // namespace; a Deployment that names its own namespace is still converted.
    let other_ns = DEPLOYMENT.replace("  name: web\n", "  name: api\n  namespace: other\n");
    let stream = format!("{DEPLOYMENT}---\n{other_ns}");
    let inputs = vec![Input { name: "chart.yaml".into(), bytes: stream.into_bytes() }];
    let mut running = live();
    running["spec"]["serviceName"] = json!("web-peers");
    let opts = Options {
        paths: vec![(None, "/data".into())],
        live_namespace: Some("demo".into()),
        live_workloads: vec![running],
        ..Options::default()
    };
    let out = kubectl_persist::emit::yaml(&transform(&inputs, &opts).unwrap());
    assert_eq!(out.matches("kind: StatefulSet").count(), 2, "{out}");
    // web matched the live StatefulSet in demo: its live serviceName stays.
    assert!(out.contains("serviceName: web-peers"), "{out}");
}

/// A live Deployment, as the API server returns it, keeping /data in an emptyDir.
fn live_deployment(replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "web", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
            "volumes": [{"name": "data", "emptyDir": {}}]}}},
        "status": {"replicas": replicas}
    })
}

fn render_over(live: Value, mode: Option<Mode>, carry: kubectl_persist::carry::Mode) -> Result<String, String> {
    let inputs = vec![Input { name: "chart.yaml".into(), bytes: DEPLOYMENT.as_bytes().to_vec() }];
    let opts = Options {
        paths: vec![(None, "/data".into())],
        mode,
        size: Some("2Gi".into()),
        namespace: Some("demo".into()),
        live_workloads: vec![live],
        carry,
        ..Options::default()
    };
    let out = transform(&inputs, &opts).map_err(|e| e.to_string())?;
    Ok(kubectl_persist::emit::yaml(&out))
}

#[test]
fn an_upgrade_that_would_start_a_running_app_on_empty_claims_names_the_command_that_carries_its_data() {
    use kubectl_persist::carry::Mode as Carry;
    for mode in [None, Some(Mode::Pvc)] {
        let err = render_over(live_deployment(1), mode, Carry::Auto).unwrap_err();
        assert!(
            err.contains("deployment/web runs in namespace demo with its data in web:/data (emptyDir data)"),
            "{err}"
        );
        let mode_flag = if mode.is_some() { " --mode pvc" } else { "" };
        assert!(
            err.contains(&format!("kubectl persist deployment/web -n demo --path /data{mode_flag} --size 2Gi")),
            "{err}"
        );
        // On purpose: empty claims.
        assert!(render_over(live_deployment(1), mode, Carry::None).is_ok());
        // Nothing runs, nothing to carry.
        assert!(render_over(live_deployment(0), mode, Carry::Auto).is_ok());
    }
}
