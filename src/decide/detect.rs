//! Detection: find the paths of a pod that hold data when nothing else says.
//!
//! Each detector proposes paths with a confidence and a reason; `--detect`
//! decides which confidences are taken (`safe`: high only, `all`: any
//! positive one). Proposals with [`Confidence::None`] are findings against a
//! path (scratch space, already persistent, content the image ships), kept so
//! `--explain` can say why it was left alone.
//!
//! Two detectors, in this order (on the same path the more confident wins,
//! the first on a tie):
//!
//! 1. [`CatalogDetector`]: the image of an app container is in the
//!    [catalog](super::catalog); each of its data paths (moved by env, flags
//!    or arguments where the container says so) is served today by
//!    - an emptyDir at the path: that volume becomes a claim (high); if the
//!      chart uses that emptyDir mostly for scratch (half or more of its
//!      mounts are tmp, cache, logs, config), or keeps it in memory: medium;
//!    - an emptyDir above it: that volume becomes a claim (high); a mostly
//!      scratch one gets a new claim mounted at the path instead;
//!    - emptyDirs below it (and nothing persistent there): those volumes;
//!    - nothing: a new claim at the path in that container (high), unless
//!      it would hide a `keep_out` path of the image (none);
//!    - a claim, claim template, hostPath or other persistent volume at,
//!      above or below it: already persistent (none).
//!
//!    An override whose value cannot be read (`valueFrom`, `$(VAR)`) gives
//!    medium: the default path is assumed. So is a path that nothing mounts
//!    while the chart mounts another data-looking emptyDir in that container
//!    (the app is likely configured, through files we cannot read, to keep
//!    its data there).
//! 2. [`EmptyDirDetector`]: each emptyDir mount of an app container, by the
//!    words of its path, subPath and volume name: scratch (tmp, cache, run,
//!    lock, socket, shm, logs, work), generated content (conf, etc, certs,
//!    plugins, scripts, static, assets), `medium: Memory` and read-only
//!    mounts are none; data words in the path or subPath (data, storage, db,
//!    uploads, media, ...) or a path under /var/lib or /bitnami are high;
//!    anything else medium. An emptyDir the chart uses mostly for scratch
//!    is at most medium. The catalog overrides the
//!    words: in containers whose images the catalog knows, an emptyDir the
//!    catalog does not name is at most medium, and none when every such
//!    image is stateless (or keeps no data as configured). This holds only
//!    where the chart follows the catalog (every catalog path of the
//!    container has a volume); otherwise the words decide.

use super::catalog::{Catalog, Entry, Located};
use super::values::normalize_path;
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

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::None => "none",
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// A group id that makes a fresh claim writable for a proposal's container.
#[derive(Clone, Debug, PartialEq)]
pub struct FsGroupHint {
    pub gid: i64,
    pub why: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The container a new volume is mounted in (`None`: the emptyDir's
    /// mounts, or every app container).
    pub container: Option<String>,
    pub path: String,
    pub confidence: Confidence,
    pub reason: String,
    /// A suggested claim size.
    pub size: Option<String>,
    pub fs_group: Option<FsGroupHint>,
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
    fn propose(&self, pod: &Pod, out: &mut Vec<Proposal>);
}

/// Run every detector over a workload's pod; one proposal per path, the most
/// confident one.
pub fn detect(obj: &Node, kind: &str, pod: &Node, opts: &Options) -> Vec<Proposal> {
    let view = Pod::new(obj, kind, pod, &opts.catalog);
    let detectors: [&dyn Detector; 2] = [&CatalogDetector, &EmptyDirDetector];
    let mut all = Vec::new();
    for d in detectors {
        d.propose(&view, &mut all);
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

/// What detectors see: the pod spec, its volumes and mounts, and the catalog
/// entry of each app container.
pub struct Pod<'a> {
    pub spec: &'a Node,
    /// Names of the workload's volumeClaimTemplates.
    pub templates: Vec<String>,
    pub containers: Vec<Container<'a>>,
    /// Mounts of the app containers, paths normalised.
    pub mounts: Vec<Mount<'a>>,
}

pub struct Container<'a> {
    pub name: &'a str,
    pub node: &'a Node,
    pub image: &'a str,
    pub entry: Option<&'a Entry>,
    /// Where the catalog says this container keeps its data.
    pub data: Vec<Located>,
}

#[derive(Debug, Clone)]
pub struct Mount<'a> {
    pub container: &'a str,
    pub path: String,
    pub volume: &'a str,
    pub sub_path: &'a str,
    pub read_only: bool,
}

