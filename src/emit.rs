//! Write the outcome: the YAML stream, one JSON `List`, a diff per changed
//! object, or kustomize patches. Pure: returns bytes for the caller to write.

use similar::TextDiff;

use crate::yaml::render::{DocStyle, Renderer};
use crate::yaml::{self, split, Kind, Limits, Node};
use crate::{Error, Input, OutDoc, Outcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Diff,
    /// kustomize patches (RFC 6902) for the changed objects: [`patch`].
    Patch,
}

/// The YAML stream: documents in order, untouched ones byte for byte.
/// Between inputs a `---` is added where the next input does not start with
/// one; an added object followed by a document without `---` is closed with
/// `...` so the two stay apart.
pub fn yaml(out: &Outcome) -> String {
    let total: usize = out.docs.iter().map(|d| d.text.len()).sum();
    let mut s = String::with_capacity(total + 64);
    let mut join = Joiner::default();
    for (i, d) in out.docs.iter().enumerate() {
        let sep = join.before(out, i);
        s.push_str(sep);
        s.push_str(&d.text);
        join.wrote(sep).wrote(&d.text);
    }
    s
}

/// [`yaml`], written to `w` instead of collected: runs of untouched documents
/// go out as one slice of their input (`inputs`: the inputs the outcome was
/// made from), so a large stream is neither copied nor held twice.
pub fn write_yaml<W: std::io::Write + ?Sized>(out: &Outcome, inputs: &[Input], w: &mut W) -> std::io::Result<()> {
    let mut join = Joiner::default();
    // The pending run of input bytes: (input, start, end).
    let mut run: Option<(usize, usize, usize)> = None;
    let flush = |run: &mut Option<(usize, usize, usize)>, w: &mut W| match run.take() {
        Some((i, a, b)) => w.write_all(&inputs[i].bytes[a..b]),
        None => Ok(()),
    };
    for (i, d) in out.docs.iter().enumerate() {
        let sep = join.before(out, i);
        if !sep.is_empty() {
            flush(&mut run, w)?;
            w.write_all(sep.as_bytes())?;
        }
        join.wrote(sep).wrote(&d.text);
        match (&d.text, in_input(inputs, d)) {
            (std::borrow::Cow::Borrowed(_), Some((a, b))) => match &mut run {
                Some((ri, _, end)) if *ri == d.input && *end == a => *end = b,
                _ => {
                    flush(&mut run, w)?;
                    run = Some((d.input, a, b));
                }
            },
            _ => {
                flush(&mut run, w)?;
                w.write_all(d.text.as_bytes())?;
            }
        }
    }
    flush(&mut run, w)
}

/// Where a document's (borrowed) text lies in its input, if it does.
fn in_input(inputs: &[Input], d: &OutDoc) -> Option<(usize, usize)> {
    let bytes = &inputs.get(d.input)?.bytes;
    let start = (d.text.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
    let end = start + d.text.len();
    (end <= bytes.len()).then_some((start, end))
}

/// What goes between documents of the YAML stream, given what was written.
#[derive(Default)]
struct Joiner {
    wrote_any: bool,
    ends_nl: bool,
}

impl Joiner {
    /// The separator to write before document `i`.
    fn before(&self, out: &Outcome, i: usize) -> &'static str {
        let d = &out.docs[i];
        let Some(prev) = i.checked_sub(1).map(|p| &out.docs[p]) else { return json_first(out) };
        let starts_sep = starts_with_separator(&d.text);
        if prev.input != d.input && !starts_sep {
            match (self.wrote_any, self.ends_nl) {
                (false, _) => "",
                (true, true) => "---\n",
                (true, false) => "\n---\n",
            }
        } else if prev.added && !starts_sep {
            "...\n"
        } else {
            ""
        }
    }

    fn wrote(&mut self, t: &str) -> &mut Self {
        if !t.is_empty() {
            self.wrote_any = true;
            self.ends_nl = t.ends_with('\n');
        }
        self
    }
}

/// kubectl reads a stream that starts with `{` or `[` as JSON and then
/// stops at the first `---`: when this run made such a stream hold more than
/// one document, it starts with `---`, which makes kubectl read it as YAML
/// (of which JSON documents are part).
fn json_first(out: &Outcome) -> &'static str {
    let first = out.docs.first().map(|d| d.text.trim_start_matches('\u{feff}').trim_start());
    let json = first.is_some_and(|t| t.starts_with(['{', '[']));
    if json && out.docs.len() > 1 && out.docs.iter().any(|d| d.changed()) {
        "---\n"
    } else {
        ""
    }
}

