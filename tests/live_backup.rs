//! Backup and restore with real CSI snapshots (tests/live.sh with
//! WITH_CSI=1: the CSI hostpath driver, its snapshotter and the snapshot
//! controller, group snapshots served). A StatefulSet with two claims per
//! pod and two replicas writes known bytes; a backup; the data changes; a
//! restore brings the backed-up bytes back, and its safety backup brings the
//! changed bytes back again.

mod common;

use common::cluster::{kubeconfig, Ns};
use kubectl_persist::carry::Listing;

const IMAGE: &str = "realk8s.local/busybox:1";

fn app(annotations: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: db}}
spec: {{clusterIP: None, selector: {{app: db}}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  replicas: 2
  serviceName: db
  podManagementPolicy: Parallel
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata:
      labels: {{app: db}}
      annotations: {{{annotations}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {IMAGE}
          imagePullPolicy: Never
          command: [sh, -c, 'for d in /data /logs; do [ -e $d/first ] || head -c 1048576 /dev/urandom > $d/first; done; exec sleep 100000']
          volumeMounts: [{{name: data, mountPath: /data}}, {{name: logs, mountPath: /logs}}]
  volumeClaimTemplates:
    - metadata: {{name: data}}
      spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
    - metadata: {{name: logs}}
      spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
"#
    )
}

/// The four trees of the StatefulSet: (pod, dir) → listing.
fn state(ns: &Ns) -> Vec<Listing> {
    let mut out = Vec::new();
    for pod in ["db-0", "db-1"] {
        for dir in ["/data", "/logs"] {
            out.push(ns.listing(pod, "app", dir));
        }
    }
    out
}

fn same(a: &[Listing], b: &[Listing]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.matches(y))
}

/// New bytes in every tree.
fn change(ns: &Ns) {
    for pod in ["db-0", "db-1"] {
        ns.kubectl(&[
            "exec",
            "-n",
            &ns.name,
            pod,
            "-c",
            "app",
            "--",
            "sh",
            "-c",
            "head -c 4096 /dev/urandom > /data/later; echo more >> /logs/first",
        ]);
    }
}

fn backup_and_restore(tag: &str, class: Option<&str>, group: bool) {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, tag);
    ns.apply(&app(""));
    ns.rollout("statefulset/db");
    let before = state(&ns);
    let mut args = vec!["backup", "statefulset/db", "--name", "b1", "--wait"];
    if let Some(c) = class {
        args.extend(["--class", c]);
    }
    let (code, out, err) = ns.persist(&args, "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "b1");
    assert!(err.contains("4 claims (data-db-0, data-db-1, logs-db-0, logs-db-1)"), "{err}");
    assert_eq!(err.contains("one group snapshot"), group, "{err}");

    let (code, out, _) = ns.persist(&["backups", "statefulset/db", "-o", "json"], "");
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["name"], "b1");
    assert_eq!(list[0]["kind"], if group { "group" } else { "per-claim" });
    assert_eq!(list[0]["ready"], true);
    assert_eq!(list[0]["claims"].as_array().unwrap().len(), 4, "{list}");

    change(&ns);
    let changed = state(&ns);
    assert!(!same(&before, &changed));

    let (code, out, err) = ns.persist(&["restore", "statefulset/db", "--from", "b1"], "");
    assert_eq!(code, 0, "{err}");
    let safety =
        out.lines().find_map(|l| l.strip_prefix("safety backup: ")).expect("the safety backup is named").to_string();
    ns.rollout("statefulset/db");
    let restored = state(&ns);
    assert!(
        same(&before, &restored),
        "the backed-up bytes are back: {:?}",
        before[0].explain_mismatch(&restored[0], 5)
    );

    // The restore can itself be undone.
    let (code, _, err) = ns.persist(&["restore", "statefulset/db", "--from", &safety, "--no-safety-backup"], "");
    assert_eq!(code, 0, "{err}");
    ns.rollout("statefulset/db");
    assert!(same(&changed, &state(&ns)), "the data from before the restore is back");

    // Retention: only the newest backups stay.
    let (code, _, err) = ns.persist(&["backup", "statefulset/db", "--name", "b9", "--wait", "--keep", "1"], "");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("deleted backup b1") && err.contains(&format!("deleted backup {safety}")), "{err}");
    let (_, out, _) = ns.persist(&["backups", "statefulset/db", "-o", "json"], "");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "b9");
}

#[test]
#[cfg_attr(not(persist_live_csi), ignore = "needs a cluster with CSI snapshots: WITH_CSI=1 tests/live.sh")]
fn a_group_backup_restores_every_claim_and_the_safety_backup_undoes_it() {
    backup_and_restore("bk-group", None, true);
}

#[test]
#[cfg_attr(not(persist_live_csi), ignore = "needs a cluster with CSI snapshots: WITH_CSI=1 tests/live.sh")]
fn per_claim_snapshots_when_a_snapshot_class_is_named() {
    backup_and_restore("bk-single", Some("csi-hostpath-snapclass"), false);
}