/// What serves a pod volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backing<'a> {
    EmptyDir {
        memory: bool,
        size_limit: Option<&'a str>,
    },
    Claim(&'a str),
    Template,
    /// hostPath, nfs, csi, ...: the data outlives the pod.
    Persistent(&'a str),
    /// configMap, secret, projected, downwardAPI.
    Content(&'a str),
    Ephemeral,
    Missing,
}

impl Backing<'_> {
    fn persistent(&self) -> bool {
        matches!(self, Backing::Claim(_) | Backing::Template | Backing::Persistent(_))
    }
}

/// `path` is strictly inside `dir`.
fn under(path: &str, dir: &str) -> bool {
    path != dir && (dir == "/" || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')))
}

impl<'a> Pod<'a> {
    pub fn new(obj: &'a Node, _kind: &str, spec: &'a Node, catalog: &'a Catalog) -> Pod<'a> {
        let templates = obj
            .path(&["spec", "volumeClaimTemplates"])
            .into_iter()
            .flat_map(|t| t.items())
            .filter_map(|t| t.str_at(&["metadata", "name"]).map(str::to_string))
            .collect();
        let mut mounts = Vec::new();
        let mut nodes = Vec::new();
        for c in spec.get("containers").into_iter().flat_map(|c| c.items()) {
            let name = c.str_at(&["name"]).unwrap_or_default();
            nodes.push((name, c));
            for m in c.get("volumeMounts").into_iter().flat_map(|m| m.items()) {
                let (Some(volume), Some(path)) = (m.str_at(&["name"]), m.str_at(&["mountPath"])) else { continue };
                mounts.push(Mount {
                    container: name,
                    path: normalize_path(path),
                    volume,
                    sub_path: m.str_at(&["subPath"]).unwrap_or_default(),
                    read_only: m.get("readOnly").and_then(Node::as_bool) == Some(true),
                });
            }
        }
        let containers = nodes
            .into_iter()
            .map(|(name, node)| {
                let image = node.str_at(&["image"]).unwrap_or_default();
                let entry = catalog.lookup(image).map(|h| h.entry);
                let mounted =
                    |p: &str| mounts.iter().any(|m| m.container == name && (m.path == p || under(&m.path, p)));
                let data = entry.map(|e| e.data_paths(image, node, &mounted)).unwrap_or_default();
                Container { name, node, image, entry, data }
            })
            .collect();
        Pod { spec, templates, containers, mounts }
    }

    pub fn backing(&self, volume: &str) -> Backing<'a> {
        let spec: &'a Node = self.spec;
        let vol = spec.get("volumes").into_iter().flat_map(|v| v.items()).find(|v| v.str_at(&["name"]) == Some(volume));
        let Some(vol) = vol else {
            return if self.templates.iter().any(|t| t == volume) { Backing::Template } else { Backing::Missing };
        };
        for e in vol.entries() {
            match e.key.key_str() {
                Some("emptyDir") => {
                    return Backing::EmptyDir {
                        memory: e.value.str_at(&["medium"]) == Some("Memory"),
                        size_limit: e.value.str_at(&["sizeLimit"]),
                    }
                }
                Some("persistentVolumeClaim") => {
                    return Backing::Claim(e.value.str_at(&["claimName"]).unwrap_or_default())
                }
                Some(k @ ("configMap" | "secret" | "projected" | "downwardAPI")) => return Backing::Content(k),
                Some("ephemeral") => return Backing::Ephemeral,
                Some("name") | None => {}
                Some(k) => return Backing::Persistent(k),
            }
        }
        // Only a name: Kubernetes makes it an emptyDir.
        Backing::EmptyDir { memory: false, size_limit: None }
    }

    fn mounts_in<'s>(&'s self, container: &'s str) -> impl Iterator<Item = &'s Mount<'a>> + 's {
        self.mounts.iter().filter(move |m| m.container == container)
    }

    /// An emptyDir the chart uses mostly for scratch: half or more of its
    /// mounts (at least two) are scratch or generated content. `(k, n)`.
    fn scratch_volume(&self, volume: &str) -> Option<(usize, usize)> {
        let of: Vec<&Mount> = self.mounts.iter().filter(|m| m.volume == volume).collect();
        let k = of.iter().filter(|m| matches!(classify(m), Class::Scratch | Class::Generated)).count();
        (of.len() >= 2 && k * 2 >= of.len()).then_some((k, of.len()))
    }

    fn container(&self, name: &str) -> Option<&Container<'a>> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Does some volume of `container` serve `path`: mounted at it, above it
    /// or inside it?
    fn served(&self, container: &str, path: &str) -> bool {
        self.mounts_in(container).any(|m| m.path == path || under(path, &m.path) || under(&m.path, path))
    }

    /// Every catalog data path of the container is served by some volume:
    /// the chart has laid the image's data out as the catalog knows it.
    fn follows_catalog(&self, c: &Container) -> bool {
        c.data.iter().all(|l| self.served(c.name, &l.path))
    }

    /// emptyDirs of a container that look like data but are none of the
    /// catalog's paths (nor above or inside one): where a chart that
    /// configures the app through files we cannot read may keep its data.
    fn other_data_dirs<'s>(&'s self, c: &'s Container) -> Vec<&'s Mount<'a>> {
        self.mounts_in(c.name)
            .filter(|m| {
                matches!(self.backing(m.volume), Backing::EmptyDir { memory: false, .. })
                    && !m.read_only
                    && classify(m) == Class::Data
                    && self.scratch_volume(m.volume).is_none()
                    && !c.data.iter().any(|l| l.path == m.path || under(&l.path, &m.path) || under(&m.path, &l.path))
            })
            .collect()
    }
}

/// Path segments and volume names, split at `-`, `_` and `.`, that mark
/// scratch space.
const SCRATCH: [&str; 17] = [
    "tmp", "temp", "cache", "caches", "run", "lock", "locks", "sock", "socket", "sockets", "shm", "scratch", "logs",
    "log", "work", "pid", "pids",
];

/// Words that mark content generated at start-up (from ConfigMaps or the
/// image) rather than data.
const GENERATED: [&str; 12] = [
    "conf",
    "etc",
    "certs",
    "cert",
    "tls",
    "secrets",
    "plugins",
    "plugin",
    "scripts",
    "provisioning",
    "static",
    "assets",
];

/// Words of a path (or subPath) that say "this is where the app keeps what
/// it was given". A volume merely named so is not enough: sidecars pass
/// files through `shared-data` volumes.
const DATA: [&str; 12] = [
    "data",
    "datadir",
    "storage",
    "db",
    "database",
    "uploads",
    "media",
    "repositories",
    "repos",
    "state",
    "persistence",
    "pgdata",
];

/// Directories whose subdirectories hold data by convention (the FHS's
/// /var/lib; Bitnami images' /bitnami/APP, their scratch being under
/// /opt/bitnami).
const DATA_ROOTS: [&str; 2] = ["/var/lib", "/bitnami"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Scratch,
    Generated,
    Data,
    Unclear,
}

fn words<'s>(parts: impl Iterator<Item = &'s str>) -> Vec<String> {
    parts.flat_map(|p| p.split(['/', '-', '_', '.'])).filter(|w| !w.is_empty()).map(str::to_ascii_lowercase).collect()
}

