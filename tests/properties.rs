//! Data-safety properties, on generated Deployments (proptest) and on every
//! render of the shared corpus, in both modes:
//!
//! 1. every input object is in the output (a Deployment may come out as the
//!    StatefulSet of the same name);
//! 2. no existing volume, claim name or claim reference is removed or changed
//!    (an emptyDir may become a claim of the same name, nothing else moves);
//! 3. every volumeMount names a volume or a volumeClaimTemplate of its pod;
//! 4. the output is deterministic, and a second run changes nothing;
//! 5. documents the run did not rewrite are byte-identical, in order, and
//!    objects no rule edits (ConfigMaps, Services, claims, ...) mean what
//!    they meant;
//! 6. `--mode pvc` never leaves a ReadWriteOnce claim under a RollingUpdate
//!    Deployment with more than one replica without a warning (Deployments
//!    it rewrote; one it leaves alone comes out as it came in);
//! 7. a refusal is a clear error, never an internal one.
//!
//! The output is read back with serde_yaml, a parser independent of ours.

mod common;

use std::collections::BTreeMap;

use kubectl_persist::decide::Mode;
use kubectl_persist::{emit, transform, Input, Note, Options};
use proptest::prelude::*;
use serde_yaml::Value;

// ---------------------------------------------------------------- checking

fn opts(mode: Mode, paths: &[String], access: Option<&str>) -> Options {
    Options {
        mode: Some(mode),
        access_modes: access.map(|a| vec![a.to_string()]),
        paths: paths
            .iter()
            .map(|p| match p.split_once(':') {
                Some((c, p)) => (Some(c.to_string()), p.to_string()),
                None => (None, p.clone()),
            })
            .collect(),
        // Several replicas reach the claim rules only when asked for
        // (tests/new_user.rs covers the refusal without it).
        per_pod_data: true,
        ..Options::default()
    }
}

/// The objects of a stream (List items included), read with serde_yaml.
fn objects(text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| format!("serde_yaml cannot read the stream: {e}"))?;
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
        match v.get("items").and_then(Value::as_sequence) {
            Some(items) if kind.ends_with("List") => out.extend(items.iter().cloned()),
            _ if v.is_mapping() => out.push(v),
            _ => {}
        }
    }
    Ok(out)
}

use serde::Deserialize;

fn s<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn kind_name(v: &Value) -> (String, String) {
    let k = v.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let n = s(v, &["metadata", "name"]).and_then(Value::as_str).unwrap_or_default().to_string();
    (k, n)
}

fn pod_spec(v: &Value) -> Option<&Value> {
    match v.get("kind").and_then(Value::as_str)? {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => s(v, &["spec", "template", "spec"]),
        "CronJob" => s(v, &["spec", "jobTemplate", "spec", "template", "spec"]),
        "Pod" => v.get("spec"),
        _ => None,
    }
}

fn seq(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_sequence).into_iter().flatten()
}

fn named(v: Option<&Value>) -> BTreeMap<String, &Value> {
    seq(v).filter_map(|i| Some((i.get("name")?.as_str()?.to_string(), i))).collect()
}

fn templates(v: &Value) -> BTreeMap<String, &Value> {
    seq(s(v, &["spec", "volumeClaimTemplates"]))
        .filter_map(|t| Some((s(t, &["metadata", "name"])?.as_str()?.to_string(), t)))
        .collect()
}

/// Kinds whose objects no rule edits.
fn never_edited(kind: &str) -> bool {
    !matches!(kind, "Deployment" | "StatefulSet" | "HorizontalPodAutoscaler" | "VerticalPodAutoscaler" | "ScaledObject")
}

