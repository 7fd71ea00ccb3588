//! The documents of all inputs, each with its parsed tree where one was
//! needed, and the objects they hold (a `List` holds several).

use crate::error::{DocRef, Error};
use crate::yaml::split::{self, Doc};
use crate::yaml::{self, line_col, Limits, Node};

/// An input as read: a name for messages and the bytes.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One document and what the run did to it.
pub struct DocState<'a> {
    pub input: usize,
    /// 1-based number of the document in its input (0: not a document, such
    /// as comments before the first `---`).
    pub number: usize,
    pub doc: Doc<'a>,
    pub tree: Option<Node>,
    /// The edited tree, cloned from `tree` on the first edit.
    pub edited: Option<Node>,
    /// New objects to write after this document.
    pub added: Vec<Node>,
    /// The document rendered once its last edit was done (its text, and the
    /// style for the objects added after it); `tree` is then freed.
    pub settled: Option<(String, crate::yaml::render::DocStyle)>,
}

/// Where an object lives: a document, and an item of its `List`, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjId {
    pub doc: usize,
    pub item: Option<usize>,
}

/// What the run needs to know about an object without walking its tree.
#[derive(Debug, Clone)]
pub struct ObjInfo {
    pub id: ObjId,
    pub kind: String,
    pub name: String,
    /// `metadata.namespace` as written.
    pub namespace: Option<String>,
}

impl ObjInfo {
    /// The namespace the object will land in (its own, else `-n`).
    pub fn effective_ns<'a>(&'a self, default: Option<&'a str>) -> Option<&'a str> {
        self.namespace.as_deref().filter(|n| !n.is_empty()).or(default)
    }

    pub fn label(&self) -> String {
        if self.name.is_empty() {
            return format!("{} with no name", self.kind);
        }
        match &self.namespace {
            Some(ns) if !ns.is_empty() => format!("{} {ns}/{}", self.kind, self.name),
            _ => format!("{} {}", self.kind, self.name),
        }
    }
}

/// Kinds whose documents are parsed: what the rewrite edits or reads.
pub fn wanted(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment"
            | "StatefulSet"
            | "Service"
            | "PersistentVolumeClaim"
            | "HorizontalPodAutoscaler"
            | "VerticalPodAutoscaler"
            | "ScaledObject"
    ) || kind.ends_with("List")
}

pub struct Stream<'a> {
    pub inputs: &'a [Input],
    pub docs: Vec<DocState<'a>>,
    pub objects: Vec<ObjInfo>,
}

impl<'a> Stream<'a> {
    /// Split every input and parse the documents that matter (all of them with
    /// `parse_all`).
    pub fn read(inputs: &'a [Input], limits: &Limits, parse_all: bool) -> Result<Stream<'a>, Error> {
        let mut docs = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let text = std::str::from_utf8(&input.bytes).map_err(|e| {
                let (line, col) =
                    line_col(std::str::from_utf8(&input.bytes[..e.valid_up_to()]).unwrap_or(""), e.valid_up_to());
                Error::Input {
                    input: input.name.clone(),
                    msg: format!(
                        "line {line}, column {col}: the input is not UTF-8 text (byte 0x{:02x})",
                        input.bytes[e.valid_up_to()]
                    ),
                }
            })?;
            let mut number = 0;
            for doc in split::split(text) {
                if doc.counted {
                    number += 1;
                }
                docs.push(DocState {
                    input: i,
                    number: if doc.counted { number } else { 0 },
                    doc,
                    tree: None,
                    edited: None,
                    added: Vec::new(),
                    settled: None,
                });
            }
        }
        let mut s = Stream { inputs, docs, objects: Vec::new() };
        for d in 0..s.docs.len() {
            let head = &s.docs[d].doc.head;
            let need = parse_all || head.uncertain || head.kind.is_some_and(wanted);
            if need && !head.empty {
                s.parse_doc(d, limits)?;
            }
            s.index(d);
        }
        Ok(s)
    }

