//! The image catalog: where widely deployed images keep their data.
//!
//! `data/catalog.yaml` is built into the binary; `--catalog FILE` adds
//! entries in the same schema (the file's header documents it). A catalog is
//! read strictly: an unknown field, a relative path, a fact without a source
//! or a pattern that names a registry or a tag is an error naming the file
//! and line.
//!
//! An image is matched by its repository, without registry, tag or digest:
//! `ghcr.io/org/app:1.2@sha256:…` is `org/app`, `postgres:16` is `postgres`.
//! A pattern without `/` names an official ("library") image; a pattern with
//! `/` matches the end of the repository at a `/`; `org/*` matches any image
//! of `org`. The longest pattern wins (`org/*` only where nothing else does);
//! between equals, entries from `--catalog` files win over the built-in ones
//! (a later file over an earlier one), and an entry with the same `id`
//! replaces the earlier entry.
//!
//! [`Entry::data_paths`] reads a container's env, command and args to find
//! where the data really is (`PGDATA`, `--storage.tsdb.path=`, `server /x`).

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use super::values;
use crate::yaml::{self, Node};

/// The built-in catalog, as written in the repository.
pub const EMBEDDED: &str = include_str!("../../data/catalog.yaml");

/// The same catalog as JSON, made by build.rs: what runs read.
const EMBEDDED_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));

/// The name the built-in catalog has in messages.
pub const EMBEDDED_NAME: &str = "built-in catalog (data/catalog.yaml)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    version: u32,
    #[serde(default)]
    images: Vec<Entry>,
}

/// One image (or family of repackagings of it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    /// Repository patterns (see the module doc).
    #[serde(rename = "match")]
    pub patterns: Vec<String>,
    #[serde(default)]
    pub paths: Vec<DataPath>,
    /// Suggested claim size.
    pub size: Option<String>,
    /// The user and group the image runs as, where fixed and non-root.
    pub uid: Option<i64>,
    pub gid: Option<i64>,
    pub ids_source: Option<String>,
    /// Paths the image ships content in: a new claim must not cover them.
    #[serde(default)]
    pub keep_out: Vec<KeepOut>,
    /// The image keeps no data of its own.
    #[serde(default)]
    pub stateless: bool,
    pub stateless_source: Option<String>,
    /// The file the entry came from, for messages.
    #[serde(skip)]
    pub origin: String,
}

/// A directory that holds the image's data, and what moves it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPath {
    pub path: String,
    /// An environment variable whose value replaces the path.
    pub env: Option<String>,
    /// A command-line flag (`--f=v` or `--f v`) whose value replaces the path.
    pub flag: Option<String>,
    /// The first positional arguments after this word replace the path.
    pub after: Option<String>,
    /// Only for images matching one of these patterns (a subset of the entry's).
    #[serde(rename = "match")]
    pub patterns: Option<Vec<String>>,
    /// Paths of one group are alternative places for the same data: the first
    /// the container mounts a volume at (or moves there) is used, else the
    /// first listed.
    pub group: Option<String>,
    /// The image keeps this data only when the env/flag/after override is
    /// given; without it nothing is proposed.
    #[serde(default)]
    pub optional: bool,
    /// The override names a file; its directory holds the data.
    #[serde(default)]
    pub file: bool,
    /// The image writes nothing here when started with these arguments.
    pub unused_with: Option<Unused>,
    /// Only for tags whose major version (the tag's leading number) is below this.
    pub major_below: Option<u64>,
    /// Only for tags whose major version is at least this, and for tags that
    /// carry none (`latest`, a digest): the image's current layout.
    pub major_from: Option<u64>,
    /// Only for tags that contain this word (gitea's `1.22-rootless`).
    pub tag_has: Option<String>,
    /// Only for tags that do not contain this word (untagged images included).
    pub tag_lacks: Option<String>,
    /// The image refuses to initialise its data in a directory that holds
    /// anything, such as the `lost+found` a new block volume's root has.
    pub needs_empty: Option<NeedsEmpty>,
    pub source: String,
}

/// A data directory the image initialises only when it is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeedsEmpty {
    /// A folder inside the mount to point the path's `env` at, for a new
    /// claim (none: the image cannot be moved there by env; warn).
    pub subdir: Option<String>,
    pub source: String,
}

/// An image's tag (`16.4-alpine`), if it has one.
fn tag_of(image: &str) -> Option<&str> {
    let no_digest = image.trim().split('@').next()?;
    // `registry:5000/postgres` has a port, not a tag.
    no_digest.rsplit_once(':').map(|(_, tag)| tag).filter(|tag| !tag.contains('/'))
}

