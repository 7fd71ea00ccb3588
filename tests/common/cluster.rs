//! A namespace of a real test cluster (PERSIST_TEST_KUBECONFIG) for the
//! live suites: kubectl in it, kubectl-persist in it, deleted on drop.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn kubeconfig() -> Option<String> {
    match std::env::var("PERSIST_TEST_KUBECONFIG") {
        Ok(k) if !k.is_empty() => Some(k),
        _ => {
            eprintln!("SKIPPED: live-cluster tests need PERSIST_TEST_KUBECONFIG (a kubeconfig of a test cluster)");
            None
        }
    }
}

pub struct Ns {
    pub name: String,
    pub kc: String,
}

impl Ns {
    pub fn new(kc: &str, tag: &str) -> Ns {
        let name = format!("persist-it-{tag}-{}", std::process::id());
        let ns = Ns { name, kc: kc.to_string() };
        ns.kubectl(&["create", "namespace", &ns.name]);
        ns
    }

    pub fn kubectl_raw(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let bin = std::env::var("KUBECTL_BIN").unwrap_or_else(|_| "kubectl".into());
        let o = super::output(
            Command::new(bin).arg("--kubeconfig").arg(&self.kc).args(args),
            stdin.unwrap_or("").as_bytes(),
        );
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into(),
            String::from_utf8_lossy(&o.stderr).into(),
        )
    }

    pub fn kubectl(&self, args: &[&str]) -> String {
        let (code, out, err) = self.kubectl_raw(args, None);
        assert_eq!(code, 0, "kubectl {args:?}: {err}");
        out
    }

    pub fn apply(&self, yaml: &str) {
        let (code, _, err) = self.kubectl_raw(&["apply", "-n", &self.name, "-f", "-"], Some(yaml));
        assert_eq!(code, 0, "kubectl apply: {err}\n{yaml}");
    }

    pub fn get(&self, what: &str) -> Option<Value> {
        let (code, out, _) = self.kubectl_raw(&["get", "-n", &self.name, what, "-o", "json"], None);
        (code == 0).then(|| serde_json::from_str(&out).unwrap())
    }

    /// Run kubectl-persist in this namespace (a subcommand stays first, as
    /// `kubectl persist status -n NS` is written).
    pub fn persist(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let (sub, rest) = match args.first() {
            Some(&sub @ ("status" | "backup" | "backups" | "restore")) => (vec![sub], &args[1..]),
            _ => (vec![], args),
        };
        let mut all = sub;
        all.extend(["--kubeconfig", self.kc.as_str(), "-n", self.name.as_str()]);
        all.extend_from_slice(rest);
        if stdin.is_empty() {
            // Live mode: nothing piped in.
            return super::run_no_stdin(&all);
        }
        super::run(&all, stdin.as_bytes())
    }

    pub fn wait_for(&self, what: &str, secs: u64) -> Value {
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

impl Ns {
    /// kubectl's raw stdout (file names need not be UTF-8).
    pub fn kubectl_bytes(&self, args: &[&str]) -> Vec<u8> {
        let bin = std::env::var("KUBECTL_BIN").unwrap_or_else(|_| "kubectl".into());
        let o = Command::new(bin).arg("--kubeconfig").arg(&self.kc).args(args).output().expect("kubectl runs");
        assert!(o.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    }

    /// A tree in a running container, listed as kubectl-persist lists both
    /// sides of a carry.
    pub fn listing(&self, pod: &str, container: &str, dir: &str) -> kubectl_persist::carry::Listing {
        let out = self.kubectl_bytes(&[
            "exec",
            "-n",
            &self.name,
            pod,
            "-c",
            container,
            "--",
            "sh",
            "-c",
            kubectl_persist::carry::LIST_SCRIPT,
            "sh",
            dir,
        ]);
        kubectl_persist::carry::Listing::parse(&out)
    }

    /// Static volumes for claims of this namespace (the node has no
    /// provisioner): hostPath PersistentVolumes bound in advance by name, in
    /// StorageClass `kp-local`.
    pub fn volumes_for(&self, claims: &[&str]) {
        let mut y = String::from(
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: kp-local}\nprovisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: Immediate\n",
        );
        for c in claims {
            y.push_str(&format!(
                "---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {ns}-{c}, labels: {{kp-test-ns: {ns}}}}}\n\
                 spec:\n  capacity: {{storage: 1Gi}}\n  accessModes: [ReadWriteOnce]\n  storageClassName: kp-local\n  \
                 persistentVolumeReclaimPolicy: Retain\n  claimRef: {{namespace: {ns}, name: {c}}}\n  \
                 hostPath: {{path: /tmp/kp-test-pv/{ns}/{c}, type: DirectoryOrCreate}}\n",
                ns = self.name
            ));
        }
        let (code, _, err) = self.kubectl_raw(&["apply", "-f", "-"], Some(&y));
        assert_eq!(code, 0, "{err}");
    }

    /// Wait until `kubectl rollout status` says the workload is ready.
    pub fn rollout(&self, what: &str) {
        let (code, _, err) = self.kubectl_raw(&["rollout", "status", "-n", &self.name, what, "--timeout=120s"], None);
        assert_eq!(code, 0, "{what} did not become ready: {err}");
    }

    /// The one running pod with this label selector.
    pub fn pod(&self, selector: &str) -> String {
        let start = Instant::now();
        loop {
            let out = self.kubectl(&[
                "get", "pods", "-n", &self.name, "-l", selector, "--field-selector=status.phase=Running", "-o",
                "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{\"\\n\"}{end}|{range .items[*]}{.metadata.name}{\"\\n\"}{end}",
            ]);
            let (deleting, all) = out.split_once('|').unwrap_or_default();
            let live: Vec<&str> = all.lines().filter(|n| !deleting.lines().any(|d| d == *n)).collect();
            if live.len() == 1 {
                return live[0].to_string();
            }
            assert!(start.elapsed() < Duration::from_secs(120), "no single running pod for {selector}: {live:?}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Ns {
    /// A service account of this namespace bound only to ClusterRoles of
    /// plugin-manifest/rbac.yaml (`namespaced` through RoleBindings here,
    /// `cluster` through ClusterRoleBindings), and a kubeconfig file with
    /// just its token (kept alive by the returned folder).
    pub fn rbac_user(&self, namespaced: &[&str], cluster: &[&str]) -> (Ns, tempfile::TempDir) {
        let rbac = std::fs::read_to_string(super::repo().join("plugin-manifest/rbac.yaml")).unwrap();
        let (code, _, err) = self.kubectl_raw(&["apply", "-f", "-"], Some(&rbac));
        assert_eq!(code, 0, "{err}");
        let sa = format!("system:serviceaccount:{}:persist", self.name);
        self.kubectl(&["create", "serviceaccount", "-n", &self.name, "persist"]);
        for role in namespaced {
            self.kubectl(&[
                "create",
                "rolebinding",
                "-n",
                &self.name,
                role,
                &format!("--clusterrole={role}"),
                &format!("--user={sa}"),
            ]);
        }
        for role in cluster {
            let name = format!("{}-{role}", self.name);
            self.kubectl(&[
                "create",
                "clusterrolebinding",
                &name,
                &format!("--clusterrole={role}"),
                &format!("--user={sa}"),
            ]);
            self.kubectl(&["label", "clusterrolebinding", &name, &format!("kp-test-ns={}", self.name)]);
        }
        let token = self.kubectl(&["create", "token", "-n", &self.name, "persist"]).trim().to_string();
        let admin: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(&self.kc).unwrap()).unwrap();
        let cluster = serde_json::to_string(&admin["clusters"][0]["cluster"]).unwrap();
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {cluster}}}]\nusers: [{{name: u, user: {{token: {token}}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u, namespace: {}}}}}]\ncurrent-context: x\n",
            self.name
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, text).unwrap();
        let user = Ns { name: self.name.clone(), kc: path.to_string_lossy().into_owned() };
        // The token must not act as admin.
        let (code, _, _) = user.kubectl_raw(&["delete", "namespace", &self.name, "--dry-run=server"], None);
        assert_ne!(code, 0, "the service account is not bound to more than asked");
        (user, dir)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = self.kubectl_raw(&["delete", "namespace", &self.name, "--wait=false"], None);
        let _ = self.kubectl_raw(&["delete", "pv", "-l", &format!("kp-test-ns={}", self.name), "--wait=false"], None);
        let _ = self.kubectl_raw(&["delete", "clusterrolebinding", "-l", &format!("kp-test-ns={}", self.name)], None);
    }
}