    fn parse_doc(&mut self, d: usize, limits: &Limits) -> Result<(), Error> {
        let ds = &self.docs[d];
        let text = ds.doc.text;
        let body = text.trim_start_matches('\u{feff}').trim_start();
        if body.starts_with('{') || body.starts_with('[') {
            // A JSON document: kubectl decodes it as JSON, so hold it to JSON's rules.
            let start = text.len() - body.len();
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(body) {
                let (l, c) = line_col(text, start);
                let line = l + e.line() - 1;
                let col = if e.line() == 1 { c + e.column() - 1 } else { e.column() };
                let msg = if trailing_comma(body, e.line(), e.column()) {
                    "invalid JSON: a trailing comma (JSON allows none before '}' or ']')".to_string()
                } else {
                    format!("invalid JSON: {}", strip_serde_position(&e.to_string()))
                };
                return Err(Error::Parse { at: Box::new(self.doc_ref(d, Some((line, col)))), msg });
            }
        }
        let checked = yaml::parse::parse(text, limits).and_then(|tree| {
            // kubectl expands aliases; a document it could not expand is an error here too.
            match &tree {
                Some(t) if memchr::memchr(b'*', text.as_bytes()).is_some() => yaml::check_aliases(t, limits)?,
                _ => {}
            }
            Ok(tree)
        });
        match checked {
            Ok(tree) => {
                self.docs[d].tree = tree;
                Ok(())
            }
            Err(e) => {
                let (l, c) = line_col(text, e.offset);
                Err(Error::Parse { at: Box::new(self.doc_ref(d, Some((l, c)))), msg: e.msg })
            }
        }
    }

    fn index(&mut self, d: usize) {
        let ds = &self.docs[d];
        let info = |n: &Node, id: ObjId| -> Option<ObjInfo> {
            Some(ObjInfo {
                id,
                kind: n.str_at(&["kind"])?.to_string(),
                name: n.str_at(&["metadata", "name"]).unwrap_or_default().to_string(),
                namespace: n.str_at(&["metadata", "namespace"]).map(str::to_string),
            })
        };
        match &ds.tree {
            Some(t) => {
                let kind = t.str_at(&["kind"]).unwrap_or_default();
                if kind.ends_with("List") && t.get("items").is_some_and(Node::is_seq) {
                    let items: Vec<ObjInfo> = t
                        .get("items")
                        .into_iter()
                        .flat_map(|i| i.items())
                        .enumerate()
                        .filter_map(|(i, n)| info(n, ObjId { doc: d, item: Some(i) }))
                        .collect();
                    self.objects.extend(items);
                } else if let Some(o) = info(t, ObjId { doc: d, item: None }) {
                    self.objects.push(o);
                }
            }
            None => {
                let h = &ds.doc.head;
                if let Some(kind) = h.kind {
                    self.objects.push(ObjInfo {
                        id: ObjId { doc: d, item: None },
                        kind: kind.to_string(),
                        name: h.name.unwrap_or_default().to_string(),
                        namespace: h.namespace.map(str::to_string),
                    });
                }
            }
        }
    }

    /// Describe a document for messages.
    pub fn doc_ref(&self, d: usize, line_in_doc: Option<(usize, usize)>) -> DocRef {
        let ds = &self.docs[d];
        let h = &ds.doc.head;
        let object = object_label(h);
        DocRef {
            input: self.inputs[ds.input].name.clone(),
            doc: ds.number,
            line: line_in_doc.map(|(l, c)| (ds.doc.line + l - 1, c)),
            source: h.source.map(str::to_string),
            object,
        }
    }

    /// The line, in the input, of a node of a document's tree.
    pub fn node_line(&self, d: usize, n: &Node) -> (usize, usize) {
        let ds = &self.docs[d];
        let (l, c) = line_col(ds.doc.text, n.start as usize);
        (ds.doc.line + l - 1, c)
    }

