//! The Argo CD Config Management Plugin (plugin-manifest/argocd): its
//! commands run as argocd-cmp-server runs them (with sh, in a copy of the
//! Application's source folder, with Argo CD's build environment and the
//! Application's parameters as PARAM_* variables), on charts/blog. Helm comes
//! from HELM3_BIN (install-helm.sh); with CI=true a missing Helm is a failure.
//! The sidecar snippet is checked by patching a minimal argocd-repo-server
//! Deployment with kubectl's own strategic merge (`kubectl patch --local`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{persist_bin, repo, require};
use serde_json::Value;

fn plugin() -> Value {
    let text = std::fs::read_to_string(repo().join("plugin-manifest/argocd/plugin.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn tool(var: &str, what: &str) -> Option<PathBuf> {
    let p = std::env::var_os(var).map(PathBuf::from).filter(|p| p.exists());
    require(p.is_some(), &format!("{var} ({what}; eval \"$(../shared/tools/install-helm.sh)\")")).then(|| p.unwrap())
}

/// `command` + `args` of a plugin command, as argocd-cmp-server joins them.
fn argv(cmd: &Value) -> Vec<String> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().map(|s| s.as_str().expect("strings").to_string()).collect()
    };
    let mut a = strings(&cmd["command"]);
    a.extend(strings(&cmd["args"]));
    a
}

/// A copy of charts/blog, as the CMP server unpacks the Application's source.
fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("charts/blog"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Run a plugin command in `dir` with `helm` (a link to `helm_bin`) and
/// kubectl-persist on PATH, plus Argo CD's variables and `params`.
fn run(cmd: &Value, dir: &Path, helm_bin: &Path, params: &[(&str, &str)]) -> Output {
    let bins = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(helm_bin, bins.path().join("helm")).unwrap();
    std::os::unix::fs::symlink(persist_bin(), bins.path().join("kubectl-persist")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let a = argv(cmd);
    let mut c = Command::new(&a[0]);
    c.args(&a[1..])
        .current_dir(dir)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bins.path().display()))
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("ARGOCD_APP_NAME", "my-blog")
        .env("ARGOCD_APP_NAMESPACE", "blog")
        .env("ARGOCD_APP_REVISION", "0123456789abcdef0123456789abcdef01234567")
        .env("ARGOCD_APP_SOURCE_PATH", "charts/blog")
        .env("KUBE_VERSION", "1.33.0");
    for (k, v) in params {
        c.env(k, v);
    }
    c.output().expect("the command runs")
}

