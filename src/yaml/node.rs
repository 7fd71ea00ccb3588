//! The document tree: what the parser builds and what rules edit.
//!
//! Every parsed node remembers its byte span in the document text and a
//! numeric `id`. Rules clone the tree and edit the clone; the renderer then
//! compares the clone with the original, node by node (matched by `id`), and
//! copies the original bytes of everything that did not change. New nodes
//! have `id == 0` and no span.

use std::borrow::Cow;

use super::scalar::{self, Resolved};

/// How a scalar was written, or for new scalars, what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Single,
    Double,
    Literal,
    Folded,
    /// A new string: rendered plain where YAML 1.1 and 1.2 both read it back
    /// as the same string, quoted otherwise.
    Str,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub value: String,
    pub style: Style,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
    /// Byte offset of the `:` indicator in the source (0 for new entries).
    pub colon: u32,
}

#[derive(Clone, Debug)]
pub struct Item {
    pub node: Node,
    /// Byte offset of the `-` indicator of a block sequence item (0 for new items
    /// and for flow sequences).
    pub dash: u32,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Scalar(Scalar),
    Map { entries: Vec<Entry>, flow: bool },
    Seq { items: Vec<Item>, flow: bool },
    Alias(String),
}

#[derive(Clone, Debug)]
pub struct Node {
    pub kind: Kind,
    pub anchor: Option<String>,
    pub tag: Option<String>,
    /// 0 for nodes a rule created.
    pub id: u32,
    /// Byte range of the node (properties included) in the document text.
    pub start: u32,
    pub end: u32,
}

impl Node {
    fn new(kind: Kind) -> Node {
        Node { kind, anchor: None, tag: None, id: 0, start: 0, end: 0 }
    }

    /// A new string scalar, quoted on output where needed.
    pub fn str(s: impl Into<String>) -> Node {
        Node::new(Kind::Scalar(Scalar { value: s.into(), style: Style::Str }))
    }

    /// A new plain scalar written exactly as given (numbers, booleans).
    pub fn plain(s: impl Into<String>) -> Node {
        Node::new(Kind::Scalar(Scalar { value: s.into(), style: Style::Plain }))
    }

    pub fn map() -> Node {
        Node::new(Kind::Map { entries: Vec::new(), flow: false })
    }

    pub fn seq() -> Node {
        Node::new(Kind::Seq { items: Vec::new(), flow: false })
    }

    /// Builder: a new map with these string-valued entries.
    pub fn with(mut self, key: &str, value: Node) -> Node {
        self.set(key, value);
        self
    }

    /// Builder: push an item onto a new sequence.
    pub fn item(mut self, value: Node) -> Node {
        self.push(value);
        self
    }