fn classify(m: &Mount) -> Class {
    let dirs = words([m.path.as_str(), m.sub_path].into_iter());
    let all = words([m.path.as_str(), m.sub_path, m.volume].into_iter());
    let has = |ws: &[String], set: &[&str]| ws.iter().any(|w| set.contains(&w.as_str()));
    let system = ["/dev", "/proc", "/sys"].iter().any(|d| m.path == *d || under(&m.path, d));
    if system || has(&all, &SCRATCH) {
        Class::Scratch
    } else if has(&all, &GENERATED) {
        Class::Generated
    } else if has(&dirs, &DATA) || DATA_ROOTS.iter().any(|r| under(&m.path, r)) {
        Class::Data
    } else {
        Class::Unclear
    }
}

/// Data paths from the image catalog.
pub struct CatalogDetector;

impl Detector for CatalogDetector {
    fn propose(&self, pod: &Pod, out: &mut Vec<Proposal>) {
        for c in &pod.containers {
            let Some(entry) = c.entry else { continue };
            for loc in &c.data {
                catalog_path(pod, c, entry, loc, out);
            }
        }
    }
}

fn fs_group_hint(pod: &Pod, c: &Container, entry: &Entry) -> Option<FsGroupHint> {
    let sc = |key: &str| {
        c.node
            .path(&["securityContext", key])
            .and_then(Node::as_i64)
            .or_else(|| pod.spec.path(&["securityContext", key]).and_then(Node::as_i64))
    };
    if let Some(g) = sc("runAsGroup").filter(|g| *g > 0) {
        return Some(FsGroupHint { gid: g, why: format!("container {} runs as group {g}", c.name) });
    }
    if let (Some(u), Some(image_uid)) = (sc("runAsUser"), entry.uid) {
        if u != image_uid {
            return None; // the pod chose another user; the image's group may not fit
        }
    }
    let gid = entry.gid?;
    let user = entry.uid.map(|u| format!("{u}:{gid}")).unwrap_or_else(|| format!("group {gid}"));
    Some(FsGroupHint { gid, why: format!("catalog: image {} runs as {user}", entry.name()) })
}

