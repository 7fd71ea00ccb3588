//! Carrying a running app's data into its new claims, the pure part: which
//! path of which container goes into which claim ([`units`]), the quiesce
//! hooks a pod asks for ([`Hooks`]), and the tree listings both sides make,
//! compared to decide what a pass must copy and whether the copy is exact
//! ([`Listing`]). `cluster` in the binary runs the commands in the pods.
//!
//! A copy is only taken to be done when a listing of the destination equals
//! a listing of the source made after it: same names, types, modes, owners,
//! sizes, file mtimes, link counts, symlink targets and SHA-256 of every
//! regular file.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// What `--carry` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Carry the data of the one running pod; refuse when several pods run.
    #[default]
    Auto,
    /// Start on empty claims, on purpose.
    None,
    /// Pod N's data (pods in order of creation) into ordinal N's claims
    /// (StatefulSet mode only).
    PerPod,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "auto" | "true" => Ok(Mode::Auto),
            "none" | "false" => Ok(Mode::None),
            "per-pod" => Ok(Mode::PerPod),
            _ => Err(format!("--carry {s:?}: expected auto (or true), none (or false), or per-pod")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::None => "none",
            Mode::PerPod => "per-pod",
        }
    }
}

/// The helper image used when neither `--helper-image` nor the config file
/// names one: busybox has `tar`, `find`, `stat`, `sha256sum` and `sort`.
pub const DEFAULT_HELPER_IMAGE: &str = "docker.io/library/busybox:1.37";

/// Where the ephemeral container sees the pod's volumes.
pub const SOURCE_ROOT: &str = "/kp-src";
/// Where the loader pod mounts the claims.
pub const DEST_ROOT: &str = "/kp-dst";

/// Claim annotation: `pending` while a carry fills it, then `done: …`.
pub const CARRY_ANNOTATION: &str = "kubectl-persist/carry";

/// Where a path's current data lives in the running pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// In a volume of the pod that dies with it (emptyDir), below `sub`.
    EmptyDir { volume: String, sub: String },
    /// In the container's writable layer.
    Layer,
}

/// One path to copy: from the running container's `path` into the claim
/// (template or standalone claim name) at `dest_sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub container: String,
    pub path: String,
    pub source: Source,
    /// Claim template name (StatefulSet mode) or claim name (pvc mode).
    pub claim: String,
    pub dest_sub: String,
}

impl Unit {
    /// The folder to read in the ephemeral container.
    pub fn source_dir(&self) -> String {
        match &self.source {
            Source::EmptyDir { volume, sub } => join(&format!("{SOURCE_ROOT}/{volume}"), sub),
            Source::Layer => format!("/proc/1/root{}", self.path.trim_end_matches('/')),
        }
    }

    pub fn describe_source(&self) -> String {
        match &self.source {
            Source::EmptyDir { volume, .. } => format!("emptyDir {volume}"),
            Source::Layer => "container layer".into(),
        }
    }
}

fn join(base: &str, sub: &str) -> String {
    let sub = sub.trim_matches('/');
    if sub.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{sub}")
    }
}

fn arr<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v[key].as_array().into_iter().flatten()
}

fn under(path: &str, dir: &str) -> Option<String> {
    let dir = dir.trim_end_matches('/');
    if path == dir {
        return Some(String::new());
    }
    path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')).map(str::to_string)
}

/// A volume that dies with its pod: an emptyDir, or a volume that names no
/// source at all (Kubernetes defaults it to an emptyDir).
fn dies_with_pod(vol: &Value) -> bool {
    vol.get("emptyDir").is_some() || vol.as_object().is_some_and(|o| o.keys().all(|k| k == "name"))
}