/// Run one transform and check every property; `Ok(None)` when the tool
/// refused the input with a clear error.
fn check(
    name: &str,
    input: &str,
    mode: Mode,
    paths: &[String],
    access: Option<&str>,
) -> Result<Option<String>, String> {
    let o = opts(mode, paths, access);
    let inputs = [Input { name: name.to_string(), bytes: input.as_bytes().to_vec() }];
    let out = match transform(&inputs, &o) {
        Ok(out) => out,
        Err(e) => {
            let e = e.to_string();
            // 7. Refusals are errors about the input, not the tool.
            if e.contains("internal") {
                return Err(format!("internal error: {e}"));
            }
            return Ok(None);
        }
    };
    let text = emit::yaml(&out);
    let fail = |what: String| Err(format!("{what}\n--- output:\n{text}"));

    // 5. Untouched documents: byte-identical, in order.
    let mut at = 0;
    for d in out.docs.iter().filter(|d| !d.changed()) {
        match text[at..].find(d.original) {
            Some(i) => at += i + d.original.len(),
            None => return fail(format!("document {} ({}) is not in the output as it was", d.number, d.label)),
        }
    }

    let before = objects(input)?;
    let after = match objects(&text) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let find = |kind: &str, name: &str| after.iter().find(|v| kind_name(v) == (kind.to_string(), name.to_string()));
    for b in &before {
        let (kind, name) = kind_name(b);
        // 1. Every object is still there.
        let a = find(&kind, &name).or_else(|| {
            (kind == "Deployment" && mode == Mode::StatefulSet).then(|| find("StatefulSet", &name)).flatten()
        });
        let Some(a) = a else { return fail(format!("{kind} {name} is missing from the output")) };
        // 5. Objects no rule edits keep their meaning.
        if never_edited(&kind) && !after.contains(b) {
            return fail(format!("{kind} {name} changed"));
        }
        // 2. Volumes, claim references and claim templates stay.
        if let (Some(pb), Some(pa)) = (pod_spec(b), pod_spec(a)) {
            let (vb, va, ta) = (named(pb.get("volumes")), named(pa.get("volumes")), templates(a));
            for (vname, vol) in &vb {
                let was_empty_dir = vol.get("emptyDir").is_some();
                match va.get(vname) {
                    Some(now) if now == vol => {}
                    Some(now) if was_empty_dir && now.get("persistentVolumeClaim").is_some() => {}
                    None if was_empty_dir && ta.contains_key(vname) => {}
                    Some(_) => return fail(format!("{kind} {name}: volume {vname} changed")),
                    None => return fail(format!("{kind} {name}: volume {vname} was removed")),
                }
            }
            for (tname, t) in templates(b) {
                if ta.get(&tname) != Some(&t) {
                    return fail(format!("{kind} {name}: volumeClaimTemplate {tname} changed or went"));
                }
            }
        }
    }
    // 3. Every mount names a volume or a claim template.
    for a in &after {
        let Some(pod) = pod_spec(a) else { continue };
        let (vols, ts) = (named(pod.get("volumes")), templates(a));
        for c in seq(pod.get("containers")).chain(seq(pod.get("initContainers"))) {
            for m in seq(c.get("volumeMounts")) {
                let v = m.get("name").and_then(Value::as_str).unwrap_or_default();
                if !vols.contains_key(v) && !ts.contains_key(v) {
                    return fail(format!(
                        "{:?}: a mount names {v}, which is neither a volume nor a template",
                        kind_name(a)
                    ));
                }
            }
        }
    }
    // 6. pvc mode: ReadWriteOnce claims under RollingUpdate with replicas > 1 are warned about.
    if mode == Mode::Pvc {
        let rwo = |claim: &str| {
            find("PersistentVolumeClaim", claim).is_some_and(|c| {
                seq(s(c, &["spec", "accessModes"]))
                    .any(|m| matches!(m.as_str(), Some("ReadWriteOnce" | "ReadWriteOncePod")))
            })
        };
        // Deployments the run rewrote: one it left alone is the user's as it was.
        let touched = |a: &Value| !before.iter().any(|b| b == a);
        for a in after.iter().filter(|a| kind_name(a).0 == "Deployment" && touched(a)) {
            let name = kind_name(a).1;
            let replicas = s(a, &["spec", "replicas"]).and_then(Value::as_i64).unwrap_or(1);
            let rolling = s(a, &["spec", "strategy", "type"]).and_then(Value::as_str).unwrap_or("RollingUpdate")
                == "RollingUpdate";
            let claims: Vec<&str> = seq(pod_spec(a).and_then(|p| p.get("volumes")))
                .filter_map(|v| s(v, &["persistentVolumeClaim", "claimName"])?.as_str())
                .collect();
            if replicas > 1 && rolling && claims.iter().any(|c| rwo(c)) {
                let warned = out
                    .notes
                    .iter()
                    .any(|n| matches!(n, Note::Warning(w) if w.contains(&name) && w.contains("ReadWriteOnce")));
                if !warned {
                    return fail(format!(
                        "Deployment {name}: {replicas} replicas, RollingUpdate, a ReadWriteOnce claim, no warning"
                    ));
                }
            }
        }
    }
    // 4. Deterministic, and idempotent.
    let again = emit::yaml(&transform(&inputs, &o).map_err(|e| e.to_string())?);
    if again != text {
        return fail("a second run over the same input gave another output".into());
    }
    let second_in = [Input { name: name.to_string(), bytes: text.as_bytes().to_vec() }];
    match transform(&second_in, &o) {
        Ok(second) => {
            let second = emit::yaml(&second);
            if second != text {
                return fail(format!("a run over the output changed it again:\n--- second output:\n{second}"));
            }
        }
        Err(e) => return fail(format!("a run over the output failed: {e}")),
    }
    Ok(Some(text))
}

