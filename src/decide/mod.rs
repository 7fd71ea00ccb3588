//! Decide what to persist for one workload: flags, then the config file, then
//! the workload's annotations, then detection. Pure: reads the object, returns
//! a [`Plan`].

pub mod annotations;
pub mod catalog;
pub mod config;
pub mod detect;
pub mod select;
pub mod strict;
pub mod values;

use crate::yaml::Node;
use crate::Options;
use config::{ConfigFile, ModeName, PathEntry, Settings};

/// Deployment → StatefulSet with claim templates, or standalone claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    StatefulSet,
    Pvc,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::StatefulSet => "statefulset",
            Mode::Pvc => "pvc",
        }
    }
}

impl From<ModeName> for Mode {
    fn from(m: ModeName) -> Self {
        match m {
            ModeName::Statefulset => Mode::StatefulSet,
            ModeName::Pvc => Mode::Pvc,
        }
    }
}

/// Where a decision came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Flag,
    Config(usize),
    Annotation,
    Detect(String),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Flag => "--path".into(),
            Source::Config(i) => format!("config rules[{i}]"),
            Source::Annotation => format!("annotation {}paths", annotations::PREFIX),
            Source::Detect(why) => format!("detection: {why}"),
        }
    }
}

/// One path to put on a claim.
#[derive(Clone, Debug, PartialEq)]
pub struct PathReq {
    pub container: Option<String>,
    pub path: String,
    pub claim_name: Option<String>,
    /// `None`: the emptyDir's sizeLimit if it has one, else the default.
    pub size: Option<String>,
    pub storage_class: Option<String>,
    /// Empty until decided; `ReadWriteOnce` when nothing says otherwise.
    pub access_modes: Vec<String>,
    pub source: Source,
    /// Containers whose image initialises its data here only in an empty
    /// directory (the catalog's `needs_empty`), which a new claim's root may
    /// not be.
    pub needs_empty: Vec<NeedsEmpty>,
}

/// A container whose image refuses to initialise data in a non-empty
/// directory, at a path that may get a new claim.
#[derive(Clone, Debug, PartialEq)]
pub struct NeedsEmpty {
    pub container: String,
    /// The image's name in the catalog, for messages.
    pub image: String,
    /// `(ENV, value)`: point the image at a folder inside the new claim.
    /// `None`: nothing moves it there (or the pod sets the variable itself).
    pub fix: Option<(String, String)>,
    pub source: String,
}

impl PathReq {
    pub fn new(source: Source) -> PathReq {
        PathReq {
            container: None,
            path: String::new(),
            claim_name: None,
            size: None,
            storage_class: None,
            access_modes: Vec::new(),
            source,
            needs_empty: Vec::new(),
        }
    }
}

/// What to do to one workload.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub mode: Mode,
    pub paths: Vec<PathReq>,
    pub fs_group: Option<i64>,
    /// Detection's proposals that were not taken, for `--explain`.
    pub notes: Vec<String>,
    /// Always shown: a requested path that cannot hold the data.
    pub warnings: Vec<String>,
    /// Claims detection found the Deployment's data on already: it stays
    /// there, under the same rule as a `--path` on a claim (Recreate on a
    /// ReadWriteOnce claim), however the path was found.
    pub on_claims: Vec<String>,
}

/// Settings layered by precedence; the first that has a value wins.
struct Layers<'a> {
    layers: Vec<&'a Settings>,
}

impl<'a> Layers<'a> {
    fn get<T: Clone>(&self, f: impl Fn(&Settings) -> Option<&T>) -> Option<T> {
        self.layers.iter().find_map(|s| f(s).cloned())
    }
}