/// The units of one workload: every mount of a new claim in the new pod
/// spec, traced to where that path's data lives in the old pod spec. `new`
/// names the claims (template names, or volume names whose claim is new).
/// Paths whose data already lives on a claim or another lasting volume are
/// not carried (nothing there is lost).
pub fn units(old_spec: &Value, new_spec: &Value, new_volumes: &[String]) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::new();
    let claim_of = |vol: &str| -> Option<String> {
        if !new_volumes.iter().any(|v| v == vol) {
            return None;
        }
        // pvc mode: the volume names a claim; StatefulSet mode: the template.
        let claim = arr(new_spec, "volumes")
            .find(|v| v["name"] == vol)
            .and_then(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .unwrap_or(vol);
        Some(claim.to_string())
    };
    for c in arr(new_spec, "containers") {
        let cname = c["name"].as_str().unwrap_or_default();
        for m in arr(c, "volumeMounts") {
            let (Some(vol), Some(path)) = (m["name"].as_str(), m["mountPath"].as_str()) else { continue };
            let Some(claim) = claim_of(vol) else { continue };
            let dest_sub = m["subPath"].as_str().unwrap_or_default().to_string();
            if out.iter().any(|u| u.claim == claim && u.dest_sub == dest_sub) {
                continue;
            }
            let Some(old_c) = arr(old_spec, "containers").find(|o| o["name"] == cname) else { continue };
            // The old mount that holds this path: the deepest one above it.
            let holder = arr(old_c, "volumeMounts")
                .filter_map(|om| Some((om, under(path, om["mountPath"].as_str()?)?)))
                .max_by_key(|(om, _)| om["mountPath"].as_str().map_or(0, str::len));
            let source = match holder {
                None => Source::Layer,
                Some((om, rest)) => {
                    let oname = om["name"].as_str().unwrap_or_default();
                    let Some(vol) = arr(old_spec, "volumes").find(|v| v["name"] == oname) else { continue };
                    if !dies_with_pod(vol) {
                        continue;
                    }
                    let sub = join(om["subPath"].as_str().unwrap_or_default(), &rest);
                    Source::EmptyDir { volume: oname.to_string(), sub: sub.trim_start_matches('/').to_string() }
                }
            };
            out.push(Unit { container: cname.to_string(), path: path.to_string(), source, claim, dest_sub });
        }
    }
    out
}

/// A quiesce command a pod asks for before its data is copied (or
/// snapshotted), from Velero's annotations or the same under
/// `kubectl-persist/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// The container to run it in; `None`: the pod's first container.
    pub container: Option<String>,
    pub command: Vec<String>,
    pub timeout: Duration,
    /// `on-error: Continue`: a failure is reported and the run goes on.
    pub continue_on_error: bool,
    /// The annotation prefix it came from, for messages.
    pub from: String,
}

/// Pre and post hooks of a pod.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hooks {
    pub pre: Option<Hook>,
    pub post: Option<Hook>,
}

impl Hooks {
    /// Read a pod's annotations. `kubectl-persist/pre.hook.command` wins over
    /// `pre.hook.backup.velero.io/command` (and so on for each field).
    pub fn of(annotations: &Value) -> Result<Hooks, String> {
        let one = |phase: &str| -> Result<Option<Hook>, String> {
            let ours = format!("kubectl-persist/{phase}.hook.");
            let velero = format!("{phase}.hook.backup.velero.io/");
            for prefix in [ours, velero] {
                let get = |field: &str| annotations[format!("{prefix}{field}")].as_str();
                let Some(cmd) = get("command") else { continue };
                let command = parse_command(cmd).map_err(|e| format!("annotation {prefix}command: {e}"))?;
                let timeout = match get("timeout") {
                    None | Some("") => Duration::from_secs(30),
                    Some(t) => parse_go_duration(t)
                        .ok_or_else(|| format!("annotation {prefix}timeout: {t:?} is not a duration (30s, 2m, 1h)"))?,
                };
                let continue_on_error = match get("on-error") {
                    None | Some("") => false,
                    Some(v) if v.eq_ignore_ascii_case("continue") => true,
                    Some(v) if v.eq_ignore_ascii_case("fail") => false,
                    Some(v) => return Err(format!("annotation {prefix}on-error: {v:?} is neither Continue nor Fail")),
                };
                return Ok(Some(Hook {
                    container: get("container").filter(|c| !c.is_empty()).map(str::to_string),
                    command,
                    timeout,
                    continue_on_error,
                    from: prefix.clone(),
                }));
            }
            Ok(None)
        };
        Ok(Hooks { pre: one("pre")?, post: one("post")? })
    }
}

