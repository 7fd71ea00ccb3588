//! kubectl-persist: make a Kubernetes app's data persistent.
//!
//! The library is the manifest transformer, with no I/O: [`transform`] takes
//! the input streams and [`Options`] and returns the output documents, in
//! order, plus notes for the user. The stages, in order:
//!
//! 1. **read/split** ([`stream`], [`yaml::split`]): documents are found by a
//!    line scan; only those that matter (workloads, Services, claims, scalers,
//!    Lists) are parsed, into trees that remember their source bytes.
//! 2. **decide** ([`decide`]): which workloads, which paths, what size; from
//!    flags, then the config file, then annotations, then detection.
//! 3. **rewrite** ([`rules`]): one small rule per edit, composed per workload.
//! 4. **render** ([`yaml::render`]): edited documents are written back by
//!    copying every unchanged byte; untouched documents are never re-encoded.
//!
//! Emitting (YAML, JSON, diff) is in [`emit`]; the binary adds files,
//! terminals and clusters.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod around;
pub mod backup;
pub mod carry;
pub mod decide;
pub mod emit;
pub mod error;
pub mod live;
pub mod rules;
pub mod status;
pub mod stream;
pub mod yaml;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

pub use error::{Error, Result};
pub use stream::Input;

use around::Around;
use decide::catalog::Catalog;
use decide::config::ConfigFile;
use decide::detect;
use decide::select::{Selector, Target, WorkloadKind};
use decide::Mode;
use rules::{persist, pod_spec, scale_targets};
use stream::Stream;
use yaml::render::{fresh_document, DocStyle, Renderer};
use yaml::{Limits, Node};

/// Helm 4 marks each document with the template it came from; new objects
/// carry it too, so Helm files them with their source.
pub const HELM4_FILENAME: &str = "postrenderer.helm.sh/postrender-filename";

/// Annotations a workload passes on to the objects added for it.
const INHERITED_ANNOTATIONS: [&str; 3] =
    [HELM4_FILENAME, "meta.helm.sh/release-name", "meta.helm.sh/release-namespace"];

/// Everything that steers a run, already checked (the binary builds it from
/// flags; tests build it directly).
#[derive(Debug, Clone)]
pub struct Options {
    /// `TYPE/NAME` arguments.
    pub targets: Vec<Target>,
    pub selector: Option<Selector>,
    /// `[CONTAINER:]PATH` from `--path`.
    pub paths: Vec<(Option<String>, String)>,
    pub mode: Option<Mode>,
    pub size: Option<String>,
    pub storage_class: Option<String>,
    pub access_modes: Option<Vec<String>>,
    pub fs_group: Option<i64>,
    /// `-n`: the namespace of objects that name none.
    pub namespace: Option<String>,
    pub config: Option<ConfigFile>,
    /// The namespace live objects were read from for objects that name none
    /// (`--cluster`: `-n`, else the kubeconfig context's). Unlike
    /// `namespace`, it does not narrow the selection.
    pub live_namespace: Option<String>,
    /// Live StatefulSets and Deployments of the rendered workloads' names
    /// (`--cluster`): rendered StatefulSets keep their live immutable fields,
    /// and no render moves a running app off the claims it keeps data on.
    pub live_workloads: Vec<serde_json::Value>,
    pub detect: detect::Level,
    /// Where images keep their data: the built-in catalog, with `--catalog`
    /// files on top.
    pub catalog: Catalog,
    pub limits: Limits,
    /// Parse every document (for `-o json`).
    pub parse_all: bool,
    /// Size of a claim when nothing else says.
    pub default_size: String,
    /// `--carry`: a live switch copies the running pods' data into the new
    /// claims; with `--cluster`, a render that would start a running app on
    /// empty claims is refused unless this is `none`.
    pub carry: carry::Mode,
    /// `--helper-image` (or the config file's `helperImage`).
    pub helper_image: Option<String>,
    /// `--per-pod-data`: a Deployment of several replicas may become a
    /// StatefulSet whose pods each get their own, separate claims.
    pub per_pod_data: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            targets: Vec::new(),
            selector: None,
            paths: Vec::new(),
            mode: None,
            size: None,
            storage_class: None,
            access_modes: None,
            fs_group: None,
            namespace: None,
            config: None,
            live_workloads: Vec::new(),
            live_namespace: None,
            detect: detect::Level::Safe,
            catalog: Catalog::embedded(),
            limits: Limits::default(),
            parse_all: false,
            default_size: "1Gi".into(),
            carry: carry::Mode::Auto,
            helper_image: None,
            per_pod_data: false,
        }
    }
}