fn starts_with_separator(t: &str) -> bool {
    let t = t.strip_prefix('\u{feff}').unwrap_or(t);
    t.starts_with("---") && matches!(t.as_bytes().get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

/// Every object in one `v1 List`, as kubectl prints `-o json`.
pub fn json(out: &Outcome, limits: &Limits) -> Result<String, Error> {
    json_named(out, limits, &[])
}

/// [`json`], naming inputs in messages by `names` (indexed like the inputs).
pub fn json_named(out: &Outcome, limits: &Limits, names: &[String]) -> Result<String, Error> {
    let mut items = Vec::new();
    for d in &out.docs {
        let Some(tree) = &d.tree else { continue };
        let v = yaml::to_json(tree, limits).map_err(|msg| Error::Parse {
            at: Box::new(crate::error::DocRef {
                input: names.get(d.input).cloned().unwrap_or_else(|| "-".into()),
                doc: d.number,
                object: Some(d.label.clone()),
                ..Default::default()
            }),
            msg,
        })?;
        match v {
            serde_json::Value::Object(ref o)
                if o.get("kind").and_then(|k| k.as_str()).is_some_and(|k| k.ends_with("List"))
                    && o.get("items").is_some_and(|i| i.is_array()) =>
            {
                if let Some(serde_json::Value::Array(a)) = o.get("items") {
                    items.extend(a.iter().cloned());
                }
            }
            serde_json::Value::Null => {}
            other => items.push(other),
        }
    }
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items});
    let mut s = serde_json::to_string_pretty(&list).expect("JSON values serialise");
    s.push('\n');
    Ok(s)
}

/// A unified diff per changed document (added objects diff against nothing).
/// Secret `data` and `stringData` values are masked on both sides.
pub fn diff(out: &Outcome, names: &[String]) -> String {
    let mut s = String::new();
    for d in out.docs.iter().filter(|d| d.changed()) {
        let (before, after) = (masked(d.original), masked(&d.text));
        let input = names.get(d.input).map(String::as_str).unwrap_or("-");
        let a = if d.added { "/dev/null".to_string() } else { format!("a/{input}: {}", d.label) };
        let b = format!("b/{input}: {}", d.label);
        s.push_str(&unified_diff(&before, &after, &a, &b));
    }
    s
}

/// A unified diff of two texts, with three lines of context.
pub fn unified_diff(before: &str, after: &str, from: &str, to: &str) -> String {
    TextDiff::from_lines(before, after).unified_diff().context_radius(3).header(from, to).to_string()
}

/// Mask Secret values in a document's text, keeping everything else.
///
/// Fails closed: a document that may hold a Secret (the word, or escapes that
/// could spell it) but cannot be parsed or masked node by node (its Secret is
/// written with aliases or merge keys) is replaced by a one-line comment.
pub fn masked(text: &str) -> String {
    if !text.contains("Secret") && !text.contains('\\') {
        return text.to_string();
    }
    // The text came out of a run that parsed it under its own limits.
    let limits = Limits { max_depth: 10_000, max_doc_bytes: usize::MAX, max_alias_nodes: usize::MAX };
    let withheld =
        || "# kubectl-persist: not shown: this document may hold Secret data that cannot be masked\n".to_string();
    let Some(head) = split::split(text).into_iter().next() else { return text.to_string() };
    let orig = match yaml::parse::parse(head.text, &limits) {
        Ok(Some(orig)) => orig,
        Ok(None) if !text[head.text.len()..].contains("Secret") => return text.to_string(),
        _ => return withheld(),
    };
    if orig.has_alias() && holds_secret(&orig, &limits) {
        return withheld();
    }
    let mut new = orig.clone();
    if !mask_secrets(&mut new) {
        return text.to_string();
    }
    let style = DocStyle::detect(head.text, &orig);
    let mut out = String::new();
    Renderer { src: head.text, style: &style }.document(&orig, &new, &mut out);
    out.push_str(&text[head.text.len()..]);
    out
}

