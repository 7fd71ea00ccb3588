//! The release: scripts/dist.sh packs the built binary (this test's own
//! build, so no release build runs here) into the plugin archive and the Helm
//! 4 plugin package, and writes the krew manifest. Checked as krew and a user
//! would: the manifest against krew's validation rules and the archive built,
//! the archive's contents, `kubectl plugin list` and `kubectl persist` with the
//! unpacked folder on PATH, completion through kubectl from that folder, and
//! the Helm 4 plugin installed from its package into an empty XDG_DATA_HOME.
//!
//! kubectl comes from KUBECTL135_BIN (install-helm.sh), else PATH, and Helm 4
//! from HELM4_BIN; with CI=true a missing one is a failure.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::{kubectl, persist_bin, repo, require};
use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const PLATFORMS: [(&str, &str); 6] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
    ("windows", "arm64"),
];

/// This machine as krew names it.
fn host() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

fn archive_name(os: &str, arch: &str) -> String {
    format!("kubectl-persist-{VERSION}-{os}-{arch}.tar.gz")
}

/// dist.sh, once for all tests here: the output folder.
fn dist() -> &'static Path {
    static DIST: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIST.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let mut c = Command::new("bash");
        c.arg(repo().join("scripts/dist.sh")).arg("--bin").arg(persist_bin()).arg("--out").arg(out.path());
        // Helm 4 packages the Helm plugin when it is there.
        if helm4_present() {
            c.env("HELM4_BIN", std::env::var_os("HELM4_BIN").unwrap());
        } else {
            c.env_remove("HELM4_BIN");
        }
        let o = c.output().expect("bash runs");
        assert!(o.status.success(), "dist.sh failed:\n{}", String::from_utf8_lossy(&o.stderr));
        out
    })
    .path()
}

fn helm4_present() -> bool {
    std::env::var_os("HELM4_BIN").is_some_and(|p| Path::new(&p).exists())
}

fn sha256(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap().to_string()
}