fn catalog_path(pod: &Pod, c: &Container, entry: &Entry, loc: &Located, out: &mut Vec<Proposal>) {
    let p = loc.path.as_str();
    let says = format!("catalog: image {} keeps data in {p} ({})", entry.name(), loc.how);
    let sure = if loc.known { Confidence::High } else { Confidence::Medium };
    let hint = fs_group_hint(pod, c, entry);
    let mut push = |path: &str, confidence: Confidence, why: String, size: Option<&str>| {
        out.push(Proposal {
            container: Some(c.name.to_string()),
            path: path.to_string(),
            confidence,
            reason: format!("{says}; {why}"),
            size: size.map(str::to_string).or_else(|| entry.size.clone()),
            fs_group: hint.clone(),
        })
    };
    let already = |b: Backing, v: &str| match b {
        Backing::Claim(claim) => Some(format!("claim {claim} (volume {v})")),
        Backing::Template => Some(format!("volumeClaimTemplate {v}")),
        Backing::Persistent(k) => Some(format!("{k} volume {v}")),
        _ => None,
    };
    // A volume at the path itself.
    if let Some(m) = pod.mounts_in(c.name).find(|m| m.path == p) {
        let v = m.volume;
        let b = pod.backing(v);
        match b {
            Backing::EmptyDir { memory: true, .. } => {
                push(p, Confidence::Medium, format!("served by emptyDir {v} in memory (medium: Memory)"), None)
            }
            Backing::EmptyDir { size_limit, .. } => match pod.scratch_volume(v) {
                Some((k, n)) => push(
                    p,
                    Confidence::Medium.min(sure),
                    format!("served by emptyDir {v}, which the chart uses for scratch ({k} of its {n} mounts are tmp, cache, logs or config)"),
                    size_limit,
                ),
                None => push(p, sure, format!("emptyDir {v} there becomes a claim"), size_limit),
            },
            Backing::Content(k) => {
                push(p, Confidence::None, format!("served by {k} volume {v}, which holds content, not data"), None)
            }
            Backing::Ephemeral => {
                push(p, Confidence::None, format!("on generic ephemeral volume {v}; change it by hand"), None)
            }
            Backing::Missing => {
                push(p, Confidence::None, format!("mounted from volume {v}, which the pod does not define"), None)
            }
            _ => push(p, Confidence::None, format!("already persistent on {}", already(b, v).unwrap_or_default()), None),
        }
        return;
    }
    // A volume above it.
    if let Some(m) = pod.mounts_in(c.name).filter(|m| under(p, &m.path)).max_by_key(|m| m.path.len()) {
        let (v, at) = (m.volume, m.path.as_str());
        let b = pod.backing(v);
        match b {
            Backing::EmptyDir { memory: true, .. } => {
                push(at, Confidence::Medium, format!("inside emptyDir {v} at {at}, in memory (medium: Memory)"), None)
            }
            Backing::EmptyDir { size_limit, .. } => match pod.scratch_volume(v) {
                Some(_) => new_volume(
                    entry,
                    p,
                    sure,
                    &format!(
                        "inside emptyDir {v} at {at}, which the chart uses for scratch; a new claim is mounted at {p}"
                    ),
                    &mut push,
                ),
                None => {
                    push(at, sure, format!("inside emptyDir {v} mounted at {at}, which becomes a claim"), size_limit)
                }
            },
            Backing::Content(k) => push(
                p,
                Confidence::None,
                format!("inside {at}, a read-only {k} volume where no mount point can be made"),
                None,
            ),
            Backing::Ephemeral | Backing::Missing => {
                push(p, Confidence::None, format!("inside {at}, on volume {v} that is left alone"), None)
            }
            _ => push(
                p,
                Confidence::None,
                format!("already persistent: inside {at}, on {}", already(b, v).unwrap_or_default()),
                None,
            ),
        }
        return;
    }
    // Volumes below it.
    let below: Vec<&Mount> = pod.mounts_in(c.name).filter(|m| under(&m.path, p)).collect();
    if let Some(m) = below.iter().find(|m| pod.backing(m.volume).persistent()) {
        let what = already(pod.backing(m.volume), m.volume).unwrap_or_default();
        push(p, Confidence::None, format!("already persistent: the chart mounts {what} at {} inside it", m.path), None);
        return;
    }
    // A claim over it would not reach what lives on these volumes.
    if let Some(m) = below.iter().find(|m| matches!(pod.backing(m.volume), Backing::Ephemeral)) {
        let why = format!(
            "the chart mounts generic ephemeral volume {} at {} inside it; change it by hand",
            m.volume, m.path
        );
        push(p, Confidence::None, why, None);
        return;
    }
    let data_below: Vec<&&Mount> = below
        .iter()
        .filter(|m| {
            matches!(pod.backing(m.volume), Backing::EmptyDir { memory: false, .. })
                && matches!(classify(m), Class::Data | Class::Unclear)
        })
        .collect();
    if !data_below.is_empty() {
        for m in data_below {
            let size = match pod.backing(m.volume) {
                Backing::EmptyDir { size_limit, .. } => size_limit,
                _ => None,
            };
            push(
                &m.path,
                sure,
                format!("the chart mounts emptyDir {} at {} inside it, which becomes a claim", m.volume, m.path),
                size,
            );
        }
        return;
    }
    // The chart mounts other data-looking emptyDirs instead: it has likely
    // moved the data there through configuration we cannot read.
    let others = pod.other_data_dirs(c);
    if let Some(o) = others.first() {
        let why = format!(
            "nothing mounts it, but the chart mounts emptyDir {} at {}, which looks like data: the app may be configured to keep its data there instead",
            o.volume, o.path
        );
        return new_volume(entry, p, sure.min(Confidence::Medium), &why, &mut push);
    }
    new_volume(
        entry,
        p,
        sure,
        "nothing mounts it (the container's own filesystem); a new claim is mounted there",
        &mut push,
    );
}

