//! Carrying a running app's bytes into its new claims, on a real node
//! (tests/live.sh: ../shared/tools/realk8s with WITH_NODE=1). A Deployment
//! writes a known tree into an emptyDir (/data) and into its container
//! layer (/layer): a 20 MB random file, names with spaces, a newline and
//! non-UTF-8 bytes, a symlink, a hard link, an empty folder, a private file
//! of another owner, a 0700 folder, a sparse file; the emptyDir's own root
//! is 0777. Each test lists both trees in the running pod (the listing
//! kubectl-persist verifies with: names, types, modes, owners, sizes,
//! mtimes, link counts, symlink targets, SHA-256), presses the button, and
//! lists them again where the data now lives: they must be equal, and stay
//! equal after the new pod is deleted and comes back.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::cluster::{kubeconfig, Ns};
use kubectl_persist::carry::Listing;

const IMAGE: &str = "realk8s.local/busybox:1";

/// The app: writes its tree once per place, then waits (USR1 ends it, so a
/// hook can make the container restart).
fn app(name: &str, annotations: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations: {{{annotations}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: app
          image: {IMAGE}
          imagePullPolicy: Never
          command: [sh, -c]
          args:
            - |
              for d in /data /layer; do
                [ -e $d/.written ] && continue
                mkdir -p $d/sub/empty && cd $d
                head -c 20971520 /dev/urandom > big
                echo hello > "with space"
                echo nl > "$(printf 'new\nline')"
                echo latin > "$(printf 'caf\351')"
                ln -s big link; ln big hard
                echo secret > private; chmod 600 private; chown 1000:2000 private
                chmod 700 sub
                dd if=/dev/zero of=sparse bs=1 count=0 seek=5M 2>/dev/null
                date > .written
              done
              trap 'exit 3' USR1
              sleep 100000 & wait
          volumeMounts: [{{name: data, mountPath: /data}}]
      volumes: [{{name: data, emptyDir: {{}}}}]
"#
    )
}

/// Both trees of the app's running pod.
fn trees(ns: &Ns, pod: &str) -> (Listing, Listing) {
    (ns.listing(pod, "app", "/data"), ns.listing(pod, "app", "/layer"))
}

fn assert_same(what: &str, before: &Listing, after: &Listing) {
    assert!(
        before.matches(after),
        "{what}: the trees differ: {:?}\nbefore:\n{}\nafter:\n{}",
        before.explain_mismatch(after, 10),
        String::from_utf8_lossy(&before.raw),
        String::from_utf8_lossy(&after.raw)
    );
    let (files, bytes) = before.totals();
    assert!(files >= 8 && bytes > 20 << 20, "{what}: the test tree is there ({files} files, {bytes} bytes)");
}

/// Both trees of `pod` equal the ones listed before.
fn assert_trees(ns: &Ns, pod: &str, data: &Listing, layer: &Listing, when: &str) {
    let (d, l) = trees(ns, pod);
    assert_same(&format!("/data in {pod} {when}"), data, &d);
    assert_same(&format!("/layer in {pod} {when}"), layer, &l);
}

/// A deployment written and running; its pod and both trees.
fn running_app(ns: &Ns, name: &str, annotations: &str) -> (String, Listing, Listing) {
    ns.apply(&app(name, annotations));
    ns.rollout(&format!("deployment/{name}"));
    let pod = ns.pod(&format!("app={name}"));
    wait_written(ns, &pod);
    let (d, l) = trees(ns, &pod);
    (pod, d, l)
}

/// The writer is done when its marker exists in both places.
fn wait_written(ns: &Ns, pod: &str) {
    for _ in 0..120 {
        let (code, _, _) =
            ns.kubectl_raw(&["exec", "-n", &ns.name, pod, "-c", "app", "--", "test", "-e", "/layer/.written"], None);
        if code == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn press(ns: &Ns, name: &str, extra: &[&str]) -> (i32, String, String) {
    let target = format!("deployment/{name}");
    let mut args =
        vec![target.as_str(), "--path", "/data", "--path", "/layer", "--storage-class", "kp-local", "--timeout", "2m"];
    if !extra.contains(&"--helper-image") {
        args.extend(["--helper-image", IMAGE]);
    }
    args.extend_from_slice(extra);
    ns.persist(&args, "")
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn a_switch_keeps_every_byte_and_the_new_pod_keeps_it_after_a_restart() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-sts");
    ns.volumes_for(&["data-web-0", "layer-web-0"]);
    let (_, data, layer) = running_app(&ns, "web", "");
    let (code, out, err) = press(&ns, "web", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("done: deployment/web → statefulset/web") && err.contains("verified"), "{err}");
    // 8 files in each place; the hard link counts as a file of its own.
    assert!(
        err.contains("verified") && err.contains("; carried 16 files, 94.4 MB (94371"),
        "the closing line says what was carried: {err}"
    );
    ns.rollout("statefulset/web");
    assert_trees(&ns, "web-0", &data, &layer, "after the switch");
    let pvc = ns.get("pvc/data-web-0").unwrap();
    assert!(pvc["metadata"]["annotations"]["kubectl-persist/carry"].as_str().unwrap().starts_with("done "), "{pvc}");
    // The loader pod is gone; the claims stay bound to the StatefulSet's pod.
    assert!(ns.get("pod/web-carry-0").is_none());
    // The StatefulSet's pod comes back on the same claims.
    ns.kubectl(&["delete", "pod", "-n", &ns.name, "web-0", "--wait=true"]);
    ns.rollout("statefulset/web");
    assert_trees(&ns, "web-0", &data, &layer, "after the pod was deleted");
    // Pressed again: nothing to do, nothing copied.
    let (code, _, err) = press(&ns, "web", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("nothing to do"), "{err}");
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn pvc_mode_keeps_every_byte() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-pvc");
    ns.volumes_for(&["web-data", "web-layer"]);
    let (old, data, layer) = running_app(&ns, "web", "");
    // A dry run says what it would copy, and how much, and changes nothing.
    let (code, _, err) = press(&ns, "web", &["--mode", "pvc", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("would carry from pod {old}: app:/data (emptyDir data), ")), "{err}");
    assert!(err.contains("app:/layer (container layer), ") && err.contains(" MB"), "{err}");
    assert!(ns.get("pvc/web-data").is_none(), "a dry run creates no claim");
    let pod = ns.get(&format!("pod/{old}")).unwrap();
    assert!(pod["spec"]["ephemeralContainers"].is_null(), "a dry run adds no helper: {pod}");
    let (code, _, err) = press(&ns, "web", &["--mode", "pvc"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("carried 16 files") && err.contains("verified"), "{err}");
    ns.rollout("deployment/web");
    let pod = ns.pod("app=web");
    assert_ne!(pod, old, "the Deployment rolled to a pod on the claims");
    assert_trees(&ns, &pod, &data, &layer, "on claim web-data");
    ns.kubectl(&["delete", "pod", "-n", &ns.name, &pod, "--wait=true"]);
    ns.rollout("deployment/web");
    let pod = ns.pod("app=web");
    assert_trees(&ns, &pod, &data, &layer, "after the pod was replaced");
}

/// The app runs on as it was: the same pod, the same bytes, no StatefulSet.
fn untouched(ns: &Ns, pod: &str, data: &Listing, layer: &Listing) {
    assert_eq!(ns.pod("app=web"), pod, "the app's pod was not replaced");
    let d = ns.get("deployment/web").expect("the Deployment is there");
    assert_eq!(d["spec"]["replicas"], 1, "{d}");
    assert!(ns.get("statefulset/web").is_none(), "the StatefulSet was rolled back");
    assert_trees(ns, pod, data, layer, "of the running app");
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn a_failed_helper_or_a_killed_run_leaves_the_app_with_its_data_and_a_rerun_finishes() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-fault");
    ns.volumes_for(&["data-web-0", "layer-web-0"]);
    let (pod, data, layer) = running_app(&ns, "web", "");

    // The helper image cannot run: rolled back, the app runs on.
    let (code, out, err) = press(&ns, "web", &["--helper-image", "realk8s.local/missing:1"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("the helper image realk8s.local/missing:1 cannot run"), "{err}");
    assert!(err.contains("rolled back: delete statefulset/web"), "{err}");
    untouched(&ns, &pod, &data, &layer);
    assert_eq!(
        ns.get("pvc/data-web-0").unwrap()["metadata"]["annotations"]["kubectl-persist/carry"],
        "pending",
        "a claim the copy did not finish stays marked"
    );

    // Killed in the middle of the copy.
    let bin = common::persist_bin();
    let mut child = Command::new(bin)
        .args([
            "--kubeconfig",
            &ns.kc,
            "-n",
            &ns.name,
            "deployment/web",
            "--path",
            "/data",
            "--path",
            "/layer",
            "--storage-class",
            "kp-local",
            "--helper-image",
            IMAGE,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("copying app:/data") {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    assert!(seen.contains("copying app:/data"), "{seen}");
    // The Deployment was never scaled down: the app runs with its data.
    assert_eq!(ns.pod("app=web"), pod);
    assert_trees(&ns, &pod, &data, &layer, "while interrupted");

    // A rerun finishes the job: the pending claims are filled again.
    let (code, _, err) = press(&ns, "web", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verified"), "{err}");
    ns.rollout("statefulset/web");
    assert_trees(&ns, "web-0", &data, &layer, "after the rerun");
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn a_restart_during_the_copy_stops_the_switch_and_hooks_run_in_order() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-restart");
    ns.volumes_for(&["data-web-0", "layer-web-0"]);
    // The pre hook ends the app's process: the container restarts on a fresh
    // layer while the copy runs.
    let hook = concat!(
        r#"kubectl-persist/pre.hook.command: '["sh", "-c", "kill -USR1 1; sleep 10"]', "#,
        r#"kubectl-persist/pre.hook.on-error: Continue"#
    );
    let (pod, data, _) = running_app(&ns, "web", hook);
    let (code, _, err) = press(&ns, "web", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("pre hook (kubectl-persist/pre.hook.command)"), "{err}");
    assert!(err.contains("container app of pod") && err.contains("restarted during the copy"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    assert!(ns.get("statefulset/web").is_none());
    assert_eq!(ns.pod("app=web"), pod, "the pod itself stays");
    // The emptyDir survived the container's restart; the app still has it.
    assert_same("/data after the restart", &data, &ns.listing(&pod, "app", "/data"));

    // Hooks that quiesce, in order: pre before the last passes, post only
    // when the switch is rolled back (on success the pod goes anyway).
    let hooks = concat!(
        r#"pre.hook.backup.velero.io/command: '["sh", "-c", "date > /data/pre-hook"]', "#,
        r#"pre.hook.backup.velero.io/container: app"#
    );
    ns.apply(&app("web", hooks));
    ns.rollout("deployment/web");
    let pod = ns.pod("app=web");
    let (code, _, err) = press(&ns, "web", &[]);
    assert_eq!(code, 0, "{err}");
    let hook_at = err.find("pre hook (pre.hook.backup.velero.io/command)").expect("the hook ran");
    let copy_at = err.find("copying app:/data").unwrap();
    let verified_at = err.find("/data: ").unwrap();
    assert!(copy_at < hook_at && hook_at < verified_at, "bulk copy, hook, then the verified passes: {err}");
    let _ = pod;
    ns.rollout("statefulset/web");
    let (code, out, _) =
        ns.kubectl_raw(&["exec", "-n", &ns.name, "web-0", "-c", "app", "--", "cat", "/data/pre-hook"], None);
    assert_eq!(code, 0, "the file the hook wrote was carried by the delta pass");
    assert!(!out.trim().is_empty());
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn the_whole_switch_runs_as_a_user_bound_only_to_the_shipped_rbac() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-rbac");
    ns.volumes_for(&["data-web-0", "layer-web-0"]);
    let (user, _dir) = ns.rbac_user(&["kubectl-persist"], &["kubectl-persist-read"]);
    let (pod, data, layer) = running_app(&ns, "web", "");
    let (code, _, err) = press(&user, "web", &[]);
    std::mem::forget(user); // the namespace goes with `ns`
    assert_eq!(code, 0, "the switch with only plugin-manifest/rbac.yaml: {err}");
    assert!(err.contains("verified"), "{err}");
    ns.rollout("statefulset/web");
    assert!(ns.get(&format!("pod/{pod}")).is_none());
    assert_trees(&ns, "web-0", &data, &layer, "switched by the RBAC-only user");
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn several_pods_are_refused_unless_each_goes_to_its_own_ordinal() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-perpod");
    ns.volumes_for(&["data-web-0", "data-web-1", "layer-web-0", "layer-web-1"]);
    let (first, _, _) = running_app(&ns, "web", "");
    // A second pod, created later: its own random data.
    ns.kubectl(&["scale", "-n", &ns.name, "deployment/web", "--replicas=2"]);
    ns.rollout("deployment/web");
    let pods = ns.kubectl(&[
        "get",
        "pods",
        "-n",
        &ns.name,
        "-l",
        "app=web",
        "--sort-by=.metadata.creationTimestamp",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    let pods: Vec<&str> = pods.split_whitespace().collect();
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert_eq!(pods[0], first);
    for p in &pods {
        for _ in 0..120 {
            let (code, _, _) =
                ns.kubectl_raw(&["exec", "-n", &ns.name, p, "-c", "app", "--", "test", "-e", "/layer/.written"], None);
            if code == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    let before: Vec<(Listing, Listing)> = pods.iter().map(|p| trees(&ns, p)).collect();
    assert!(!before[0].0.matches(&before[1].0), "each pod has data of its own");

    let (code, _, err) = press(&ns, "web", &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("runs 2 pods") && err.contains("--carry=per-pod") && err.contains("Nothing was changed"),
        "{err}"
    );
    assert!(ns.get("statefulset/web").is_none() && ns.get("pvc/data-web-0").is_none(), "nothing was created");

    let (code, _, err) = press(&ns, "web", &["--carry=per-pod"]);
    assert_eq!(code, 0, "{err}");
    ns.rollout("statefulset/web");
    for (i, (d, l)) in before.iter().enumerate() {
        let pod = format!("web-{i}");
        assert_trees(&ns, &pod, d, l, &format!("from pod {}", pods[i]));
    }
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn with_no_pod_running_pvc_mode_still_makes_its_claims() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-idle");
    ns.volumes_for(&["web-data", "web-layer"]);
    ns.apply(&app("web", "").replace("replicas: 1", "replicas: 0"));
    let (code, _, err) = press(&ns, "web", &["--mode", "pvc"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no pod of deployment/web runs: there is nothing to carry"), "{err}");
    for c in ["pvc/web-data", "pvc/web-layer"] {
        let pvc = ns.wait_for(c, 30);
        assert!(
            pvc["metadata"]["annotations"]["kubectl-persist/carry"].as_str().unwrap().starts_with("empty"),
            "{pvc}"
        );
    }
    // Scaled up, the app starts on them.
    ns.kubectl(&["scale", "-n", &ns.name, "deployment/web", "--replicas=1"]);
    ns.rollout("deployment/web");
    let pod = ns.pod("app=web");
    wait_written(&ns, &pod);
    let (d, _) = trees(&ns, &pod);
    assert!(d.totals().0 >= 8, "the app wrote onto its claim");
}

#[test]
#[cfg_attr(not(persist_live_node), ignore = "needs a cluster with a node: tests/live.sh (WITH_NODE=1)")]
fn a_non_root_apps_private_files_in_its_container_layer_are_carried() {
    let Some(kc) = kubeconfig() else { return };
    let ns = Ns::new(&kc, "carry-nonroot");
    ns.volumes_for(&["tmp-home-web-0"]);
    // Pod-level runAsNonRoot, uid 1000, a private file in the container layer.
    ns.apply(&format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      securityContext: {{runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000}}
      containers:
        - name: app
          image: {IMAGE}
          imagePullPolicy: Never
          command: [sh, -c, '[ -e /tmp/home/.cfg/key ] || {{ mkdir -p /tmp/home/.cfg && echo mine > /tmp/home/.cfg/key && chmod 600 /tmp/home/.cfg/key && chmod 700 /tmp/home/.cfg; }}; exec sleep 100000']
"#
    ));
    ns.rollout("deployment/web");
    let pod = ns.pod("app=web");
    let before = ns.listing(&pod, "app", "/tmp/home");
    assert_eq!(before.totals().0, 1, "{}", String::from_utf8_lossy(&before.raw));
    let (code, _, err) = ns.persist(
        &["deployment/web", "--path", "app:/tmp/home", "--storage-class", "kp-local", "--helper-image", IMAGE],
        "",
    );
    assert_eq!(code, 0, "{err}");
    ns.rollout("statefulset/web");
    let after = ns.listing("web-0", "app", "/tmp/home");
    assert!(before.matches(&after), "{:?}", before.explain_mismatch(&after, 5));
}