    pub fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map { .. })
    }

    pub fn is_seq(&self) -> bool {
        matches!(self.kind, Kind::Seq { .. })
    }

    pub fn is_flow(&self) -> bool {
        matches!(self.kind, Kind::Map { flow: true, .. } | Kind::Seq { flow: true, .. })
    }

    pub fn entries(&self) -> &[Entry] {
        match &self.kind {
            Kind::Map { entries, .. } => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> impl Iterator<Item = &Node> {
        let items: &[Item] = match &self.kind {
            Kind::Seq { items, .. } => items,
            _ => &[],
        };
        items.iter().map(|i| &i.node)
    }

    pub fn items_mut(&mut self) -> impl Iterator<Item = &mut Node> {
        let items: &mut [Item] = match &mut self.kind {
            Kind::Seq { items, .. } => items,
            _ => &mut [],
        };
        items.iter_mut().map(|i| &mut i.node)
    }

    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Map { entries, .. } => entries.len(),
            Kind::Seq { items, .. } => items.len(),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The scalar's text, for plain scalars exactly as written.
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// What the value means to kubectl (YAML 1.1 resolution).
    pub fn resolve(&self) -> Option<Resolved<'_>> {
        self.scalar().map(|s| scalar::resolve(s, self.tag.as_deref()))
    }

    /// The value as a string, if kubectl would read a string (or a number or
    /// boolean, whose text is returned as written).
    pub fn as_str(&self) -> Option<&str> {
        match self.resolve()? {
            Resolved::Null => None,
            _ => self.scalar().map(|s| s.value.as_str()),
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.resolve()? {
            Resolved::Int(i) => i64::try_from(i).ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.resolve()? {
            Resolved::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.resolve(), Some(Resolved::Null))
    }

    pub fn is_alias(&self) -> bool {
        matches!(self.kind, Kind::Alias(_))
    }

    /// Key text of a scalar key.
    pub fn key_str(&self) -> Option<&str> {
        self.scalar().map(|s| s.value.as_str())
    }

    /// Look up a key of a map. Missing key or a non-map gives `None`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries().iter().find(|e| e.key.key_str() == Some(key)).map(|e| &e.value)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.kind {
            Kind::Map { entries, .. } => {
                entries.iter_mut().find(|e| e.key.key_str() == Some(key)).map(|e| &mut e.value)
            }
            _ => None,
        }
    }

    /// Follow a path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |n, k| n.get(k))
    }

    pub fn path_mut(&mut self, keys: &[&str]) -> Option<&mut Node> {
        let mut n = self;
        for k in keys {
            n = n.get_mut(k)?;
        }
        Some(n)
    }

    /// String value at a path of keys.
    pub fn str_at(&self, keys: &[&str]) -> Option<&str> {
        self.path(keys).and_then(Node::as_str)
    }

    /// Set a key of a map: replaces the value of an existing key (keeping the
    /// key where it is), or appends a new entry. Does nothing on a non-map.
    pub fn set(&mut self, key: &str, value: Node) {
        if let Kind::Map { entries, .. } = &mut self.kind {
            if let Some(e) = entries.iter_mut().find(|e| e.key.key_str() == Some(key)) {
                e.value = value;
            } else {
                entries.push(Entry { key: Node::str(key), value, colon: 0 });
            }
        }
    }

    /// Replace the text of a scalar, keeping its identity so the renderer
    /// writes only this value anew.
    pub fn set_str(&mut self, value: &str) {
        match &mut self.kind {
            Kind::Scalar(s) => {
                if s.value != value {
                    s.value = value.to_string();
                    s.style = Style::Str;
                }
            }
            _ => *self = Node::str(value),
        }
    }

    /// The value at `key`, inserting `make()` first when the key is missing or
    /// null. `None` when self is not a map.
    pub fn ensure(&mut self, key: &str, make: impl FnOnce() -> Node) -> Option<&mut Node> {
        if !self.is_map() {
            return None;
        }
        let missing = self.get(key).is_none_or(Node::is_null);
        if missing {
            self.set(key, make());
        }
        self.get_mut(key)
    }

    /// Remove a key; returns the removed value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        if let Kind::Map { entries, .. } = &mut self.kind {
            let i = entries.iter().position(|e| e.key.key_str() == Some(key))?;
            return Some(entries.remove(i).value);
        }
        None
    }

    /// Append to a sequence. Does nothing on a non-sequence.
    pub fn push(&mut self, value: Node) {
        if let Kind::Seq { items, .. } = &mut self.kind {
            items.push(Item { node: value, dash: 0 });
        }
    }

    /// Keep only the items for which `keep` is true.
    pub fn retain_items(&mut self, mut keep: impl FnMut(&Node) -> bool) {
        if let Kind::Seq { items, .. } = &mut self.kind {
            items.retain(|i| keep(&i.node));
        }
    }

    /// Structural equality, ignoring where nodes came from.
    pub fn same(&self, other: &Node) -> bool {
        if self.anchor != other.anchor || self.tag != other.tag {
            return false;
        }
        match (&self.kind, &other.kind) {
            (Kind::Scalar(a), Kind::Scalar(b)) => a == b,
            (Kind::Alias(a), Kind::Alias(b)) => a == b,
            (Kind::Map { entries: a, flow: fa }, Kind::Map { entries: b, flow: fb }) => {
                fa == fb
                    && a.len() == b.len()
                    && a.iter().zip(b).all(|(x, y)| x.key.same(&y.key) && x.value.same(&y.value))
            }
            (Kind::Seq { items: a, flow: fa }, Kind::Seq { items: b, flow: fb }) => {
                fa == fb && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.node.same(&y.node))
            }
            _ => false,
        }
    }

    /// Same meaning to kubectl: compares resolved scalar values, ignoring style.
    pub fn same_value(&self, other: &Node) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Scalar(_), Kind::Scalar(_)) => {
                let (a, b) = (self.resolve(), other.resolve());
                a == b
            }
            (Kind::Map { entries: a, .. }, Kind::Map { entries: b, .. }) => {
                if a.len() != b.len() {
                    return false;
                }
                // Keys usually come in the same order; otherwise look them up
                // (a map of many keys must not cost its square).
                if a.iter().zip(b).all(|(x, y)| x.key.key_str() == y.key.key_str()) {
                    return a.iter().zip(b).all(|(x, y)| x.value.same_value(&y.value));
                }
                let by_key: std::collections::HashMap<Option<&str>, &Node> =
                    b.iter().map(|y| (y.key.key_str(), &y.value)).collect();
                by_key.len() == b.len()
                    && a.iter().all(|x| by_key.get(&x.key.key_str()).is_some_and(|v| x.value.same_value(v)))
            }
            (Kind::Seq { items: a, .. }, Kind::Seq { items: b, .. }) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.node.same_value(&y.node))
            }
            (Kind::Alias(a), Kind::Alias(b)) => a == b,
            _ => false,
        }
    }

    /// True when this node or anything under it is an alias or a merge key:
    /// editing through those would change other parts of the document.
    pub fn has_alias(&self) -> bool {
        match &self.kind {
            Kind::Alias(_) => true,
            Kind::Scalar(_) => false,
            Kind::Map { entries, .. } => entries.iter().any(|e| e.key.key_str() == Some("<<") || e.value.has_alias()),
            Kind::Seq { items, .. } => items.iter().any(|i| i.node.has_alias()),
        }
    }

    /// Convenience for rules that read string-to-string maps such as labels.
    pub fn string_pairs(&self) -> Vec<(&str, Cow<'_, str>)> {
        self.entries()
            .iter()
            .filter_map(|e| {
                let k = e.key.key_str()?;
                let v = e.value.scalar()?;
                Some((k, Cow::Borrowed(v.value.as_str())))
            })
            .collect()
    }
}