/// The archive for this machine, unpacked.
fn unpacked() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let (os, arch) = host();
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new("tar")
            .arg("-xzf")
            .arg(dist().join(archive_name(os, arch)))
            .arg("-C")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        dir
    })
    .path()
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(dist().join("persist.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn the_archive_holds_the_plugin_its_completion_and_the_license() {
    let dir = unpacked();
    let names: BTreeSet<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let want: BTreeSet<String> =
        ["kubectl-persist", "kubectl_complete-persist", "LICENSE", "README.md", "CHANGELOG.md"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(names, want);
    use std::os::unix::fs::PermissionsExt;
    for exe in ["kubectl-persist", "kubectl_complete-persist"] {
        let mode = std::fs::metadata(dir.join(exe)).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{exe} is executable by all: {mode:o}");
    }
    assert_eq!(std::fs::read(dir.join("kubectl-persist")).unwrap(), std::fs::read(persist_bin()).unwrap());
    assert!(std::fs::read_to_string(dir.join("LICENSE")).unwrap().contains("Apache License"));
    let (os, arch) = host();
    let sum_file = std::fs::read_to_string(dist().join(format!("{}.sha256", archive_name(os, arch)))).unwrap();
    assert_eq!(sum_file, format!("{}  {}\n", sha256(&dist().join(archive_name(os, arch))), archive_name(os, arch)));
}

/// krew's checks (sigs.k8s.io/krew internal/index/validation), plus that
/// every platform is matched once and this machine's entry is the archive.
#[test]
fn the_krew_manifest_is_valid_and_matches_the_archive() {
    let m = manifest();
    assert_eq!(m["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2");
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(m["metadata"]["name"], "persist", "the file name (persist.yaml) and `kubectl persist`");
    let spec = &m["spec"];
    assert_eq!(spec["version"], format!("v{VERSION}"), "krew wants a semantic version with a leading v");
    let short = spec["shortDescription"].as_str().unwrap();
    assert!(!short.is_empty() && !short.contains('\n') && short.len() <= 50, "{short:?}");
    for field in ["description", "caveats"] {
        assert!(spec[field].as_str().is_some_and(|s| s.len() > 40), "{field}");
    }
    assert!(spec["homepage"].as_str().unwrap().starts_with("https://github.com/"));
    let caveats = spec["caveats"].as_str().unwrap();
    assert!(caveats.contains(&format!("store/persist/v{VERSION}/kubectl_complete-persist")), "{caveats}");
    let text = std::fs::read_to_string(dist().join("persist.yaml")).unwrap();
    assert!(!text.contains("@VERSION@"), "{text}");

    let platforms = spec["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), PLATFORMS.len());
    let (host_os, host_arch) = host();
    for (os, arch) in PLATFORMS {
        let matching: Vec<&Value> = platforms
            .iter()
            .filter(|p| {
                let l = &p["selector"]["matchLabels"];
                l["os"] == os && l["arch"] == arch
            })
            .collect();
        assert_eq!(matching.len(), 1, "{os}/{arch} is matched by exactly one platform");
        let p = matching[0];
        let labels = p["selector"]["matchLabels"].as_object().unwrap();
        assert!(labels.keys().all(|k| k == "os" || k == "arch"), "krew knows only os and arch: {labels:?}");
        assert!(p["selector"].get("matchExpressions").is_none());
        let uri = p["uri"].as_str().unwrap();
        assert_eq!(
            uri,
            format!(
                "https://github.com/kubectl-persist/kubectl-persist/releases/download/v{VERSION}/{}",
                archive_name(os, arch)
            )
        );
        let bin = if os == "windows" { "kubectl-persist.exe" } else { "kubectl-persist" };
        assert_eq!(p["bin"], bin);
        assert!(p.get("files").is_none(), "no files list: krew installs the whole archive");
        let sha = p["sha256"].as_str().unwrap();
        if (os, arch) == (host_os, host_arch) {
            assert_eq!(sha, sha256(&dist().join(archive_name(os, arch))), "the archive built here");
            assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        } else {
            // Not built on this machine: a placeholder krew refuses.
            assert_eq!(sha, format!("@SHA256_{}_{}@", os.to_uppercase(), arch.to_uppercase()));
        }
    }
    // The archive holds what `bin` names.
    assert!(unpacked().join("kubectl-persist").is_file());
}

#[test]
fn kubectl_finds_the_plugin_in_the_unpacked_archive() {
    let Some(k) = kubectl() else { return };
    let dir = unpacked();
    let home = tempfile::tempdir().unwrap();
    let kubectl = |args: &[&str]| {
        let o = Command::new(&k)
            .args(args)
            .env("PATH", dir)
            .env("HOME", home.path())
            .env("KUBECONFIG", home.path().join("none"))
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (ok, out, err) = kubectl(&["plugin", "list"]);
    assert!(ok, "{out}\n{err}");
    assert!(out.lines().any(|l| l == dir.join("kubectl-persist").display().to_string()), "{out}");
    assert!(!out.contains("kubectl_complete-persist"), "the completion helper is no plugin: {out}");

    let (ok, out, err) = kubectl(&["persist", "--help"]);
    assert!(ok, "{err}");
    assert!(out.contains("Examples:") && out.contains("kubectl persist"), "{out}");
    let (ok, out, _) = kubectl(&["persist", "--version"]);
    assert!(ok && out.starts_with(&format!("kubectl-persist {VERSION} (")), "{out}");

    // kubectl's plugin completion runs the archive's kubectl_complete-persist.
    let (ok, out, err) = kubectl(&["__complete", "persist", "--mo"]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.starts_with("--mode")), "{out}");
    assert!(out.lines().any(|l| l == ":4"), "{out}");
}

#[test]
fn the_helm_plugin_installs_from_its_package_and_renders_with_its_own_binary() {
    if !require(helm4_present(), "HELM4_BIN (Helm 4; eval \"$(../shared/tools/install-helm.sh)\")") {
        return;
    }
    let (os, arch) = host();
    let pkg = dist().join(format!("persist-{VERSION}-{os}-{arch}.tgz"));
    assert!(pkg.is_file(), "dist.sh made {}", pkg.display());
    let home = tempfile::tempdir().unwrap();
    // No kubectl-persist on PATH: the plugin must run the binary it carries.
    let helm = |args: &[&str]| {
        let o = Command::new(std::env::var_os("HELM4_BIN").unwrap())
            .args(args)
            .current_dir(repo())
            .env("PATH", "/usr/bin:/bin")
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env_remove("HELM_PLUGINS")
            .output()
            .unwrap();
        let (out, err) =
            (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
        assert!(o.status.success(), "helm {args:?}:\n{out}\n{err}");
        out
    };
    helm(&["plugin", "install", "--verify=false", pkg.to_str().unwrap()]);
    assert!(home.path().join("data/helm/plugins/persist/bin/kubectl-persist").is_file());
    assert!(helm(&["plugin", "list"]).contains("persist"));
    let out = helm(&["template", "rel", "charts/blog", "--post-renderer", "persist"]);
    assert!(out.contains("kind: StatefulSet") && out.contains("volumeClaimTemplates:"), "{out}");
    assert!(!out.contains("kind: Deployment"), "{out}");
}

/// The other platforms' checksums come from their .sha256 files; with all of
/// them the manifest is complete, and --require-all-checksums refuses a gap.
/// Packs a stand-in binary for windows/arm64 (not this machine: not run).
#[test]
fn checksums_of_other_platforms_complete_the_manifest() {
    let work = tempfile::tempdir().unwrap();
    let fake = work.path().join("kubectl-persist.exe");
    std::fs::write(&fake, b"MZ stand-in").unwrap();
    let sums = work.path().join("sums");
    std::fs::create_dir(&sums).unwrap();
    let out = work.path().join("out");
    let run = |require_all: bool| {
        let mut c = Command::new("bash");
        c.arg(repo().join("scripts/dist.sh"))
            .args(["--target", "windows/arm64", "--bin"])
            .arg(&fake)
            .arg("--out")
            .arg(&out)
            .arg("--checksums")
            .arg(&sums)
            .env_remove("HELM4_BIN")
            .env("PATH", "/usr/bin:/bin");
        if require_all {
            c.arg("--require-all-checksums");
        }
        c.output().unwrap()
    };
    // Four of the five others.
    let mut fakes = std::collections::BTreeMap::new();
    for (i, (os, arch)) in PLATFORMS.iter().filter(|p| **p != ("windows", "arm64")).enumerate().skip(1) {
        let hex = format!("{i:x}").repeat(64);
        std::fs::write(
            sums.join(format!("{}.sha256", archive_name(os, arch))),
            format!("{hex}  {}\n", archive_name(os, arch)),
        )
        .unwrap();
        fakes.insert((*os, *arch), hex);
    }
    let o = run(true);
    assert!(!o.status.success(), "one platform lacks a checksum");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("linux/amd64"), "{err}");

    let (os0, arch0) = PLATFORMS[0];
    let hex0 = "a".repeat(64);
    std::fs::write(sums.join(format!("{}.sha256", archive_name(os0, arch0))), format!("{hex0}  x\n")).unwrap();
    fakes.insert((os0, arch0), hex0);
    let o = run(true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let m: Value = serde_yaml::from_str(&std::fs::read_to_string(out.join("persist.yaml")).unwrap()).unwrap();
    let built = out.join(archive_name("windows", "arm64"));
    fakes.insert(("windows", "arm64"), sha256(&built));
    for p in m["spec"]["platforms"].as_array().unwrap() {
        let key = (
            p["selector"]["matchLabels"]["os"].as_str().unwrap(),
            p["selector"]["matchLabels"]["arch"].as_str().unwrap(),
        );
        assert_eq!(p["sha256"], fakes[&key].as_str(), "{key:?}");
    }
    // A Windows archive: the .exe and the .cmd completion helper.
    let list = Command::new("tar").arg("-tzf").arg(&built).output().unwrap();
    let list: BTreeSet<String> = String::from_utf8_lossy(&list.stdout).lines().map(str::to_string).collect();
    assert!(list.contains("kubectl-persist.exe") && list.contains("kubectl_complete-persist.cmd"), "{list:?}");
    assert!(!list.contains("kubectl_complete-persist"), "{list:?}");
}