/// The leading number of an image's tag: 16 for `postgres:16.4-alpine`.
fn tag_major(image: &str) -> Option<u64> {
    let digits: String = tag_of(image)?.trim_start_matches('v').chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether a path's tag conditions take in this image's tag.
fn tag_fits(d: &DataPath, image: &str) -> bool {
    let tag = tag_of(image).unwrap_or_default();
    let major = match tag_major(image) {
        Some(m) => d.major_below.is_none_or(|b| m < b) && d.major_from.is_none_or(|f| m >= f),
        None => d.major_below.is_none(),
    };
    major
        && d.tag_has.as_deref().is_none_or(|w| tag.contains(w))
        && d.tag_lacks.as_deref().is_none_or(|w| !tag.contains(w))
}

/// Arguments that switch a data path off: all of `args` (`--flag=value`,
/// matched as `--flag=value` or `--flag value`; `--flag=` is an empty value).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unused {
    pub args: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepOut {
    pub path: String,
    pub source: String,
}

/// Catalog entries, highest precedence first. Cheap to clone. The built-in
/// catalog is parsed on first use, so runs that need no detection (`--path`)
/// do not pay for it.
#[derive(Clone)]
pub struct Catalog {
    /// `None`: the built-in catalog, not read yet.
    entries: Option<Arc<Vec<Entry>>>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Catalog({} images)", self.list().len())
    }
}

impl Default for Catalog {
    /// The built-in catalog.
    fn default() -> Self {
        Catalog::embedded()
    }
}

/// The entry an image matched.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub entry: &'a Entry,
    pub pattern: &'a str,
}

impl Catalog {
    /// The built-in catalog (read once, when first used; its tests keep it valid).
    pub fn embedded() -> Catalog {
        Catalog { entries: None }
    }

    fn list(&self) -> &Arc<Vec<Entry>> {
        static EMBEDDED_ENTRIES: OnceLock<Arc<Vec<Entry>>> = OnceLock::new();
        match &self.entries {
            Some(e) => e,
            None => EMBEDDED_ENTRIES.get_or_init(|| {
                let file: CatalogFile = serde_json::from_str(EMBEDDED_JSON).expect("the built-in catalog is valid");
                Catalog::from_file(file, EMBEDDED_NAME, EMBEDDED).expect("the built-in catalog is valid").list().clone()
            }),
        }
    }

    pub fn empty() -> Catalog {
        Catalog { entries: Some(Arc::new(Vec::new())) }
    }

    /// Read one catalog file. `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<Catalog, crate::Error> {
        let err = |msg: String| crate::Error::Config { file: name.to_string(), msg };
        let file: CatalogFile =
            serde_yaml::from_str(text).map_err(|e| err(super::strict::describe_serde_error(&e, text)))?;
        Catalog::from_file(file, name, text)
    }

    /// Check a catalog as read; `text` is its YAML, for the lines of errors.
    fn from_file(file: CatalogFile, name: &str, text: &str) -> Result<Catalog, crate::Error> {
        let err = |msg: String| crate::Error::Config { file: name.to_string(), msg };
        if file.version != 1 {
            return Err(err(format!("version {} is not supported (this build reads version 1)", file.version)));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, e) in file.images.iter().enumerate() {
            let at = |(sub, msg): (Option<(&str, usize)>, String)| {
                let line = entry_line(text, i, sub).map(|l| format!("line {l}: ")).unwrap_or_default();
                err(format!("{line}images[{i}] (id {:?}): {msg}", e.id))
            };
            e.check().map_err(at)?;
            if seen.contains(&e.id.as_str()) {
                return Err(at((None, format!("id {:?} is used twice in this file", e.id))));
            }
            seen.push(&e.id);
        }
        let entries = file.images.into_iter().map(|e| Entry { origin: name.to_string(), ..e }).collect::<Vec<_>>();
        Ok(Catalog { entries: Some(Arc::new(entries)) })
    }

    /// This catalog with the entries of another file on top: they win over
    /// equally specific patterns, and replace entries with the same id.
    pub fn with(self, top: Catalog) -> Catalog {
        let (mine, top) = (self.list(), top.list());
        let mut entries: Vec<Entry> = top.to_vec();
        entries.extend(mine.iter().filter(|e| !top.iter().any(|t| t.id == e.id)).cloned());
        Catalog { entries: Some(Arc::new(entries)) }
    }

    /// Parse `text` and put it on top of this catalog.
    pub fn with_file(self, text: &str, name: &str) -> Result<Catalog, crate::Error> {
        Ok(self.with(Catalog::parse(text, name)?))
    }

    pub fn entries(&self) -> &[Entry] {
        self.list()
    }

    pub fn len(&self) -> usize {
        self.list().len()
    }

    pub fn is_empty(&self) -> bool {
        self.list().is_empty()
    }

    /// The entry for an image reference, if any.
    pub fn lookup(&self, image: &str) -> Option<Hit<'_>> {
        let repo = repository(image)?;
        let mut best: Option<(usize, Hit)> = None;
        for entry in self.list().iter() {
            for pattern in &entry.patterns {
                if !pattern_matches(pattern, &repo) {
                    continue;
                }
                // Longer patterns first; `org/*` after every other pattern.
                let rank = if pattern.ends_with("/*") { 0 } else { pattern.split('/').count() * 1000 } + pattern.len();
                if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                    best = Some((rank, Hit { entry, pattern }));
                }
            }
        }
        best.map(|(_, h)| h)
    }
}

