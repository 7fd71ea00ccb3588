//! Detection: find the paths of a pod that hold data when nothing else says.
//!
//! Each detector proposes paths with a confidence and a reason; `--detect`
//! decides which confidences are taken (`safe`: high only, `all`: any
//! positive one). Proposals with [`Confidence::None`] are findings against a
//! path (scratch space), kept so `--explain` can say why it was left alone.

use crate::yaml::Node;
use crate::Options;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Level {
    Off,
    #[default]
    Safe,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    None,
    Low,
    Medium,
    High,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub container: Option<String>,
    pub path: String,
    pub confidence: Confidence,
    pub reason: String,
    /// A suggested claim size.
    pub size: Option<String>,
}

impl Proposal {
    pub fn taken(&self, level: Level) -> bool {
        match level {
            Level::Off => false,
            Level::Safe => self.confidence == Confidence::High,
            Level::All => self.confidence > Confidence::None,
        }
    }
}

/// A source of proposals.
pub trait Detector {
    fn propose(&self, pod: &Node, out: &mut Vec<Proposal>);
}

/// Run every detector over a pod spec; one proposal per path, the most
/// confident one.
pub fn detect(_kind: &str, pod: &Node, _opts: &Options) -> Vec<Proposal> {
    let detectors: [&dyn Detector; 1] = [&EmptyDirDetector];
    let mut all = Vec::new();
    for d in detectors {
        d.propose(pod, &mut all);
    }
    let mut out: Vec<Proposal> = Vec::new();
    for p in all {
        match out.iter_mut().find(|q| q.path == p.path) {
            Some(q) if p.confidence > q.confidence => *q = p,
            Some(_) => {}
            None => out.push(p),
        }
    }
    out
}

/// Path segments and volume names that mark scratch space.
const SCRATCH: [&str; 16] = [
    "tmp", "temp", "cache", "caches", ".cache", "run", "lock", "locks", "sock", "socket", "sockets", "shm", "scratch",
    "tmp-dir", "logs", "log",
];

/// Segments that mark generated configuration (rendered at start-up from
/// ConfigMaps or the image) rather than data.
const GENERATED: [&str; 6] = ["conf", "config-dir", "app-conf-dir", "etc", "certs", "plugins"];

/// Segments that say "this is where the app keeps what it was given".
const DATA: [&str; 14] = [
    "data",
    "storage",
    "db",
    "database",
    "uploads",
    "content",
    "media",
    "files",
    "repositories",
    "repos",
    "state",
    "persistence",
    "pgdata",
    "lib",
];

fn segments(p: &str) -> impl Iterator<Item = &str> {
    p.split('/').filter(|s| !s.is_empty())
}

/// An emptyDir mounted at a path that looks like data.
pub struct EmptyDirDetector;

impl Detector for EmptyDirDetector {
    fn propose(&self, pod: &Node, out: &mut Vec<Proposal>) {
        let volumes = pod.get("volumes");
        let empty_dir = |name: &str| {
            volumes
                .into_iter()
                .flat_map(|v| v.items())
                .find(|v| v.str_at(&["name"]) == Some(name))
                .and_then(|v| v.get("emptyDir"))
        };
        for c in pod.get("containers").into_iter().flat_map(|c| c.items()) {
            let cname = c.str_at(&["name"]).unwrap_or_default();
            for m in c.get("volumeMounts").into_iter().flat_map(|m| m.items()) {
                let (Some(vol), Some(path)) = (m.str_at(&["name"]), m.str_at(&["mountPath"])) else { continue };
                let Some(ed) = empty_dir(vol) else { continue };
                let path = crate::decide::values::normalize_path(path);
                let sub = m.str_at(&["subPath"]).unwrap_or_default();
                let words: Vec<String> = segments(&path)
                    .chain(std::iter::once(vol))
                    .chain(segments(sub))
                    .map(str::to_ascii_lowercase)
                    .collect();
                let has = |set: &[&str]| {
                    words.iter().any(|w| set.contains(&w.as_str()) || set.iter().any(|s| w.ends_with(&format!("-{s}"))))
                };
                let (confidence, reason) = if ed.str_at(&["medium"]) == Some("Memory") {
                    (Confidence::None, format!("emptyDir {vol} is in memory (medium: Memory): scratch"))
                } else if m.get("readOnly").and_then(Node::as_bool) == Some(true) {
                    (Confidence::None, format!("emptyDir {vol} is mounted read-only at {path}"))
                } else if has(&SCRATCH) {
                    (
                        Confidence::None,
                        format!("emptyDir {vol} at {path} is scratch space (tmp, cache, run, lock, socket or logs)"),
                    )
                } else if has(&GENERATED) {
                    (Confidence::None, format!("emptyDir {vol} at {path} holds generated configuration"))
                } else if has(&DATA) {
                    (Confidence::High, format!("emptyDir {vol} mounted at {path} in {cname} looks like data"))
                } else {
                    (Confidence::Medium, format!("emptyDir {vol} mounted at {path} in {cname}"))
                };
                let size = ed.str_at(&["sizeLimit"]).map(str::to_string);
                out.push(Proposal { container: None, path, confidence, reason, size });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn empty_dir_proposals() {
        let pod = parse::parse(
            "containers:\n- name: app\n  volumeMounts:\n  - {name: data, mountPath: /var/lib/app/data}\n  - {name: tmp, mountPath: /tmp}\n  - {name: shm, mountPath: /dev/shm}\n  - {name: e, mountPath: /opt/bitnami/x/conf, subPath: app-conf-dir}\n  - {name: w, mountPath: /srv/things}\nvolumes:\n- {name: data, emptyDir: {sizeLimit: 2Gi}}\n- {name: tmp, emptyDir: {}}\n- {name: shm, emptyDir: {medium: Memory}}\n- {name: e, emptyDir: {}}\n- {name: w, emptyDir: {}}\n",
            &Default::default(),
        )
        .unwrap()
        .unwrap();
        let mut out = Vec::new();
        EmptyDirDetector.propose(&pod, &mut out);
        let got: Vec<(&str, Confidence)> = out.iter().map(|p| (p.path.as_str(), p.confidence)).collect();
        assert_eq!(
            got,
            vec![
                ("/var/lib/app/data", Confidence::High),
                ("/tmp", Confidence::None),
                ("/dev/shm", Confidence::None),
                ("/opt/bitnami/x/conf", Confidence::None),
                ("/srv/things", Confidence::Medium),
            ]
        );
        assert_eq!(out[0].size.as_deref(), Some("2Gi"));
        assert!(out[0].taken(Level::Safe) && !out[4].taken(Level::Safe) && out[4].taken(Level::All));
    }
}
