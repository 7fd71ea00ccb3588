//! End to end through real Helm: Helm 3 calls the executable as a
//! post-renderer, Helm 4 calls the `persist` plugin from plugin-manifest/persist.
//! Helm is found through HELM3_BIN / HELM4_BIN (`.ci/run` installs both with
//! ../shared/tools/install-helm.sh); with CI=true a missing Helm is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{persist_bin, repo, require};

fn helm(var: &str) -> Option<PathBuf> {
    let p = std::env::var_os(var).map(PathBuf::from).filter(|p| p.exists());
    require(p.is_some(), &format!("{var} (a Helm binary; eval \"$(../shared/tools/install-helm.sh)\")"))
        .then(|| p.unwrap())
}

/// A Helm command isolated from the user's Helm config, with the built
/// kubectl-persist first on PATH.
fn helm_cmd(bin: &Path, home: &Path) -> Command {
    let mut c = Command::new(bin);
    let bindir = Path::new(persist_bin()).parent().unwrap();
    let path = format!("{}:{}", bindir.display(), std::env::var("PATH").unwrap_or_default());
    c.env("PATH", path)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env_remove("HELM_PLUGINS")
        .current_dir(repo());
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().expect("helm runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{c:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// The documents of a stream that have this kind.
fn docs_of<'a>(out: &'a str, kind: &str) -> Vec<&'a str> {
    out.split("\n---").filter(|d| d.lines().any(|l| l == format!("kind: {kind}"))).collect()
}

#[test]
fn helm3_post_renderer() {
    let Some(h3) = helm("HELM3_BIN") else { return };
    let home = tempfile::tempdir().unwrap();
    // Zero configuration: detection finds the blog's content emptyDir.
    let out = ok(helm_cmd(&h3, home.path()).args(["template", "rel", "charts/blog", "--post-renderer", persist_bin()]));
    let sts = docs_of(&out, "StatefulSet");
    assert_eq!(sts.len(), 1, "{out}");
    assert!(sts[0].contains("volumeClaimTemplates:") && sts[0].contains("name: content"), "{}", sts[0]);
    assert!(docs_of(&out, "Deployment").is_empty());
    assert!(out.contains("name: rel-blog-headless"), "{out}");
    // The test hook comes through untouched.
    assert!(out.contains("rel-blog-test-connection") && out.contains("helm.sh/hook"), "{out}");

    // Flags through --post-renderer-args, pvc mode: the claim is kept on uninstall.
    let out = ok(helm_cmd(&h3, home.path()).args([
        "template",
        "rel",
        "charts/db",
        "--post-renderer",
        "kubectl-persist",
        "--post-renderer-args=--mode",
        "--post-renderer-args=pvc",
        "--post-renderer-args=--size",
        "--post-renderer-args=3Gi",
    ]));
    let pvc = docs_of(&out, "PersistentVolumeClaim");
    assert_eq!(pvc.len(), 1, "{out}");
    assert!(pvc[0].contains("helm.sh/resource-policy: keep") && pvc[0].contains("storage: 3Gi"), "{}", pvc[0]);
    assert!(docs_of(&out, "Deployment")[0].contains("claimName: rel-db-var-lib-postgresql-data"), "{out}");
}

#[test]
fn helm4_plugin_installed_from_the_folder_and_from_its_package() {
    let Some(h4) = helm("HELM4_BIN") else { return };
    let home = tempfile::tempdir().unwrap();
    ok(helm_cmd(&h4, home.path()).args(["plugin", "install", "plugin-manifest/persist"]));
    let list = ok(helm_cmd(&h4, home.path()).args(["plugin", "list"]));
    assert!(list.contains("persist"), "{list}");
    // Helm names the installed folder after the source folder: `persist`,
    // not `helm`.
    let installed: Vec<String> = std::fs::read_dir(home.path().join("data/helm/plugins"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(installed, ["persist"]);
    let out = ok(helm_cmd(&h4, home.path()).args(["template", "rel", "charts/db", "--post-renderer", "persist"]));
    let sts = docs_of(&out, "StatefulSet");
    assert_eq!(sts.len(), 1, "{out}");
    // The chart's annotations asked for the path and the size.
    assert!(sts[0].contains("name: var-lib-postgresql-data") && sts[0].contains("storage: 2Gi"), "{}", sts[0]);
    assert!(out.contains("name: rel-db-headless"), "{out}");
    // Helm 4 removes its filename annotation after sorting the documents.
    assert!(!out.contains("postrenderer.helm.sh"), "{out}");

    // A chart that renders nothing (everything switched off by values):
    // Helm 4 rejects an empty output, so the plugin answers with a comment.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("templates")).unwrap();
    std::fs::write(empty.path().join("Chart.yaml"), "apiVersion: v2\nname: empty\nversion: 0.1.0\n").unwrap();
    std::fs::write(empty.path().join("templates/cm.yaml"), "{{- if false }}\nkind: ConfigMap\n{{- end }}\n").unwrap();
    let out =
        ok(helm_cmd(&h4, home.path()).args(["template", "rel"]).arg(empty.path()).args(["--post-renderer", "persist"]));
    assert!(!out.contains("kind:"), "{out}");

    // Packaged as Helm packages it, installed from the archive.
    let pkg = tempfile::tempdir().unwrap();
    let home2 = tempfile::tempdir().unwrap();
    ok(helm_cmd(&h4, home2.path())
        .args(["plugin", "package", "plugin-manifest/persist", "--sign=false", "-d"])
        .arg(pkg.path()));
    let tgz = std::fs::read_dir(pkg.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tgz"))
        .unwrap();
    ok(helm_cmd(&h4, home2.path()).args(["plugin", "install", "--verify=false"]).arg(&tgz));
    let out = ok(helm_cmd(&h4, home2.path()).args([
        "template",
        "rel",
        "charts/blog",
        "--post-renderer",
        "persist",
        "--post-renderer-args=--path",
        "--post-renderer-args=/var/lib/ghost/content",
        "--post-renderer-args=--size",
        "--post-renderer-args=5Gi",
    ]));
    let sts = docs_of(&out, "StatefulSet");
    assert_eq!(sts.len(), 1, "{out}");
    assert!(sts[0].contains("name: content") && sts[0].contains("storage: 5Gi"), "{}", sts[0]);
    assert!(
        out.contains("rel-blog-test-connection") && out.contains("helm.sh/hook"),
        "Helm 4 sends hooks too; they pass through:\n{out}"
    );
}

#[test]
fn helm4_reports_failure_when_the_post_renderer_fails() {
    let Some(h4) = helm("HELM4_BIN") else { return };
    let home = tempfile::tempdir().unwrap();
    ok(helm_cmd(&h4, home.path()).args(["plugin", "install", "plugin-manifest/persist"]));
    let out = helm_cmd(&h4, home.path())
        .args([
            "template",
            "rel",
            "charts/db",
            "--post-renderer",
            "persist",
            "--post-renderer-args=--size",
            "--post-renderer-args=lots",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a bad flag must fail the render");
}