/// Velero's command annotation: a JSON array of strings, or one word.
fn parse_command(s: &str) -> Result<Vec<String>, String> {
    let t = s.trim();
    if t.starts_with('[') {
        let v: Vec<String> = serde_json::from_str(t).map_err(|e| format!("not a JSON array of strings: {e}"))?;
        if v.is_empty() {
            return Err("the command is empty".into());
        }
        return Ok(v);
    }
    if t.is_empty() {
        return Err("the command is empty".into());
    }
    Ok(vec![t.to_string()])
}

/// `30s`, `2m`, `1h30m`, `500ms`, `1.5s`; a bare number is seconds.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    if let Ok(n) = s.parse::<u64>() {
        return Some(Duration::from_secs(n));
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).ok()
}

/// The shell script (busybox `sh`) that lists a tree, run with the folder
/// as `$1`. Three sections: `stat` of every entry, SHA-256 of every regular
/// file, the target of every symlink. Run on both sides by the same helper
/// image, so the two listings are comparable byte for byte.
pub const LIST_SCRIPT: &str = r#"cd "$1" || exit 3
find . -exec stat -c '%F|%a|%u|%g|%s|%Y|%h|%n' {} + | sort || exit 4
echo '#sha256'
find . -type f -exec sha256sum {} + | sort || exit 4
echo '#links'
find . -type l -exec sh -c 'for f; do printf "%s|%s\n" "$f" "$(readlink "$f")"; done' sh {} + | sort || exit 4
"#;

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub kind: String,
    pub mode: String,
    pub uid: String,
    pub gid: String,
    pub size: u64,
    pub mtime: String,
    pub nlink: String,
    pub sha256: Option<String>,
    pub target: Option<String>,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.kind == "directory"
    }

    pub fn is_file(&self) -> bool {
        self.kind.starts_with("regular")
    }

    /// Equal as far as a copy can make them: a folder's size, mtime and link
    /// count depend on the filesystem, and a symlink's own mtime is not kept.
    pub fn same(&self, other: &Entry) -> bool {
        let base = self.kind == other.kind
            && self.mode == other.mode
            && self.uid == other.uid
            && self.gid == other.gid
            && self.target == other.target;
        if self.is_dir() {
            return base;
        }
        if self.kind == "symbolic link" {
            return base;
        }
        base && self.size == other.size
            && self.mtime == other.mtime
            && self.nlink == other.nlink
            && self.sha256 == other.sha256
    }
}

/// A parsed listing. Names are as `find` prints them (`.`, `./a`, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    pub entries: BTreeMap<Vec<u8>, Entry>,
    /// A name holds a newline (or the text was not read whole): fine for
    /// comparing, but `tar -T` cannot take such a name, so a delta copies all.
    pub ambiguous: bool,
    /// The text as received.
    pub raw: Vec<u8>,
}

fn split_n(line: &[u8], n: usize) -> Option<Vec<&[u8]>> {
    let mut parts = Vec::with_capacity(n);
    let mut rest = line;
    for _ in 0..n - 1 {
        let i = rest.iter().position(|&b| b == b'|')?;
        parts.push(&rest[..i]);
        rest = &rest[i + 1..];
    }
    parts.push(rest);
    Some(parts)
}

