//! Issue #15, "what a new user hits": the defaults keep real apps working,
//! and what the tool cannot fix is said without `--explain`.

mod common;

use common::run;

/// A plain database Deployment, as a new user writes it.
fn db(image: &str, replicas: u32, extra_meta: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\n{extra_meta}spec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: db}}\n  template:\n    metadata:\n      labels: {{app: db}}\n    spec:\n      containers:\n        - name: db\n          image: {image}\n"
    )
}

#[test]
fn postgres_on_a_new_claim_keeps_its_data_in_a_folder_inside_it() {
    let (code, out, err) = run(&["--explain"], db("postgres:16", 1, "").as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mountPath: /var/lib/postgresql/data\n"), "{out}");
    assert!(
        out.contains("env:\n            - name: PGDATA\n              value: /var/lib/postgresql/data/pgdata\n"),
        "{out}"
    );
    assert!(err.contains("env PGDATA=/var/lib/postgresql/data/pgdata") && err.contains("lost+found"), "{err}");
    // A second run changes nothing.
    let (code, again, _) = run(&[], out.as_bytes());
    assert_eq!((code, again.as_str()), (0, out.as_str()));
    // postgres 18 keeps PGDATA in a folder below its mount already.
    let (_, out18, _) = run(&[], db("postgres:18", 1, "").as_bytes());
    assert!(!out18.contains("PGDATA"), "{out18}");
}

#[test]
fn data_that_exists_keeps_its_data_directory() {
    // An object read from a cluster (it has a uid) holds its data already:
    // moving PGDATA would start it on an empty database.
    let live = db("postgres:16", 1, "  uid: 0b3c5e8e-7e55-4d1e-9a57-2f7c0c1d2e3f\n");
    let (code, out, err) = run(&[], live.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("volumeClaimTemplates") && !out.contains("PGDATA"), "{out}");
    // A chart that points PGDATA inside the mount already is left as it is.
    let chart_input = common::repo().join("testdata/golden/db-zero-config/input.yaml");
    let (_, chart, err) = run(&["-f", chart_input.to_str().unwrap()], b"");
    assert!(!err.contains("lost+found") && chart.matches("PGDATA").count() == 1, "{err}");
}

#[test]
fn mysql_on_a_new_claim_gets_a_warning_it_cannot_be_moved_by_env() {
    let (code, _, err) = run(&[], db("mysql:8.4", 1, "").as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: container db of db: image mysql initialises its data only in an empty directory"),
        "{err}"
    );
    // MariaDB accepts lost+found beside its files.
    let (_, _, err) = run(&[], db("mariadb:11", 1, "").as_bytes());
    assert!(!err.contains("lost+found"), "{err}");
}

#[test]
fn several_replicas_do_not_become_several_datasets_unasked() {
    let three = db("postgres:16", 3, "");
    let (code, out, err) = run(&[], three.as_bytes());
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("db has 3 replicas") && err.contains("--per-pod-data"), "{err}");
    let (code, out, err) = run(&["--per-pod-data"], three.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: StatefulSet") && out.contains("replicas: 3"), "{out}");
    // pvc mode shares one claim; its advice says what ReadWriteMany does to a database.
    let (code, _, err) = run(&["--mode", "pvc"], three.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("ReadWriteMany only for files several pods may write at once (never a database's"), "{err}");
}

#[test]
fn a_live_switch_keeps_the_data_directory_the_carry_fills() {
    use kubectl_persist::{decide::select::Target, live, transform, Options};
    // Live objects lose their uid on the way in: the live input itself says
    // the data exists (the carry copies it to the claim's root).
    let running: serde_json::Value = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "db", "namespace": "demo"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}
    });
    let inputs = vec![live::input(&[running])];
    let opts = Options { targets: vec![Target::parse("deployment/db").unwrap()], ..Options::default() };
    let out = transform(&inputs, &opts).unwrap();
    let text: String = out.docs.iter().map(|d| d.text.as_ref()).collect();
    assert!(text.contains("volumeClaimTemplates") && !text.contains("PGDATA"), "{text}");
}