/// The repository of an image reference: no registry, tag or digest,
/// lowercase. `None` for what is not an image reference (empty, templated).
pub fn repository(image: &str) -> Option<String> {
    let image = image.trim().trim_matches(['"', '\'']);
    if image.is_empty() || image.contains(char::is_whitespace) || image.contains('$') || image.contains('{') {
        return None;
    }
    let no_digest = image.split('@').next()?;
    let (dir, last) = match no_digest.rsplit_once('/') {
        Some((d, l)) => (Some(d), l),
        None => (None, no_digest),
    };
    let last = last.split(':').next()?;
    let mut segs: Vec<&str> = dir.map(|d| d.split('/').collect()).unwrap_or_default();
    segs.push(last);
    if segs.len() > 1 && (segs[0].contains(['.', ':']) || segs[0] == "localhost") {
        segs.remove(0);
    }
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(segs.join("/").to_ascii_lowercase())
}

/// Does a catalog pattern match a repository (as [`repository`] gives it)?
pub fn pattern_matches(pattern: &str, repo: &str) -> bool {
    if let Some(org) = pattern.strip_suffix("/*") {
        return repo.rsplit_once('/').is_some_and(|(dir, _)| dir == org || dir.ends_with(&format!("/{org}")));
    }
    if pattern.contains('/') {
        repo == pattern || repo.strip_suffix(pattern).is_some_and(|head| head.ends_with('/'))
    } else {
        repo == pattern
            || repo.strip_suffix(pattern).is_some_and(|head| head == "library/" || head.ends_with("/library/"))
    }
}

fn check_pattern(p: &str) -> Result<(), String> {
    let p = p.strip_suffix("/*").unwrap_or(p);
    let ok_chars =
        p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/'));
    if p.is_empty() || !ok_chars || p.starts_with('/') || p.ends_with('/') || p.contains("//") {
        return Err(format!(
            "pattern {p:?} is not an image repository (lowercase letters, digits, '.', '_', '-', '/'; no tag or digest)"
        ));
    }
    let first = p.split('/').next().unwrap_or_default();
    if p.contains('/') && (first.contains('.') || first == "localhost") {
        return Err(format!("pattern {p:?} names a registry; patterns are registry-independent, drop {first:?}"));
    }
    Ok(())
}

fn check_source(what: &str, s: Option<&str>) -> Result<(), String> {
    match s.map(str::trim) {
        Some(s) if !s.is_empty() => Ok(()),
        _ => Err(format!("{what} has no source (cite the Dockerfile, image docs or chart docs it comes from)")),
    }
}