/// A new claim at `p`, unless it would hide what the image ships there.
fn new_volume(
    entry: &Entry,
    p: &str,
    sure: Confidence,
    why: &str,
    push: &mut impl FnMut(&str, Confidence, String, Option<&str>),
) {
    if p == "/" {
        return push(p, Confidence::None, "a claim over / is never proposed".into(), None);
    }
    if let Some(k) = entry.keep_out.iter().find(|k| normalize_path(&k.path) == p || under(&normalize_path(&k.path), p))
    {
        return push(
            p,
            Confidence::None,
            format!("a new claim at {p} would hide {}, which the image ships (keep_out)", k.path),
            None,
        );
    }
    push(p, sure, why.to_string(), None)
}

/// An emptyDir mounted at a path that looks like data.
pub struct EmptyDirDetector;

/// What the catalog says about the app containers that mount a volume.
enum Verdict {
    /// Some container's image is not in the catalog.
    Unknown,
    /// Every image is known and keeps no data (as configured).
    Stateless(Vec<String>),
    /// Every image is known; these are the data paths of the ones that keep data.
    Known(Vec<String>, Vec<String>),
}

fn verdict(pod: &Pod, volume: &str) -> Verdict {
    let mut users: Vec<&str> = pod.mounts.iter().filter(|m| m.volume == volume).map(|m| m.container).collect();
    users.dedup();
    let (mut names, mut paths) = (Vec::new(), Vec::new());
    for u in users {
        let Some(c) = pod.container(u) else { return Verdict::Unknown };
        let Some(e) = c.entry else { return Verdict::Unknown };
        if !pod.follows_catalog(c) {
            // The chart moved the image's data (a catalog path is not
            // mounted): this emptyDir may be where it went.
            return Verdict::Unknown;
        }
        names.push(e.name().to_string());
        paths.extend(c.data.iter().map(|l| l.path.clone()));
    }
    names.dedup();
    if paths.is_empty() {
        Verdict::Stateless(names)
    } else {
        Verdict::Known(names, paths)
    }
}