/// Is there a Secret in the tree once aliases and merge keys are expanded?
fn holds_secret(n: &Node, limits: &Limits) -> bool {
    fn walk(v: &serde_json::Value) -> bool {
        let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
        kind == "Secret"
            || kind.ends_with("List") && v.get("items").and_then(|i| i.as_array()).is_some_and(|a| a.iter().any(walk))
    }
    yaml::to_json(n, limits).map_or(true, |v| walk(&v))
}

/// Replace the values under `data` and `stringData` of every Secret (also in
/// Lists) with `***`. Returns whether anything was masked.
pub fn mask_secrets(n: &mut Node) -> bool {
    let kind = n.str_at(&["kind"]).unwrap_or_default().to_string();
    let mut any = false;
    if kind == "Secret" {
        for f in ["data", "stringData"] {
            if let Some(Kind::Map { entries, .. }) = n.get_mut(f).map(|d| &mut d.kind) {
                for e in entries {
                    e.value.set_str("***");
                    any = true;
                }
            }
        }
    } else if kind.ends_with("List") {
        if let Some(items) = n.get_mut("items") {
            for i in items.items_mut() {
                any |= mask_secrets(i);
            }
        }
    }
    any
}

/// Convenience for callers: the docs that changed.
pub fn changed<'a, 'b>(out: &'b Outcome<'a>) -> impl Iterator<Item = &'b OutDoc<'a>> {
    out.docs.iter().filter(|d| d.changed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let m = masked("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: c2VjcmV0\nstringData:\n  token: hunter2\n");
        assert!(!m.contains("c2VjcmV0") && !m.contains("hunter2"), "{m}");
        assert!(m.contains("password: \"***\"") && m.contains("name: s"), "{m}");
    }
}

/// `-o patch`: kustomize patches, one RFC 6902 JSON patch per changed object,
/// for tools that only accept patches (Flux's HelmRelease post-renderers).
///
/// The first document is `patches:` (valid in a kustomization.yaml, and as
/// the `kustomize:` block of a Flux HelmRelease post-renderer). Each entry
/// targets the input object by group, version, kind, name (and namespace,
/// when the object names one). Every operation that removes or replaces
/// something, or reaches into a list entry, is preceded by `test` operations
/// on what it expects there (the old value, the entry's `name`), so a patch
/// applied to a render it was not made from fails instead of editing the
/// wrong entry. New objects cannot be made by a patch: each follows as a
/// document of its own, to add as a resource beside the release.
pub fn patch(out: &Outcome, limits: &Limits, names: &[String]) -> Result<String, Error> {
    let mut entries = String::new();
    let mut added = String::new();
    for d in out.docs.iter().filter(|d| d.changed()) {
        let at = |msg: String| Error::Rewrite {
            at: Box::new(crate::error::DocRef {
                input: names.get(d.input).cloned().unwrap_or_else(|| "-".into()),
                doc: d.number,
                object: Some(d.label.clone()),
                ..Default::default()
            }),
            msg: format!("-o patch: {msg}"),
        };
        if d.added {
            added.push_str("---\n# kubectl-persist: new object; a patch cannot create it: add it as a resource beside the release\n");
            let text = d.text.strip_prefix("---").map(|t| t.trim_start_matches([' ', '\t'])).unwrap_or(&d.text);
            let text = text.strip_prefix("\r\n").or_else(|| text.strip_prefix('\n')).unwrap_or(text);
            added.push_str(text);
            if !text.ends_with('\n') {
                added.push('\n');
            }
            continue;
        }
        let before = patch_doc_json(d.original, limits).map_err(at)?;
        let after = patch_doc_json(&d.text, limits).map_err(at)?;
        let pairs: Vec<(&serde_json::Value, &serde_json::Value)> = match (list_items(&before), list_items(&after)) {
            (Some(b), Some(a)) if a.len() == b.len() => b.iter().zip(a).collect(),
            (Some(_), _) | (_, Some(_)) => return Err(at("a List whose items changed in number".into())),
            (None, None) => vec![(&before, &after)],
        };
        for (b, a) in pairs.into_iter().filter(|(b, a)| b != a) {
            let target = patch_target(b).map_err(at)?;
            let ops = guarded_ops(b, a).map_err(at)?;
            entries.push_str(&target);
            entries.push_str("    patch: |-\n      [\n");
            for (i, op) in ops.iter().enumerate() {
                let sep = if i + 1 < ops.len() { "," } else { "" };
                entries.push_str(&format!("        {op}{sep}\n"));
            }
            entries.push_str("      ]\n");
        }
    }
    let mut s = String::from(
        "# kubectl-persist -o patch: RFC 6902 JSON patches for the objects that change.\n\
         # Flux: the mapping below goes under spec.postRenderers[].kustomize of the HelmRelease.\n\
         # kustomize: it is a kustomization.yaml fragment; add the rendered manifests to resources.\n",
    );
    if entries.is_empty() {
        s.push_str("patches: []\n");
    } else {
        s.push_str("patches:\n");
        s.push_str(&entries);
    }
    s.push_str(&added);
    Ok(s)
}