type CheckError = (Option<(&'static str, usize)>, String);

impl Entry {
    fn check(&self) -> Result<(), CheckError> {
        let top = |m: String| (None, m);
        if self.id.trim().is_empty() {
            return Err(top("id is empty".into()));
        }
        if self.patterns.is_empty() {
            return Err(top("match lists no image".into()));
        }
        for p in &self.patterns {
            check_pattern(p).map_err(top)?;
        }
        if let Some(s) = &self.size {
            values::check_quantity(s).map_err(|e| top(format!("size: {e}")))?;
        }
        for (what, id) in [("uid", self.uid), ("gid", self.gid)] {
            if id.is_some_and(|v| v < 0) {
                return Err(top(format!("{what} must not be negative")));
            }
        }
        if self.uid.is_some() || self.gid.is_some() {
            check_source("uid/gid", self.ids_source.as_deref()).map_err(top)?;
        } else if self.ids_source.is_some() {
            return Err(top("ids_source without uid or gid".into()));
        }
        if self.stateless {
            check_source("stateless: true", self.stateless_source.as_deref()).map_err(top)?;
            if !self.paths.is_empty() || self.size.is_some() {
                return Err(top("a stateless entry has no paths and no size".into()));
            }
        } else {
            if self.stateless_source.is_some() {
                return Err(top("stateless_source without stateless: true".into()));
            }
            if self.paths.is_empty() {
                return Err(top("paths is empty (an image that keeps no data says stateless: true)".into()));
            }
        }
        for (j, d) in self.paths.iter().enumerate() {
            let at = |m: String| (Some(("paths", j)), format!("paths[{j}]: {m}"));
            values::check_path(&d.path).map_err(at)?;
            check_source("the path", Some(&d.source)).map_err(at)?;
            for p in d.patterns.iter().flatten() {
                if !self.patterns.contains(p) {
                    return Err(at(format!("match {p:?} is not one of the entry's patterns")));
                }
            }
            if (d.optional || d.file) && d.env.is_none() && d.flag.is_none() && d.after.is_none() {
                return Err(at("optional and file need an env, flag or after that gives the path".into()));
            }
            for (what, v) in [("env", &d.env), ("flag", &d.flag), ("after", &d.after)] {
                if v.as_deref().is_some_and(|v| v.trim().is_empty() || v.contains(char::is_whitespace)) {
                    return Err(at(format!("{what} must be one word")));
                }
            }
            if d.flag.as_deref().is_some_and(|f| !f.starts_with('-')) {
                return Err(at("flag must start with '-'".into()));
            }
            if let Some(n) = &d.needs_empty {
                check_source("needs_empty", Some(&n.source)).map_err(at)?;
                if let Some(sub) = &n.subdir {
                    if d.env.is_none() {
                        return Err(at("needs_empty.subdir needs the env that moves the path".into()));
                    }
                    if sub.is_empty() || sub.contains('/') || sub.starts_with('.') {
                        return Err(at("needs_empty.subdir is one folder name".into()));
                    }
                }
            }
            if let Some(u) = &d.unused_with {
                check_source("unused_with", Some(&u.source)).map_err(at)?;
                if u.args.is_empty() || u.args.iter().any(|a| !a.starts_with('-') || !a.contains('=')) {
                    return Err(at("unused_with.args are --flag=value words".into()));
                }
            }
        }
        for (j, k) in self.keep_out.iter().enumerate() {
            let at = |m: String| (Some(("keep_out", j)), format!("keep_out[{j}]: {m}"));
            values::check_path(&k.path).map_err(at)?;
            check_source("the keep_out path", Some(&k.source)).map_err(at)?;
        }
        Ok(())
    }

    /// Does a path of this entry apply to a repository (its own `match`)?
    fn applies(&self, d: &DataPath, repo: &str) -> bool {
        d.patterns.as_ref().is_none_or(|ps| ps.iter().any(|p| pattern_matches(p, repo)))
    }

    /// A short name for messages: the first pattern.
    pub fn name(&self) -> &str {
        self.patterns.first().map_or(&self.id, String::as_str)
    }

    /// Where this image keeps its data in `container`: each path moved by
    /// env, flag or arguments where they say so. `mounted(path)`: does the
    /// container mount a volume at `path` or inside it (to choose among a
    /// group's alternatives). Empty for stateless images and for optional
    /// paths that are not switched on.
    pub fn data_paths(&self, image: &str, container: &Node, mounted: &dyn Fn(&str) -> bool) -> Vec<Located> {
        let repo = repository(image).unwrap_or_default();
        let args = Args::of(container);
        let paths: Vec<(usize, &DataPath)> =
            self.paths.iter().enumerate().filter(|(_, d)| self.applies(d, &repo) && tag_fits(d, image)).collect();
        let mut out: Vec<Located> = Vec::new();
        let mut groups_done: Vec<&str> = Vec::new();
        for (i, d) in &paths {
            let Some(g) = d.group.as_deref() else {
                out.extend(locate(d, *i, container, &args, &self.keep_out));
                continue;
            };
            if groups_done.contains(&g) {
                continue;
            }
            groups_done.push(g);
            let members: Vec<(usize, &DataPath)> =
                paths.iter().filter(|(_, m)| m.group.as_deref() == Some(g)).copied().collect();
            let found: Vec<Vec<Located>> =
                members.iter().map(|(j, m)| locate(m, *j, container, &args, &self.keep_out)).collect();
            // An override on any member says where the data is.
            if let Some(moved) = found.iter().find(|f| f.iter().any(|l| l.moved)) {
                out.extend(moved.iter().cloned());
                continue;
            }
            let chosen = found
                .iter()
                .find(|f| f.iter().any(|l| mounted(&l.path)))
                .or_else(|| found.first())
                .cloned()
                .unwrap_or_default();
            out.extend(chosen);
        }
        out.dedup_by(|a, b| a.path == b.path);
        out
    }
}

/// One data path of an image in one container.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub path: String,
    /// Index into the entry's `paths`.
    pub index: usize,
    /// How it was found, for messages: "the image's default",
    /// "PGDATA=/x", "--storage.tsdb.path=/data", "minio server /export".
    pub how: String,
    /// An env, flag or argument moved it.
    pub moved: bool,
    /// `false`: the override is set but its value could not be read (from a
    /// ConfigMap or Secret, or built from other variables); `path` is the
    /// default then.
    pub known: bool,
}

/// The words of a container's command and args (shell scripts split at
/// whitespace, quotes removed), for flags and positional arguments.
struct Args {
    words: Vec<String>,
}

impl Args {
    fn of(container: &Node) -> Args {
        let mut words = Vec::new();
        for field in ["command", "args"] {
            for item in container.get(field).into_iter().flat_map(|l| l.items()) {
                let Some(s) = item.as_str() else { continue };
                if s.trim().is_empty() {
                    words.push(String::new()); // `--save ""`: an empty value is a value
                }
                words.extend(s.split_whitespace().map(|w| w.trim_matches(['"', '\'']).to_string()));
            }
        }
        Args { words }
    }

    /// The value of the last `--flag=value` or `--flag value`.
    fn flag(&self, flag: &str) -> Option<String> {
        let mut found = None;
        for (i, w) in self.words.iter().enumerate() {
            if let Some(v) = w.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                found = Some(v.to_string());
            } else if w == flag {
                if let Some(next) = self.words.get(i + 1).filter(|n| !n.starts_with('-') && !is_shell_op(n)) {
                    found = Some(next.clone());
                }
            }
        }
        found
    }

    /// The positional arguments right after `word` (`server /a /b --flag`):
    /// flags before them are skipped (`--f=v`, or `--f v`), the first flag or
    /// shell operator after them ends them.
    fn after(&self, word: &str) -> Vec<String> {
        let Some(start) = self.words.iter().position(|w| w == word) else { return Vec::new() };
        let mut out = Vec::new();
        let mut i = start + 1;
        while let Some(w) = self.words.get(i) {
            if is_shell_op(w) {
                break;
            }
            if w.starts_with('-') {
                if !out.is_empty() {
                    break;
                }
                let takes_value = !w.contains('=')
                    && self
                        .words
                        .get(i + 1)
                        .is_some_and(|n| !n.starts_with('-') && !n.starts_with('/') && !n.contains("://"));
                i += if takes_value { 2 } else { 1 };
                continue;
            }
            out.push(w.clone());
            i += 1;
        }
        out
    }
}

