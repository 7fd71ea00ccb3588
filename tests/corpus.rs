//! Every render of the shared corpus (real `helm template` output), through
//! the library and through the binary:
//!
//! * exit 0 in both modes, with `--path` and with no flags at all;
//! * every document the run did not rewrite is byte-identical, in its place;
//! * a second run over the output changes nothing;
//! * every output object deserialises into its k8s-openapi type;
//! * `../shared/checks/persist-check.py` passes in both modes.

mod common;

use std::process::Command;

use common::{corpus_files, persist_bin, require};
use kubectl_persist::decide::Mode;
use kubectl_persist::{emit, transform, Input, Options};

fn opts(mode: Mode, path: Option<&str>) -> Options {
    Options {
        mode: Some(mode),
        paths: path.map(|p| vec![(None, p.to_string())]).unwrap_or_default(),
        ..Options::default()
    }
}

fn run(name: &str, bytes: Vec<u8>, opts: &Options) -> (Vec<Input>, String) {
    let inputs = vec![Input { name: name.to_string(), bytes }];
    let out = transform(&inputs, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let text = emit::yaml(&out);
    (inputs, text)
}

#[test]
fn untouched_documents_are_byte_identical_and_second_runs_change_nothing() {
    let Some(files) = corpus_files() else { return };
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        for (mode, path) in [
            (Mode::StatefulSet, Some("/persist-check")),
            (Mode::Pvc, Some("/persist-check")),
            (Mode::StatefulSet, None),
            (Mode::Pvc, None),
        ] {
            let o = opts(mode, path);
            let inputs = vec![Input { name: name.clone(), bytes: bytes.clone() }];
            let out = transform(&inputs, &o).unwrap_or_else(|e| panic!("{name} {mode:?}: {e}"));
            // Untouched documents: the output holds their exact bytes, in order.
            for d in out.docs.iter().filter(|d| !d.added && !d.changed()) {
                assert_eq!(d.text, d.original, "{name}: document {} is not byte-identical", d.number);
            }
            let joined: String = out.docs.iter().filter(|d| !d.added).map(|d| d.original).collect();
            assert_eq!(joined.as_bytes(), &bytes[..], "{name}: the documents are not the input's, in order");
            let text = emit::yaml(&out);
            let (_, again) = run(&name, text.clone().into_bytes(), &o);
            assert_eq!(again, text, "{name} {mode:?} {path:?}: a second run changed the output");
        }
    }
}

/// Deserialise an object into its k8s-openapi type when the crate knows it.
fn check_type(v: &serde_json::Value) -> Result<bool, String> {
    use k8s_openapi::api::{apps::v1 as apps, autoscaling::v2 as hpa, batch::v1 as batch, core::v1 as core};
    use k8s_openapi::api::{networking::v1 as net, policy::v1 as policy, rbac::v1 as rbac};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as crd;
    let api = v["apiVersion"].as_str().unwrap_or_default();
    let kind = v["kind"].as_str().unwrap_or_default();
    macro_rules! check {
        ($t:ty) => {
            serde_json::from_value::<$t>(v.clone()).map(|_| true).map_err(|e| format!("{api} {kind}: {e}"))
        };
    }
    match (api, kind) {
        ("apps/v1", "Deployment") => check!(apps::Deployment),
        ("apps/v1", "StatefulSet") => check!(apps::StatefulSet),
        ("apps/v1", "DaemonSet") => check!(apps::DaemonSet),
        ("v1", "Service") => check!(core::Service),
        ("v1", "PersistentVolumeClaim") => check!(core::PersistentVolumeClaim),
        ("v1", "ConfigMap") => check!(core::ConfigMap),
        ("v1", "Secret") => check!(core::Secret),
        ("v1", "ServiceAccount") => check!(core::ServiceAccount),
        ("v1", "Pod") => check!(core::Pod),
        ("batch/v1", "Job") => check!(batch::Job),
        ("batch/v1", "CronJob") => check!(batch::CronJob),
        ("autoscaling/v2", "HorizontalPodAutoscaler") => check!(hpa::HorizontalPodAutoscaler),
        ("networking.k8s.io/v1", "Ingress") => check!(net::Ingress),
        ("networking.k8s.io/v1", "NetworkPolicy") => check!(net::NetworkPolicy),
        ("policy/v1", "PodDisruptionBudget") => check!(policy::PodDisruptionBudget),
        ("rbac.authorization.k8s.io/v1", "Role") => check!(rbac::Role),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => check!(rbac::ClusterRole),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => check!(rbac::RoleBinding),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => check!(rbac::ClusterRoleBinding),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => check!(crd::CustomResourceDefinition),
        _ => Ok(false),
    }
}

fn key(v: &serde_json::Value) -> (String, String, String) {
    let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    (s(&v["kind"]), s(&v["metadata"]["namespace"]), s(&v["metadata"]["name"]))
}

/// Objects that the chart itself renders invalid (vaultwarden's
/// `accessModes: [null]`) are not this tool's to fix; everything it writes or
/// rewrites must be valid.
#[test]
fn every_output_object_has_its_kubernetes_type() {
    let Some(files) = corpus_files() else { return };
    let mut typed = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(f).unwrap();
        let input_invalid: Vec<_> = {
            let o =
                Options { parse_all: true, detect: kubectl_persist::decide::detect::Level::Off, ..Options::default() };
            let inputs = vec![Input { name: name.clone(), bytes: bytes.clone() }];
            let out = transform(
                &inputs,
                &Options {
                    targets: vec![],
                    selector: Some(kubectl_persist::decide::select::Selector::parse("no-such-label").unwrap()),
                    ..o.clone()
                },
            )
            .unwrap();
            let list: serde_json::Value = serde_json::from_str(&emit::json(&out, &o.limits).unwrap()).unwrap();
            list["items"].as_array().unwrap().iter().filter(|i| check_type(i).is_err()).map(key).collect()
        };
        for mode in [Mode::StatefulSet, Mode::Pvc] {
            let o = Options { parse_all: true, ..opts(mode, Some("/persist-check")) };
            let inputs = vec![Input { name: name.clone(), bytes: bytes.clone() }];
            let out = transform(&inputs, &o).unwrap();
            let list: serde_json::Value = serde_json::from_str(&emit::json(&out, &o.limits).unwrap()).unwrap();
            for item in list["items"].as_array().unwrap() {
                let k = key(item);
                let as_deployment = ("Deployment".to_string(), k.1.clone(), k.2.clone());
                match check_type(item) {
                    Ok(true) => typed += 1,
                    Ok(false) => {}
                    Err(_) if input_invalid.contains(&k) || input_invalid.contains(&as_deployment) => {}
                    Err(e) => panic!("{name} {mode:?}: {e}"),
                }
            }
        }
    }
    assert!(typed > 1000, "only {typed} objects were checked against their types");
}

#[test]
fn acceptance_check_passes_in_both_modes() {
    let Some(_) = corpus_files() else { return };
    let script = common::shared().join("checks/persist-check.py");
    if !require(script.exists(), "the acceptance check ../shared/checks/persist-check.py") {
        return;
    }
    for mode in ["statefulset", "pvc"] {
        let out = Command::new("python3")
            .arg(&script)
            .args(["--bin", persist_bin(), "--mode", mode])
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default().to_string();
        eprintln!("persist-check --mode {mode}: {last}");
        assert!(
            out.status.success(),
            "persist-check --mode {mode} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(last.ends_with(" 0 failed"), "{last}");
    }
}