/// The JSON value of one document's text (`null` for an empty one).
fn patch_doc_json(text: &str, limits: &Limits) -> Result<serde_json::Value, String> {
    let Some(head) = split::split(text).into_iter().find(|d| d.counted) else { return Ok(serde_json::Value::Null) };
    match yaml::parse::parse(head.text, limits).map_err(|e| e.msg)? {
        Some(tree) => yaml::to_json(&tree, limits),
        None => Ok(serde_json::Value::Null),
    }
}

fn list_items(v: &serde_json::Value) -> Option<&Vec<serde_json::Value>> {
    let kind = v.get("kind")?.as_str()?;
    if kind.ends_with("List") {
        v.get("items")?.as_array()
    } else {
        None
    }
}

/// `  - target: ...` for an object, as kustomize selects it. kustomize reads
/// `name` and `namespace` as regular expressions, so dots are escaped.
fn patch_target(obj: &serde_json::Value) -> Result<String, String> {
    let field = |k: &str| obj.get(k).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    let meta = |k: &str| obj.get("metadata").and_then(|m| m.get(k)).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    let kind = field("kind").ok_or("the object has no kind")?;
    let api_version = field("apiVersion").ok_or("the object has no apiVersion")?;
    let name = meta("name").ok_or("the object has no metadata.name to target")?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let mut s = String::from("  - target:\n");
    let mut line = |k: &str, v: &str| {
        s.push_str(&format!("      {k}: "));
        if crate::yaml::scalar::needs_quotes(v, false) {
            crate::yaml::scalar::double_quoted(v, &mut s);
        } else {
            s.push_str(v);
        }
        s.push('\n');
    };
    if !group.is_empty() {
        line("group", group);
    }
    line("version", version);
    line("kind", kind);
    line("name", &name.replace('.', "\\."));
    if let Some(ns) = meta("namespace") {
        line("namespace", &ns.replace('.', "\\."));
    }
    Ok(s)
}

/// The operations from `before` to `after`, each preceded by the `test`s
/// that pin what it expects, computed on the document as it is at that point
/// of the patch. The whole patch is applied to `before` once more to check it
/// gives `after`.
fn guarded_ops(before: &serde_json::Value, after: &serde_json::Value) -> Result<Vec<serde_json::Value>, String> {
    use serde_json::{json, Value};
    let diff = serde_json::to_value(json_patch::diff(before, after)).map_err(|e| e.to_string())?;
    let mut work = before.clone();
    let mut ops: Vec<Value> = Vec::new();
    let mut tested = std::collections::HashSet::new();
    for op in diff.as_array().into_iter().flatten() {
        let path = op["path"].as_str().unwrap_or_default().to_string();
        let mut tests = Vec::new();
        // Each list entry on the way, by its name.
        let mut prefix = String::new();
        let mut cur = Some(&work);
        let tokens: Vec<&str> = path.split('/').skip(1).collect();
        for (i, tok) in tokens.iter().enumerate() {
            let next = match cur {
                Some(Value::Array(a)) => tok.parse::<usize>().ok().and_then(|i| a.get(i)),
                Some(Value::Object(m)) => m.get(&tok.replace("~1", "/").replace("~0", "~")),
                _ => None,
            };
            prefix.push('/');
            prefix.push_str(tok);
            if let (Some(Value::Array(_)), Some(name)) =
                (cur, next.and_then(|n| n.get("name")).filter(|n| n.is_string()))
            {
                if i + 1 < tokens.len() || op["op"] != "remove" && op["op"] != "replace" {
                    tests.push(json!({"op": "test", "path": format!("{prefix}/name"), "value": name}));
                }
            }
            cur = next;
        }
        // What a remove or replace takes away.
        if op["op"] == "remove" || op["op"] == "replace" {
            let old = work.pointer(&path).ok_or_else(|| format!("internal: nothing at {path}"))?;
            tests.push(json!({"op": "test", "path": path, "value": old}));
        }
        for t in tests {
            if tested.insert(t.to_string()) {
                ops.push(t);
            }
        }
        let one: json_patch::Patch = serde_json::from_value(json!([op])).map_err(|e| e.to_string())?;
        json_patch::patch(&mut work, &one).map_err(|e| format!("internal: {e}"))?;
        ops.push(op.clone());
    }
    let all: json_patch::Patch = serde_json::from_value(Value::Array(ops.clone())).map_err(|e| e.to_string())?;
    let mut check = before.clone();
    json_patch::patch(&mut check, &all).map_err(|e| format!("internal: {e}"))?;
    if &check != after {
        return Err("internal: the patch does not reproduce the output".into());
    }
    Ok(ops)
}

