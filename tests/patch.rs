//! `-o patch` through the engine Flux runs: Flux's HelmRelease post-renderer
//! builds a kustomization whose resource is Helm's output and whose patches
//! are the HelmRelease's, so `kubectl kustomize` (the same kustomize) must
//! turn each golden input plus its patches (plus the new objects, which go
//! beside the release) into exactly what `kubectl persist` writes. Objects are
//! compared as kubectl reads them (YAML 1.1, the library's reader).
//! kubectl from KUBECTL135_BIN, else PATH; with CI=true a missing one fails.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{kubectl, repo};
use kubectl_persist::yaml::{self, split, Limits};
use serde_json::Value;

/// Every object of a stream (List items flattened, as kustomize does), by
/// kind, namespace and name.
fn objects(text: &str) -> BTreeMap<(String, String, String), Value> {
    let limits = Limits::default();
    let mut out = BTreeMap::new();
    for d in split::split(text).into_iter().filter(|d| d.counted) {
        let Some(tree) = yaml::parse::parse(d.text, &limits).unwrap() else { continue };
        let v = yaml::to_json(&tree, &limits).unwrap();
        if v.is_null() {
            continue;
        }
        let items = match v.get("kind").and_then(Value::as_str) {
            Some(k) if k.ends_with("List") && v.get("items").is_some() => v["items"].as_array().unwrap().clone(),
            _ => vec![v],
        };
        for i in items {
            let s = |p: &str| i.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
            out.insert((s("/kind"), s("/metadata/namespace"), s("/metadata/name")), i);
        }
    }
    out
}

/// The first document of `-o patch` (the kustomize patches) and the rest
/// (new objects).
fn sections(out: &str) -> (String, String) {
    match out.split_once("\n---\n") {
        Some((p, rest)) => (p.to_string() + "\n", format!("---\n{rest}")),
        None => (out.to_string(), String::new()),
    }
}

/// kustomize over `input` with the patches of `patch_out`; its output.
fn kustomize(kubectl: &Path, input: &[u8], patch_out: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let (patches, added) = sections(patch_out);
    std::fs::write(dir.path().join("helm-output.yaml"), input).unwrap();
    let mut k = patches;
    k.push_str("resources:\n  - helm-output.yaml\n");
    if !added.is_empty() {
        std::fs::write(dir.path().join("new-objects.yaml"), &added).unwrap();
        k.push_str("  - new-objects.yaml\n");
    }
    std::fs::write(dir.path().join("kustomization.yaml"), k).unwrap();
    let o = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir.path())
        .env("HOME", dir.path())
        .env("KUBECONFIG", dir.path().join("none"))
        .output()
        .unwrap();
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

fn golden_cases() -> Vec<(String, PathBuf, Vec<String>)> {
    let root = repo().join("testdata/golden");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    cases
        .into_iter()
        .map(|dir| {
            let args = std::fs::read_to_string(dir.join("args"))
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| l.replace("{dir}", &dir.display().to_string()))
                .collect();
            (dir.file_name().unwrap().to_string_lossy().into_owned(), dir, args)
        })
        .collect()
}

#[test]
fn kustomize_with_the_patches_gives_what_kubectl_persist_writes() {
    let Some(k) = kubectl() else { return };
    let mut failures = Vec::new();
    for (name, dir, args) in golden_cases() {
        // Cases that pick their own output format (`-o json`) test that format.
        if args.iter().any(|a| a == "-o" || a.starts_with("--output")) {
            continue;
        }
        let input = std::fs::read(dir.join("input.yaml")).unwrap();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, want, err) = common::run(&args, &input);
        assert_eq!(code, 0, "{name}: {err}");
        let mut patch_args = args.clone();
        patch_args.extend(["-o", "patch"]);
        let (code, patch, err) = common::run(&patch_args, &input);
        assert_eq!(code, 0, "{name}: {err}");
        match kustomize(&k, &input, &patch) {
            Ok(got) => {
                let (got, want) = (objects(&got), objects(&want));
                if got != want {
                    failures.push(format!(
                        "{name}: kustomize gave\n{got:#?}\nkubectl persist wrote\n{want:#?}\npatch:\n{patch}"
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: kustomize failed: {e}\npatch:\n{patch}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_patch_refuses_a_render_it_was_not_made_from() {
    let Some(k) = kubectl() else { return };
    let input = std::fs::read_to_string(repo().join("examples/blog.yaml")).unwrap();
    let (code, patch, err) = common::run(&["-o", "patch"], input.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(kustomize(&k, input.as_bytes(), &patch).is_ok());
    // The next chart version gives the volume a size limit: the patch, made
    // for an emptyDir without one, must stop rather than guess.
    let changed = input.replace("emptyDir: {}", "emptyDir: {sizeLimit: 2Gi}");
    assert_ne!(changed, input);
    let e = kustomize(&k, changed.as_bytes(), &patch).unwrap_err();
    assert!(e.contains("test"), "{e}");
    // An image bump does not touch what the patch edits: it still applies.
    let bumped = input.replace("ghost:5-alpine", "ghost:6-alpine");
    assert_ne!(bumped, input);
    let out = kustomize(&k, bumped.as_bytes(), &patch).unwrap();
    assert!(out.contains("kind: StatefulSet") && out.contains("ghost:6-alpine"), "{out}");
}

#[test]
fn the_patch_document_is_a_flux_kustomize_block() {
    let input = std::fs::read(repo().join("examples/blog.yaml")).unwrap();
    let (code, out, err) = common::run(&["-o", "patch"], &input);
    assert_eq!(code, 0, "{err}");
    let (patches, added) = sections(&out);
    let v: serde_yaml::Value = serde_yaml::from_str(&patches).unwrap();
    let map = v.as_mapping().unwrap();
    assert_eq!(map.len(), 1, "only `patches:`, as HelmRelease postRenderers[].kustomize takes it");
    let list = v["patches"].as_sequence().unwrap();
    assert_eq!(list.len(), 1);
    let target = &list[0]["target"];
    assert_eq!(target["group"], "apps");
    assert_eq!(target["version"], "v1");
    assert_eq!(target["kind"], "Deployment");
    assert_eq!(target["name"], "my-blog");
    let ops: Value = serde_json::from_str(list[0]["patch"].as_str().unwrap()).unwrap();
    assert!(ops
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["op"] == "replace" && o["path"] == "/kind" && o["value"] == "StatefulSet"));
    // The new headless Service follows as a plain object.
    let new = objects(&added);
    assert!(new.contains_key(&("Service".into(), String::new(), "my-blog-headless".into())), "{added}");
}

#[test]
fn nothing_to_change_is_an_empty_list() {
    let (code, out, err) = common::run(
        &["-o", "patch", "--detect", "off"],
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("patches: []\n"), "{out}");
}

#[test]
fn live_objects_have_no_patch_output() {
    let (code, _, err) = common::run_no_stdin(&["deployment/web", "--path", "/data", "-o", "patch"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("-o patch"), "{err}");
}