fn is_shell_op(w: &str) -> bool {
    matches!(w, ";" | "&&" | "||" | "|" | "&") || w.ends_with(';')
}

/// What an env var of a container holds.
enum EnvValue {
    Value(String),
    /// Set, but from a ConfigMap, Secret or field.
    Unknown,
}

fn env(container: &Node, name: &str) -> Option<EnvValue> {
    let var = container.get("env")?.items().filter(|e| e.str_at(&["name"]) == Some(name)).last()?;
    if var.get("valueFrom").is_some() {
        return Some(EnvValue::Unknown);
    }
    let v = var.str_at(&["value"]).unwrap_or_default().trim();
    (!v.is_empty()).then(|| EnvValue::Value(v.to_string()))
}

/// Expand MinIO's `{a...b}` ellipsis (a numeric range) in a path.
fn expand_ellipsis(p: &str) -> Vec<String> {
    let parsed = (|| {
        let open = p.find('{')?;
        let close = open + p[open..].find('}')?;
        let (a, b) = p[open + 1..close].split_once("...")?;
        let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
        (a <= b && b - a < 64).then_some((open, close, a, b))
    })();
    match parsed {
        Some((open, close, a, b)) => {
            (a..=b).flat_map(|n| expand_ellipsis(&format!("{}{n}{}", &p[..open], &p[close + 1..]))).collect()
        }
        None => vec![p.to_string()],
    }
}

/// The directory a value names: URLs give their path, relative values are
/// taken from the working directory, a file gives its directory. `None`
/// where the value cannot be read (`$(VAR)`, `..`, an unexpanded pattern).
fn value_paths(value: &str, workdir: &str, file: bool) -> Option<Vec<String>> {
    let v = value.trim().trim_matches(['"', '\'']);
    if v.is_empty() || v.contains('$') {
        return None;
    }
    let v = match v.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => v,
    };
    let mut out = Vec::new();
    for p in expand_ellipsis(v) {
        if p.contains(['{', '}']) {
            return None;
        }
        let abs = if p.starts_with('/') { p } else { format!("{}/{p}", workdir.trim_end_matches('/')) };
        // "/" is a place, just never one to claim (new_volume says so).
        let mut norm = match values::normalize_path(&abs) {
            root if root == "/" => root,
            _ => values::check_path(&abs).ok()?,
        };
        if file {
            norm = match norm.rsplit_once('/') {
                Some(("", _)) | None => "/".to_string(),
                Some((dir, _)) => dir.to_string(),
            };
        }
        out.push(norm);
    }
    Some(out)
}

/// Where one catalog path is in a container. Empty: optional and not on,
/// or switched off by arguments.
fn locate(d: &DataPath, index: usize, container: &Node, args: &Args, keep_out: &[KeepOut]) -> Vec<Located> {
    let switched_off = d.unused_with.as_ref().is_some_and(|u| {
        u.args.iter().all(|a| a.split_once('=').is_some_and(|(f, v)| args.flag(f).as_deref() == Some(v)))
    });
    if switched_off {
        return Vec::new();
    }
    let workdir = container.str_at(&["workingDir"]).filter(|w| w.starts_with('/')).unwrap_or("/");
    let default = |how: String, known: bool| {
        vec![Located { path: values::normalize_path(&d.path), index, how, moved: !known, known }]
    };
    let default_path = values::normalize_path(&d.path);
    let below = |p: &str| p.starts_with(&format!("{}/", default_path.trim_end_matches('/')));
    // Content the image ships at or below the default path: no claim goes there.
    let shipped = keep_out.iter().any(|k| {
        let k = values::normalize_path(&k.path);
        k == default_path || below(&k)
    });
    let moved_to = |value: &str, how: String| match value_paths(value, workdir, d.file) {
        Some(ps) => ps
            .into_iter()
            .map(|path| {
                // Moved inside the default path (PGDATA=/var/lib/postgresql/data/pgdata):
                // the claim goes on the default path, the image's VOLUME, which
                // holds it. A claim on the data directory itself would put a
                // volume's lost+found in it, which initdb refuses.
                let inside = below(&path) && !shipped;
                let (path, how) = if inside {
                    (default_path.clone(), format!("{how}, inside {default_path}"))
                } else {
                    (path, how.clone())
                };
                Located { path, index, how, moved: true, known: true }
            })
            .collect(),
        None => default(format!("{how}, which cannot be read here; assuming {}", d.path), false),
    };
    if let Some(f) = &d.flag {
        if let Some(v) = args.flag(f) {
            return moved_to(&v, format!("{f}={v}"));
        }
    }
    if let Some(w) = &d.after {
        let vs = args.after(w);
        if !vs.is_empty() {
            let how = format!("arguments `{w} {}`", vs.join(" "));
            let mut out: Vec<Located> = Vec::new();
            for v in &vs {
                for l in moved_to(v, how.clone()) {
                    if !out.iter().any(|o| o.path == l.path) {
                        out.push(l);
                    }
                }
            }
            return out;
        }
    }
    if let Some(e) = &d.env {
        match env(container, e) {
            Some(EnvValue::Value(v)) => return moved_to(&v, format!("{e}={v}")),
            Some(EnvValue::Unknown) => {
                return default(format!("{e} is set from a ConfigMap, Secret or field; assuming {}", d.path), false)
            }
            None => {}
        }
    }
    if d.optional {
        return Vec::new();
    }
    default("the image's default".into(), true)
}