#[cfg(test)]
mod patch_tests {
    use super::*;
    use crate::{transform, Input, Options};

    /// The patch of a run; a dotted name (which no StatefulSet may have) in pvc mode.
    fn patch_of(yaml: &str) -> String {
        let inputs = vec![Input { name: "in.yaml".into(), bytes: yaml.as_bytes().to_vec() }];
        let mode = yaml.contains("web.v2").then_some(crate::Mode::Pvc);
        let opts = Options { paths: vec![(None, "/data".into())], mode, ..Options::default() };
        let out = transform(&inputs, &opts).unwrap();
        patch(&out, &opts.limits, &["in.yaml".into()]).unwrap()
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web.v2\n  namespace: shop\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: side\n          image: busybox\n        - name: app\n          image: nginx\n          volumeMounts:\n            - name: data\n              mountPath: /data\n      volumes:\n        - name: cache\n          emptyDir: {}\n        - name: data\n          emptyDir: {}\n";

    #[test]
    fn targets_name_the_input_object_with_regex_dots_escaped() {
        let p = patch_of(DEPLOY);
        assert!(p.contains("      group: apps\n      version: v1\n      kind: Deployment\n      name: web\\.v2\n      namespace: shop\n"), "{p}");
    }

    #[test]
    fn list_entries_are_pinned_by_name_and_old_values_by_value() {
        let p = patch_of(&DEPLOY.replace("web.v2", "web"));
        // The data volume (second entry) leaves the volumes: its name and value are tested first.
        assert!(
            p.contains(r#"{"op":"test","path":"/spec/template/spec/volumes/1","value":{"name":"data","emptyDir":{}}}"#),
            "{p}"
        );
        let test_at = p.find(r#""path":"/spec/template/spec/volumes/1","value""#).unwrap();
        let remove_at = p.find(r#"{"op":"remove","path":"/spec/template/spec/volumes/1"}"#).unwrap();
        assert!(test_at < remove_at, "{p}");
    }

    #[test]
    fn list_documents_get_a_patch_per_changed_item() {
        let list = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: c\n",
            DEPLOY.lines().enumerate().map(|(i, l)| format!("{}{l}\n", if i == 0 { "  - " } else { "    " })).collect::<String>()
        );
        let p = patch_of(&list);
        assert_eq!(p.matches("  - target:").count(), 1, "{p}");
        assert!(p.contains("name: web\\.v2"), "{p}");
    }

    #[test]
    fn every_patch_reproduces_the_output() {
        // guarded_ops checks this itself; here on a document with many edits.
        let before: serde_json::Value = serde_json::json!({"kind": "Deployment", "spec": {"a": [{"name": "x", "v": 1}, {"name": "y"}, {"name": "z"}], "b": 1}});
        let after: serde_json::Value =
            serde_json::json!({"kind": "StatefulSet", "spec": {"a": [{"name": "x", "v": 2}], "c": [1]}});
        let ops = guarded_ops(&before, &after).unwrap();
        assert!(ops.iter().any(|o| o["op"] == "test" && o["path"] == "/spec/a/0/name" && o["value"] == "x"), "{ops:?}");
        let mut doc = before.clone();
        let p: json_patch::Patch = serde_json::from_value(serde_json::Value::Array(ops)).unwrap();
        json_patch::patch(&mut doc, &p).unwrap();
        assert_eq!(doc, after);
    }
}