/// Decide the plan for a workload. `None` when nothing is to be persisted.
/// `explicit`: the user named this workload (TYPE/NAME), which overrides a
/// `skip` annotation or rule.
pub fn decide(obj: &Node, kind: &str, pod: &Node, opts: &Options, explicit: bool) -> Result<Option<Plan>, String> {
    let name = obj.str_at(&["metadata", "name"]).unwrap_or_default();
    let namespace = obj.str_at(&["metadata", "namespace"]).or(opts.namespace.as_deref());
    let labels = obj.path(&["metadata", "labels"]);
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Node::as_str);
    let file = opts.config.as_ref();
    let rule = file.and_then(|f: &ConfigFile| {
        f.rules.iter().enumerate().find(|(_, r)| r.matcher.matches(kind, name, namespace, label))
    });
    let ann = annotations::read(obj).map_err(|e| format!("annotation {e}"))?;

    let mode_default = opts.mode.unwrap_or_default();
    if !explicit {
        let skipped = if ann.skip {
            Some(format!("skipped: annotation {}skip", annotations::PREFIX))
        } else {
            rule.filter(|(_, r)| r.skip).map(|(i, _)| format!("skipped: config rules[{i}] says skip"))
        };
        if let Some(why) = skipped {
            return Ok(Some(Plan {
                mode: mode_default,
                paths: Vec::new(),
                fs_group: None,
                notes: vec![why],
                warnings: Vec::new(),
                on_claims: Vec::new(),
            }));
        }
    }

    let flag_settings = Settings {
        mode: None,
        size: opts.size.clone(),
        storage_class: opts.storage_class.clone(),
        access_modes: opts.access_modes.clone(),
        fs_group: opts.fs_group,
    };
    let empty = Settings::default();
    let rule_settings = rule.map_or(&empty, |(_, r)| &r.settings);
    let defaults = file.map_or(&empty, |f| &f.defaults);
    let layers = Layers { layers: vec![&flag_settings, rule_settings, &ann.settings, defaults] };

    let mode = opts.mode.or_else(|| layers.get(|s| s.mode.as_ref()).map(Mode::from)).unwrap_or_default();
    let mut notes = Vec::new();

    // Which paths: the first source that names any.
    let mut paths: Vec<PathReq> = Vec::new();
    let mut detected_gid: Option<detect::FsGroupHint> = None;
    let mut on_claims: Vec<String> = Vec::new();
    if !opts.paths.is_empty() {
        for (c, p) in &opts.paths {
            paths.push(PathReq { container: c.clone(), path: p.clone(), ..PathReq::new(Source::Flag) });
        }
    } else if let Some((i, r)) = rule.filter(|(_, r)| !r.paths.is_empty()) {
        for e in &r.paths {
            let mut req = PathReq::new(Source::Config(i));
            match e {
                PathEntry::Short(s) => {
                    let (c, p) = values::parse_path_spec(s)?;
                    req.container = c;
                    req.path = p;
                }
                PathEntry::Long(d) => {
                    req.container = d.container.clone();
                    req.path = values::check_path(&d.path)?;
                    req.claim_name = d.claim_name.clone();
                    req.size = d.size.clone();
                    req.storage_class = d.storage_class.clone();
                    if let Some(m) = &d.access_modes {
                        req.access_modes = values::check_access_modes(m)?;
                    }
                }
            }
            paths.push(req);
        }
    } else if !ann.paths.is_empty() {
        for (c, p) in &ann.paths {
            paths.push(PathReq { container: c.clone(), path: p.clone(), ..PathReq::new(Source::Annotation) });
        }
    } else if opts.detect != detect::Level::Off {
        let detect_pod = detect::Pod::new(obj, kind, pod, &opts.catalog);
        // Data detection finds on a claim already: the Deployment keeps it
        // there, and gets what --path would give it (Recreate on a
        // ReadWriteOnce claim): one rule, however the path was found.
        let on_claim = |prop: &detect::Proposal| {
            detect_pod.mounts.iter().find_map(|m| match detect_pod.backing(m.volume) {
                detect::Backing::Claim(c)
                    if kind == "Deployment"
                        && m.path == prop.path
                        && prop.container.as_deref().is_none_or(|n| n == m.container) =>
                {
                    Some(c.to_string())
                }
                _ => None,
            })
        };
        let proposals = detect::detect(obj, kind, pod, opts);
        // The emptyDir volume mounted exactly at a path, with the subPath.
        let volume_at = |container: Option<&str>, path: &str| {
            detect_pod
                .mounts
                .iter()
                .filter(|m| m.path == path && container.is_none_or(|c| c == m.container))
                .find(|m| matches!(detect_pod.backing(m.volume), detect::Backing::EmptyDir { .. }))
                .map(|m| (m.volume, m.sub_path))
        };
        // emptyDirs a taken path turns into a claim, whole: every mount of
        // them (each subPath) is on that claim afterwards.
        let claimed: Vec<(&str, &str)> = proposals
            .iter()
            .filter(|p| p.taken(opts.detect))
            .filter_map(|p| Some((volume_at(p.container.as_deref(), &p.path)?.0, p.path.as_str())))
            .collect();
        for prop in proposals.iter().cloned() {
            if let Some(claim) = on_claim(&prop).filter(|_| !prop.taken(opts.detect)) {
                on_claims.push(claim);
            }
            let with = volume_at(prop.container.as_deref(), &prop.path)
                .and_then(|(v, sub)| Some((v, sub, claimed.iter().find(|(c, _)| *c == v)?.1)));
            if let Some((v, sub, taken)) = with.filter(|_| !prop.taken(opts.detect)) {
                let sub = if sub.is_empty() { String::new() } else { format!(" (subPath {sub})") };
                notes.push(format!(
                    "{} persisted too: it mounts emptyDir {v}{sub}, which becomes a claim, whole, for {taken}",
                    prop.path
                ));
                continue;
            }
            if prop.taken(opts.detect) {
                if detected_gid.is_none() {
                    detected_gid = prop.fs_group.clone();
                }
                let mut req = PathReq {
                    container: prop.container.clone(),
                    path: prop.path.clone(),
                    ..PathReq::new(Source::Detect(prop.reason.clone()))
                };
                req.size = prop.size.clone();
                paths.push(req);
            } else if prop.confidence == detect::Confidence::None {
                notes.push(format!("{} left alone: {}", prop.path, prop.reason));
            } else {
                let more = if opts.detect == detect::Level::All { "" } else { "; --detect=all takes it" };
                notes.push(format!(
                    "{} not persisted: {} ({} confidence{more})",
                    prop.path,
                    prop.reason,
                    prop.confidence.as_str()
                ));
            }
        }
    }
    if paths.is_empty() {
        let nothing = notes.is_empty() && on_claims.is_empty();
        return Ok((!nothing).then_some(Plan { mode, paths, fs_group: None, notes, warnings: Vec::new(), on_claims }));
    }

    // Per-path settings: a flag beats everything, then the path's own config
    // entry, the matching rule, the annotations, the config defaults (the
    // user wrote them), detection's hint.
    let specific = Layers { layers: vec![&flag_settings, rule_settings, &ann.settings] };
    let checked_modes = |m: &Vec<String>| values::check_access_modes(m);
    for p in &mut paths {
        let own = p.size.take();
        let (own, hint) = if matches!(p.source, Source::Detect(_)) { (None, own) } else { (own, None) };
        p.size = opts
            .size
            .clone()
            .or(own)
            .or_else(|| specific.layers[1..].iter().find_map(|s| s.size.clone()))
            .or_else(|| defaults.size.clone())
            .or(hint);
        let own_sc = p.storage_class.take();
        p.storage_class = opts.storage_class.clone().or(own_sc).or_else(|| layers.get(|s| s.storage_class.as_ref()));
        if let Some(m) = &opts.access_modes {
            p.access_modes = checked_modes(m)?;
        } else if p.access_modes.is_empty() {
            if let Some(m) = layers.get(|s| s.access_modes.as_ref()) {
                p.access_modes = checked_modes(&m)?;
            }
        }
        if p.access_modes.is_empty() {
            p.access_modes = vec!["ReadWriteOnce".into()];
        }
    }
    let detect_pod = detect::Pod::new(obj, kind, pod, &opts.catalog);
    let mut warnings = Vec::new();
    for p in &mut paths {
        p.needs_empty = needs_empty(&detect_pod, p);
        warnings.extend(above_data(&detect_pod, p));
    }
    let mut fs_group = layers.get(|s| s.fs_group.as_ref());
    // The catalog knows the image's group: a fresh claim is writable with it
    // as fsGroup, unless the pod or the user already chose one.
    if let Some(hint) = detected_gid.filter(|_| fs_group.is_none()) {
        if pod.path(&["securityContext", "fsGroup"]).is_none() {
            notes.push(format!("fsGroup {} so the new claim is writable ({})", hint.gid, hint.why));
            fs_group = Some(hint.gid);
        }
    }
    Ok(Some(Plan { mode, paths, fs_group, notes, warnings, on_claims }))
}

