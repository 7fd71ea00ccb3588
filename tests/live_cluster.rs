//! Against a real API server: runs when PERSIST_TEST_KUBECONFIG names a
//! kubeconfig (a cluster whose controller manager runs; no kubelet needed),
//! and says that it skipped otherwise. Each test creates and deletes its own
//! namespace. kubectl is taken from KUBECTL_BIN, else PATH.

mod common;

use common::cluster::{kubeconfig, Ns};
use serde_json::Value;

const APP: &str = "\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: uploads
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27
          volumeMounts:
            - name: uploads
              mountPath: /uploads
      volumes:
        - name: uploads
          persistentVolumeClaim:
            claimName: uploads
";

#[test]
#[cfg_attr(
    not(persist_live),
    ignore = "needs a cluster: tests/live.sh starts ../shared/tools/realk8s and sets PERSIST_TEST_KUBECONFIG"
)]
fn switch_end_to_end_then_nothing_to_do_then_status() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "switch");
    ns.apply(APP);
    let (code, out, err) = ns.persist(&["deployment/web", "--path", "/data", "--wait=false"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "a live switch writes its progress to stderr: {out}");
    assert!(err.contains("deployment/web → statefulset/web"), "{err}");
    assert!(ns.get("deployment/web").is_none(), "the Deployment is gone");
    let sts = ns.get("statefulset/web").expect("the StatefulSet exists");
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
    assert_eq!(sts["spec"]["replicas"], 1);
    let vols = sts["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
    assert!(
        vols.iter().any(|v| v["persistentVolumeClaim"]["claimName"] == "uploads"),
        "the existing claim is still mounted"
    );
    // The StatefulSet controller creates the claim of ordinal 0.
    ns.wait_for("pvc/data-web-0", 60);
    assert!(ns.get("pvc/uploads").is_some(), "the pre-existing claim is untouched");
    assert!(ns.get("service/web-headless").is_some());

    let rv = sts["metadata"]["resourceVersion"].clone();
    let (code, _, err) = ns.persist(&["deployment/web", "--path", "/data", "--wait=false"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to do"), "{err}");
    assert_eq!(ns.get("statefulset/web").unwrap()["metadata"]["resourceVersion"], rv, "the second run changed nothing");

    let (code, out, err) = ns.persist(&["status"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("statefulset") && out.contains("/data") && out.contains("data-web-0"), "{out}");
    assert!(out.contains("/uploads") && out.contains("uploads"), "{out}");
    let (code, out, _) = ns.persist(&["status", "-o", "json"], "");
    assert_eq!(code, 0);
    let rows: Value = serde_json::from_str(&out).unwrap();
    assert!(rows.as_array().unwrap().iter().all(|r| r["persistent"] == true), "{rows}");
}

#[test]
#[cfg_attr(
    not(persist_live),
    ignore = "needs a cluster: tests/live.sh starts ../shared/tools/realk8s and sets PERSIST_TEST_KUBECONFIG"
)]
fn dry_run_server_changes_nothing() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "dryrun");
    ns.apply(APP);
    let (code, out, err) = ns.persist(&["deployment/web", "--path", "/data", "--dry-run=server"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: StatefulSet") && out.contains("volumeClaimTemplates"), "{out}");
    assert!(ns.get("deployment/web").is_some() && ns.get("statefulset/web").is_none(), "nothing changed");
    let (code, out, _) = ns.persist(&["deployment/web", "--path", "/data", "--dry-run=client", "-o", "diff"], "");
    assert_eq!(code, 0);
    assert!(out.contains("-  \"kind\": \"Deployment\"") || out.contains("+  \"kind\": \"StatefulSet\""), "{out}");
}

#[test]
#[cfg_attr(
    not(persist_live),
    ignore = "needs a cluster: tests/live.sh starts ../shared/tools/realk8s and sets PERSIST_TEST_KUBECONFIG"
)]
fn an_upgrade_style_render_keeps_the_live_templates() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "upgrade");
    ns.apply(APP);
    let (code, _, err) = ns.persist(&["deployment/web", "--path", "/data", "--wait=false"], "");
    assert_eq!(code, 0, "{err}");
    // The chart's next version: another image and port, a bigger size asked for.
    let next = APP.replace("nginx:1.27", "nginx:1.28").replace(
        "          volumeMounts:",
        "          ports:\n            - containerPort: 8080\n          volumeMounts:",
    );
    let (code, out, err) = ns.persist(&["--cluster", "--path", "/data"], &next);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = ns.kubectl_raw(&["apply", "-n", &ns.name, "-f", "-"], Some(&out));
    assert_eq!(code, 0, "the upgraded render applies without touching immutable fields: {err}\n{out}");
    let sts = ns.get("statefulset/web").unwrap();
    assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.28");
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"], "data");
    // A new path cannot be added to a live StatefulSet: a clear error.
    let (code, out, err) = ns.persist(&["--cluster", "--path", "/data", "--path", "/more"], &next);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("no volumeClaimTemplate more"), "{err}");
}