/// The documents of a stream, parsed.
fn docs(out: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(out);
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_yaml::with::singleton_map_recursive::deserialize::<Value, _>(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn the_plugin_configuration_is_what_argocd_reads() {
    let p = plugin();
    assert_eq!(p["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(p["kind"], "ConfigManagementPlugin");
    assert_eq!(p["metadata"]["name"], "kubectl-persist");
    assert_eq!(p["spec"]["version"], "v1", "Applications name it kubectl-persist-v1");
    assert!(!argv(&p["spec"]["generate"]).is_empty(), "argocd-cmp-server refuses an empty generate command");
    assert_eq!(p["spec"]["discover"]["fileName"], "./Chart.yaml");
    let params: Vec<&str> =
        p["spec"]["parameters"]["static"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    for name in ["paths", "mode", "size", "storage-class", "detect", "values-files", "set", "release-name"] {
        assert!(params.contains(&name), "parameter {name} announced: {params:?}");
    }
}

#[test]
fn generate_renders_the_chart_with_claims() {
    let Some(helm) = tool("HELM3_BIN", "Helm 3") else { return };
    let p = plugin();
    let app = app_dir();
    let init = run(&p["spec"]["init"], app.path(), &helm, &[]);
    assert!(init.status.success(), "init: {}", String::from_utf8_lossy(&init.stderr));

    // No parameters: detection finds the blog's content folder.
    let out = run(&p["spec"]["generate"], app.path(), &helm, &[]);
    assert!(out.status.success(), "generate: {}", String::from_utf8_lossy(&out.stderr));
    let d = docs(&out.stdout);
    let sts = of_kind(&d, "StatefulSet");
    assert_eq!(sts.len(), 1, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(sts[0]["metadata"]["name"], "my-blog");
    let vct = &sts[0]["spec"]["volumeClaimTemplates"];
    assert_eq!(vct[0]["metadata"]["name"], "content", "{vct}");
    assert!(of_kind(&d, "Deployment").is_empty());
    assert!(of_kind(&d, "Service").iter().any(|s| s["metadata"]["name"] == "my-blog-headless"));
    // Decisions are logged on stderr, which argocd-cmp-server shows.
    assert!(String::from_utf8_lossy(&out.stderr).contains("volumeClaimTemplate content"));

    // Parameters: pvc mode with a size, a release name, a value set.
    let out = run(
        &p["spec"]["generate"],
        app.path(),
        &helm,
        &[
            ("PARAM_PATHS_0", "/var/lib/ghost/content"),
            ("PARAM_MODE", "pvc"),
            ("PARAM_SIZE", "5Gi"),
            ("PARAM_RELEASE_NAME", "blog"),
            ("PARAM_SET_0", "replicaCount=1"),
        ],
    );
    assert!(out.status.success(), "generate: {}", String::from_utf8_lossy(&out.stderr));
    let d = docs(&out.stdout);
    let pvc = of_kind(&d, "PersistentVolumeClaim");
    assert_eq!(pvc.len(), 1, "{}", String::from_utf8_lossy(&out.stdout));
    // The chart names objects after the release: "blog".
    assert_eq!(pvc[0]["metadata"]["name"], "blog-content");
    assert_eq!(pvc[0]["spec"]["resources"]["requests"]["storage"], "5Gi");
    assert_eq!(of_kind(&d, "Deployment").len(), 1);
}

#[test]
fn a_failing_helm_fails_the_generation_instead_of_an_empty_stream() {
    let Some(helm) = tool("HELM3_BIN", "Helm 3") else { return };
    let p = plugin();
    let app = app_dir();
    let out = run(&p["spec"]["generate"], app.path(), &helm, &[("PARAM_VALUES_FILES_0", "missing.yaml")]);
    assert!(!out.status.success(), "a missing values file must fail");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    // A bad kubectl-persist parameter fails too, with its message.
    let out = run(&p["spec"]["generate"], app.path(), &helm, &[("PARAM_SIZE", "lots")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn parameter_values_are_arguments_not_shell() {
    let Some(helm) = tool("HELM3_BIN", "Helm 3") else { return };
    let p = plugin();
    let app = app_dir();
    let marker = app.path().join("pwned");
    let evil = format!("/data$(touch {})", marker.display());
    let out = run(&p["spec"]["generate"], app.path(), &helm, &[("PARAM_PATHS_0", &evil), ("PARAM_MODE", "pvc")]);
    assert!(!marker.exists(), "a parameter was run by the shell");
    // The odd path reaches kubectl-persist as it was written: refused by its
    // own check, or persisted literally.
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        assert!(stdout.contains("$(touch"), "{stdout}");
    } else {
        assert!(stderr.contains("--path") || stderr.contains("$(touch"), "{stderr}");
    }
}

#[test]
fn the_sidecar_patch_applies_to_the_repo_server() {
    let kubectl = std::env::var_os("KUBECTL135_BIN").map(PathBuf::from).filter(|p| p.exists());
    if !require(kubectl.is_some(), "KUBECTL135_BIN (kubectl; eval \"$(../shared/tools/install-helm.sh)\")") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The parts of the stock argocd-repo-server the patch relies on.
    let deployment = dir.path().join("argocd-repo-server.yaml");
    std::fs::write(
        &deployment,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: argocd-repo-server\n  namespace: argocd\n\
         spec:\n  selector:\n    matchLabels: {app.kubernetes.io/name: argocd-repo-server}\n  template:\n    \
         metadata:\n      labels: {app.kubernetes.io/name: argocd-repo-server}\n    spec:\n      containers:\n        \
         - name: argocd-repo-server\n          image: quay.io/argoproj/argocd:v3.5.1\n      volumes:\n        \
         - {name: var-files, emptyDir: {}}\n        - {name: plugins, emptyDir: {}}\n",
    )
    .unwrap();
    let out = Command::new(kubectl.unwrap())
        .args(["patch", "--local", "-o", "json", "-f"])
        .arg(&deployment)
        .arg("--patch-file")
        .arg(repo().join("plugin-manifest/argocd/sidecar.yaml"))
        .env("KUBECONFIG", dir.path().join("none"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let spec = &d["spec"]["template"]["spec"];
    let names = |k: &str| -> Vec<String> {
        spec[k].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("containers").len(), 2, "the repo server keeps its container");
    let sidecar = spec["containers"].as_array().unwrap().iter().find(|c| c["name"] == "kubectl-persist").unwrap();
    assert_eq!(sidecar["command"][0], "/var/run/argocd/argocd-cmp-server");
    assert_eq!(sidecar["securityContext"]["runAsUser"], 999);
    let volumes = names("volumes");
    let containers = spec["containers"].as_array().unwrap().iter().chain(spec["initContainers"].as_array().unwrap());
    for c in containers {
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            assert!(
                volumes.iter().any(|v| m["name"] == v.as_str()),
                "{} mounts a missing volume {}",
                c["name"],
                m["name"]
            );
        }
    }
    let config = sidecar["volumeMounts"].as_array().unwrap().iter().find(|m| m["subPath"] == "plugin.yaml").unwrap();
    assert_eq!(config["mountPath"], "/home/argocd/cmp-server/config/plugin.yaml");
    assert!(names("initContainers").contains(&"install-kubectl-persist".to_string()));
}