impl Options {
    /// The command-line flags that make this rewrite again (`--path`,
    /// `--mode`, `--size`, ...), for the commands the tool suggests. A
    /// `--config` file is named by a placeholder.
    pub fn rewrite_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut flag = |name: &str, value: String| {
            args.push(format!("--{name}"));
            args.push(value);
        };
        for (c, p) in &self.paths {
            flag("path", c.as_ref().map(|c| format!("{c}:{p}")).unwrap_or_else(|| p.clone()));
        }
        if let Some(m) = self.mode {
            flag("mode", m.as_str().into());
        }
        if let Some(size) = &self.size {
            flag("size", size.clone());
        }
        if let Some(class) = &self.storage_class {
            flag("storage-class", class.clone());
        }
        if let Some(modes) = &self.access_modes {
            flag("access-mode", modes.join(","));
        }
        if let Some(gid) = self.fs_group {
            flag("fs-group", gid.to_string());
        }
        match self.detect {
            detect::Level::Off => flag("detect", "off".into()),
            detect::Level::All => flag("detect", "all".into()),
            detect::Level::Safe => {}
        }
        if self.config.is_some() {
            flag("config", "YOUR-CONFIG-FILE".into());
        }
        if self.per_pod_data {
            args.push("--per-pod-data".into());
        }
        args
    }
}

/// Something to tell the user on stderr.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// A decision, shown with `--explain`.
    Explain(String),
    /// Always shown.
    Warning(String),
}

/// One output document.
#[derive(Debug)]
pub struct OutDoc<'a> {
    pub input: usize,
    /// Number of the document in its input (for added objects: the document
    /// that caused them).
    pub number: usize,
    /// The input bytes of this document (empty for added objects).
    pub original: &'a str,
    /// The output bytes: the input itself when nothing changed.
    pub text: Cow<'a, str>,
    /// The document's final tree, where it was parsed.
    pub tree: Option<Node>,
    pub added: bool,
    /// `Kind namespace/name` for messages and diff headers.
    pub label: String,
}

impl OutDoc<'_> {
    pub fn changed(&self) -> bool {
        self.added || self.text != self.original
    }
}

#[derive(Debug)]
pub struct Outcome<'a> {
    pub docs: Vec<OutDoc<'a>>,
    pub notes: Vec<Note>,
    /// Live claims to grow (`--cluster`, a requested size above the live one).
    pub expansions: Vec<rules::keep_live::Expansion>,
}

/// Run the transformer over the inputs.
pub fn transform<'a>(inputs: &'a [Input], opts: &Options) -> Result<Outcome<'a>> {
    let mut s = Stream::read(inputs, &opts.limits, opts.parse_all)?;
    let mut notes = Vec::new();
    let selected = select(&s, opts, &mut notes)?;
    let mut converted: HashSet<(Option<String>, String)> = HashSet::new();
    let mut around = Around::index(&s, opts);
    let rewritten: HashSet<usize> = selected.iter().map(|(i, _)| *i).collect();
    // A document whose last edit this is can be rendered at once, and its
    // parsed tree freed: nothing after the rewrites edits a workload's own
    // document, except --cluster (keep_live) and a List holding several.
    let mut edits_left: HashMap<usize, usize> = HashMap::new();
    for (idx, _) in &selected {
        *edits_left.entry(s.objects[*idx].id.doc).or_default() += 1;
    }
    let settle_early = opts.live_workloads.is_empty();
    for (idx, explicit) in selected {
        rewrite_workload(&mut s, &mut around, idx, explicit, opts, &mut notes, &mut converted)?;
        let id = s.objects[idx].id;
        let left = edits_left.get_mut(&id.doc).expect("counted");
        *left -= 1;
        if settle_early && *left == 0 && id.item.is_none() {
            settle(&mut s, id.doc, &opts.limits)?;
        }
    }
    if opts.mode == Some(Mode::Pvc) {
        // pvc mode promises a word on every Deployment that rolls pods over a
        // ReadWriteOnce claim, the ones it did not rewrite too.
        for (_, o) in s.objects.iter().enumerate().filter(|(i, o)| o.kind == "Deployment" && !rewritten.contains(i)) {
            let ns = o.effective_ns(opts.namespace.as_deref()).map(str::to_string);
            let modes = |name: &str| around.claims.get(&(ns.clone(), name.to_string())).cloned();
            if let Some(w) = s.obj(o.id).and_then(|obj| rules::strategy::shared_rwo_warning(obj, &o.name, &modes)) {
                notes.push(Note::Warning(w));
            }
        }
    }
    retarget_scalers(&mut s, opts, &converted, &mut notes)?;
    let expansions = keep_live(&mut s, opts, &mut notes)?;
    let mut out = render(s, notes, &opts.limits)?;
    out.expansions = expansions;
    Ok(out)
}