impl Detector for EmptyDirDetector {
    fn propose(&self, pod: &Pod, out: &mut Vec<Proposal>) {
        for m in &pod.mounts {
            let Backing::EmptyDir { memory, size_limit } = pod.backing(m.volume) else { continue };
            let (vol, path, cname) = (m.volume, m.path.as_str(), m.container);
            let (confidence, reason) = if memory {
                (Confidence::None, format!("emptyDir {vol} is in memory (medium: Memory): scratch"))
            } else if m.read_only {
                (Confidence::None, format!("emptyDir {vol} is mounted read-only at {path}"))
            } else {
                match classify(m) {
                    Class::Scratch => (
                        Confidence::None,
                        format!("emptyDir {vol} at {path} is scratch space (tmp, cache, run, lock, socket, logs)"),
                    ),
                    Class::Generated => {
                        (Confidence::None, format!("emptyDir {vol} at {path} holds generated configuration"))
                    }
                    class => {
                        let (mut conf, mut why) = if class == Class::Data {
                            (Confidence::High, format!("emptyDir {vol} mounted at {path} in {cname} looks like data"))
                        } else {
                            (Confidence::Medium, format!("emptyDir {vol} mounted at {path} in {cname}"))
                        };
                        if let Some((k, n)) = pod.scratch_volume(vol) {
                            conf = conf.min(Confidence::Medium);
                            why =
                                format!("{why}, but the chart uses that emptyDir for scratch ({k} of its {n} mounts)");
                        }
                        match verdict(pod, vol) {
                            Verdict::Unknown => (conf, why),
                            Verdict::Stateless(images) => (
                                Confidence::None,
                                format!(
                                    "{why}, but the catalog says {} keeps no data (as configured)",
                                    images.join(", ")
                                ),
                            ),
                            Verdict::Known(images, paths) => (
                                conf.min(Confidence::Medium),
                                format!(
                                    "{why}, but the catalog says {} keeps its data in {}",
                                    images.join(", "),
                                    paths.join(", ")
                                ),
                            ),
                        }
                    }
                }
            };
            out.push(Proposal {
                container: None,
                path: path.to_string(),
                confidence,
                reason,
                size: size_limit.map(str::to_string),
                fs_group: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn obj(src: &str) -> Node {
        parse::parse(src, &Default::default()).unwrap().unwrap()
    }

    /// Run one detector on a workload (`spec.template.spec` is the pod).
    fn run(d: &dyn Detector, src: &str, catalog: &Catalog) -> Vec<(String, Confidence, Option<String>)> {
        let o = obj(src);
        let spec = o.path(&["spec", "template", "spec"]).unwrap();
        let pod = Pod::new(&o, "Deployment", spec, catalog);
        let mut out = Vec::new();
        d.propose(&pod, &mut out);
        out.into_iter().map(|p| (p.path, p.confidence, p.container)).collect()
    }

    fn workload(pod: &str) -> String {
        let indented: String = pod.lines().map(|l| format!("      {l}\n")).collect();
        format!("spec:\n  template:\n    spec:\n{indented}")
    }

    /// A named case: pod spec in YAML, expected (path, confidence) proposals.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, Confidence)]);

    fn got(v: &[(&str, Confidence)]) -> Vec<(String, Confidence)> {
        v.iter().map(|(p, c)| (p.to_string(), *c)).collect()
    }

    fn paths(v: Vec<(String, Confidence, Option<String>)>) -> Vec<(String, Confidence)> {
        v.into_iter().map(|(p, c, _)| (p, c)).collect()
    }

    #[test]
    fn empty_dir_cases() {
        let none = Catalog::empty();
        let cases: &[Case] = &[
            (
                "words decide",
                "containers:\n- name: app\n  volumeMounts:\n  - {name: data, mountPath: /var/lib/app/data}\n  - {name: tmp, mountPath: /tmp}\n  - {name: shm, mountPath: /dev/shm}\n  - {name: e, mountPath: /opt/bitnami/x/conf, subPath: app-conf-dir}\n  - {name: w, mountPath: /srv/things}\n  - {name: l, mountPath: /var/lib/thing}\n  - {name: ro, mountPath: /srv/ro, readOnly: true}\nvolumes:\n- {name: data, emptyDir: {sizeLimit: 2Gi}}\n- {name: tmp, emptyDir: {}}\n- {name: shm, emptyDir: {medium: Memory}}\n- {name: e, emptyDir: {}}\n- {name: w, emptyDir: {}}\n- {name: l, emptyDir: {}}\n- {name: ro, emptyDir: {}}\n",
                &[
                    ("/var/lib/app/data", Confidence::High),
                    ("/tmp", Confidence::None),
                    ("/dev/shm", Confidence::None),
                    ("/opt/bitnami/x/conf", Confidence::None),
                    ("/srv/things", Confidence::Medium),
                    ("/var/lib/thing", Confidence::High),
                    ("/srv/ro", Confidence::None),
                ],
            ),
            (
                "words are split at - _ .; a volume name alone is not data",
                "containers:\n- name: app\n  volumeMounts:\n  - {name: storage-volume, mountPath: /srv/a}\n  - {name: x, mountPath: /srv/b, subPath: app-tmp-dir}\n  - {name: plugin-dir, mountPath: /srv/c}\nvolumes:\n- {name: storage-volume, emptyDir: {}}\n- {name: x, emptyDir: {}}\n- {name: plugin-dir, emptyDir: {}}\n",
                &[("/srv/a", Confidence::Medium), ("/srv/b", Confidence::None), ("/srv/c", Confidence::None)],
            ),
            (
                "data in a mostly scratch volume is only medium",
                "containers:\n- name: app\n  volumeMounts:\n  - {name: e, mountPath: /tmp, subPath: tmp-dir}\n  - {name: e, mountPath: /opt/app/logs, subPath: logs}\n  - {name: e, mountPath: /opt/app/data, subPath: data}\nvolumes:\n- {name: e, emptyDir: {}}\n",
                &[("/tmp", Confidence::None), ("/opt/app/logs", Confidence::None), ("/opt/app/data", Confidence::Medium)],
            ),
            (
                "not emptyDirs: nothing",
                "containers:\n- name: app\n  volumeMounts:\n  - {name: c, mountPath: /data}\nvolumes:\n- {name: c, persistentVolumeClaim: {claimName: x}}\n",
                &[],
            ),
        ];
        for (name, pod, want) in cases {
            assert_eq!(paths(run(&EmptyDirDetector, &workload(pod), &none)), got(want), "{name}");
        }
    }

    #[test]
    fn empty_dirs_defer_to_the_catalog() {
        let c = Catalog::embedded();
        let cases: &[Case] = &[
            (
                "stateless image: never",
                "containers:\n- name: p\n  image: quay.io/prometheus/pushgateway:v1\n  volumeMounts:\n  - {name: storage-volume, mountPath: /data}\nvolumes:\n- {name: storage-volume, emptyDir: {}}\n",
                &[("/data", Confidence::None)],
            ),
            (
                "known image, path not in the catalog: at most medium",
                "containers:\n- name: g\n  image: grafana/grafana:11\n  volumeMounts:\n  - {name: storage, mountPath: /var/lib/grafana}\n  - {name: search, mountPath: /var/lib/grafana-search}\nvolumes:\n- {name: storage, emptyDir: {}}\n- {name: search, emptyDir: {}}\n",
                &[("/var/lib/grafana", Confidence::Medium), ("/var/lib/grafana-search", Confidence::Medium)],
            ),
            (
                "the chart moved the data elsewhere: the words decide",
                "containers:\n- name: g\n  image: gitlab/gitlab-ce\n  volumeMounts:\n  - {name: gitlab-etc, mountPath: /etc/gitlab}\n  - {name: gitlab-data, mountPath: /gitlab-data}\nvolumes:\n- {name: gitlab-etc, emptyDir: {}}\n- {name: gitlab-data, emptyDir: {}}\n",
                &[("/etc/gitlab", Confidence::None), ("/gitlab-data", Confidence::High)],
            ),
            (
                "shared with an unknown image: the words decide",
                "containers:\n- name: g\n  image: grafana/grafana:11\n  volumeMounts:\n  - {name: s, mountPath: /var/lib/shared}\n- name: x\n  image: example.com/acme/x\n  volumeMounts:\n  - {name: s, mountPath: /var/lib/shared}\nvolumes:\n- {name: s, emptyDir: {}}\n",
                &[("/var/lib/shared", Confidence::High), ("/var/lib/shared", Confidence::High)],
            ),
        ];
        for (name, pod, want) in cases {
            assert_eq!(paths(run(&EmptyDirDetector, &workload(pod), &c)), got(want), "{name}");
        }
    }

    #[test]
    fn catalog_cases() {
        let c = Catalog::embedded();
        let cases: &[Case] = &[
            ("no volumes: a new claim", "containers:\n- name: db\n  image: postgres:16\n", &[("/var/lib/postgresql/data", Confidence::High)]),
            ("postgres 18 moved its VOLUME", "containers:\n- name: db\n  image: postgres:18.1\n", &[("/var/lib/postgresql", Confidence::High)]),
            (
                "PGDATA inside the VOLUME: the claim goes on the VOLUME",
                "containers:\n- name: db\n  image: postgres:16\n  env:\n  - {name: PGDATA, value: /var/lib/postgresql/data/pgdata}\n",
                &[("/var/lib/postgresql/data", Confidence::High)],
            ),
            (
                "env moves it; an emptyDir there becomes the claim",
                "containers:\n- name: g\n  image: docker.io/grafana/grafana:13\n  env:\n  - {name: GF_PATHS_DATA, value: /var/lib/grafana/}\n  volumeMounts:\n  - {name: storage, mountPath: /var/lib/grafana}\nvolumes:\n- {name: storage, emptyDir: {}}\n",
                &[("/var/lib/grafana", Confidence::High)],
            ),
            (
                "flag moves it",
                "containers:\n- name: p\n  image: quay.io/prometheus/prometheus:v3\n  args: ['--storage.tsdb.path=/data']\n  volumeMounts:\n  - {name: storage-volume, mountPath: /data}\nvolumes:\n- {name: storage-volume, emptyDir: {}}\n",
                &[("/data", Confidence::High)],
            ),
            (
                "inside an emptyDir: that volume",
                "containers:\n- name: db\n  image: postgres:16\n  env:\n  - {name: PGDATA, value: /var/lib/postgresql/data/pgdata}\n  volumeMounts:\n  - {name: d, mountPath: /var/lib/postgresql/data}\nvolumes:\n- {name: d, emptyDir: {}}\n",
                &[("/var/lib/postgresql/data", Confidence::High)],
            ),
            (
                "an emptyDir below it: that volume",
                "containers:\n- name: db\n  image: postgres:16\n  volumeMounts:\n  - {name: d, mountPath: /var/lib/postgresql/data}\nvolumes:\n- {name: d, emptyDir: {}}\n",
                &[("/var/lib/postgresql/data", Confidence::High)],
            ),
            (
                "already on a claim: none",
                "containers:\n- name: db\n  image: bitnami/postgresql:17\n  volumeMounts:\n  - {name: data, mountPath: /bitnami/postgresql}\nvolumes:\n- {name: data, persistentVolumeClaim: {claimName: c}}\n",
                &[("/bitnami/postgresql", Confidence::None)],
            ),
            (
                "a claim below it: already persistent",
                "containers:\n- name: db\n  image: postgres:16\n  volumeMounts:\n  - {name: d, mountPath: /var/lib/postgresql/data}\nvolumes:\n- {name: d, persistentVolumeClaim: {claimName: pg}}\n",
                &[("/var/lib/postgresql/data", Confidence::None)],
            ),
            (
                "a scratch emptyDir: medium",
                "containers:\n- name: a\n  image: bitnami/mongodb:8\n  volumeMounts:\n  - {name: e, mountPath: /tmp, subPath: tmp-dir}\n  - {name: e, mountPath: /opt/bitnami/mongodb/conf, subPath: app-conf-dir}\n  - {name: e, mountPath: /bitnami/mongodb, subPath: app-volume-dir}\nvolumes:\n- {name: e, emptyDir: {}}\n",
                &[("/bitnami/mongodb", Confidence::Medium)],
            ),
            (
                "a value from a Secret: medium",
                "containers:\n- name: db\n  image: postgres:16\n  env:\n  - {name: PGDATA, valueFrom: {secretKeyRef: {name: s, key: k}}}\n",
                &[("/var/lib/postgresql/data", Confidence::Medium)],
            ),
            (
                "group: the mounted alternative",
                "containers:\n- name: r\n  image: docker.io/bitnami/redis:8\n  volumeMounts:\n  - {name: redis-data, mountPath: /data}\nvolumes:\n- {name: redis-data, emptyDir: {}}\n",
                &[("/data", Confidence::High)],
            ),
            (
                "minio: the path after server",
                "containers:\n- name: m\n  image: quay.io/minio/minio:RELEASE\n  command: [/bin/sh, -ce, 'minio server /export --address :9000']\n",
                &[("/export", Confidence::High)],
            ),
            (
                "an ephemeral volume inside the data path: left alone",
                "containers:\n- name: db\n  image: postgres:18\n  volumeMounts:\n  - {name: d, mountPath: /var/lib/postgresql/data}\nvolumes:\n- {name: d, ephemeral: {volumeClaimTemplate: {spec: {}}}}\n",
                &[("/var/lib/postgresql", Confidence::None)],
            ),
            ("stateless image: nothing", "containers:\n- name: n\n  image: nginx:1\n", &[]),
            (
                "a data emptyDir elsewhere: the unmounted path is only medium",
                "containers:\n- name: g\n  image: gitlab/gitlab-ce\n  volumeMounts:\n  - {name: gitlab-etc, mountPath: /etc/gitlab}\n  - {name: gitlab-data, mountPath: /gitlab-data}\nvolumes:\n- {name: gitlab-etc, emptyDir: {}}\n- {name: gitlab-data, emptyDir: {}}\n",
                &[("/etc/gitlab", Confidence::High), ("/var/opt/gitlab", Confidence::Medium)],
            ),
            ("optional path not switched on: nothing", "containers:\n- name: p\n  image: prom/pushgateway\n", &[]),
            (
                "init containers are not read",
                "initContainers:\n- name: i\n  image: postgres:16\ncontainers:\n- name: a\n  image: busybox\n",
                &[],
            ),
        ];
        for (name, pod, want) in cases {
            assert_eq!(paths(run(&CatalogDetector, &workload(pod), &c)), got(want), "{name}");
        }
    }

    #[test]
    fn keep_out_is_never_covered() {
        let user = "version: 1\nimages:\n  - id: app\n    match: [acme/app]\n    paths:\n      - {path: /srv, env: APP_HOME, source: s}\n    keep_out:\n      - {path: /srv/static, source: s}\n";
        let c = Catalog::empty().with_file(user, "u.yaml").unwrap();
        let w = |env: &str| {
            workload(&format!(
                "containers:\n- name: a\n  image: acme/app:1\n  env: [{{name: APP_HOME, value: {env}}}]\n"
            ))
        };
        assert_eq!(paths(run(&CatalogDetector, &w("/srv"), &c)), got(&[("/srv", Confidence::None)]));
        assert_eq!(paths(run(&CatalogDetector, &w("/srv/data"), &c)), got(&[("/srv/data", Confidence::High)]));
        assert_eq!(paths(run(&CatalogDetector, &w("/"), &c)), got(&[("/", Confidence::None)]));
    }

    #[test]
    fn new_volumes_name_their_container_and_group() {
        let c = Catalog::embedded();
        let o = obj(&workload("containers:\n- name: side\n  image: busybox\n- name: g\n  image: grafana/grafana\n"));
        let spec = o.path(&["spec", "template", "spec"]).unwrap();
        let mut out = Vec::new();
        CatalogDetector.propose(&Pod::new(&o, "Deployment", spec, &c), &mut out);
        assert_eq!(out[0].container.as_deref(), Some("g"));
        assert_eq!(out[0].size.as_deref(), Some("10Gi"));
        assert_eq!(out[0].fs_group.as_ref().map(|h| h.gid), Some(472));
        assert!(out[0].reason.contains("grafana/grafana"), "{}", out[0].reason);
        // The pod runs the image as another user: the image's group may not fit.
        let o =
            obj(&workload("securityContext: {runAsUser: 1234}\ncontainers:\n- name: g\n  image: grafana/grafana\n"));
        let spec = o.path(&["spec", "template", "spec"]).unwrap();
        let mut out = Vec::new();
        CatalogDetector.propose(&Pod::new(&o, "Deployment", spec, &c), &mut out);
        assert_eq!(out[0].fs_group, None);
        let o = obj(&workload(
            "containers:\n- name: g\n  image: grafana/grafana\n  securityContext: {runAsUser: 1234, runAsGroup: 99}\n",
        ));
        let spec = o.path(&["spec", "template", "spec"]).unwrap();
        let mut out = Vec::new();
        CatalogDetector.propose(&Pod::new(&o, "Deployment", spec, &c), &mut out);
        assert_eq!(out[0].fs_group.as_ref().map(|h| h.gid), Some(99));
    }

    #[test]
    fn detect_keeps_the_most_confident_per_path() {
        let opts = Options::default();
        let o = obj(&workload("containers:\n- name: p\n  image: prom/prometheus\n  args: [--storage.tsdb.path=/prometheus]\n  volumeMounts:\n  - {name: tmp, mountPath: /prometheus, subPath: tmp}\nvolumes:\n- {name: tmp, emptyDir: {}}\n"));
        let spec = o.path(&["spec", "template", "spec"]).unwrap();
        let got = detect(&o, "Deployment", spec, &opts);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].confidence, Confidence::High);
        assert!(got[0].reason.starts_with("catalog:"), "{}", got[0].reason);
    }
}