impl Listing {
    pub fn parse(raw: &[u8]) -> Listing {
        let mut l = Listing { raw: raw.to_vec(), ..Default::default() };
        // Records per section; a line that does not start a record continues
        // the name of the one before (a name with a newline).
        let mut sections: [Vec<Vec<u8>>; 3] = Default::default();
        let mut section = 0;
        let starts = |section: usize, line: &[u8]| match section {
            0 => split_n(line, 8).is_some_and(|p| {
                p[7].starts_with(b".") && p[1..7].iter().all(|f| !f.is_empty() && f.iter().all(|b| b.is_ascii_digit()))
            }),
            1 => line.len() >= 66 && line[..64].iter().all(u8::is_ascii_hexdigit) && &line[64..66] == b"  ",
            _ => line.starts_with(b"./"),
        };
        let lines: Vec<&[u8]> = raw.strip_suffix(b"\n").unwrap_or(raw).split(|&b| b == b'\n').collect();
        for line in lines {
            match line {
                b"#sha256" => section = 1,
                b"#links" => section = 2,
                _ if starts(section, line) => sections[section].push(line.to_vec()),
                _ => match sections[section].last_mut() {
                    Some(prev) => {
                        prev.push(b'\n');
                        prev.extend_from_slice(line);
                        l.ambiguous = true;
                    }
                    None if line.is_empty() => {}
                    None => l.ambiguous = true,
                },
            }
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        for rec in &sections[0] {
            let p = split_n(rec, 8).expect("checked");
            let e = Entry {
                kind: text(p[0]),
                mode: text(p[1]),
                uid: text(p[2]),
                gid: text(p[3]),
                size: text(p[4]).parse().unwrap_or(0),
                mtime: text(p[5]),
                nlink: text(p[6]),
                ..Default::default()
            };
            l.entries.insert(p[7].to_vec(), e);
        }
        for rec in &sections[1] {
            match l.entries.get_mut(&rec[66..]) {
                Some(e) => e.sha256 = Some(text(&rec[..64])),
                None => l.ambiguous = true,
            }
        }
        for rec in &sections[2] {
            // "./name|target": the name is the longest prefix that is a symlink.
            let found = rec
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'|')
                .map(|(i, _)| i)
                .find(|&i| l.entries.get(&rec[..i]).is_some_and(|e| e.kind == "symbolic link"));
            match found {
                Some(i) => l.entries.get_mut(&rec[..i]).expect("found").target = Some(text(&rec[i + 1..])),
                None => l.ambiguous = true,
            }
        }
        if l.entries.values().any(|e| e.is_file() && e.sha256.is_none()) {
            l.ambiguous = true;
        }
        l
    }

    /// Regular files and their bytes.
    pub fn totals(&self) -> (usize, u64) {
        self.entries.values().filter(|e| e.is_file()).fold((0, 0), |(n, b), e| (n + 1, b + e.size))
    }

    /// Whether `dest` holds exactly this tree. A `lost+found` folder at the
    /// root of a new filesystem is not counted when the source has none.
    pub fn matches(&self, dest: &Listing) -> bool {
        self.delta(dest).is_empty()
    }

    /// What to do to `dest` to make it this tree.
    pub fn delta(&self, dest: &Listing) -> Delta {
        let mut d = Delta::default();
        let skip = |name: &[u8]| {
            !self.entries.contains_key(b"./lost+found".as_slice())
                && (name == b"./lost+found" || name.starts_with(b"./lost+found/"))
        };
        for (name, e) in &self.entries {
            match dest.entries.get(name) {
                Some(de) if e.same(de) => {}
                Some(de) if e.is_dir() && de.is_dir() => d.fix_dirs.push(name.clone()),
                Some(de) => {
                    if de.is_dir() != e.is_dir() {
                        d.remove.push(name.clone());
                    }
                    if e.is_dir() {
                        d.new_dirs.push(name.clone());
                    } else {
                        d.copy.push(name.clone());
                    }
                }
                None if e.is_dir() => d.new_dirs.push(name.clone()),
                None => d.copy.push(name.clone()),
            }
        }
        for name in dest.entries.keys() {
            if !self.entries.contains_key(name) && !skip(name) && !d.remove.contains(name) {
                d.remove.push(name.clone());
            }
        }
        // Deepest first, so a folder is emptied before it goes.
        d.remove.sort_by(|a, b| b.len().cmp(&a.len()).then(b.cmp(a)));
        d
    }

    /// A few lines naming where `dest` differs, for error messages.
    pub fn explain_mismatch(&self, dest: &Listing, max: usize) -> Vec<String> {
        let d = self.delta(dest);
        let show = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
        let mut lines = Vec::new();
        for n in d.copy.iter().chain(&d.new_dirs).chain(&d.fix_dirs) {
            let what = match (self.entries.get(n), dest.entries.get(n)) {
                (Some(s), Some(t)) => format!("{} differs ({})", show(n), differences(s, t)),
                _ => format!("{} is missing", show(n)),
            };
            lines.push(what);
        }
        for n in &d.remove {
            lines.push(format!("{} is extra", show(n)));
        }
        let more = lines.len().saturating_sub(max);
        lines.truncate(max);
        if more > 0 {
            lines.push(format!("and {more} more"));
        }
        lines
    }
}