/// `--cluster`: rendered StatefulSets that run already keep their immutable
/// fields as they are live.
fn keep_live(s: &mut Stream, opts: &Options, notes: &mut Vec<Note>) -> Result<Vec<rules::keep_live::Expansion>> {
    let mut expansions = Vec::new();
    if opts.live_workloads.is_empty() {
        return Ok(expansions);
    }
    let objects: Vec<stream::ObjInfo> = s.objects.to_vec();
    for o in objects {
        let Some(obj) = s.obj(o.id) else { continue };
        let kind = obj.str_at(&["kind"]);
        if !matches!(kind, Some("StatefulSet" | "Deployment")) {
            continue;
        }
        let ns = o.effective_ns(opts.namespace.as_deref().or(opts.live_namespace.as_deref()));
        let live_of = |kind: &str| live_workload(opts, kind, &o.name, ns.unwrap_or("default"));
        if let Some(d) = live_of("Deployment").filter(|_| !is_hook(obj)) {
            let fail = |msg: String| {
                let mut at = s.doc_ref(o.id.doc, None);
                at.object = Some(format!("{} {}", kind.unwrap_or_default(), o.name));
                Error::Rewrite { at: Box::new(at), msg }
            };
            if kind == Some("StatefulSet") {
                pvc_mode_claims_stay(obj, d, &o.name).map_err(fail)?;
            }
            let desired = yaml::to_json(obj, &opts.limits).map_err(fail)?;
            data_is_carried(&desired, d, opts).map_err(fail)?;
        }
        let Some(live) = live_of("StatefulSet") else {
            continue;
        };
        let mut at = s.doc_ref(o.id.doc, None);
        at.object = Some(format!("{} {}", kind.unwrap_or_default(), o.name));
        let fail = |msg: String| Error::Rewrite { at: Box::new(at.clone()), msg };
        if kind == Some("Deployment") && !is_hook(obj) {
            // The release runs as a StatefulSet: rendering a Deployment would
            // delete it and start the app on other, empty claims.
            return Err(fail(format!(
                "statefulset/{} runs in the cluster with its data on its claims; this render makes it a Deployment \
                 (--mode pvc, or a path list that no longer converts it), which would replace the StatefulSet and \
                 start the app on other, empty claims. Render it as before (--mode statefulset, the same paths)",
                o.name
            )));
        }
        let desired = yaml::to_json(obj, &opts.limits).map_err(&fail)?;
        let obj = s.obj_mut(o.id).expect("parsed");
        let (changes, exp) = rules::keep_live::apply(obj, &desired, live).map_err(&fail)?;
        for c in changes {
            notes.push(Note::Explain(format!("StatefulSet {}: {}", o.name, c.0)));
        }
        expansions.extend(exp);
        // The live selector must still select the rendered pods.
        let obj = s.obj(o.id).expect("parsed");
        let pod_labels = obj.path(&["spec", "template", "metadata", "labels"]);
        let label = |k: &str| pod_labels.and_then(|l| l.get(k)).and_then(Node::as_str);
        let stray: Vec<String> = live["spec"]["selector"]["matchLabels"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| label(k) != v.as_str())
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        if !stray.is_empty() {
            return Err(fail(format!(
                "the live StatefulSet {} selects pods by {}, which Kubernetes does not let change, but the rendered \
                 pods no longer carry those labels (a changed nameOverride or fullnameOverride?). Render the pods \
                 with their old labels",
                o.name,
                stray.join(",")
            )));
        }
        // The live serviceName must name a Service the release keeps.
        let service = obj.str_at(&["spec", "serviceName"]).unwrap_or_default().to_string();
        if !service.is_empty() && !has_service(s, ns, &service) {
            let labels = rules::pairs(obj.path(&["metadata", "labels"]));
            let selector = rules::pairs(obj.path(&["spec", "selector", "matchLabels"]));
            let inherited = inherited_annotations(obj);
            let svc = rules::headless::service(
                &service,
                o.namespace.as_deref().filter(|n| !n.is_empty()),
                &labels,
                &selector,
                &inherited,
            );
            notes.push(Note::Explain(format!(
                "StatefulSet {}: headless Service {service} added: the live serviceName names it, and the render has no Service of that name",
                o.name
            )));
            s.docs[o.id.doc].added.push(svc);
        }
    }
    Ok(expansions)
}