#[test]
#[cfg_attr(not(persist_live_csi), ignore = "needs a cluster with CSI snapshots: WITH_CSI=1 tests/live.sh")]
fn hooks_run_around_the_cut() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "bk-hooks");
    let hooks = concat!(
        r#"pre.hook.backup.velero.io/command: '["sh", "-c", "date > /data/pre"]', "#,
        r#"kubectl-persist/post.hook.command: '["sh", "-c", "date > /data/post"]'"#
    );
    ns.apply(&app(hooks));
    ns.rollout("statefulset/db");
    let (code, _, err) = ns.persist(&["backup", "statefulset/db", "--name", "b1", "--wait"], "");
    assert_eq!(code, 0, "{err}");
    let pre = err.find("pre hook").expect("pre hook ran");
    let cut = err.find("volumegroupsnapshot/b1").expect("the group snapshot");
    let post = err.find("post hook").expect("post hook ran");
    assert!(pre < cut && cut < post, "{err}");
    let (code, _, err) = ns.persist(&["restore", "statefulset/db", "--from", "b1", "--no-safety-backup"], "");
    assert_eq!(code, 0, "{err}");
    ns.rollout("statefulset/db");
    // The backup holds what the pre hook wrote, not what the post hook wrote.
    let (code, _, _) = ns.kubectl_raw(&["exec", "-n", &ns.name, "db-0", "--", "test", "-e", "/data/pre"], None);
    assert_eq!(code, 0, "the pre hook ran before the cut");
    let (code, _, _) = ns.kubectl_raw(&["exec", "-n", &ns.name, "db-0", "--", "test", "-e", "/data/post"], None);
    assert_ne!(code, 0, "the post hook ran after the cut");
}

#[test]
#[cfg_attr(not(persist_live_csi), ignore = "needs a cluster with CSI snapshots: WITH_CSI=1 tests/live.sh")]
fn a_deployment_in_pvc_mode_gets_new_claims_and_keeps_the_old() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "bk-pvc");
    ns.apply(&format!(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: web-data}}
spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  strategy: {{type: Recreate}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {IMAGE}
          imagePullPolicy: Never
          command: [sh, -c, '[ -e /data/first ] || head -c 65536 /dev/urandom > /data/first; exec sleep 100000']
          volumeMounts: [{{name: data, mountPath: /data}}]
      volumes: [{{name: data, persistentVolumeClaim: {{claimName: web-data}}}}]
"#
    ));
    ns.rollout("deployment/web");
    let pod = ns.pod("app=web");
    let before = ns.listing(&pod, "app", "/data");
    let (code, _, err) = ns.persist(&["backup", "deployment/web", "--name", "b1", "--wait"], "");
    assert_eq!(code, 0, "{err}");
    ns.kubectl(&["exec", "-n", &ns.name, &pod, "--", "sh", "-c", "echo new > /data/first"]);
    let (code, _, err) = ns.persist(&["restore", "deployment/web", "--from", "b1"], "");
    assert_eq!(code, 0, "{err}");
    ns.rollout("deployment/web");
    let pod = ns.pod("app=web");
    assert!(before.matches(&ns.listing(&pod, "app", "/data")), "the pods read the backed-up bytes");
    let d = ns.get("deployment/web").unwrap();
    assert_eq!(d["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "web-data-b1");
    assert!(ns.get("pvc/web-data").is_some(), "the old claim is kept");
}

#[test]
#[cfg_attr(not(persist_live_csi), ignore = "needs a cluster with CSI snapshots: WITH_CSI=1 tests/live.sh")]
fn a_backup_of_more_replicas_restores_every_ordinal_as_a_user_bound_only_to_the_shipped_rbac() {
    let Some(kc) = kubeconfig() else { return };
    let admin = Ns::new(&kc, "bk-rbac");
    let (ns, _dir) =
        admin.rbac_user(&["kubectl-persist-backup"], &["kubectl-persist-read", "kubectl-persist-restore-volumes"]);
    admin.apply(&app(""));
    admin.rollout("statefulset/db");
    let before = state(&admin);
    let (code, _, err) = ns.persist(&["backup", "statefulset/db", "--name", "b1", "--wait"], "");
    assert_eq!(code, 0, "as the RBAC-only user: {err}");
    // Fewer replicas now, and new data.
    admin.kubectl(&["scale", "-n", &admin.name, "statefulset/db", "--replicas=1"]);
    admin.rollout("statefulset/db");
    admin.kubectl(&["exec", "-n", &admin.name, "db-0", "--", "sh", "-c", "echo new > /data/first"]);
    let (code, _, err) = ns.persist(&["restore", "statefulset/db", "--from", "b1"], "");
    assert_eq!(code, 0, "as the RBAC-only user: {err}");
    assert!(err.contains("claim data-db-1 re-created from snapshot"), "the ordinal beyond the replicas too: {err}");
    admin.rollout("statefulset/db");
    assert_eq!(admin.get("statefulset/db").unwrap()["spec"]["replicas"], 1, "the replicas it had");
    admin.kubectl(&["scale", "-n", &admin.name, "statefulset/db", "--replicas=2"]);
    admin.rollout("statefulset/db");
    assert!(same(&before, &state(&admin)), "both ordinals hold the backed-up bytes");
    std::mem::forget(ns); // the namespace goes with `admin`
}
