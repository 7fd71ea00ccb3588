//! Write the outcome: the YAML stream, one JSON `List`, or a diff per
//! changed object. Pure: returns bytes for the caller to write.

use similar::TextDiff;

use crate::yaml::render::{DocStyle, Renderer};
use crate::yaml::{self, split, Kind, Limits, Node};
use crate::{Error, OutDoc, Outcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Diff,
}

/// The YAML stream: documents in order, untouched ones byte for byte.
/// Between inputs a `---` is added where the next input does not start with
/// one; an added object followed by a document without `---` is closed with
/// `...` so the two stay apart.
pub fn yaml(out: &Outcome) -> String {
    let total: usize = out.docs.iter().map(|d| d.text.len()).sum();
    let mut s = String::with_capacity(total + 64);
    for (i, d) in out.docs.iter().enumerate() {
        if let Some(prev) = i.checked_sub(1).map(|p| &out.docs[p]) {
            let starts_sep = starts_with_separator(&d.text);
            if prev.input != d.input && !starts_sep {
                if !s.is_empty() && !s.ends_with('\n') {
                    s.push('\n');
                }
                if !s.is_empty() {
                    s.push_str("---\n");
                }
            } else if prev.added && !starts_sep {
                s.push_str("...\n");
            }
        }
        s.push_str(&d.text);
    }
    s
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
        let text = TextDiff::from_lines(before.as_str(), after.as_str());
        s.push_str(&text.unified_diff().context_radius(3).header(&a, &b).to_string());
    }
    s
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