/// The containers of `req` whose image keeps data exactly at its path and
/// initialises it only in an empty directory.
fn needs_empty(pod: &detect::Pod, req: &PathReq) -> Vec<NeedsEmpty> {
    let mut out = Vec::new();
    for c in pod.containers.iter().filter(|c| req.container.as_deref().is_none_or(|n| n == c.name)) {
        let Some(entry) = c.entry else { continue };
        for loc in c.data.iter().filter(|l| l.path == req.path) {
            let Some(rule) = entry.paths.get(loc.index).and_then(|d| Some((d, d.needs_empty.as_ref()?))) else {
                continue;
            };
            let (d, n) = rule;
            // The pod points the image at a folder inside the mount already.
            let set = d.env.as_deref().and_then(|var| {
                c.node.get("env")?.items().find(|e| e.str_at(&["name"]) == Some(var))?.str_at(&["value"])
            });
            if set
                .is_some_and(|v| values::normalize_path(v).starts_with(&format!("{}/", req.path.trim_end_matches('/'))))
            {
                continue;
            }
            // An env the pod sets itself is the user's choice: warn only.
            let fix = match (&n.subdir, &d.env, loc.moved) {
                (Some(sub), Some(env), false) => {
                    Some((env.clone(), format!("{}/{sub}", req.path.trim_end_matches('/'))))
                }
                _ => None,
            };
            out.push(NeedsEmpty {
                container: c.name.to_string(),
                image: entry.name().to_string(),
                fix,
                source: n.source.clone(),
            });
        }
    }
    out
}

