//! The binary as users and Helm call it: flags, exit codes, stdin, files and
//! directories, output formats, and what YAML 1.1 values mean afterwards.

mod common;

use common::run;

const DEPLOY: &str = "\
---
# Source: app/templates/deployment.yaml
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
          env:
            - name: FLAG
              value: \"on\"
          volumeMounts:
            - name: scripts
              mountPath: /scripts
      volumes:
        - name: scripts
          configMap:
            name: scripts
            defaultMode: 0755
";

const CONFIGMAP: &str = "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  mode: \"0755\"\n";

#[test]
fn version_names_the_commit() {
    let (code, out, _) = run(&["--version"], b"");
    assert_eq!(code, 0);
    assert!(out.starts_with(&format!("kubectl-persist {} (", env!("CARGO_PKG_VERSION"))), "{out}");
}

#[test]
fn help_starts_with_examples_and_groups_flags() {
    let (code, out, _) = run(&["--help"], b"");
    assert_eq!(code, 0);
    let examples = out.find("Examples:").expect("Examples section");
    let usage = out.find("Usage:").expect("Usage line");
    assert!(examples < usage, "examples come first:\n{out}");
    for heading in ["Input:", "Selection:", "What to persist:", "Output:"] {
        assert!(out.contains(heading), "{heading} missing:\n{out}");
    }
    assert!(out.contains("--post-renderer kubectl-persist"));
}

#[test]
fn usage_errors_exit_2_and_name_the_flag() {
    for (args, needle) in [
        (vec!["--size", "big"], "--size"),
        (vec!["--path", "data"], "--path"),
        (vec!["--path", "/a/../b"], ".."),
        (vec!["--access-mode", "RW"], "--access-mode"),
        (vec!["--mode", "deployment"], "--mode"),
        (vec!["--no-such-flag"], "--no-such-flag"),
        (vec!["-l", "app in web"], "-l"),
    ] {
        let (code, out, err) = run(&args, DEPLOY.as_bytes());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: stdout must stay empty");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn errors_exit_1_name_the_place_and_write_nothing() {
    let (code, out, err) = run(&["-f", "/no/such/file.yaml"], b"");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("/no/such/file.yaml") && err.contains("cannot read"), "{err}");

    let broken = format!("{CONFIGMAP}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: \"unclosed\n");
    let (code, out, err) = run(&["--path", "/data"], broken.as_bytes());
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("<stdin>: document 2 (Deployment web)") && err.contains("line 19, column 16"), "{err}");
    assert!(err.contains("unclosed double-quoted string"), "{err}");

    let (code, out, err) = run(&["-f", "-", "deployment/nope", "--path", "/data"], DEPLOY.as_bytes());
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("deployment/nope not found"), "{err}");
}

#[test]
fn untouched_streams_pass_through_and_empty_input_is_fine() {
    let (code, out, err) = run(&[], b"");
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    let (code, out, err) = run(&[], CONFIGMAP.as_bytes());
    assert_eq!((code, out.as_str(), err.as_str()), (0, CONFIGMAP, ""));
    let (code, out, err) = run(&["-l", "app=nothing", "--path", "/data"], DEPLOY.as_bytes());
    assert_eq!((code, out.as_str()), (0, DEPLOY));
    assert!(err.contains("warning") && err.contains("matches the selector"), "{err}");
}

#[test]
fn yaml11_meanings_survive_a_rewrite() {
    let (code, out, err) = run(&["--path", "/data", "-o", "json"], format!("{CONFIGMAP}{DEPLOY}").as_bytes());
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["data"]["mode"], "0755", "a quoted 0755 stays a string");
    let sts = items.iter().find(|i| i["kind"] == "StatefulSet").expect("the Deployment became a StatefulSet");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][0]["configMap"]["defaultMode"], 493, "0755 stays octal 493");
    assert_eq!(pod["containers"][0]["env"][0]["value"], "on", "\"on\" stays a string");
    // And the YAML output keeps the exact spelling.
    let (_, yaml, _) = run(&["--path", "/data"], DEPLOY.as_bytes());
    assert!(yaml.contains("defaultMode: 0755\n") && yaml.contains("value: \"on\"\n"), "{yaml}");
}

#[test]
fn diff_shows_the_change_per_object() {
    let (code, out, _) = run(&["--path", "/data", "-o", "diff"], format!("{CONFIGMAP}{DEPLOY}").as_bytes());
    assert_eq!(code, 1, "differences exit 1, as kubectl diff");
    assert!(out.contains("--- a/<stdin>: Deployment web"), "{out}");
    assert!(out.contains("-kind: Deployment\n+kind: StatefulSet\n"), "{out}");
    assert!(out.contains("+++ b/<stdin>: Service web-headless"), "{out}");
    assert!(!out.contains("ConfigMap"), "unchanged objects are not in the diff:\n{out}");
}

#[test]
fn files_directories_and_several_inputs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.yaml"), DEPLOY).unwrap();
    std::fs::write(dir.path().join("a.yml"), "kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: first\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not yaml").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("sub/c.json"),
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}}"#,
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let (code, out, err) = run(&["-f", d, "--path", "/data"], b"");
    assert_eq!(code, 0, "{err}");
    // a.yml first (name order), then a separator the file lacked, then b.yaml.
    assert!(out.starts_with("kind: ConfigMap\napiVersion: v1\nmetadata:\n  name: first\n---\n# Source:"), "{out}");
    assert!(out.contains("kind: StatefulSet") && !out.contains("deep"), "{out}");
    let (_, out, _) = run(&["-f", d, "-R", "--path", "/data"], b"");
    assert!(out.contains("\"name\": \"deep\""), "-R descends:\n{out}");
    let (code, _, err) = run(&["-f", dir.path().join("sub").to_str().unwrap(), "-f", "/missing"], b"");
    assert_eq!(code, 1, "{err}");
}

