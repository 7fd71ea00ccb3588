//! How good detection is on real charts: the precision and recall of what
//! `decide` persists with no flags, no config and no annotations, at
//! `--detect=safe`, against the labels in `testdata/detect-truth.tsv` (its
//! header says what counts as data and how paths are matched).
//!
//! The corpus is `../shared/corpus/rendered` next to the repository. Without
//! it the test fails on CI (`CI=true`) and is skipped, saying so, elsewhere.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use kubectl_persist::decide::{self, detect::Level};
use kubectl_persist::stream::Stream;
use kubectl_persist::yaml::{Limits, Node};
use kubectl_persist::{rules, Input, Options};

/// Print past the test harness's capture, so the numbers show in a plain
/// `cargo test` run too.
macro_rules! say {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

const PRECISION_TARGET: f64 = 0.97;
const RECALL_TARGET: f64 = 0.9;

/// `(file, kind, namespace/name)`.
type Key = (String, String, String);

struct Truth {
    paths: Vec<String>,
    reason: String,
}

fn read_truth(path: &Path) -> BTreeMap<Key, Truth> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() || line.starts_with("file\t") {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5, "{}:{}: want 5 tab-separated columns", path.display(), n + 1);
        assert!(!cols[4].trim().is_empty(), "{}:{}: every label needs a reason", path.display(), n + 1);
        let paths = match cols[3] {
            "-" => Vec::new(),
            p => p.split(',').map(|p| normalize(p.trim())).collect(),
        };
        let key = (cols[0].to_string(), cols[1].to_string(), cols[2].to_string());
        let dup = out.insert(key, Truth { paths, reason: cols[4].to_string() });
        assert!(dup.is_none(), "{}:{}: workload labelled twice", path.display(), n + 1);
    }
    out
}

fn normalize(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    format!("/{}", parts.join("/"))
}

fn under(path: &str, dir: &str) -> bool {
    path != dir && (dir == "/" || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/')))
}

/// Every mount of the pod (app and init containers): (path, volume).
fn mounts(pod: &Node) -> Vec<(String, String)> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.get(f))
        .flat_map(|l| l.items())
        .flat_map(|c| c.get("volumeMounts").into_iter().flat_map(|m| m.items()))
        .filter_map(|m| Some((normalize(m.str_at(&["mountPath"])?), m.str_at(&["name"])?.to_string())))
        .collect()
}

/// Does persisting `p` persist `t` (the matching rule of the truth file)?
fn covers(mounts: &[(String, String)], p: &str, t: &str) -> bool {
    if p == t {
        return true;
    }
    if !under(t, p) {
        return false;
    }
    let at_p = mounts.iter().find(|(m, _)| m == p).map(|(_, v)| v);
    mounts.iter().filter(|(m, _)| under(m, p) && (m == t || under(t, m))).all(|(_, v)| Some(v) == at_p)
}

/// A workload, the paths detection persists, and its pod's mounts.
type Persisted = (Key, Vec<String>, Vec<(String, String)>);

/// What detection persists, per workload of a corpus file.
fn proposals(file: &Path, opts: &Options) -> Vec<Persisted> {
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let inputs = [Input { name: name.clone(), bytes: std::fs::read(file).unwrap() }];
    let s = Stream::read(&inputs, &Limits::default(), false).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    for o in &s.objects {
        if o.kind != "Deployment" && o.kind != "StatefulSet" {
            continue;
        }
        let obj = s.obj(o.id).expect("workloads are parsed");
        let pod = rules::pod_spec(obj, &o.kind).unwrap_or_else(|| panic!("{name}: {} has no pod", o.label()));
        let ns = o.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("-");
        let key = (name.clone(), o.kind.clone(), format!("{ns}/{}", o.name));
        let plan = decide::decide(obj, &o.kind, pod, opts, false).unwrap_or_else(|e| panic!("{key:?}: {e}"));
        let paths: Vec<String> =
            plan.map(|p| p.paths.into_iter().map(|r| normalize(&r.path)).collect()).unwrap_or_default();
        out.push((key, paths, mounts(pod)));
    }
    out
}

#[derive(Default)]
struct Score {
    proposed: usize,
    right: usize,
    truth: usize,
    found: usize,
    wrong: Vec<String>,
    missed: Vec<String>,
}

