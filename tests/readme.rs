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

/// `kubectl persist ...` and `cargo run --release -- ...` lines on the
/// shipped examples.
#[test]
fn command_lines_on_the_shipped_examples_run() {
    let mut ran = 0;
    for (_, _, body) in blocks().into_iter().filter(|(_, l, _)| l == "sh" || l == "console") {
        for line in body.lines() {
            let line = line.trim().trim_start_matches("$ ");
            let line = line.split(" #").next().unwrap().trim();
            let args = line.strip_prefix("kubectl persist ").or_else(|| line.strip_prefix("cargo run --release -- "));
            let Some(args) = args.filter(|a| a.contains("-f examples/")) else { continue };
            let args: Vec<&str> = args.split_whitespace().collect();
            let mut cmd = std::process::Command::new(common::persist_bin());
            let out = cmd.args(&args).current_dir(repo()).stdin(std::process::Stdio::null()).output().unwrap();
            // -o diff exits 1 when there are differences, as kubectl diff.
            let want = if args.windows(2).any(|w| w == ["-o", "diff"]) { 1 } else { 0 };
            assert_eq!(out.status.code(), Some(want), "{line}: {}", String::from_utf8_lossy(&out.stderr));
            ran += 1;
        }
    }
    // Inline `kubectl persist -f examples/blog.yaml` in prose counts too.
    let (code, _, err) = run(&["-f", repo().join("examples/blog.yaml").to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    assert!(ran >= 1, "no command line on the shipped examples found in the README");
}