    /// The object's current tree (edited or original).
    pub fn obj(&self, id: ObjId) -> Option<&Node> {
        let ds = &self.docs[id.doc];
        let root = ds.edited.as_ref().or(ds.tree.as_ref())?;
        match id.item {
            None => Some(root),
            Some(i) => root.get("items")?.items().nth(i),
        }
    }

    /// The object as the input had it, beside its tree for editing: the
    /// rules' final check compares the two without a copy of its own.
    pub fn obj_pair(&mut self, id: ObjId) -> Option<(&Node, &mut Node)> {
        let ds = &mut self.docs[id.doc];
        if ds.edited.is_none() {
            ds.edited = ds.tree.clone();
        }
        let (orig, edited) = (ds.tree.as_ref()?, ds.edited.as_mut()?);
        match id.item {
            None => Some((orig, edited)),
            Some(i) => Some((orig.get("items")?.items().nth(i)?, edited.get_mut("items")?.items_mut().nth(i)?)),
        }
    }

    /// The object's tree for editing (the document is cloned on first use).
    pub fn obj_mut(&mut self, id: ObjId) -> Option<&mut Node> {
        let ds = &mut self.docs[id.doc];
        if ds.edited.is_none() {
            ds.edited = ds.tree.clone();
        }
        let root = ds.edited.as_mut()?;
        match id.item {
            None => Some(root),
            Some(i) => root.get_mut("items")?.items_mut().nth(i),
        }
    }
}

/// `Kind namespace/name` of a document, from its head, for messages.
pub fn object_label(h: &split::Head) -> Option<String> {
    h.kind.map(|k| match (h.namespace, h.name) {
        (Some(ns), Some(n)) if !ns.is_empty() => format!("{k} {ns}/{n}"),
        (_, Some(n)) => format!("{k} {n}"),
        _ => k.to_string(),
    })
}

/// Did serde_json stop at a `}` or `]` right after a comma? (It reports
/// `{"a": 1,}` as "key must be a string".)
fn trailing_comma(body: &str, line: usize, column: usize) -> bool {
    let Some(l) = body.split('\n').nth(line.saturating_sub(1)) else { return false };
    let line_start = l.as_ptr() as usize - body.as_ptr() as usize;
    let at = (line_start + column.saturating_sub(1)).min(body.len());
    // serde_json's column need not fall on a character boundary.
    match (body.get(..at), body.get(at..)) {
        (Some(before), Some(rest)) => rest.starts_with(['}', ']']) && before.trim_end().ends_with(','),
        _ => false,
    }
}

/// serde_json ends messages with "at line L column C"; the caller says where.
fn strip_serde_position(s: &str) -> &str {
    s.rfind(" at line ").map_or(s, |i| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_err(text: &str) -> String {
        let inputs = [Input { name: "in.json".into(), bytes: text.as_bytes().to_vec() }];
        match Stream::read(&inputs, &Limits::default(), false) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{text:?} was accepted"),
        }
    }

    #[test]
    fn json_trailing_commas_are_named() {
        for text in [
            "{\"kind\": \"Deployment\", \"metadata\": {\"name\": \"w\",}}\n",
            "{\"kind\": \"Deployment\",\n \"spec\": [1, 2,\n ]}\n",
        ] {
            let e = read_err(text);
            assert!(e.contains("trailing comma"), "{e}");
        }
        assert!(read_err("{\"kind\": \"Deployment\" \"x\": 1}").contains("invalid JSON: expected `,` or `}`"));
        // Found by the fuzzer: a position inside a multi-byte character panicked.
        let e = read_err("{\"kind\": \"Deployment\", \"a\": \"/da\u{feff}\n\"}\n");
        assert!(e.contains("invalid JSON: control character"), "{e}");
    }

    #[test]
    fn aliases_are_checked_where_documents_are_parsed() {
        let e = read_err("kind: Deployment\nmetadata:\n  name: w\nspec: *nowhere\n");
        assert!(e.contains("line 4, column 7") && e.contains("names no anchor"), "{e}");
    }
}
