//! Persisting an app that Helm installed, on a real node (tests/live.sh),
//! with Helm 3 (`--post-renderer kubectl-persist`) and Helm 4 (the `persist`
//! plugin): plain install → the app writes its data → an upgrade through the
//! post-renderer refuses and names the command that carries the data → that
//! command → the same upgrade succeeds → the data is intact → an upgrade
//! with another value → uninstall and install again → the data is intact.
//!
//! The namespace and cluster reach Helm and the post-renderer the way both
//! read them: HELM_NAMESPACE and KUBECONFIG (Helm passes post-renderers no
//! flags).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cluster::{kubeconfig, Ns};
use common::{persist_bin, repo, require};

fn helm(var: &str) -> Option<PathBuf> {
    let p = std::env::var_os(var).map(PathBuf::from).filter(|p| p.exists());
    require(p.is_some(), &format!("{var} (a Helm binary; eval \"$(../shared/tools/install-helm.sh)\")"))
        .then(|| p.unwrap())
}

struct Helm<'a> {
    bin: PathBuf,
    home: tempfile::TempDir,
    ns: &'a Ns,
    /// `--post-renderer` value: the executable (Helm 3) or the plugin (Helm 4).
    renderer: String,
}

impl Helm<'_> {
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        let bindir = Path::new(persist_bin()).parent().unwrap();
        let home = self.home.path();
        c.env("PATH", format!("{}:{}", bindir.display(), std::env::var("PATH").unwrap_or_default()))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env_remove("HELM_PLUGINS")
            .env("KUBECONFIG", &self.ns.kc)
            .env("HELM_NAMESPACE", &self.ns.name)
            .current_dir(repo());
        c
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        let out = self.cmd().args(args).output().expect("helm runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args);
        assert!(ok, "helm {args:?} failed:\n{text}");
        text
    }

    /// install/upgrade arguments through the post-renderer.
    fn persisting(&self, verb: &str, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec![verb.into(), "rel".into(), "charts/notes".into()];
        a.extend(VALUES.iter().map(|s| s.to_string()));
        a.extend(["--post-renderer".into(), self.renderer.clone()]);
        for arg in ["--cluster", "--path", "/data", "--storage-class", "kp-local"] {
            a.push(format!("--post-renderer-args={arg}"));
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }
}

const VALUES: [&str; 6] =
    ["--set", "image.repository=realk8s.local/busybox", "--set", "image.tag=1", "--set", "image.pullPolicy=Never"];

fn flow(bin: PathBuf, helm4: bool) {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, if helm4 { "helm4" } else { "helm3" });
    ns.volumes_for(&["data-rel-notes-0"]);
    let renderer = if helm4 { "persist".to_string() } else { persist_bin().to_string() };
    let h = Helm { bin, home: tempfile::tempdir().unwrap(), ns: &ns, renderer };
    if helm4 {
        h.ok(&["plugin", "install", "plugin-manifest/persist"]);
    }

    // A plain install: the notes live in an emptyDir.
    let mut install = vec!["install", "rel", "charts/notes", "--wait", "--timeout", "2m"];
    install.extend(VALUES);
    h.ok(&install);
    let pod = ns.pod("app.kubernetes.io/instance=rel");
    let before = ns.listing(&pod, "notes", "/data");
    assert_eq!(before.totals().0, 2, "the app wrote its notes: {}", String::from_utf8_lossy(&before.raw));

    // Upgrading through the post-renderer would start it on an empty claim.
    let args = h.persisting("upgrade", &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, text) = h.run(&args);
    assert!(!ok, "the upgrade must fail: {text}");
    let command = format!("kubectl persist deployment/rel-notes -n {} --path /data --storage-class kp-local", ns.name);
    if !helm4 {
        // Helm 4 shows a plugin's failure without its stderr when there is no terminal.
        assert!(text.contains(&command), "the message names the command:\n{text}");
    }
    assert_eq!(ns.pod("app.kubernetes.io/instance=rel"), pod, "the running app was left alone");
    assert!(ns.get("statefulset/rel-notes").is_none());

    // The command carries the data; the same upgrade then succeeds.
    let (code, _, err) = ns.persist(
        &[
            "deployment/rel-notes",
            "--path",
            "/data",
            "--storage-class",
            "kp-local",
            "--helper-image",
            "realk8s.local/busybox:1",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verified"), "{err}");
    h.ok(&args);
    let sts = ns.get("statefulset/rel-notes").expect("the release has the StatefulSet");
    assert_eq!(sts["metadata"]["annotations"]["meta.helm.sh/release-name"], "rel", "{sts}");
    ns.rollout("statefulset/rel-notes");
    assert!(before.matches(&ns.listing("rel-notes-0", "notes", "/data")), "the data after the upgrade");
    let status = h.ok(&["status", "rel"]);
    assert!(status.contains("STATUS: deployed"), "{status}");

    // Another value rolls the pod; the data stays.
    let args = h.persisting("upgrade", &["--set", "greeting=bonjour"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    h.ok(&args);
    ns.rollout("statefulset/rel-notes");
    let sts = ns.get("statefulset/rel-notes").unwrap();
    assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "bonjour");
    assert!(before.matches(&ns.listing("rel-notes-0", "notes", "/data")), "the data after a value changed");

    // Uninstall keeps the claim; a new install finds it.
    h.ok(&["uninstall", "rel", "--wait"]);
    assert!(ns.get("pvc/data-rel-notes-0").is_some(), "the claim outlives the release");
    let args = h.persisting("install", &["--wait", "--timeout", "2m"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    h.ok(&args);
    ns.rollout("statefulset/rel-notes");
    let after = ns.listing("rel-notes-0", "notes", "/data");
    assert!(before.matches(&after), "the data after uninstall and install: {:?}", before.explain_mismatch(&after, 5));
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn helm3_persists_an_installed_app_and_keeps_its_data() {
    let Some(h3) = helm("HELM3_BIN") else { return };
    flow(h3, false);
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn helm4_persists_an_installed_app_and_keeps_its_data() {
    let Some(h4) = helm("HELM4_BIN") else { return };
    flow(h4, true);
}