#[test]
fn the_output_is_a_fixed_point() {
    for args in [vec!["--path", "/data"], vec!["--path", "/data", "--mode", "pvc"], vec![]] {
        let (_, once, _) = run(&args, DEPLOY.as_bytes());
        let (_, twice, _) = run(&args, once.as_bytes());
        assert_eq!(once, twice, "{args:?}");
    }
}

#[test]
fn catalogs_from_the_config_file_and_the_flag_extend_detection() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = "version: 1\nimages:\n  - id: acme-store\n    match: [acme/store]\n    paths:\n      - path: /var/lib/store\n        source: https://example.com/acme/store\n    size: 3Gi\n";
    std::fs::write(dir.path().join("images.yaml"), catalog).unwrap();
    std::fs::write(dir.path().join("persist.yaml"), "catalogs: [images.yaml]\n").unwrap();
    let app = DEPLOY.replace("image: nginx:1.27", "image: ghcr.io/acme/store:2.1");
    let cfg = dir.path().join("persist.yaml");
    let (code, out, err) = run(&["--config", cfg.to_str().unwrap(), "--explain"], app.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mountPath: /var/lib/store") && out.contains("storage: 3Gi"), "{out}");
    assert!(err.contains("catalog"), "{err}");
    let (_, out, _) = run(&["--catalog", dir.path().join("images.yaml").to_str().unwrap()], app.as_bytes());
    assert!(out.contains("mountPath: /var/lib/store"), "{out}");
    let (_, out, _) = run(&[], app.as_bytes());
    assert!(!out.contains("/var/lib/store"), "without the catalog the image is unknown:\n{out}");
}

#[test]
fn pvc_mode_warns_about_deployments_it_leaves_alone() {
    let input = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec: {accessModes: [ReadWriteOnce]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {tier: x}}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx, volumeMounts: [{name: c, mountPath: /c}]}]\n      volumes: [{name: c, persistentVolumeClaim: {claimName: c}}]\n";
    let (code, out, err) = run(&["--mode", "pvc", "-l", "tier=other", "--path", "/data"], input.as_bytes());
    assert_eq!((code, out.as_str()), (0, input));
    assert!(err.contains("web has 2 replicas and a RollingUpdate strategy on the ReadWriteOnce claim c"), "{err}");
    let (_, _, err) = run(&["-l", "tier=other", "--path", "/data"], input.as_bytes());
    assert!(!err.contains("RollingUpdate"), "only pvc mode speaks of it: {err}");
}

/// A terminal on stdin and no -f: a usage hint, exit 2 (util-linux `script`
/// gives the binary a pseudo-terminal).
#[test]
fn a_terminal_on_stdin_gets_a_usage_hint() {
    let has_script = std::process::Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success());
    if !common::require(has_script, "util-linux `script` (for a pseudo-terminal)") {
        return;
    }
    let cmd = format!("{} --path /data", common::persist_bin());
    let out = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no input: pipe manifests in") && text.contains("-f FILE"), "{text}");
}

/// `--output-file` replaces a regular file atomically, but never the device,
/// FIFO or symlink it is given: renaming over `/dev/null` would replace the
/// device itself.
#[test]
fn output_file_writes_through_symlinks_and_into_fifos() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(&target, "old\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.path().join("link.yaml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, _, err) = run(&["--path", "/data", "--output-file", link.to_str().unwrap()], DEPLOY.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert!(std::fs::read_to_string(&target).unwrap().contains("kind: StatefulSet"));
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o640, "permissions kept");

    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    if !common::require(made, "mkfifo") {
        return;
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let (code, _, err) = run(&["--path", "/data", "--output-file", fifo.to_str().unwrap()], DEPLOY.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(reader.join().unwrap().contains("kind: StatefulSet"));
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is still a FIFO");
}

/// A stream on stdin is rendered, TYPE/NAME narrowing it: `cat app.yaml |
/// kubectl persist deployment/x` and `helm template --post-renderer-args=
/// deployment/x` never act on a cluster (here there is none to act on).
#[test]
fn type_name_with_a_piped_stream_narrows_the_stream_and_never_goes_live() {
    let name = DEPLOY.lines().find_map(|l| l.strip_prefix("  name: ")).expect("the Deployment's name").to_string();
    let target = format!("deployment/{name}");
    let (code, out, err) = run(&["--kubeconfig", "/no/such/kubeconfig", &target, "--path", "/data"], DEPLOY.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: StatefulSet"), "{out}");
    let (code, out, err) = run(&["deployment/nope", "--path", "/data"], DEPLOY.as_bytes());
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("deployment/nope not found"), "{err}");
    // An empty pipe is an empty stream, not a reason to go live.
    let (code, out, err) = run(&["--kubeconfig", "/no/such/kubeconfig", "deployment/web", "--path", "/data"], b"");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty() && err.contains("deployment/web not found"), "{err}");
    let (code, _, err) = run(&[&target, "--path", "/data", "--dry-run"], DEPLOY.as_bytes());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--dry-run is for live objects"), "{err}");
}