// ---------------------------------------------------------------- the corpus

#[test]
fn properties_hold_on_the_corpus() {
    let Some(files) = common::corpus_files() else { return };
    let mut problems = Vec::new();
    let mut rewritten = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        for mode in [Mode::StatefulSet, Mode::Pvc] {
            for paths in [vec!["/x".to_string()]] {
                match check(&name, &text, mode, &paths, None) {
                    Ok(Some(out)) => rewritten += usize::from(out != text),
                    Ok(None) => problems.push(format!("{name} {mode:?} {paths:?}: refused")),
                    Err(e) => problems.push(format!("{name} {mode:?} {paths:?}: {:.3000}", e)),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n\n"));
    assert!(rewritten > files.len(), "only {rewritten} runs rewrote anything");
}

// ---------------------------------------------------------------- generated input

const PATHS: [&str; 7] = ["/data", "/var/lib/app", "/cache", "/tmp", "/config", "/srv/files", "/new"];
const VOLUMES: [&str; 6] = ["data", "cache", "config", "scratch", "logs", "files"];
const CONTAINERS: [&str; 3] = ["app", "sidecar", "helper"];

#[derive(Debug, Clone)]
enum Vol {
    EmptyDir,
    EmptyDirSized,
    Memory,
    /// An existing claim: index into the stream's claims.
    Claim(usize),
    ConfigMap,
    HostPath,
    Secret,
}

#[derive(Debug, Clone)]
struct Container {
    /// (volume index, path index); duplicates are dropped when rendering.
    mounts: Vec<(usize, usize)>,
    secret_env: bool,
}

#[derive(Debug, Clone)]
struct Deploy {
    replicas: Option<u8>,
    /// None: no strategy; Some(true): Recreate; Some(false): RollingUpdate.
    recreate: Option<bool>,
    volumes: Vec<Vol>,
    containers: Vec<Container>,
    init: Option<Container>,
    service: bool,
}

/// How the text is written.
#[derive(Debug, Clone)]
struct Style {
    step: usize,
    indent_seqs: bool,
    /// 0 plain, 1 single, 2 double, 3 a mix.
    quotes: u8,
    comments: bool,
    /// Drives key order and the mix of quotes.
    seed: u64,
    crlf: bool,
}

#[derive(Debug, Clone)]
struct Case {
    deploys: Vec<Deploy>,
    /// Existing claims: ReadWriteOnce (true) or ReadWriteMany.
    claims: Vec<bool>,
    style: Style,
    paths: Vec<String>,
    /// `--access-mode`, when given.
    access: Option<&'static str>,
    /// Wrap every object in one `kind: List`.
    list: bool,
}

fn container() -> impl Strategy<Value = Container> {
    (prop::collection::vec((0..VOLUMES.len(), 0..PATHS.len()), 0..4), any::<bool>())
        .prop_map(|(mounts, secret_env)| Container { mounts, secret_env })
}

fn vol() -> impl Strategy<Value = Vol> {
    prop_oneof![
        4 => Just(Vol::EmptyDir),
        1 => Just(Vol::EmptyDirSized),
        1 => Just(Vol::Memory),
        2 => (0..3usize).prop_map(Vol::Claim),
        1 => Just(Vol::ConfigMap),
        1 => Just(Vol::HostPath),
        1 => Just(Vol::Secret),
    ]
}

fn deploy() -> impl Strategy<Value = Deploy> {
    (
        prop::option::of(0..4u8),
        prop::option::of(any::<bool>()),
        prop::collection::vec(vol(), 0..5),
        prop::collection::vec(container(), 1..3),
        prop::option::weighted(0.2, container()),
        any::<bool>(),
    )
        .prop_map(|(replicas, recreate, volumes, containers, init, service)| Deploy {
            replicas,
            recreate,
            volumes,
            containers,
            init,
            service,
        })
}

fn case() -> impl Strategy<Value = Case> {
    let style = (
        prop_oneof![Just(2usize), Just(4)],
        any::<bool>(),
        0..4u8,
        any::<bool>(),
        any::<u64>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(step, indent_seqs, quotes, comments, seed, crlf)| Style {
            step,
            indent_seqs,
            quotes,
            comments,
            seed,
            crlf,
        });
    let path = prop_oneof![
        3 => (0..PATHS.len()).prop_map(|i| PATHS[i].to_string()),
        1 => (0..2usize, 0..PATHS.len()).prop_map(|(c, i)| format!("{}:{}", CONTAINERS[c], PATHS[i])),
    ];
    (
        prop::collection::vec(deploy(), 1..3),
        prop::collection::vec(any::<bool>(), 3),
        style,
        prop::collection::vec(path, 0..4),
        prop::option::of(prop_oneof![Just("ReadWriteOnce"), Just("ReadWriteMany")]),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(deploys, claims, style, paths, access, list)| Case {
            deploys,
            claims,
            style,
            paths,
            access,
            list,
        })
}

/// A YAML value to write in a chosen style.
enum Y {
    Map(Vec<(&'static str, Y)>),
    Seq(Vec<Y>),
    Str(String),
    Num(i64),
    /// Written as is (`{}`).
    Raw(&'static str),
}

fn st(s: impl Into<String>) -> Y {
    Y::Str(s.into())
}

struct Writer<'a> {
    style: &'a Style,
    rng: u64,
    out: String,
}

impl Writer<'_> {
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.rng >> 33
    }

    fn nl(&mut self) {
        self.out.push_str(if self.style.crlf { "\r\n" } else { "\n" });
    }

    fn scalar(&mut self, v: &Y) {
        match v {
            Y::Num(n) => self.out.push_str(&n.to_string()),
            Y::Raw(r) => self.out.push_str(r),
            Y::Str(s) => {
                let q = if self.style.quotes == 3 { (self.next() % 3) as u8 } else { self.style.quotes };
                match q {
                    1 => self.out.push_str(&format!("'{s}'")),
                    2 => self.out.push_str(&format!("\"{s}\"")),
                    _ => self.out.push_str(s),
                }
            }
            _ => unreachable!(),
        }
        if self.style.comments && self.next() % 5 == 0 {
            self.out.push_str("  # note");
        }
    }

    fn map(&mut self, entries: &[(&'static str, Y)], indent: usize, inline_first: bool) {
        // Shuffle the keys (stable order for `name` first in list items, as
        // charts write them; everything else random).
        let mut order: Vec<usize> = (0..entries.len()).collect();
        for i in (1..order.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        if let Some(p) = order.iter().position(|&i| entries[i].0 == "name") {
            let n = order.remove(p);
            order.insert(0, n);
        }
        for (k, &i) in order.iter().enumerate() {
            let (key, v) = (&entries[i].0, &entries[i].1);
            if !(k == 0 && inline_first) {
                if self.style.comments && self.next() % 7 == 0 {
                    self.out.push_str(&" ".repeat(indent));
                    self.out.push_str("# a comment");
                    self.nl();
                }
                self.out.push_str(&" ".repeat(indent));
            }
            self.out.push_str(key);
            self.out.push(':');
            match v {
                Y::Map(e) if e.is_empty() => self.out.push_str(" {}"),
                Y::Seq(s) if s.is_empty() => self.out.push_str(" []"),
                Y::Map(e) => {
                    self.nl();
                    self.map(e, indent + self.style.step, false);
                    continue;
                }
                Y::Seq(items) => {
                    self.nl();
                    let at = indent + if self.style.indent_seqs { self.style.step } else { 0 };
                    self.seq(items, at);
                    continue;
                }
                other => {
                    self.out.push(' ');
                    self.scalar(other);
                }
            }
            self.nl();
        }
    }

    fn seq(&mut self, items: &[Y], indent: usize) {
        for it in items {
            self.out.push_str(&" ".repeat(indent));
            self.out.push_str("- ");
            match it {
                Y::Map(e) if !e.is_empty() => self.map(e, indent + 2, true),
                Y::Seq(_) => unreachable!("no nested sequences in manifests here"),
                other => {
                    self.scalar(other);
                    self.nl();
                }
            }
        }
    }
}

impl Case {
    fn deployment(&self, i: usize, d: &Deploy) -> Y {
        let name = format!("app{i}");
        let labels = || Y::Map(vec![("app", st(name.clone()))]);
        let vols = || {
            d.volumes
                .iter()
                .enumerate()
                .map(|(v, kind)| {
                    let src: (&'static str, Y) = match kind {
                        Vol::EmptyDir => ("emptyDir", Y::Raw("{}")),
                        Vol::EmptyDirSized => ("emptyDir", Y::Map(vec![("sizeLimit", st("2Gi"))])),
                        Vol::Memory => ("emptyDir", Y::Map(vec![("medium", st("Memory"))])),
                        Vol::Claim(c) => {
                            ("persistentVolumeClaim", Y::Map(vec![("claimName", st(format!("existing-{c}")))]))
                        }
                        Vol::ConfigMap => ("configMap", Y::Map(vec![("name", st(format!("{name}-config")))])),
                        Vol::HostPath => ("hostPath", Y::Map(vec![("path", st("/var/run/x"))])),
                        Vol::Secret => ("secret", Y::Map(vec![("secretName", st(format!("{name}-secret")))])),
                    };
                    Y::Map(vec![("name", st(VOLUMES[v])), src])
                })
                .collect::<Vec<_>>()
        };
        let container = |cname: &str, c: &Container| {
            let (mut seen_v, mut seen_p, mut mounts) = (Vec::new(), Vec::new(), Vec::new());
            for &(v, p) in &c.mounts {
                if v < d.volumes.len() && !seen_v.contains(&v) && !seen_p.contains(&p) {
                    seen_v.push(v);
                    seen_p.push(p);
                    mounts.push(Y::Map(vec![("name", st(VOLUMES[v])), ("mountPath", st(PATHS[p]))]));
                }
            }
            let mut e = vec![("name", st(cname)), ("image", st(format!("registry.example/{cname}:1.0")))];
            if !mounts.is_empty() {
                e.push(("volumeMounts", Y::Seq(mounts)));
            }
            if c.secret_env {
                e.push((
                    "env",
                    Y::Seq(vec![Y::Map(vec![
                        ("name", st("PASSWORD")),
                        (
                            "valueFrom",
                            Y::Map(vec![(
                                "secretKeyRef",
                                Y::Map(vec![("name", st("creds")), ("key", st("password"))]),
                            )]),
                        ),
                    ])]),
                ));
            }
            Y::Map(e)
        };
        let mut pod = vec![(
            "containers",
            Y::Seq(d.containers.iter().enumerate().map(|(k, c)| container(CONTAINERS[k], c)).collect()),
        )];
        if let Some(init) = &d.init {
            pod.push(("initContainers", Y::Seq(vec![container("init", init)])));
        }
        if !d.volumes.is_empty() {
            pod.push(("volumes", Y::Seq(vols())));
        }
        let mut spec = vec![
            ("selector", Y::Map(vec![("matchLabels", labels())])),
            ("template", Y::Map(vec![("metadata", Y::Map(vec![("labels", labels())])), ("spec", Y::Map(pod))])),
        ];
        if let Some(r) = d.replicas {
            spec.push(("replicas", Y::Num(r.into())));
        }
        if let Some(recreate) = d.recreate {
            spec.push(("strategy", Y::Map(vec![("type", st(if recreate { "Recreate" } else { "RollingUpdate" }))])));
        }
        Y::Map(vec![
            ("apiVersion", st("apps/v1")),
            ("kind", st("Deployment")),
            ("metadata", Y::Map(vec![("name", st(name.clone())), ("labels", labels())])),
            ("spec", Y::Map(spec)),
        ])
    }

    fn render(&self) -> String {
        let mut docs = vec![Y::Map(vec![
            ("apiVersion", st("v1")),
            ("kind", st("ConfigMap")),
            ("metadata", Y::Map(vec![("name", st("settings"))])),
            ("data", Y::Map(vec![("key", st("value"))])),
        ])];
        for (c, rwo) in self.claims.iter().enumerate() {
            docs.push(Y::Map(vec![
                ("apiVersion", st("v1")),
                ("kind", st("PersistentVolumeClaim")),
                ("metadata", Y::Map(vec![("name", st(format!("existing-{c}")))])),
                (
                    "spec",
                    Y::Map(vec![
                        ("accessModes", Y::Seq(vec![st(if *rwo { "ReadWriteOnce" } else { "ReadWriteMany" })])),
                        ("resources", Y::Map(vec![("requests", Y::Map(vec![("storage", st("1Gi"))]))])),
                    ]),
                ),
            ]));
        }
        for (i, d) in self.deploys.iter().enumerate() {
            if d.service {
                docs.push(Y::Map(vec![
                    ("apiVersion", st("v1")),
                    ("kind", st("Service")),
                    ("metadata", Y::Map(vec![("name", st(format!("app{i}")))])),
                    (
                        "spec",
                        Y::Map(vec![
                            ("selector", Y::Map(vec![("app", st(format!("app{i}")))])),
                            ("ports", Y::Seq(vec![Y::Map(vec![("port", Y::Num(80))])])),
                        ]),
                    ),
                ]));
            }
            docs.push(self.deployment(i, d));
        }
        let mut w = Writer { style: &self.style, rng: self.style.seed, out: String::new() };
        if self.list {
            let list = Y::Map(vec![("apiVersion", st("v1")), ("kind", st("List")), ("items", Y::Seq(docs))]);
            docs = vec![list];
        }
        for d in &docs {
            w.out.push_str("---");
            w.nl();
            if let Y::Map(e) = d {
                w.map(e, 0, false);
            }
        }
        w.out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn properties_hold_on_generated_deployments(case in case()) {
        let text = case.render();
        // The generated text itself is valid YAML.
        prop_assert!(objects(&text).is_ok(), "{text}");
        for mode in [Mode::StatefulSet, Mode::Pvc] {
            if let Err(e) = check("generated.yaml", &text, mode, &case.paths, case.access) {
                return Err(TestCaseError::fail(format!(
                    "{mode:?} --path {:?} --access-mode {:?}\n--- input:\n{text}\n{e}",
                    case.paths, case.access
                )));
            }
        }
    }
}

/// The generator must reach the interesting cases, not only refusals.
#[test]
fn generated_cases_are_mostly_rewritten() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ok, mut changed, total) = (0, 0, 200);
    for _ in 0..total {
        let case = case().new_tree(&mut runner).unwrap().current();
        let text = case.render();
        if let Ok(Some(out)) = check("generated.yaml", &text, Mode::StatefulSet, &case.paths, case.access) {
            ok += 1;
            changed += usize::from(out != text);
        }
    }
    assert!(ok > total / 2 && changed > total / 4, "{ok} accepted, {changed} rewritten of {total}");
}
