//! Shell completion as a user gets it: bash runs kubectl's own completion
//! function (`kubectl completion bash`), which asks kubectl, which runs the
//! shipped `kubectl_complete-persist`, which asks `kubectl-persist
//! __complete`. kubectl comes from KUBECTL135_BIN (install-helm.sh), else
//! PATH; with CI=true a missing kubectl or bash is a failure.
//!
//! kubectl's bash script needs `_get_comp_words_by_ref` from the
//! bash-completion package. When that package is not installed, the test
//! defines a minimal one that splits words as bash does for these command
//! lines (they have no `=` or `:`, the only characters it treats specially).

mod common;

use std::path::Path;
use std::process::Command;

use common::{kubectl, persist_bin, repo, require};

const BASH_COMPLETION: &str = "/usr/share/bash-completion/bash_completion";

/// A folder holding what a user puts on PATH: kubectl, kubectl-persist and
/// kubectl_complete-persist.
fn bin_dir(kubectl: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(kubectl, dir.path().join("kubectl")).unwrap();
    std::os::unix::fs::symlink(persist_bin(), dir.path().join("kubectl-persist")).unwrap();
    std::fs::copy(
        repo().join("plugin-manifest/kubectl/kubectl_complete-persist"),
        dir.path().join("kubectl_complete-persist"),
    )
    .unwrap();
    dir
}

/// Press TAB at the end of `line` in bash with kubectl's completion loaded;
/// returns COMPREPLY.
fn tab(kubectl: &Path, line: &str) -> Vec<String> {
    let bins = bin_dir(kubectl);
    let words: Vec<&str> = line.split(' ').collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        r#"
if [ -f {BASH_COMPLETION} ]; then
  . {BASH_COMPLETION}
else
  _get_comp_words_by_ref() {{
    words=("${{COMP_WORDS[@]}}"); cword=$COMP_CWORD
    cur=${{COMP_WORDS[COMP_CWORD]}}; prev=${{COMP_WORDS[COMP_CWORD-1]}}
  }}
fi
source <(kubectl completion bash)
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
COLUMNS=200
__start_kubectl 2>/dev/null
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = quoted.join(" "),
        cword = words.len() - 1,
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .env("PATH", format!("{}:/usr/bin:/bin", bins.path().display()))
        .env("HOME", bins.path())
        .env_remove("KUBECONFIG")
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "bash failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn bash_present() -> bool {
    require(Command::new("bash").arg("--version").output().is_ok_and(|o| o.status.success()), "bash")
}

#[test]
fn bash_completes_flags_values_and_kinds_through_kubectl() {
    let Some(k) = kubectl() else { return };
    if !bash_present() {
        return;
    }
    if !Path::new(BASH_COMPLETION).exists() {
        eprintln!("note: {BASH_COMPLETION} is not installed; using a minimal _get_comp_words_by_ref");
    }
    // The "done when" case: kubectl persist --mo<TAB>.
    assert_eq!(tab(&k, "kubectl persist --mo"), ["--mode"]);
    // The plugin's name itself (kubectl finds kubectl-persist on PATH).
    assert!(tab(&k, "kubectl pers").contains(&"persist".to_string()));
    // Values of enum flags, kinds, and subcommands.
    assert_eq!(tab(&k, "kubectl persist --mode p"), ["pvc"]);
    assert_eq!(tab(&k, "kubectl persist -o pa"), ["patch"]);
    assert_eq!(tab(&k, "kubectl persist --detect o"), ["off"]);
    assert_eq!(tab(&k, "kubectl persist dep"), ["deployment/"]);
    assert_eq!(tab(&k, "kubectl persist status -o j"), ["json"]);
    // Several candidates come back with their descriptions.
    let many = tab(&k, "kubectl persist --mode ");
    assert_eq!(many.len(), 2, "{many:?}");
    assert!(many[0].starts_with("statefulset") && many[1].starts_with("pvc"), "{many:?}");
}

#[test]
fn names_come_from_the_files_given_with_f() {
    let Some(k) = kubectl() else { return };
    if !bash_present() {
        return;
    }
    let blog = repo().join("examples/blog.yaml");
    let line = format!("kubectl persist -f {} deployment/my", blog.display());
    assert_eq!(tab(&k, &line), ["deployment/my-blog"]);
}

#[test]
fn completion_without_a_cluster_is_silent_and_quick() {
    // No kubeconfig: names cannot be listed; nothing on stderr, exit 0.
    let home = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = Command::new(repo().join("plugin-manifest/kubectl/kubectl_complete-persist"))
        .args(["deployment/"])
        .env("PATH", format!("{}:/usr/bin:/bin", Path::new(persist_bin()).parent().unwrap().display()))
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("missing"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), ":4\n");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn completion_scripts_for_every_shell() {
    // clap's static scripts; bash's asks the binary (tested above).
    for shell in ["zsh", "fish", "powershell"] {
        let (code, out, err) = common::run(&["completion", shell], b"");
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("kubectl-persist") && out.contains("mode") && out.contains("statefulset"),
            "{shell}:\n{out}"
        );
        assert!(!out.contains("__complete"), "{shell}: the hidden mode is not offered:\n{out}");
    }
    let (code, out, _) = common::run(&["completion", "bash"], b"");
    assert!(code == 0 && out.contains("complete -F _kubectl_persist kubectl-persist"), "{out}");
}

/// `kubectl-persist <TAB>` with the script of `kubectl-persist completion
/// bash`: the same engine as the kubectl path, so the same candidates,
/// subcommands and names from files included.
fn own_tab(line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(persist_bin(), dir.path().join("kubectl-persist")).unwrap();
    let script = format!(
        r#"source <(kubectl-persist completion bash)
COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"; [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${{#COMP_WORDS[@]}}-1))
_kubectl_persist
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash").arg("-c").arg(script).env("PATH", path).current_dir(repo()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[test]
fn the_own_bash_script_gives_the_same_candidates() {
    if !bash_present() {
        return;
    }
    assert_eq!(own_tab("kubectl-persist --mo"), ["--mode"]);
    assert_eq!(own_tab("kubectl-persist --mode "), ["statefulset", "pvc"]);
    assert_eq!(own_tab("kubectl-persist status -o "), ["table", "json", "yaml"]);
    assert!(own_tab("kubectl-persist completion ").contains(&"zsh".to_string()));
    assert_eq!(own_tab("kubectl-persist -f examples/blog.yaml deployment/"), ["deployment/my-blog"]);
    // bash completes what follows '=': the candidate comes without the flag.
    assert_eq!(own_tab("kubectl-persist --dry-run=cl"), ["client"]);
}
