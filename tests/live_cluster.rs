//! Against a real API server: runs when PERSIST_TEST_KUBECONFIG names a
//! kubeconfig (a cluster whose controller manager runs; no kubelet needed),
//! and says that it skipped otherwise. Each test creates and deletes its own
//! namespace. kubectl is taken from KUBECTL_BIN, else PATH.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

fn kubeconfig() -> Option<String> {
    match std::env::var("PERSIST_TEST_KUBECONFIG") {
        Ok(k) if !k.is_empty() => Some(k),
        _ => {
            eprintln!("SKIPPED: live-cluster tests need PERSIST_TEST_KUBECONFIG (a kubeconfig of a test cluster)");
            None
        }
    }
}

struct Ns {
    name: String,
    kc: String,
}

impl Ns {
    fn new(kc: &str, tag: &str) -> Ns {
        let name = format!("persist-it-{tag}-{}", std::process::id());
        let ns = Ns { name, kc: kc.to_string() };
        ns.kubectl(&["create", "namespace", &ns.name]);
        ns
    }

    fn kubectl_raw(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let bin = std::env::var("KUBECTL_BIN").unwrap_or_else(|_| "kubectl".into());
        let o = common::output(
            Command::new(bin).arg("--kubeconfig").arg(&self.kc).args(args),
            stdin.unwrap_or("").as_bytes(),
        );
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into(),
            String::from_utf8_lossy(&o.stderr).into(),
        )
    }

    fn kubectl(&self, args: &[&str]) -> String {
        let (code, out, err) = self.kubectl_raw(args, None);
        assert_eq!(code, 0, "kubectl {args:?}: {err}");
        out
    }

    fn apply(&self, yaml: &str) {
        let (code, _, err) = self.kubectl_raw(&["apply", "-n", &self.name, "-f", "-"], Some(yaml));
        assert_eq!(code, 0, "kubectl apply: {err}\n{yaml}");
    }

    fn get(&self, what: &str) -> Option<Value> {
        let (code, out, _) = self.kubectl_raw(&["get", "-n", &self.name, what, "-o", "json"], None);
        (code == 0).then(|| serde_json::from_str(&out).unwrap())
    }

    /// Run kubectl-persist in this namespace (a subcommand stays first, as
    /// `kubectl persist status -n NS` is written).
    fn persist(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let (sub, rest) = match args.first() {
            Some(&"status") => (vec!["status"], &args[1..]),
            _ => (vec![], args),
        };
        let mut all = sub;
        all.extend(["--kubeconfig", self.kc.as_str(), "-n", self.name.as_str()]);
        all.extend_from_slice(rest);
        if stdin.is_empty() {
            // Live mode: nothing piped in.
            return common::run_no_stdin(&all);
        }
        common::run(&all, stdin.as_bytes())
    }

    fn wait_for(&self, what: &str, secs: u64) -> Value {
        let start = Instant::now();
        loop {
            if let Some(v) = self.get(what) {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(secs), "{what} did not appear in {secs}s");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = self.kubectl_raw(&["delete", "namespace", &self.name, "--wait=false"], None);
    }
}

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
