//! The README's examples run as written: the config file and catalog
//! examples, and the command lines that need no cluster and no file of the
//! reader's own.

mod common;

use common::{repo, run};

/// The fenced blocks of the README, with the heading they stand under.
/// (heading, language, body)
type Block = (String, String, String);

fn blocks() -> Vec<Block> {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut out: Vec<Block> = Vec::new();
    let mut heading = String::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        match &mut open {
            Some((lang, body)) => {
                if line.trim_start().starts_with("```") {
                    out.push((heading.clone(), lang.clone(), std::mem::take(body)));
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
            None => {
                if let Some(lang) = line.trim_start().strip_prefix("```") {
                    open = Some((lang.trim().to_string(), String::new()));
                } else if line.starts_with('#') {
                    heading = line.trim_start_matches('#').trim().to_string();
                }
            }
        }
    }
    out
}

fn block_under(heading: &str, lang: &str) -> String {
    blocks()
        .into_iter()
        .find(|(h, l, _)| h == heading && l == lang)
        .unwrap_or_else(|| panic!("no ```{lang} block under {heading:?} in the README"))
        .2
}

#[test]
fn the_config_and_catalog_examples_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("persist.yaml"), block_under("Config file", "yaml")).unwrap();
    std::fs::write(dir.path().join("images.yaml"), block_under("Extending the catalog", "yaml")).unwrap();
    let config = dir.path().join("persist.yaml");
    let blog = repo().join("examples/blog.yaml");
    let (code, out, err) = run(&["-f", blog.to_str().unwrap(), "--config", config.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    // defaults sit below flags, rules and annotations only: above the catalog's 8Gi for ghost.
    assert!(out.contains("storage: 2Gi") && out.contains("storageClassName: fast"), "{out}");
    // The example catalog entry persists its image's data.
    let store = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: store\nspec:\n  selector:\n    matchLabels: {app: store}\n  template:\n    metadata:\n      labels: {app: store}\n    spec:\n      containers:\n        - name: store\n          image: ghcr.io/acme/store:2.1\n";
    let (code, out, err) = run(&["--config", config.to_str().unwrap(), "--explain"], store.as_bytes());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mountPath: /var/lib/store\n"), "{err}");
}

#[test]
fn a_missing_catalog_of_the_config_names_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("persist.yaml");
    std::fs::write(&config, "catalogs: [images.yaml]\n").unwrap();
    let blog = repo().join("examples/blog.yaml");
    let (code, _, err) = run(&["-f", blog.to_str().unwrap(), "--config", config.to_str().unwrap()], b"");
    assert_eq!(code, 1);
    assert!(
        err.contains("persist.yaml: catalogs: ") && err.contains("images.yaml: cannot read the catalog file"),
        "{err}"
    );
}

/// A Deployment `web` with a container `app`: the reader's own `app.yaml`
/// the README's command lines stand for.
const APP: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: app\n          image: grafana/grafana:11.2.0\n          volumeMounts:\n            - {name: storage, mountPath: /var/lib/grafana}\n      volumes:\n        - name: storage\n          emptyDir: {}\n";

/// Every `kubectl persist -f ...` and `cargo run --release -- ...` line of
/// the README's shell blocks: on the shipped examples in the repository, on
/// a stand-in for the reader's own files (app.yaml, manifests/,
/// grafana.yaml) elsewhere.
#[test]
fn command_lines_with_files_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("manifests/web")).unwrap();
    for f in ["app.yaml", "grafana.yaml", "manifests/web/app.yaml"] {
        std::fs::write(dir.path().join(f), APP).unwrap();
    }
    let mut ran = Vec::new();
    for (_, _, body) in blocks().into_iter().filter(|(_, l, _)| l == "sh" || l == "console") {
        for line in body.lines() {
            let line = line.trim().trim_start_matches("$ ");
            let line = line.split(" #").next().unwrap().trim();
            let args = line.strip_prefix("kubectl persist ").or_else(|| line.strip_prefix("cargo run --release -- "));
            let Some(args) = args.filter(|a| a.starts_with("-f ")) else { continue };
            let args: Vec<&str> = args.split_whitespace().collect();
            let cwd = if args[1].starts_with("examples/") { repo() } else { dir.path().to_path_buf() };
            let out = std::process::Command::new(common::persist_bin())
                .args(&args)
                .current_dir(cwd)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            // -o diff exits 1 when there are differences, as kubectl diff.
            let want = if args.windows(2).any(|w| w == ["-o", "diff"]) { 1 } else { 0 };
            assert_eq!(out.status.code(), Some(want), "{line}: {}", String::from_utf8_lossy(&out.stderr));
            ran.push(line.to_string());
        }
    }
    // Inline `kubectl persist -f examples/blog.yaml` in prose counts too.
    let (code, _, err) = run(&["-f", repo().join("examples/blog.yaml").to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert!(ran.len() >= 5, "too few command lines found in the README: {ran:?}");
}