fn differences(a: &Entry, b: &Entry) -> String {
    let mut out = Vec::new();
    let mut cmp = |what: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{what} {x} → {y}"));
        }
    };
    cmp("type", a.kind.clone(), b.kind.clone());
    cmp("mode", a.mode.clone(), b.mode.clone());
    cmp("owner", format!("{}:{}", a.uid, a.gid), format!("{}:{}", b.uid, b.gid));
    if !a.is_dir() {
        cmp("size", a.size.to_string(), b.size.to_string());
        cmp("sha256", a.sha256.clone().unwrap_or_default(), b.sha256.clone().unwrap_or_default());
        cmp("links", a.nlink.clone(), b.nlink.clone());
        if a.kind != "symbolic link" {
            cmp("mtime", a.mtime.clone(), b.mtime.clone());
        }
    }
    cmp("target", a.target.clone().unwrap_or_default(), b.target.clone().unwrap_or_default());
    out.join(", ")
}

/// The steps that make a destination equal to a source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    /// Entries to remove first (deepest first).
    pub remove: Vec<Vec<u8>>,
    /// Folders to create (shallowest first).
    pub new_dirs: Vec<Vec<u8>>,
    /// Files, links and other non-folders to copy with tar.
    pub copy: Vec<Vec<u8>>,
    /// Folders whose mode or owner to set.
    pub fix_dirs: Vec<Vec<u8>>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.new_dirs.is_empty() && self.copy.is_empty() && self.fix_dirs.is_empty()
    }
}

/// Quote a byte string for `sh` (single quotes; a quote inside closes,
/// escapes and reopens).
pub fn sh_quote(b: &[u8]) -> Vec<u8> {
    let mut out = vec![b'\''];
    for &c in b {
        if c == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(c);
        }
    }
    out.push(b'\'');
    out
}

/// A script that applies the non-copy parts of a delta in the destination
/// folder `dir`: remove, make folders, then (after the copy) set folder
/// modes and owners from `source`. Returns (before the copy, after it).
pub fn delta_scripts(d: &Delta, source: &Listing, dir: &str) -> (Vec<u8>, Vec<u8>) {
    let mut before = Vec::new();
    before.extend_from_slice(b"set -e\ncd ");
    before.extend(sh_quote(dir.as_bytes()));
    before.push(b'\n');
    for n in &d.remove {
        before.extend_from_slice(b"rm -rf ");
        before.extend(sh_quote(n));
        before.push(b'\n');
    }
    let mut dirs = d.new_dirs.clone();
    dirs.sort_by_key(|n| n.len());
    for n in &dirs {
        before.extend_from_slice(b"mkdir -p ");
        before.extend(sh_quote(n));
        before.push(b'\n');
    }
    let mut after = Vec::new();
    after.extend_from_slice(b"set -e\ncd ");
    after.extend(sh_quote(dir.as_bytes()));
    after.push(b'\n');
    for n in dirs.iter().chain(&d.fix_dirs) {
        let Some(e) = source.entries.get(n) else { continue };
        after.extend_from_slice(format!("chown {}:{} ", e.uid, e.gid).as_bytes());
        after.extend(sh_quote(n));
        after.push(b'\n');
        after.extend_from_slice(format!("chmod {} ", e.mode).as_bytes());
        after.extend(sh_quote(n));
        after.push(b'\n');
    }
    (before, after)
}

/// The names a delta copies, one per line, for `tar -T`.
pub fn copy_list(d: &Delta) -> Vec<u8> {
    let mut out = Vec::new();
    for n in &d.copy {
        out.extend_from_slice(n);
        out.push(b'\n');
    }
    out
}

