//! Build-time facts: the git commit for `--version`, and the image catalog
//! as JSON (serde_json reads it in a tenth of the time serde_yaml needs for
//! the YAML, which every zero-configuration run would otherwise pay).
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown commit".into());
    println!("cargo:rustc-env=PERSIST_GIT_COMMIT={commit}");

    // The real-cluster suites: without a cluster they are `ignored` with the
    // reason, so the skip shows in the normal `cargo test` output.
    println!("cargo::rustc-check-cfg=cfg(persist_live)");
    println!("cargo::rustc-check-cfg=cfg(persist_live_node)");
    println!("cargo::rustc-check-cfg=cfg(persist_live_csi)");
    println!("cargo:rerun-if-env-changed=PERSIST_TEST_CSI");
    println!("cargo:rerun-if-env-changed=PERSIST_TEST_KUBECONFIG");
    println!("cargo:rerun-if-env-changed=PERSIST_TEST_NODE");
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.is_empty());
    if set("PERSIST_TEST_KUBECONFIG") {
        println!("cargo:rustc-cfg=persist_live");
        if set("PERSIST_TEST_NODE") {
            println!("cargo:rustc-cfg=persist_live_node");
        }
        if set("PERSIST_TEST_CSI") {
            println!("cargo:rustc-cfg=persist_live_csi");
        }
    }
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");

    // The catalog's strict checks run on the YAML in the library's tests;
    // here it is only converted.
    println!("cargo:rerun-if-changed=data/catalog.yaml");
    let yaml = std::fs::read_to_string("data/catalog.yaml").expect("data/catalog.yaml is readable");
    let value: serde_json::Value = serde_yaml::from_str(&yaml).expect("data/catalog.yaml is YAML");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalog.json");
    std::fs::write(out, serde_json::to_string(&value).expect("JSON values serialise")).expect("OUT_DIR is writable");
}