#[test]
fn the_charts_database_left_in_an_emptydir_is_a_warning_without_explain() {
    let file = common::shared().join("corpus/rendered/bitnami-wordpress.nopersist.yaml");
    if !common::require(file.exists(), "the shared corpus") {
        return;
    }
    let (code, out, err) = run(&["-f", file.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: StatefulSet"), "WordPress gets its claim");
    assert!(
        err.contains("warning: StatefulSet demo/rel-mariadb: keeps data outside its claims (/bitnami/mariadb)")
            && err.contains("add statefulset/rel-mariadb"),
        "{err}"
    );
    // Named, it is persisted too.
    let (code, out, err) = run(&["-f", file.to_str().unwrap(), "deploy/rel-wordpress", "sts/rel-mariadb"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.matches("volumeClaimTemplates:").count() >= 2, "{err}");
}

#[test]
fn a_path_that_cannot_hold_the_data_is_refused_or_warned_about() {
    let one = db("postgres:16", 1, "");
    for system in ["/etc", "/usr", "/bin", "/lib", "/var/", "/proc", "/sys", "/dev", "/sbin", "/run", "/var/lib"] {
        let (code, out, err) = run(&["--path", system], one.as_bytes());
        assert_eq!((code, out.as_str()), (2, ""), "{system}: {err}");
        assert!(err.contains("is a system directory"), "{err}");
    }
    // The parent of the image's VOLUME: the claim would not hold the data.
    let (code, _, err) = run(&["--path", "/var/lib/postgresql"], one.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: Deployment db: container db: image postgres keeps its data in /var/lib/postgresql/data, below /var/lib/postgresql")
            && err.contains("use --path /var/lib/postgresql/data"),
        "{err}"
    );
    // The VOLUME itself is fine.
    let (_, _, err) = run(&["--path", "/var/lib/postgresql/data"], one.as_bytes());
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn a_deployment_on_a_read_write_once_claim_gets_recreate_however_the_path_was_found() {
    let file = common::shared().join("corpus/rendered/uptime-kuma.yaml");
    if !common::require(file.exists(), "the shared corpus") {
        return;
    }
    let f = file.to_str().unwrap();
    let (_, by_flag, err) = run(&["-f", f, "--path", "/app/data"], b"");
    assert!(by_flag.contains("type: Recreate"), "{err}");
    let (code, detected, err) = run(&["-f", f], b"");
    assert_eq!((code, detected.as_str()), (0, by_flag.as_str()), "{err}");
}

#[test]
fn explain_says_what_happens_to_every_mount_of_a_volume_that_becomes_a_claim() {
    let file = common::shared().join("corpus/rendered/nextcloud.yaml");
    if !common::require(file.exists(), "the shared corpus") {
        return;
    }
    let (code, out, err) = run(&["-f", file.to_str().unwrap(), "--explain"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("volumeClaimTemplates:\n    - metadata:\n        name: nextcloud-main\n"), "{out}");
    assert!(!err.contains("/var/www/html/data not persisted"), "{err}");
    assert!(
        err.contains(
            "/var/www/html/data persisted too: it mounts emptyDir nextcloud-main (subPath data), which becomes a claim, whole, for /var/www/html"
        ),
        "{err}"
    );
}

#[test]
fn report_file_holds_every_note_warning_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("persist.log");
    let r = report.to_str().unwrap();
    let (code, _, err) = run(&["--report", r], db("mysql:8.4", 1, "").as_bytes());
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&report).unwrap();
    // The warning stderr shows, and the decisions --explain would show.
    assert!(text.contains("warning: container db of db: image mysql initialises"), "{text}");
    assert!(text.contains("Deployment db: kind Deployment → StatefulSet"), "{text}");
    assert!(!err.contains("kind Deployment → StatefulSet"), "without --explain stderr has the warnings only: {err}");
    // A failed run: the error, and the report replaced.
    let (code, _, _) = run(&["--report", r, "--path", "/etc"], db("mysql:8.4", 1, "").as_bytes());
    assert_eq!(code, 2);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.starts_with("kubectl-persist: error: --path: path \"/etc\" is a system directory"), "{text}");
}

#[test]
fn cluster_errors_name_the_server_and_the_cause_once() {
    let persist = |kubeconfig: &str| {
        let out = std::process::Command::new(common::persist_bin())
            .arg("status")
            .env("KUBECONFIG", kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let (code, err) = persist(missing.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        format!(
            "kubectl-persist: error: no cluster configured: tried {} (no such file or directory) and the in-cluster \
             service account; set KUBECONFIG or use --kubeconfig\n",
            missing.display()
        )
    );
    // Nothing listens on port 1.
    let kc = dir.path().join("config");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\"}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let (code, err) = persist(kc.to_str().unwrap());
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "kubectl-persist: error: cannot list deployments in namespace default: server https://127.0.0.1:1/: connection refused\n"
    );
}

#[test]
fn small_things_a_new_user_hits() {
    let one = db("postgres:16", 1, "");
    // A negative size reaches the size check, not clap's "unexpected argument".
    let (code, _, err) = run(&["--size", "-1Gi"], one.as_bytes());
    assert_eq!(code, 2);
    assert!(err.contains("--size: \"-1Gi\" is not a storage quantity"), "{err}");
    // A selector value that is no label value.
    let (code, _, err) = run(&["-l", "a=("], one.as_bytes());
    assert_eq!(code, 2);
    assert!(err.contains("cannot read \"a=(\""), "{err}");
    // -n that matches nothing says so.
    let other_ns = db("postgres:16", 1, "  namespace: shop\n");
    let (code, out, err) = run(&["-n", "other"], other_ns.as_bytes());
    assert_eq!((code, out.as_str()), (0, other_ns.as_str()));
    assert!(
        err.contains("warning: no Deployment of the input is in namespace other (-n); its Deployments are in shop"),
        "{err}"
    );
    // skip: true or false, nothing else.
    for (value, ok) in
        [("\"true\"", true), ("\"False\"", true), ("\"yes\"", false), ("\"off\"", false), ("\"\"", false)]
    {
        let skip = db("postgres:16", 1, &format!("  annotations:\n    kubectl-persist/skip: {value}\n"));
        let (code, _, err) = run(&[], skip.as_bytes());
        assert_eq!(code == 0, ok, "{value}: {err}");
    }
    // -o diff: 1 with differences, 0 without (as kubectl diff).
    let (code, out, _) = run(&["-o", "diff"], one.as_bytes());
    assert_eq!(code, 1, "{out}");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
    let (code, out, _) = run(&["-o", "diff"], cm.as_bytes());
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn an_unnamed_deployment_and_an_unwritable_output_file_say_so_plainly() {
    let unnamed = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  labels: {a: b}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: x\n";
    for mode in ["statefulset", "pvc"] {
        let (code, out, err) = run(&["--path", "/data", "--mode", mode], unnamed.as_bytes());
        assert_eq!((code, out.as_str()), (1, ""), "{mode}");
        assert!(
            err.contains("(Deployment with no name)") && err.contains("the workload has no metadata.name"),
            "{err}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing/out.yaml");
    let (code, _, err) =
        run(&["--path", "/data", "--output-file", target.to_str().unwrap()], db("nginx", 1, "").as_bytes());
    assert_eq!(code, 1);
    let want = format!(
        "cannot create a temporary file in {}: No such file or directory (os error 2)\n",
        dir.path().join("missing").display()
    );
    assert!(err.ends_with(&want), "{err}");
    assert!(!err.contains(".kubectl-persist-"), "{err}");
}

#[test]
fn cluster_finding_no_live_database_persists_the_charts_statefulset() {
    use kubectl_persist::{transform, Input, Note, Options};
    let file = common::shared().join("corpus/rendered/bitnami-wordpress.nopersist.yaml");
    if !common::require(file.exists(), "the shared corpus") {
        return;
    }
    let inputs = vec![Input { name: "wp.yaml".into(), bytes: std::fs::read(&file).unwrap() }];
    let templates = |opts: &Options| {
        let out = transform(&inputs, opts).unwrap();
        let sts = out.docs.iter().find(|d| d.label == "StatefulSet demo/rel-mariadb").unwrap();
        let warned = out.notes.iter().any(|n| matches!(n, Note::Warning(w) if w.contains("rel-mariadb")));
        (sts.text.contains("mountPath: /bitnami/mariadb") && sts.text.contains("volumeClaimTemplates"), warned)
    };
    // --cluster looked (a namespace was read) and found nothing: a fresh install.
    let fresh = Options { live_namespace: Some("demo".into()), ..Options::default() };
    assert_eq!(templates(&fresh), (true, false));
    // A live StatefulSet of that name: its templates cannot change; a warning.
    let live = serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "rel-mariadb", "namespace": "demo"}, "spec": {}});
    let running = Options { live_workloads: vec![live], ..fresh.clone() };
    assert!(!templates(&running).0 && templates(&running).1);
    // Without --cluster nothing is known about the cluster: a warning.
    assert_eq!(templates(&Options::default()), (false, true));
}

#[test]
fn a_json_list_comes_back_as_one_json_document() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
  "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
   "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}]}
"#;
    for mode in ["statefulset", "pvc"] {
        let (code, out, err) = run(&["--path", "/data", "--mode", mode], list.as_bytes());
        assert_eq!(code, 0, "{err}");
        let doc: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{mode}: not one JSON document: {e}\n{out}"));
        let kinds: Vec<&str> = doc["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
        let want = if mode == "pvc" { ["Deployment", "PersistentVolumeClaim"] } else { ["StatefulSet", "Service"] };
        assert_eq!(kinds, want);
        // A second run changes nothing.
        let (_, again, _) = run(&["--path", "/data", "--mode", mode], out.as_bytes());
        assert_eq!(again, out);
    }
}