/// `12.3 MB`, `512 B`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn units_trace_each_new_mount_to_where_its_data_lives() {
        let old = json!({
            "containers": [{"name": "app", "volumeMounts": [
                {"name": "scratch", "mountPath": "/var/lib/app"},
                {"name": "conf", "mountPath": "/etc/app"},
                {"name": "shared", "mountPath": "/srv/x", "subPath": "x"}
            ]}],
            "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c"}},
                        {"name": "shared"}]
        });
        let new = json!({
            "containers": [{"name": "app", "volumeMounts": [
                {"name": "scratch", "mountPath": "/var/lib/app"},
                {"name": "cache", "mountPath": "/var/lib/app/cache"},
                {"name": "home", "mountPath": "/home/app"},
                {"name": "shared", "mountPath": "/srv/x", "subPath": "x"},
                {"name": "conf", "mountPath": "/etc/app"}
            ]}],
            "volumes": [{"name": "conf", "configMap": {"name": "c"}}]
        });
        let u = units(&old, &new, &["scratch".into(), "cache".into(), "home".into(), "shared".into()]);
        let got: Vec<(String, Source, String)> =
            u.iter().map(|u| (u.path.clone(), u.source.clone(), u.dest_sub.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("/var/lib/app".into(), Source::EmptyDir { volume: "scratch".into(), sub: "".into() }, "".into()),
                (
                    "/var/lib/app/cache".into(),
                    Source::EmptyDir { volume: "scratch".into(), sub: "cache".into() },
                    "".into()
                ),
                ("/home/app".into(), Source::Layer, "".into()),
                // A volume with only a name is an emptyDir.
                ("/srv/x".into(), Source::EmptyDir { volume: "shared".into(), sub: "x".into() }, "x".into()),
            ]
        );
        assert_eq!(u[2].source_dir(), "/proc/1/root/home/app");
        assert_eq!(u[1].source_dir(), "/kp-src/scratch/cache");
    }

    #[test]
    fn data_already_on_a_claim_is_not_carried() {
        let old = json!({"containers": [{"name": "a", "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
                         "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "old"}}]});
        let new = json!({"containers": [{"name": "a", "volumeMounts": [{"name": "d", "mountPath": "/data"},
                                                                       {"name": "n", "mountPath": "/data/n"}]}],
                         "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "old"}},
                                     {"name": "n", "persistentVolumeClaim": {"claimName": "web-n"}}]});
        assert!(units(&old, &new, &["n".into()]).is_empty());
    }

    #[test]
    fn pvc_mode_units_name_the_claim() {
        let old = json!({"containers": [{"name": "a"}]});
        let new = json!({"containers": [{"name": "a", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                         "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]});
        let u = units(&old, &new, &["data".into()]);
        assert_eq!(u[0].claim, "web-data");
        assert_eq!(u[0].source, Source::Layer);
    }

    #[test]
    fn hooks_read_velero_and_our_own_annotations() {
        let a = json!({
            "pre.hook.backup.velero.io/container": "db",
            "pre.hook.backup.velero.io/command": "[\"/bin/sh\", \"-c\", \"sync\"]",
            "pre.hook.backup.velero.io/timeout": "2m",
            "post.hook.backup.velero.io/command": "/usr/bin/unfreeze",
            "kubectl-persist/post.hook.on-error": "Continue",
        });
        let h = Hooks::of(&a).unwrap();
        let pre = h.pre.unwrap();
        assert_eq!(pre.container.as_deref(), Some("db"));
        assert_eq!(pre.command, vec!["/bin/sh", "-c", "sync"]);
        assert_eq!(pre.timeout, Duration::from_secs(120));
        assert!(!pre.continue_on_error);
        let post = h.post.unwrap();
        assert_eq!(post.command, vec!["/usr/bin/unfreeze"]);
        // The on-error of our prefix belongs to our prefix's hook only.
        assert!(!post.continue_on_error);
        let ours = Hooks::of(&json!({"kubectl-persist/pre.hook.command": "[\"true\"]",
                                      "kubectl-persist/pre.hook.on-error": "Continue",
                                      "pre.hook.backup.velero.io/command": "false"}))
        .unwrap();
        assert_eq!(ours.pre.as_ref().unwrap().command, vec!["true"]);
        assert!(ours.pre.unwrap().continue_on_error);
        assert!(Hooks::of(&json!({"pre.hook.backup.velero.io/command": "[1]"})).is_err());
        assert!(Hooks::of(&json!({"pre.hook.backup.velero.io/command": "x",
                                  "pre.hook.backup.velero.io/timeout": "soon"}))
        .is_err());
        assert_eq!(Hooks::of(&json!({})).unwrap(), Hooks::default());
    }

    const SRC: &str = "directory|777|0|0|4096|1700000000|3|.
directory|755|1000|1000|4096|1700000000|2|./d
regular file|644|1000|1000|5|1700000001|2|./d/a b
regular file|644|1000|1000|5|1700000001|2|./d/hard
symbolic link|777|0|0|4|1700000002|1|./l|x
#sha256
f2ca1bb6c7e907d06dafe4687e579fce76b37e4e93b7605022da52e6ccc26fd2  ./d/a b
f2ca1bb6c7e907d06dafe4687e579fce76b37e4e93b7605022da52e6ccc26fd2  ./d/hard
#links
./l|x|y
";

    #[test]
    fn listings_parse_names_with_spaces_and_bars() {
        let l = Listing::parse(SRC.as_bytes());
        assert!(!l.ambiguous, "{l:?}");
        assert_eq!(l.entries.len(), 5);
        assert_eq!(l.entries[b"./l|x".as_slice()].target.as_deref(), Some("y"));
        assert_eq!(l.totals(), (2, 10));
        assert!(l.matches(&l));
    }

    #[test]
    fn a_delta_names_what_to_copy_and_remove() {
        let src = Listing::parse(SRC.as_bytes());
        let dst_text = SRC
            .replace("644|1000|1000|5|1700000001|2|./d/hard", "644|1000|1000|5|1700000009|2|./d/hard")
            .replace("directory|777|0|0", "directory|755|0|0")
            + "";
        let mut dst = Listing::parse(dst_text.as_bytes());
        dst.entries.insert(b"./gone".to_vec(), Entry { kind: "regular file".into(), ..Default::default() });
        dst.entries.insert(b"./lost+found".to_vec(), Entry { kind: "directory".into(), ..Default::default() });
        let d = src.delta(&dst);
        assert_eq!(d.copy, vec![b"./d/hard".to_vec()]);
        assert_eq!(d.fix_dirs, vec![b".".to_vec()]);
        assert_eq!(d.remove, vec![b"./gone".to_vec()], "lost+found of a new filesystem stays");
        assert!(!src.matches(&dst));
        let why = src.explain_mismatch(&dst, 5).join("; ");
        assert!(why.contains("./d/hard differs (mtime 1700000001 → 1700000009)"), "{why}");
        let (before, after) = delta_scripts(&d, &src, "/kp-dst/0");
        assert_eq!(String::from_utf8(before).unwrap(), "set -e\ncd '/kp-dst/0'\nrm -rf './gone'\n");
        assert!(String::from_utf8(after).unwrap().contains("chmod 777 '.'"));
    }

    #[test]
    fn a_name_with_a_newline_is_read_whole_and_marked() {
        let hash = "f2ca1bb6c7e907d06dafe4687e579fce76b37e4e93b7605022da52e6ccc26fd2";
        let text =
            format!("directory|755|0|0|1|1|1|.\nregular file|644|0|0|1|1|1|./a\nb\n#sha256\n{hash}  ./a\nb\n#links\n");
        let l = Listing::parse(text.as_bytes());
        assert!(l.ambiguous);
        assert_eq!(l.entries[b"./a\nb".as_slice()].sha256.as_deref(), Some(hash));
        // Another content of the same name is a difference.
        let other = text.replace(hash, &hash.replace('f', "e"));
        assert!(!l.matches(&Listing::parse(other.as_bytes())));
    }

    #[test]
    fn quoting_for_sh() {
        assert_eq!(sh_quote(b"it's"), b"'it'\\''s'".to_vec());
    }

    #[test]
    fn modes_and_sizes() {
        assert_eq!(Mode::parse("false"), Ok(Mode::None));
        assert_eq!(Mode::parse("per-pod"), Ok(Mode::PerPod));
        assert!(Mode::parse("maybe").is_err());
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(20_971_520), "21.0 MB");
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("x"), None);
    }
}