/// The line of `images[i]` (or of one of its `paths`/`keep_out` items).
fn entry_line(text: &str, i: usize, sub: Option<(&str, usize)>) -> Option<usize> {
    let root = yaml::parse::parse(text, &Default::default()).ok()??;
    let mut node = root.get("images")?.items().nth(i)?;
    if let Some((field, j)) = sub {
        node = node.get(field)?.items().nth(j)?;
    }
    Some(yaml::line_col(text, node.start as usize).0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_give_their_major_version() {
        assert_eq!(super::tag_major("postgres:16.4-alpine"), Some(16));
        assert_eq!(super::tag_major("docker.io/library/postgres:17"), Some(17));
        assert_eq!(super::tag_major("registry.local:5000/postgres:18-bookworm"), Some(18));
        assert_eq!(super::tag_major("registry.local:5000/postgres"), None);
        assert_eq!(super::tag_major("postgres:latest"), None);
        assert_eq!(super::tag_major("postgres@sha256:abc"), None);
        assert_eq!(super::tag_major("nats:v2.10"), Some(2));
    }

    #[test]
    fn tags_pick_the_layout() {
        let c = Catalog::embedded();
        let paths = |image: &str| -> Vec<String> {
            let container =
                crate::yaml::parse::parse(&format!("name: c\nimage: {image}\n"), &Default::default()).unwrap().unwrap();
            c.lookup(image)
                .map(|h| h.entry.data_paths(image, &container, &|_| false).into_iter().map(|l| l.path).collect())
                .unwrap_or_default()
        };
        assert_eq!(paths("postgres:17-alpine"), ["/var/lib/postgresql/data"]);
        assert_eq!(paths("postgres:18"), ["/var/lib/postgresql"]);
        assert_eq!(paths("postgres"), ["/var/lib/postgresql"]);
        assert_eq!(paths("docker.gitea.com/gitea:1.23-rootless"), ["/var/lib/gitea", "/etc/gitea"]);
        assert_eq!(paths("gitea/gitea:1.23"), ["/data"]);
        assert_eq!(paths("influxdb:1.8"), ["/var/lib/influxdb"]);
    }

    #[test]
    fn the_json_runs_read_is_the_yaml_the_checks_read() {
        let strict = Catalog::parse(EMBEDDED, EMBEDDED_NAME).unwrap();
        let fast = Catalog::embedded();
        assert_eq!(format!("{:?}", strict.entries()), format!("{:?}", fast.entries()));
        assert!(fast.len() >= 60);
    }

    use super::*;
    use crate::yaml::parse;

    fn node(src: &str) -> Node {
        parse::parse(src, &Default::default()).unwrap().unwrap()
    }

    #[test]
    fn built_in_catalog_is_valid_and_cited() {
        let c = Catalog::embedded();
        let stateful = c.entries().iter().filter(|e| !e.stateless).count();
        assert!(c.len() >= 60 && stateful >= 60, "{} entries, {stateful} with data", c.len());
        for e in c.entries() {
            assert!(e.paths.iter().all(|p| p.source.starts_with("https://")), "{}: every path cites a URL", e.id);
            assert!(e.keep_out.iter().all(|p| p.source.starts_with("https://")), "{}", e.id);
            assert!(e.ids_source.as_deref().is_none_or(|s| s.starts_with("https://")), "{}", e.id);
        }
    }

    #[test]
    fn repositories() {
        let cases = [
            ("postgres", "postgres"),
            ("postgres:16-alpine", "postgres"),
            ("docker.io/library/postgres:16@sha256:abc", "library/postgres"),
            ("registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:59", "ingress-nginx/controller"),
            ("localhost:5000/team/app:1", "team/app"),
            ("localhost/app", "app"),
            ("ghcr.io/dani-garcia/vaultwarden:1.33.2-alpine", "dani-garcia/vaultwarden"),
            ("Quay.io/Minio/Minio", "minio/minio"),
        ];
        for (image, repo) in cases {
            assert_eq!(repository(image).as_deref(), Some(repo), "{image}");
        }
        for bad in ["", "{{ .Values.image }}", "repo/$(TAG)", "a//b"] {
            assert_eq!(repository(bad), None, "{bad}");
        }
    }

    #[test]
    fn pattern_matching() {
        let yes = [
            ("postgres", "postgres"),
            ("postgres", "library/postgres"),
            ("postgres", "docker/library/postgres"),
            ("bitnami/postgresql", "bitnami/postgresql"),
            ("bitnami/postgresql", "mirror/bitnami/postgresql"),
            ("linuxserver/*", "linuxserver/plex"),
            ("linuxserver/*", "mirror/linuxserver/heimdall"),
        ];
        let no = [
            ("postgres", "bitnami/postgres"),
            ("postgres", "library/postgres-exporter"),
            ("bitnami/postgresql", "xbitnami/postgresql"),
            ("redis", "bitnami/redis"),
            ("linuxserver/*", "linuxserver"),
            ("linuxserver/*", "linuxserver/plex/x"),
            ("linuxserver/*", "notlinuxserver/plex"),
        ];
        for (p, r) in yes {
            assert!(pattern_matches(p, r), "{p} ~ {r}");
        }
        for (p, r) in no {
            assert!(!pattern_matches(p, r), "{p} !~ {r}");
        }
    }

    #[test]
    fn lookup_prefers_longer_patterns_then_user_files() {
        let c = Catalog::embedded();
        assert_eq!(c.lookup("docker.io/bitnami/redis:8").unwrap().entry.id, "bitnami-redis");
        assert_eq!(c.lookup("redis:7").unwrap().entry.id, "redis");
        assert!(c.lookup("example.com/acme/thing:1").is_none());
        assert_eq!(c.lookup("lscr.io/linuxserver/plex:1").unwrap().entry.id, "linuxserver-plex");
        assert_eq!(c.lookup("lscr.io/linuxserver/heimdall:1").unwrap().entry.id, "linuxserver");
        let user = "version: 1\nimages:\n  - id: my-redis\n    match: [redis]\n    paths:\n      - path: /srv/redis\n        source: ours\n";
        let c = c.with_file(user, "mine.yaml").unwrap();
        let hit = c.lookup("redis:7").unwrap();
        assert_eq!((hit.entry.id.as_str(), hit.entry.origin.as_str()), ("my-redis", "mine.yaml"));
        let replace = "version: 1\nimages:\n  - id: grafana\n    match: [grafana/grafana]\n    paths:\n      - path: /g\n        source: ours\n";
        let c = c.with_file(replace, "g.yaml").unwrap();
        assert_eq!(c.entries().iter().filter(|e| e.id == "grafana").count(), 1);
        assert_eq!(c.lookup("grafana/grafana").unwrap().entry.paths[0].path, "/g");
    }

    #[test]
    fn bad_files_name_file_and_line() {
        let cases = [
            ("version: 1\nimages:\n  - id: x\n    match: [x]\n    pth: []\n", "line 5", "pth"),
            ("version: 2\nimages: []\n", "version 2", ""),
            ("version: 1\nimages:\n  - id: x\n    match: [x]\n    paths:\n      - path: data\n        source: s\n", "line 6", "not absolute"),
            ("version: 1\nimages:\n  - id: x\n    match: [x]\n    paths:\n      - path: /data\n        source: ''\n", "line 6", "no source"),
            ("version: 1\nimages:\n  - id: x\n    match: ['ghcr.io/x/y']\n    paths: []\n    stateless: true\n    stateless_source: s\n", "line 3", "registry"),
            ("version: 1\nimages:\n  - id: x\n    match: ['x:1']\n    paths: []\n", "line 3", "no tag"),
            ("version: 1\nimages:\n  - id: x\n    match: [x]\n    paths: []\n", "line 3", "stateless: true"),
            ("version: 1\nimages:\n  - id: x\n    match: [x]\n    uid: 5\n    paths:\n      - {path: /d, source: s}\n", "line 3", "uid/gid has no source"),
            ("version: 1\nimages:\n  - id: x\n    match: [x]\n    paths:\n      - {path: /d, source: s}\n    size: huge\n", "line 3", "size"),
            ("version: 1\nimages:\n  - id: x\n    match: [x]\n    paths:\n      - {path: /d, source: s, optional: true}\n", "line 6", "optional"),
            ("version: 1\nimages:\n  - {id: x, match: [x], paths: [{path: /d, source: s}]}\n  - {id: x, match: [y], paths: [{path: /d, source: s}]}\n", "line 4", "twice"),
        ];
        for (text, line, what) in cases {
            let e = Catalog::parse(text, "c.yaml").unwrap_err().to_string();
            assert!(e.starts_with("c.yaml: ") && e.contains(line) && e.contains(what), "{e}");
        }
    }

    fn paths_of(entry_yaml: &str, image: &str, container: &str, mounted: &[&str]) -> Vec<(String, String)> {
        let text = format!("version: 1\nimages:\n{entry_yaml}");
        let c = Catalog::parse(&text, "t.yaml").unwrap();
        let e = &c.entries()[0];
        e.data_paths(image, &node(container), &|p| mounted.contains(&p)).into_iter().map(|l| (l.path, l.how)).collect()
    }

    #[test]
    fn overrides() {
        let pg = "  - id: pg\n    match: [postgres]\n    paths:\n      - {path: /var/lib/postgresql, env: PGDATA, source: s}\n";
        let got = |c: &str| paths_of(pg, "postgres:16", c, &[]);
        assert_eq!(got("name: db\n")[0], ("/var/lib/postgresql".into(), "the image's default".into()));
        assert_eq!(got("env: [{name: PGDATA, value: /pg/data/}]\n")[0].0, "/pg/data");
        assert_eq!(got("env: [{name: PGDATA, value: pgdata}]\nworkingDir: /srv\n")[0].0, "/srv/pgdata");
        let unknown = got("env: [{name: PGDATA, valueFrom: {configMapKeyRef: {name: c, key: k}}}]\n");
        assert!(unknown[0].1.contains("ConfigMap") && unknown[0].0 == "/var/lib/postgresql");

        let prom = "  - id: p\n    match: [prom/prometheus]\n    paths:\n      - {path: /prometheus, flag: --storage.tsdb.path, source: s}\n";
        assert_eq!(paths_of(prom, "prom/prometheus", "args: ['--storage.tsdb.path=/data/']\n", &[])[0].0, "/data");
        assert_eq!(paths_of(prom, "prom/prometheus", "args: [--storage.tsdb.path, /tsdb]\n", &[])[0].0, "/tsdb");

        let minio =
            "  - id: m\n    match: [minio/minio]\n    paths:\n      - {path: /data, after: server, source: s}\n";
        let got = |c: &str| paths_of(minio, "minio/minio", c, &[]).into_iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(
            got("command: [/bin/sh, -ce, '/usr/bin/docker-entrypoint.sh minio server /export -S /etc/minio/certs/ --address :9000']\n"),
            vec!["/export"]
        );
        assert_eq!(
            got("command: [/bin/sh, -ce, 'minio server http://rel-minio-{0...15}.rel-minio-svc.demo.svc/export -S /certs']\n"),
            vec!["/export"]
        );
        assert_eq!(got("args: [server, --address, ':9000', '/data{1...3}']\n"), vec!["/data1", "/data2", "/data3"]);
        assert_eq!(got("args: [gateway, s3]\n"), vec!["/data"]);

        let push = "  - id: pg\n    match: [prom/pushgateway]\n    paths:\n      - {path: /data, flag: --persistence.file, file: true, optional: true, source: s}\n";
        assert!(paths_of(push, "prom/pushgateway", "name: p\n", &[]).is_empty());
        assert_eq!(
            paths_of(push, "prom/pushgateway", "args: [--persistence.file=/store/metrics.db]\n", &[])[0].0,
            "/store"
        );
    }

    #[test]
    fn arguments_can_switch_a_path_off() {
        let redis = "  - id: r\n    match: [redis]\n    paths:\n      - path: /data\n        unused_with: {args: ['--save=', '--appendonly=no'], source: s}\n        source: s\n";
        assert!(paths_of(redis, "redis:7", "args: [--save, '', --appendonly, 'no']\n", &[]).is_empty());
        assert!(paths_of(redis, "redis:7", "command: [sh, -c, \"redis-server --save '' --appendonly no\"]\n", &[])
            .is_empty());
        assert_eq!(paths_of(redis, "redis:7", "args: [--save, '', --appendonly, 'yes']\n", &[]).len(), 1);
        assert_eq!(paths_of(redis, "redis:7", "args: [--save, '60 1']\n", &[]).len(), 1);
    }

    #[test]
    fn groups_pick_the_mounted_alternative() {
        let redis = "  - id: r\n    match: [bitnami/redis]\n    paths:\n      - {path: /bitnami/redis/data, group: data, source: s}\n      - {path: /data, group: data, source: s}\n";
        let got =
            |m: &[&str]| paths_of(redis, "bitnami/redis", "name: r\n", m).into_iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(got(&[]), vec!["/bitnami/redis/data"]);
        assert_eq!(got(&["/data"]), vec!["/data"]);
        let only_image = "  - id: r\n    match: [bitnami/redis, redis]\n    paths:\n      - {path: /x, match: [redis], source: s}\n      - {path: /y, source: s}\n";
        assert_eq!(paths_of(only_image, "bitnami/redis", "name: r\n", &[]).len(), 1);
        assert_eq!(paths_of(only_image, "redis", "name: r\n", &[]).len(), 2);
    }
}