/// A path asked for above the directory where the catalog says an image
/// keeps its data: an image's VOLUME that no mount matches exactly gets a
/// volume of its own from the container runtime, so a claim on a parent
/// directory may not hold the data.
fn above_data(pod: &detect::Pod, req: &PathReq) -> Vec<String> {
    if matches!(req.source, Source::Detect(_)) {
        return Vec::new();
    }
    let under = |p: &str| p.starts_with(&format!("{}/", req.path.trim_end_matches('/')));
    let mut out = Vec::new();
    for c in pod.containers.iter().filter(|c| req.container.as_deref().is_none_or(|n| n == c.name)) {
        let Some(entry) = c.entry else { continue };
        for loc in c.data.iter().filter(|l| under(&l.path)) {
            if pod.mounts.iter().any(|m| m.container == c.name && m.path == loc.path) {
                continue; // a volume sits exactly there already
            }
            out.push(format!(
                "container {}: image {} keeps its data in {}, below {} ({}); a directory the image declares a VOLUME \
                 gets a volume of its own unless a mount sits exactly on it, so a claim at {} would not hold that \
                 data: use --path {}",
                c.name,
                entry.name(),
                loc.path,
                req.path,
                loc.how,
                req.path,
                loc.path
            ));
        }
    }
    out
}