/// A render must not start a running Deployment on new, empty claims while
/// its pods still hold the data of those paths in emptyDirs or their
/// container layer: Helm would replace the pods and the data would go with
/// them. The live switch carries it; this says how (unless `--carry=none`).
fn data_is_carried(desired: &serde_json::Value, live: &serde_json::Value, opts: &Options) -> Result<(), String> {
    if opts.carry == carry::Mode::None {
        return Ok(());
    }
    let runs =
        live["spec"]["replicas"].as_i64().unwrap_or(1) > 0 || live["status"]["replicas"].as_i64().unwrap_or(0) > 0;
    if !runs {
        return Ok(());
    }
    let spec = |v: &serde_json::Value| v["spec"]["template"]["spec"].clone();
    let new_volumes: Vec<String> = if desired["kind"] == "StatefulSet" {
        desired["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    } else {
        let live_claims: Vec<&str> = live["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            .collect();
        desired["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["persistentVolumeClaim"]["claimName"].as_str().is_some_and(|c| !live_claims.contains(&c)))
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect()
    };
    let units = carry::units(&spec(live), &spec(desired), &new_volumes);
    if units.is_empty() {
        return Ok(());
    }
    let name = live["metadata"]["name"].as_str().unwrap_or_default();
    let ns = live["metadata"]["namespace"].as_str().unwrap_or("default");
    let paths: Vec<String> =
        units.iter().map(|u| format!("{}:{} ({})", u.container, u.path, u.describe_source())).collect();
    let mut cmd = vec!["kubectl".to_string(), "persist".into(), format!("deployment/{name}"), "-n".into(), ns.into()];
    cmd.extend(opts.rewrite_args());
    Err(format!(
        "deployment/{name} runs in namespace {ns} with its data in {}; this render would start it on new, empty claims \
         and that data would be lost with its pods. Nothing was rendered. Carry the data into the claims first, with \
         the running app:\n    {}\nthen run the same upgrade again; it keeps the claims and the data. (--carry=none \
         starts on empty claims on purpose.)",
        paths.join(", "),
        cmd.join(" ")
    ))
}

/// A Deployment that runs with data on claims (`--mode pvc`) must not come
/// back as a StatefulSet whose templates replace those claims: its pods would
/// start on new, empty ones.
fn pvc_mode_claims_stay(sts: &Node, live: &serde_json::Value, name: &str) -> Result<(), String> {
    let templates = template_names(sts);
    let moved: Vec<String> = live["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["name"].as_str().is_some_and(|n| templates.iter().any(|t| t == n)))
        .filter_map(|v| {
            Some(format!("{} (volume {})", v["persistentVolumeClaim"]["claimName"].as_str()?, v["name"].as_str()?))
        })
        .collect();
    if moved.is_empty() {
        return Ok(());
    }
    Err(format!(
        "deployment/{name} runs in the cluster with its data on claim {}; this render makes it a StatefulSet whose \
         claim templates would give its pods new, empty claims instead. Render it as before (--mode pvc)",
        moved.join(", ")
    ))
}

/// Whether the stream (with what this run adds) has a Service of that name
/// that outlives its install (not a hook).
fn has_service(s: &Stream, ns: Option<&str>, name: &str) -> bool {
    let same_ns =
        |n: Option<&str>| n.filter(|n| !n.is_empty()) == ns.filter(|n| !n.is_empty()) || n.is_none() || ns.is_none();
    let rendered = s.objects.iter().any(|o| {
        o.kind == "Service"
            && o.name == name
            && same_ns(o.namespace.as_deref())
            && s.obj(o.id).is_none_or(|n| !is_hook(n))
    });
    let added = s
        .docs
        .iter()
        .flat_map(|d| &d.added)
        .any(|n| n.str_at(&["kind"]) == Some("Service") && n.str_at(&["metadata", "name"]) == Some(name));
    rendered || added
}

/// Which workloads the run is about: `(index into objects, named explicitly)`.
fn select(s: &Stream, opts: &Options, notes: &mut Vec<Note>) -> Result<Vec<(usize, bool)>> {
    let ns_ok = |o: &stream::ObjInfo| match (&opts.namespace, o.namespace.as_deref().filter(|n| !n.is_empty())) {
        (Some(want), Some(have)) => want == have,
        _ => true,
    };
    let mut out = Vec::new();
    if !opts.targets.is_empty() {
        for t in &opts.targets {
            let found: Vec<usize> = s
                .objects
                .iter()
                .enumerate()
                .filter(|(_, o)| o.kind == t.kind.as_str() && o.name == t.name && ns_ok(o))
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                let ns = opts.namespace.as_deref().map(|n| format!(" in namespace {n}")).unwrap_or_default();
                return Err(Error::Request(format!("{t} not found in the input{ns}")));
            }
            // A workload named twice (deploy/web deployment/web) is rewritten once.
            out.extend(
                found.into_iter().filter(|i| !out.iter().any(|(o, _)| o == i)).map(|i| (i, true)).collect::<Vec<_>>(),
            );
        }
        return Ok(out);
    }
    let mut any_deployment = false;
    let mut elsewhere: Vec<&str> = Vec::new();
    for (i, o) in s.objects.iter().enumerate() {
        if o.kind == "Deployment" && !ns_ok(o) {
            elsewhere.extend(o.namespace.as_deref().filter(|n| !elsewhere.contains(n)));
        }
        if o.kind == "StatefulSet" && ns_ok(o) && opts.paths.is_empty() && statefulset_hint(s, o, opts, notes) {
            out.push((i, false));
            continue;
        }
        if o.kind != "Deployment" || !ns_ok(o) {
            continue;
        }
        any_deployment = true;
        let obj = s.obj(o.id);
        let label = |k: &str| obj.and_then(|n| n.path(&["metadata", "labels", k])).and_then(Node::as_str);
        if let Some(sel) = &opts.selector {
            if !sel.matches(label) {
                continue;
            }
        }
        if obj.is_some_and(is_hook) {
            notes.push(Note::Explain(format!("{}: a Helm hook; left alone", o.label())));
            continue;
        }
        out.push((i, false));
    }
    if out.is_empty() {
        let asked = opts.selector.is_some() || !opts.paths.is_empty();
        if let Some(sel) = &opts.selector {
            notes
                .push(Note::Warning(format!("no Deployment in the input matches the selector {sel}; nothing changed")));
        } else if let (Some(ns), false, false) = (&opts.namespace, any_deployment, elsewhere.is_empty()) {
            notes.push(Note::Warning(format!(
                "no Deployment of the input is in namespace {ns} (-n); its Deployments are in {}; nothing changed",
                elsewhere.join(", ")
            )));
        } else if asked && !any_deployment {
            notes.push(Note::Warning("the input has no Deployment; nothing changed (StatefulSets change only when named, e.g. statefulset/NAME)".into()));
        }
    }
    Ok(out)
}

/// StatefulSets change only when named; when detection finds data one keeps
/// outside its claims, say so (always) and how to include it. `true`: take
/// it anyway, as `--cluster` found no live StatefulSet of that name (a fresh
/// install, whose claim templates are still free to choose).
fn statefulset_hint(s: &Stream, o: &stream::ObjInfo, opts: &Options, notes: &mut Vec<Note>) -> bool {
    if opts.detect == detect::Level::Off {
        return false;
    }
    let Some(obj) = s.obj(o.id) else { return false };
    let Some(pod) = pod_spec(obj, "StatefulSet") else { return false };
    let found: Vec<String> = detect::detect(obj, "StatefulSet", pod, opts)
        .into_iter()
        .filter(|p| p.taken(opts.detect))
        .map(|p| p.path)
        .collect();
    if found.is_empty() {
        return false;
    }
    // --cluster looked, and nothing of that name runs: nothing to keep.
    let ns = o.effective_ns(opts.namespace.as_deref().or(opts.live_namespace.as_deref())).unwrap_or("default");
    let runs = live_workload(opts, "StatefulSet", &o.name, ns).is_some();
    let fresh = opts.live_namespace.is_some() && opts.selector.is_none() && !runs && !is_hook(obj);
    if fresh {
        notes.push(Note::Explain(format!(
            "{}: keeps data outside its claims ({}); --cluster found no live StatefulSet {} in namespace {ns}, so its claim templates are free: persisted",
            o.label(),
            found.join(", "),
            o.name
        )));
        return true;
    }
    {
        // Always said: a chart's database left in an emptyDir loses its data
        // on the next restart while its app's data is kept.
        notes.push(Note::Warning(format!(
            "{}: keeps data outside its claims ({}); StatefulSets change only when named: add statefulset/{} (a live StatefulSet's claim templates cannot change)",
            o.label(),
            found.join(", "),
            o.name
        )));
    }
    false
}

fn rewrite_workload(
    s: &mut Stream,
    around: &mut Around,
    idx: usize,
    explicit: bool,
    opts: &Options,
    notes: &mut Vec<Note>,
    converted: &mut HashSet<(Option<String>, String)>,
) -> Result<()> {
    let info = s.objects[idx].clone();
    let label = info.label();
    let kind = WorkloadKind::from_kind(&info.kind).expect("selected workloads are Deployments or StatefulSets");
    let at = |s: &Stream, n: Option<&Node>| {
        let mut r = s.doc_ref(info.id.doc, None);
        r.object = Some(label.clone());
        r.line = n.map(|n| s.node_line(info.id.doc, n));
        r
    };
    let obj = s.obj(info.id).expect("selected objects are parsed");
    if info.name.is_empty() {
        // New objects are named after it: "-data" is no claim name.
        return Err(Error::Rewrite {
            at: Box::new(at(s, Some(obj))),
            msg: "the workload has no metadata.name; name it (kubectl and Helm need one too)".into(),
        });
    }
    let Some(pod) = pod_spec(obj, &info.kind) else {
        return Err(Error::Rewrite {
            at: Box::new(at(s, Some(obj))),
            msg: "the workload has no pod template (spec.template.spec)".into(),
        });
    };
    let plan = decide::decide(obj, &info.kind, pod, opts, explicit).map_err(|msg| {
        // An annotation's error points at the annotation.
        let ann = msg.split_once(':').and_then(|(key, _)| {
            let key = key.strip_prefix("annotation ").unwrap_or(key);
            [&["metadata", "annotations"][..], &["spec", "template", "metadata", "annotations"][..]]
                .iter()
                .find_map(|p| obj.path(p).and_then(|a| a.get(key)))
        });
        Error::Rewrite { at: Box::new(at(s, Some(ann.unwrap_or(obj)))), msg }
    })?;
    let Some(plan) = plan else {
        notes.push(Note::Explain(format!("{label}: nothing to persist")));
        return Ok(());
    };
    for n in &plan.notes {
        notes.push(Note::Explain(format!("{label}: {n}")));
    }
    for w in &plan.warnings {
        notes.push(Note::Warning(format!("{label}: {w}")));
    }
    if plan.paths.is_empty() && plan.on_claims.is_empty() {
        return Ok(());
    }
    for p in &plan.paths {
        let c = p.container.as_deref().map(|c| format!(" in container {c}")).unwrap_or_default();
        notes.push(Note::Explain(format!("{label}: persist {}{c} (from {})", p.path, p.source.describe())));
    }
    // What the rest of the stream says.
    let ns = info.effective_ns(opts.namespace.as_deref()).map(str::to_string);
    let pod_labels = rules::pairs(obj.path(&["spec", "template", "metadata", "labels"]));
    let headless = around.headless_for(ns.as_deref(), &pod_labels);
    let claim_modes = |name: &str| around.claims.get(&(ns.clone(), name.to_string())).cloned();
    let inherited = inherited_annotations(obj);
    let env = persist::Env {
        name: &info.name,
        namespace: info.namespace.as_deref().filter(|n| !n.is_empty()),
        headless,
        claim_modes: &claim_modes,
        annotations: inherited,
        default_size: &opts.default_size,
        data_exists: runs_already(s, obj, &info, opts),
        per_pod_data: opts.per_pod_data,
    };
    let at_obj = at(s, Some(obj));
    let (before, obj) = s.obj_pair(info.id).expect("parsed");
    let done = persist::rewrite(obj, before, kind, &plan, &env)
        .map_err(|msg| Error::Rewrite { at: Box::new(at_obj.clone()), msg })?;
    // Templates the input had are not this run's doing: only new ones are checked.
    let had = template_names(before);
    let templates = (obj.str_at(&["kind"]) == Some("StatefulSet"))
        .then(|| (info.name.as_str(), template_names(obj).into_iter().filter(|t| !had.contains(t)).collect()));
    around
        .register(&ns, templates, done.converted, &done.new_objects, &label)
        .map_err(|msg| Error::Rewrite { at: Box::new(at_obj), msg })?;
    for c in &done.changes {
        notes.push(Note::Explain(format!("{label}: {}", c.0)));
    }
    for sk in &done.skipped {
        notes.push(Note::Explain(format!("{label}: {sk}")));
    }
    for w in done.warnings {
        notes.push(Note::Warning(w));
    }
    if done.converted {
        converted.insert((ns, info.name.clone()));
        // A typed list (DeploymentList) cannot hold a StatefulSet: it becomes a v1 List.
        if info.id.item.is_some() {
            let root = s.obj_mut(stream::ObjId { doc: info.id.doc, item: None }).expect("parsed");
            if let Some(k) = root.get_mut("kind").filter(|k| k.as_str() != Some("List")) {
                k.set_str("List");
                if let Some(v) = root.get_mut("apiVersion") {
                    v.set_str("v1");
                }
                notes.push(Note::Explain(format!("{label}: its list becomes a v1 List")));
            }
        }
    }
    // A JSON List stays one JSON document: new objects become its items (as
    // documents after it, the output would be a YAML stream of JSON).
    let json_list = info.id.item.is_some() && s.docs[info.id.doc].doc.text.trim_start().starts_with('{');
    if json_list && !done.new_objects.is_empty() {
        let root = s.obj_mut(stream::ObjId { doc: info.id.doc, item: None }).expect("parsed");
        if let Some(items) = root.get_mut("items") {
            for o in done.new_objects {
                items.push(o);
            }
            notes.push(Note::Explain(format!("{label}: new objects go into its JSON List")));
            return Ok(());
        }
    }
    s.docs[info.id.doc].added.extend(done.new_objects);
    Ok(())
}

/// Whether the workload runs already, so its data exists where it is: an
/// object read from a cluster (the live switch's input, or one with a uid),
/// or one `--cluster` found live.
fn runs_already(s: &Stream, obj: &Node, info: &stream::ObjInfo, opts: &Options) -> bool {
    let ns = info.effective_ns(opts.namespace.as_deref().or(opts.live_namespace.as_deref())).unwrap_or("default");
    s.inputs[s.docs[info.id.doc].input].name == live::LIVE_INPUT
        || obj.path(&["metadata", "uid"]).is_some()
        || ["Deployment", "StatefulSet"].iter().any(|k| live_workload(opts, k, &info.name, ns).is_some())
}

/// The live workload (`--cluster`) of this kind, name and namespace.
fn live_workload<'o>(opts: &'o Options, kind: &str, name: &str, ns: &str) -> Option<&'o serde_json::Value> {
    opts.live_workloads
        .iter()
        .find(|l| l["kind"] == kind && l["metadata"]["name"] == name && l["metadata"]["namespace"].as_str() == Some(ns))
}

fn retarget_scalers(
    s: &mut Stream,
    opts: &Options,
    converted: &HashSet<(Option<String>, String)>,
    notes: &mut Vec<Note>,
) -> Result<()> {
    if converted.is_empty() {
        return Ok(());
    }
    let scalers: Vec<stream::ObjInfo> =
        s.objects.iter().filter(|o| scale_targets::SCALERS.contains(&o.kind.as_str())).cloned().collect();
    for o in scalers {
        let Some(obj) = s.obj(o.id) else { continue };
        let Some(target) = scale_targets::deployment_target(obj, &o.kind) else { continue };
        let key = (o.effective_ns(opts.namespace.as_deref()).map(str::to_string), target.to_string());
        if !converted.contains(&key) {
            continue;
        }
        let mut at = s.doc_ref(o.id.doc, None);
        at.object = Some(o.label());
        let obj = s.obj_mut(o.id).expect("parsed");
        let changes = scale_targets::retarget(obj, &o.kind).map_err(|msg| Error::Rewrite { at: Box::new(at), msg })?;
        for c in changes {
            notes.push(Note::Explain(format!("{}: {}", o.label(), c.0)));
        }
    }
    Ok(())
}

/// Render an edited document and check the result; `None` when the document
/// is unchanged (or already rendered by [`settle`]).
fn render_doc(s: &Stream, d: usize, limits: &Limits) -> Result<Option<String>> {
    let ds = &s.docs[d];
    let (Some(orig), Some(new)) = (&ds.tree, &ds.edited) else { return Ok(None) };
    if new.same(orig) {
        return Ok(None);
    }
    let style = DocStyle::detect(ds.doc.text, orig);
    let mut out = String::with_capacity(ds.doc.text.len() + 512);
    Renderer { src: ds.doc.text, style: &style }.document(orig, new, &mut out);
    check_rendering(s, d, &out, orig, new, limits)?;
    Ok(Some(out))
}

/// Render a document whose edits are done and free the tree it was parsed
/// into: holding every rewritten document twice (as parsed and as edited)
/// until the end was a fifth of the peak memory on a large stream.
fn settle(s: &mut Stream, d: usize, limits: &Limits) -> Result<()> {
    let Some(text) = render_doc(s, d, limits)? else { return Ok(()) };
    let ds = &mut s.docs[d];
    let style = ds.tree.take().map(|t| DocStyle::detect(ds.doc.text, &t)).unwrap_or_default();
    ds.settled = Some((text, style));
    Ok(())
}

/// Write every document: untouched ones as their input bytes, edited ones
/// patched, added objects after the document that caused them.
///
/// Trees move into the output rather than being copied: on a large stream
/// the parsed documents are most of the memory the run holds.
fn render<'a>(s: Stream<'a>, notes: Vec<Note>, limits: &Limits) -> Result<Outcome<'a>> {
    // Edited documents first, while the whole stream is there for messages.
    let mut rendered: Vec<Option<String>> = Vec::new();
    for d in 0..s.docs.len() {
        if let Some(out) = render_doc(&s, d, limits)? {
            rendered.resize_with(d + 1, || None);
            rendered[d] = Some(out);
        }
    }
    let added: usize = s.docs.iter().map(|d| d.added.len()).sum();
    let mut docs = Vec::with_capacity(s.docs.len() + added);
    let mut rendered = rendered.into_iter();
    for ds in s.docs {
        let (text, settled_style) = match (rendered.next().flatten(), ds.settled) {
            (Some(out), _) => (Cow::Owned(out), None),
            (None, Some((out, style))) => (Cow::Owned(out), Some(style)),
            (None, None) => (Cow::Borrowed(ds.doc.text), None),
        };
        let ends_nl = text.ends_with('\n');
        // New objects follow the style of the document that caused them.
        let style = match (settled_style, &ds.tree, ds.added.is_empty()) {
            (Some(style), _, _) => style,
            (None, Some(t), false) => DocStyle::detect(ds.doc.text, t),
            _ => DocStyle::default(),
        };
        // The head scan reads YAML block style; a JSON document (as live
        // objects are) is labelled from its tree, as the input had it.
        let label = stream::object_label(&ds.doc.head)
            .or_else(|| {
                let t = ds.tree.as_ref().or(ds.edited.as_ref())?;
                Some(format!("{} {}", t.str_at(&["kind"])?, tree_name(t)))
            })
            .unwrap_or_default();
        let tree = ds.edited.or(ds.tree);
        docs.push(OutDoc {
            input: ds.input,
            number: ds.number,
            original: ds.doc.text,
            text,
            tree,
            added: false,
            label,
        });
        let source = ds.doc.head.source;
        for (k, obj) in ds.added.into_iter().enumerate() {
            let mut t = String::new();
            if k == 0 && !ends_nl {
                t.push_str(style.nl);
            }
            t.push_str("---");
            t.push_str(style.nl);
            if let Some(src) = source {
                t.push_str("# Source: ");
                t.push_str(src);
                t.push_str(style.nl);
            }
            t.push_str(&fresh_document(&obj, &style));
            t.push_str(style.nl);
            let label = format!("{} {}", obj.str_at(&["kind"]).unwrap_or_default(), tree_name(&obj));
            docs.push(OutDoc {
                input: ds.input,
                number: ds.number,
                original: "",
                text: Cow::Owned(t),
                tree: Some(obj),
                added: true,
                label,
            });
        }
    }
    Ok(Outcome { docs, notes, expansions: Vec::new() })
}

