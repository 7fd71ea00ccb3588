//! Golden tests: each folder of `testdata/golden/` holds `input.yaml`, `args`
//! (one argument per line; `{dir}` is the folder) and the exact expected
//! `expected.yaml` (stdout) and `expected.stderr`. The input goes in on
//! stdin, as Helm sends it. `PERSIST_BLESS=1 cargo test --test golden`
//! rewrites the expected files (review the diff before committing).

mod common;

use std::path::Path;

#[test]
fn golden_cases() {
    let root = common::repo().join("testdata/golden");
    let mut cases: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 10, "expected golden cases under {}", root.display());
    let bless = std::env::var("PERSIST_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let args_text = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
        let args: Vec<String> = args_text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.replace("{dir}", &dir.display().to_string()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let input = std::fs::read(dir.join("input.yaml")).unwrap();
        let (code, stdout, stderr) = common::run(&args, &input);
        let stderr = stderr.replace(&dir.display().to_string(), "{dir}");
        if bless {
            std::fs::write(dir.join("expected.yaml"), &stdout).unwrap();
            std::fs::write(dir.join("expected.stderr"), &stderr).unwrap();
            continue;
        }
        if code != 0 {
            failures.push(format!("{name}: exit {code}\n{stderr}"));
            continue;
        }
        check(&mut failures, &name, dir, "expected.yaml", &stdout);
        check(&mut failures, &name, dir, "expected.stderr", &stderr);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn check(failures: &mut Vec<String>, name: &str, dir: &Path, file: &str, got: &str) {
    let want = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    if want != got {
        let diff =
            similar::TextDiff::from_lines(want.as_str(), got).unified_diff().header("expected", "got").to_string();
        failures.push(format!("{name}: {file} differs\n{diff}"));
    }
}