impl Score {
    fn precision(&self) -> f64 {
        if self.proposed == 0 {
            1.0
        } else {
            self.right as f64 / self.proposed as f64
        }
    }

    fn recall(&self) -> f64 {
        if self.truth == 0 {
            1.0
        } else {
            self.found as f64 / self.truth as f64
        }
    }
}

fn score(files: &[PathBuf], truth: &BTreeMap<Key, Truth>, level: Level) -> Score {
    let opts = Options { detect: level, ..Options::default() };
    let mut s = Score::default();
    let mut seen = Vec::new();
    for f in files {
        for (key, proposed, mounts) in proposals(f, &opts) {
            let t = truth
                .get(&key)
                .unwrap_or_else(|| panic!("{key:?} is not labelled in testdata/detect-truth.tsv; add a line for it"));
            seen.push(key.clone());
            let label = format!("{} {} {}", key.0, key.1, key.2);
            for p in &proposed {
                s.proposed += 1;
                if t.paths.iter().any(|tp| covers(&mounts, p, tp)) {
                    s.right += 1;
                } else {
                    s.wrong.push(format!(
                        "{label}: proposed {p}; truth: {} ({})",
                        t.paths.join(",").max("-".into()),
                        t.reason
                    ));
                }
            }
            for tp in &t.paths {
                s.truth += 1;
                if proposed.iter().any(|p| covers(&mounts, p, tp)) {
                    s.found += 1;
                } else {
                    s.missed.push(format!("{label}: missed {tp} ({}); proposed: {}", t.reason, proposed.join(",")));
                }
            }
        }
    }
    let stale: Vec<&Key> = truth.keys().filter(|k| !seen.contains(k)).collect();
    assert!(stale.is_empty(), "labelled workloads not in the corpus: {stale:?}");
    s
}

#[test]
fn detection_precision_and_recall_on_the_corpus() {
    let Some(files) = common::corpus_files() else { return };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let truth = read_truth(&root.join("testdata/detect-truth.tsv"));
    assert!(!files.is_empty(), "no *.yaml in the corpus");

    let all = score(&files, &truth, Level::All);
    let safe = score(&files, &truth, Level::Safe);
    for w in &safe.wrong {
        say!("detect_quality: wrong: {w}");
    }
    for m in &safe.missed {
        say!("detect_quality: missed: {m}");
    }
    say!("detect_quality: {} files, {} workloads, {} data paths labelled", files.len(), truth.len(), safe.truth);
    say!(
        "detect_quality: --detect=safe: precision {:.3} ({}/{}), recall {:.3} ({}/{})",
        safe.precision(),
        safe.right,
        safe.proposed,
        safe.recall(),
        safe.found,
        safe.truth
    );
    say!(
        "detect_quality: --detect=all:  precision {:.3} ({}/{}), recall {:.3} ({}/{}) (for information)",
        all.precision(),
        all.right,
        all.proposed,
        all.recall(),
        all.found,
        all.truth
    );
    assert!(
        safe.precision() >= PRECISION_TARGET,
        "precision {:.3} is below {PRECISION_TARGET}: {:#?}",
        safe.precision(),
        safe.wrong
    );
    assert!(safe.recall() >= RECALL_TARGET, "recall {:.3} is below {RECALL_TARGET}: {:#?}", safe.recall(), safe.missed);
}

#[test]
fn the_matching_rule() {
    let m = |v: &[(&str, &str)]| v.iter().map(|(p, n)| (p.to_string(), n.to_string())).collect::<Vec<_>>();
    // A new claim over the parent covers the data directory.
    assert!(covers(&[], "/var/lib/postgresql", "/var/lib/postgresql/data"));
    // An emptyDir claim covers its own subPaths...
    let nc = m(&[("/var/www/html", "main"), ("/var/www/html/data", "main")]);
    assert!(covers(&nc, "/var/www/html", "/var/www/html/data"));
    // ...but not another volume mounted inside it.
    let nexus = m(&[("/nexus-data", "data"), ("/nexus-data/backup", "backup")]);
    assert!(!covers(&nexus, "/nexus-data", "/nexus-data/backup"));
    assert!(!covers(&[], "/data", "/var/lib/data"));
    assert!(!covers(&[], "/var/lib/postgresql/data", "/var/lib/postgresql"));
}