/// An anchor whose content changed while aliases still refer to it.
/// The annotations new objects copy from the workload that caused them: they
/// belong where it belongs (Helm 4 files them with its template, and Helm
/// adopts them into the release on the next upgrade).
fn inherited_annotations(obj: &Node) -> Vec<(&'static str, String)> {
    INHERITED_ANNOTATIONS
        .iter()
        .filter_map(|&k| Some((k, obj.path(&["metadata", "annotations", k]).and_then(Node::as_str)?.to_string())))
        .collect()
}

/// A Helm hook: created for its hook, and deleted by policy.
fn is_hook(obj: &Node) -> bool {
    obj.path(&["metadata", "annotations", "helm.sh/hook"]).is_some()
}

/// The names of a StatefulSet's volumeClaimTemplates.
fn template_names(obj: &Node) -> Vec<String> {
    obj.path(&["spec", "volumeClaimTemplates"])
        .map(|t| t.items().filter_map(|t| t.str_at(&["metadata", "name"]).map(str::to_string)).collect())
        .unwrap_or_default()
}

/// `namespace/name`, or `name` without a namespace.
fn tree_name(t: &Node) -> String {
    let name = t.str_at(&["metadata", "name"]).unwrap_or_default();
    match t.str_at(&["metadata", "namespace"]) {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

fn changed_anchor(orig: &Node, new: &Node) -> Option<String> {
    fn walk<'n>(n: &'n Node, aliases: &mut Vec<&'n str>, anchors: &mut Vec<(&'n str, &'n Node)>) {
        if let Some(a) = &n.anchor {
            anchors.push((a, n));
        }
        match &n.kind {
            yaml::Kind::Alias(a) => aliases.push(a),
            yaml::Kind::Map { entries, .. } => entries.iter().for_each(|e| walk(&e.value, aliases, anchors)),
            yaml::Kind::Seq { items, .. } => items.iter().for_each(|i| walk(&i.node, aliases, anchors)),
            yaml::Kind::Scalar(_) => {}
        }
    }
    let (mut used, mut before, mut after) = (Vec::new(), Vec::new(), Vec::new());
    walk(orig, &mut used, &mut before);
    if used.is_empty() {
        return None;
    }
    walk(new, &mut Vec::new(), &mut after);
    used.into_iter()
        .find(|name| {
            let b = before.iter().find(|(a, _)| a == name).map(|(_, n)| *n);
            let a = after.iter().find(|(a, _)| a == name).map(|(_, n)| *n);
            !matches!((b, a), (Some(b), Some(a)) if b.same_value(a))
        })
        .map(str::to_string)
}

/// The renderer promises that the text means what the edited tree means;
/// check it, so a bug there stops the run instead of writing a wrong manifest.
fn check_rendering(s: &Stream, d: usize, out: &str, orig: &Node, new: &Node, limits: &Limits) -> Result<()> {
    if let Some(name) = changed_anchor(orig, new) {
        return Err(Error::Rewrite {
            at: Box::new(s.doc_ref(d, None)),
            msg: format!("the edit would change what the YAML alias *{name} stands for elsewhere in the document; expand the alias first"),
        });
    }
    // The rewrite nests a few levels deeper than its input (claim templates).
    let limits = Limits { max_doc_bytes: usize::MAX, max_depth: limits.max_depth + 16, ..*limits };
    let ok = matches!(yaml::parse::parse(out, &limits), Ok(Some(back)) if back.same_value(new));
    if ok {
        Ok(())
    } else {
        Err(Error::Rewrite {
            at: Box::new(s.doc_ref(d, None)),
            msg: "internal error: the rewritten document would not mean what was intended; nothing written (please report this)".into(),
        })
    }
}
