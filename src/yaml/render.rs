//! Write an edited tree back, copying the original bytes of everything that
//! did not change.
//!
//! The renderer walks the edited tree beside the original one. A node with the
//! same `id` and the same content is copied from the source as it was, with
//! its comments and spacing. A changed block collection is patched entry by
//! entry: kept entries are copied (with the comments and blank lines that
//! follow them), removed ones are left out, new ones are written in the style
//! the document already uses (its indentation step, whether sequences are
//! indented under their key, JSON or YAML, CRLF or LF).

use super::node::{Entry, Item, Kind, Node, Style};
use super::scalar;

/// How new text should look in one document.
#[derive(Clone, Debug)]
pub struct DocStyle {
    /// Spaces per nesting level of block mappings.
    pub step: usize,
    /// Spaces a block sequence is indented under its key (0 = `key:\n- a`).
    pub seq_indent: usize,
    /// The document is JSON: new strings and keys are double-quoted.
    pub json: bool,
    pub nl: &'static str,
}

impl Default for DocStyle {
    fn default() -> Self {
        DocStyle { step: 2, seq_indent: 2, json: false, nl: "\n" }
    }
}

impl DocStyle {
    /// Learn the style of a parsed document.
    pub fn detect(src: &str, root: &Node) -> DocStyle {
        let mut st = DocStyle { nl: if src.contains("\r\n") { "\r\n" } else { "\n" }, ..DocStyle::default() };
        if let Kind::Map { flow: true, entries } = &root.kind {
            st.json = entries.first().is_some_and(|e| matches!(e.key.scalar().map(|s| s.style), Some(Style::Double)));
            if let Some(e) = entries.first() {
                let c = col_of(src, e.key.start as usize);
                let open = col_of(src, root.start as usize);
                if c > open && src[root.start as usize..e.key.start as usize].contains('\n') {
                    st.step = c - open;
                }
            }
            return st;
        }
        let (mut step, mut seq) = (None, None);
        find_style(src, root, &mut step, &mut seq);
        if let Some(s) = step {
            st.step = s;
        }
        if let Some(s) = seq {
            st.seq_indent = s;
        }
        st
    }
}

fn find_style(src: &str, n: &Node, step: &mut Option<usize>, seq: &mut Option<usize>) {
    if step.is_some() && seq.is_some() {
        return;
    }
    match &n.kind {
        Kind::Map { entries, flow: false } => {
            for e in entries {
                let kc = col_of(src, e.key.start as usize);
                match &e.value.kind {
                    Kind::Map { entries: sub, flow: false } if step.is_none() => {
                        if let Some(f) = sub.first() {
                            let c = col_of(src, f.key.start as usize);
                            if c > kc && line_start(src, f.key.start as usize) == f.key.start as usize - c {
                                *step = Some(c - kc);
                            }
                        }
                    }
                    Kind::Seq { items, flow: false } if seq.is_none() => {
                        if let Some(i) = items.first() {
                            let c = col_of(src, i.dash as usize);
                            if c >= kc {
                                *seq = Some(c - kc);
                            }
                        }
                    }
                    _ => {}
                }
                find_style(src, &e.value, step, seq);
            }
        }
        Kind::Seq { items, flow: false } => {
            for i in items {
                find_style(src, &i.node, step, seq);
            }
        }
        _ => {}
    }
}

fn line_start(src: &str, off: usize) -> usize {
    src[..off].rfind('\n').map_or(0, |i| i + 1)
}

/// Column (in bytes; indentation is ASCII) of a byte offset.
pub fn col_of(src: &str, off: usize) -> usize {
    off - line_start(src, off)
}

/// Position in the output while patching a block collection.
#[derive(Clone, Copy, PartialEq)]
enum At {
    /// Right where the collection started: the first line needs no indent.
    Start,
    /// At the start of a line.
    Line,
    /// After content, before a line break.
    Mid,
}

pub struct Renderer<'a> {
    pub src: &'a str,
    pub style: &'a DocStyle,
}

fn is_block(n: &Node) -> bool {
    match &n.kind {
        Kind::Map { flow: false, entries } => !entries.is_empty(),
        Kind::Seq { flow: false, items } => !items.is_empty(),
        _ => false,
    }
}

fn same_shape(a: &Node, b: &Node) -> bool {
    matches!(
        (&a.kind, &b.kind),
        (Kind::Map { flow: false, .. }, Kind::Map { flow: false, .. })
            | (Kind::Seq { flow: false, .. }, Kind::Seq { flow: false, .. })
    )
}

impl<'a> Renderer<'a> {
    fn spaces(&self, n: usize, out: &mut String) {
        out.extend(std::iter::repeat_n(' ', n));
    }

    /// Render the whole document text: bytes before and after the root are kept.
    pub fn document(&self, orig: &Node, new: &Node, out: &mut String) {
        out.push_str(&self.src[..orig.start as usize]);
        if is_block(orig) && is_block(new) && same_shape(orig, new) && orig.id == new.id {
            self.patch_block(new, orig, out);
        } else if !is_block(orig) && !is_block(new) {
            self.inline(new, Some(orig), col_of(self.src, orig.start as usize), out);
        } else {
            self.fresh_block(new, col_of(self.src, orig.start as usize), out);
        }
        out.push_str(&self.src[orig.end as usize..]);
    }

    fn patch_block(&self, new: &Node, orig: &Node, out: &mut String) {
        if new.id == orig.id && new.same(orig) {
            out.push_str(&self.src[orig.start as usize..orig.end as usize]);
            return;
        }
        match (&new.kind, &orig.kind) {
            (Kind::Map { entries: ne, .. }, Kind::Map { entries: oe, .. }) => self.block_map(ne, oe, orig, out),
            (Kind::Seq { items: ni, .. }, Kind::Seq { items: oi, .. }) => self.block_seq(ni, oi, orig, out),
            _ => unreachable!("patch_block on non-collections"),
        }
    }

    /// Start of the region of the `i`th of `starts`: the token itself for the
    /// first; for the rest, the start of its line, or of the comment lines
    /// right above it (after `prev_ends[i - 1]`, the end of the entry before):
    /// a comment written above a key goes where the key goes.
    fn region_starts(&self, starts: &[usize], prev_ends: &[usize]) -> Vec<usize> {
        let src = self.src;
        starts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                if i == 0 {
                    return s;
                }
                let mut r = line_start(src, s);
                while r > 0 {
                    let above = line_start(src, r - 1);
                    if above < prev_ends[i - 1] || !src[above..r].trim_start().starts_with('#') {
                        break;
                    }
                    r = above;
                }
                r
            })
            .collect()
    }

    fn block_map(&self, ne: &[Entry], oe: &[Entry], orig: &Node, out: &mut String) {
        let src = self.src;
        let first = oe[0].key.start as usize;
        let col = col_of(src, first);
        out.push_str(&src[orig.start as usize..first]);
        let ends: Vec<usize> = oe.iter().map(|e| e.value.end.max(e.key.end) as usize).collect();
        let rs = self.region_starts(&oe.iter().map(|e| e.key.start as usize).collect::<Vec<_>>(), &ends);
        let re: Vec<usize> = (0..oe.len()).map(|i| rs.get(i + 1).copied().unwrap_or(orig.end as usize)).collect();
        let mut at = At::Start;
        let mut next = 0;
        for e in ne {
            let key = e.key.key_str();
            // The next original entry is the usual match; search only when it is not.
            let found = if oe.get(next).is_some_and(|o| o.key.key_str() == key) {
                Some(next)
            } else {
                oe.iter().position(|o| o.key.key_str() == key).filter(|&j| j >= next)
            };
            match found {
                Some(j) => {
                    let from = self.enter_region(j, rs[j], oe[j].key.start as usize, col, at, out);
                    self.entry(e, &oe[j], from, re[j], col, out);
                    at = if re[j] == orig.end as usize { At::Mid } else { At::Line };
                    next = j + 1;
                }
                None => {
                    self.enter_fresh(col, at, out);
                    self.fresh_entry(e, col, out);
                    at = At::Mid;
                }
            }
        }
        self.leave(at, out);
    }

    fn block_seq(&self, ni: &[Item], oi: &[Item], orig: &Node, out: &mut String) {
        let src = self.src;
        let first = oi[0].dash as usize;
        let col = col_of(src, first);
        out.push_str(&src[orig.start as usize..first]);
        let ends: Vec<usize> = oi.iter().map(|i| i.node.end.max(i.dash) as usize).collect();
        let rs = self.region_starts(&oi.iter().map(|i| i.dash as usize).collect::<Vec<_>>(), &ends);
        let re: Vec<usize> = (0..oi.len()).map(|i| rs.get(i + 1).copied().unwrap_or(orig.end as usize)).collect();
        let mut at = At::Start;
        let mut next = 0;
        for it in ni {
            let found = if it.node.id == 0 {
                None
            } else if oi.get(next).is_some_and(|o| o.node.id == it.node.id) {
                Some(next)
            } else {
                oi.iter().position(|o| o.node.id == it.node.id).filter(|&j| j >= next)
            };
            match found {
                Some(j) => {
                    let from = self.enter_region(j, rs[j], oi[j].dash as usize, col, at, out);
                    self.item(&it.node, &oi[j], from, re[j], col, out);
                    at = if re[j] == orig.end as usize { At::Mid } else { At::Line };
                    next = j + 1;
                }
                None => {
                    self.enter_fresh(col, at, out);
                    out.push_str("- ");
                    self.fresh_value_after_dash(&it.node, col + 2, out);
                    at = At::Mid;
                }
            }
        }
        self.leave(at, out);
    }

    /// Prepare to copy the region of original entry `j`; returns where the
    /// copy starts (the token itself when no indentation may be copied).
    fn enter_region(&self, j: usize, region: usize, token: usize, col: usize, at: At, out: &mut String) -> usize {
        match at {
            // Comment lines above a first kept entry come along; the
            // indentation of the first of them is already written.
            At::Start if j > 0 && region < line_start(self.src, token) => {
                region + self.src[region..token].len() - self.src[region..token].trim_start_matches([' ', '\t']).len()
            }
            At::Start => token,
            At::Line if j == 0 => {
                self.spaces(col, out);
                token
            }
            At::Line => region,
            At::Mid => {
                out.push_str(self.style.nl);
                if j == 0 {
                    self.spaces(col, out);
                    token
                } else {
                    region
                }
            }
        }
    }

    fn enter_fresh(&self, col: usize, at: At, out: &mut String) {
        match at {
            At::Start => {}
            At::Line => self.spaces(col, out),
            At::Mid => {
                out.push_str(self.style.nl);
                self.spaces(col, out);
            }
        }
    }

    /// The parent copies what follows the collection, starting with the rest of
    /// its last line: drop the line break a copied middle region ended with.
    fn leave(&self, at: At, out: &mut String) {
        if at == At::Line {
            if out.ends_with('\n') {
                out.pop();
            }
            if out.ends_with('\r') {
                out.pop();
            }
        }
    }

    fn entry(&self, ne: &Entry, oe: &Entry, from: usize, to: usize, col: usize, out: &mut String) {
        let src = self.src;
        let (nv, ov) = (&ne.value, &oe.value);
        if nv.id == ov.id && nv.same(ov) {
            out.push_str(&src[from..to]);
            return;
        }
        let colon_end = oe.colon as usize + 1;
        let child_col = |n: &Node| col + if n.is_seq() { self.style.seq_indent } else { self.style.step };
        self.value_in_region(nv, ov, from, colon_end, to, col, child_col(nv), out);
    }

    fn item(&self, nn: &Node, oi: &Item, from: usize, to: usize, col: usize, out: &mut String) {
        let src = self.src;
        let ov = &oi.node;
        if nn.id == ov.id && nn.same(ov) {
            out.push_str(&src[from..to]);
            return;
        }
        let dash_end = oi.dash as usize + 1;
        if is_block(nn) && !(is_block(ov) && same_shape(nn, ov) && nn.id == ov.id) {
            // A new block value starts on the dash line.
            out.push_str(&src[from..dash_end]);
            out.push(' ');
            self.fresh_value_after_dash(nn, col + 2, out);
            out.push_str(&src[ov.end as usize..to]);
            return;
        }
        self.value_in_region(nn, ov, from, dash_end, to, col, col + 2, out);
    }

    /// Write a region whose value changed: the text up to the value, the value,
    /// and the text after it. `indicator_end` is just past the `:` or `-`.
    #[allow(clippy::too_many_arguments)]
    fn value_in_region(
        &self,
        nv: &Node,
        ov: &Node,
        from: usize,
        indicator_end: usize,
        to: usize,
        col: usize,
        child_col: usize,
        out: &mut String,
    ) {
        let src = self.src;
        let (ostart, oend) = (ov.start as usize, ov.end as usize);
        let (o_block, n_block) = (is_block(ov), is_block(nv) || self.fills_empty_flow(nv, ov));
        if o_block && n_block && same_shape(nv, ov) && nv.id == ov.id {
            out.push_str(&src[from..ostart]);
            self.patch_block(nv, ov, out);
            out.push_str(&src[oend..to]);
        } else if n_block {
            out.push_str(&src[from..indicator_end]);
            out.push_str(self.style.nl);
            self.spaces(child_col, out);
            self.fresh_block(nv, child_col, out);
            out.push_str(&src[oend..to]);
        } else if o_block || ostart == oend {
            // Block (or empty) before, inline now: write it after the indicator.
            out.push_str(&src[from..indicator_end]);
            out.push(' ');
            self.inline(nv, None, col, out);
            out.push_str(&src[oend..to]);
        } else {
            out.push_str(&src[from..ostart]);
            self.inline(nv, Some(ov), col, out);
            out.push_str(&src[oend..to]);
        }
    }

    /// `[]` or `{}` in a YAML document that gains content becomes a block
    /// collection, as the rest of the document is written.
    fn fills_empty_flow(&self, nv: &Node, ov: &Node) -> bool {
        !self.style.json && nv.is_flow() && !nv.is_empty() && ov.is_flow() && ov.is_empty() && nv.id == ov.id
    }

    /// Write a value that fits on the current line: a scalar, an alias or a
    /// flow collection, patched against `orig` when it is the same node.
    fn inline(&self, n: &Node, orig: Option<&Node>, col: usize, out: &mut String) {
        if let Some(o) = orig.filter(|o| o.id == n.id && o.id != 0) {
            if n.same(o) {
                out.push_str(&self.src[o.start as usize..o.end as usize]);
                return;
            }
            if n.is_flow() && o.is_flow() && n.is_map() == o.is_map() && self.bracketed(o) {
                self.flow_patch(n, o, out);
                return;
            }
        }
        self.props(n, out);
        match &n.kind {
            Kind::Scalar(s) => self.scalar(n, s, orig, out),
            Kind::Alias(a) => {
                out.push('*');
                out.push_str(a);
            }
            Kind::Map { .. } | Kind::Seq { .. } => self.fresh_flow(n, col, out),
        }
    }

    /// Whether a flow collection is written with its brackets: `[a: b]` holds
    /// a one-pair mapping without braces, which is patched by writing it anew
    /// (braces included) rather than in place.
    fn bracketed(&self, o: &Node) -> bool {
        let text = &self.src[o.start as usize..o.end as usize];
        let (open, close) = if o.is_map() { ('{', '}') } else { ('[', ']') };
        let body = text.trim_end();
        body.ends_with(close) && {
            // Skip the properties (`&a !t `) before the bracket.
            let mut rest = body;
            while rest.starts_with(['&', '!']) {
                rest = rest.find([' ', '\t', '\n', '\r']).map_or("", |i| rest[i..].trim_start());
            }
            rest.starts_with(open)
        }
    }

    fn props(&self, n: &Node, out: &mut String) {
        if let Some(a) = &n.anchor {
            out.push('&');
            out.push_str(a);
            out.push(' ');
        }
        if let Some(t) = &n.tag {
            out.push_str(t);
            out.push(' ');
        }
    }

    fn scalar(&self, n: &Node, s: &super::node::Scalar, orig: Option<&Node>, out: &mut String) {
        // An unchanged scalar copied from elsewhere keeps its exact text when
        // that text is a single line.
        if n.id != 0 && orig.is_none_or(|o| o.id != n.id) {
            let raw = &self.src[n.start as usize..n.end as usize];
            if !raw.contains('\n') && n.anchor.is_none() && n.tag.is_none() && !raw.is_empty() {
                out.push_str(raw);
                return;
            }
        }
        let json = self.style.json;
        match s.style {
            Style::Literal | Style::Folded => scalar::double_quoted(&s.value, out),
            _ => scalar::render_scalar(s, false, json, out),
        }
    }

    /// A new flow collection (or an empty one): `{a: 1}`, `[]`, JSON in JSON
    /// documents.
    fn fresh_flow(&self, n: &Node, col: usize, out: &mut String) {
        let json = self.style.json;
        match &n.kind {
            Kind::Map { entries, .. } => {
                if entries.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.key(&e.key, true, out);
                    out.push_str(": ");
                    self.inline(&e.value, None, col, out);
                }
                out.push('}');
            }
            Kind::Seq { items, .. } => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.inline(&it.node, None, col, out);
                }
                out.push(']');
            }
            Kind::Scalar(s) => scalar::render_scalar(s, true, json, out),
            Kind::Alias(a) => {
                out.push('*');
                out.push_str(a);
            }
        }
    }

    fn key(&self, k: &Node, flow: bool, out: &mut String) {
        match k.scalar() {
            Some(s) if k.id != 0 => {
                let raw = &self.src[k.start as usize..k.end as usize];
                out.push_str(raw);
                let _ = s;
            }
            Some(s) => scalar::render_scalar(s, flow, self.style.json, out),
            None => out.push('?'),
        }
    }

    /// Patch a flow collection in place: kept entries and the separators
    /// between them are copied, new ones use the collection's separator.
    fn flow_patch(&self, n: &Node, o: &Node, out: &mut String) {
        let src = self.src;
        let ostart = o.start as usize;
        let open = ostart + src[ostart..].find(['{', '[']).unwrap_or(0);
        let close = o.end as usize - 1;
        let spans: Vec<(usize, usize)> = match &o.kind {
            Kind::Map { entries, .. } => {
                entries.iter().map(|e| (e.key.start as usize, (e.value.end.max(e.key.end)) as usize)).collect()
            }
            Kind::Seq { items, .. } => items.iter().map(|i| (i.node.start as usize, i.node.end as usize)).collect(),
            _ => unreachable!(),
        };
        let inner_ws = spans.first().map_or(&src[open + 1..close], |s| &src[open + 1..s.0]);
        let multiline = inner_ws.contains('\n');
        let default_sep = if spans.len() >= 2 {
            src[spans[0].1..spans[1].0].to_string()
        } else if multiline {
            format!(",{}", inner_ws.trim_start_matches([' ', '\t']))
        } else {
            ", ".to_string()
        };
        let inner_col = spans.first().map_or(col_of(src, open) + self.style.step, |s| col_of(src, s.0));
        out.push_str(&src[ostart..open + 1]);
        let mut prev: Option<usize> = None;
        let mut count = 0;
        let emit_sep = |out: &mut String, j: Option<usize>, prev: Option<usize>, count: usize| {
            if count == 0 {
                out.push_str(if spans.is_empty() {
                    if multiline {
                        inner_ws
                    } else {
                        ""
                    }
                } else {
                    inner_ws
                });
            } else if let (Some(j), Some(p)) = (j, prev) {
                if j == p + 1 {
                    out.push_str(&src[spans[p].1..spans[j].0]);
                    return;
                }
                out.push_str(&default_sep);
            } else {
                out.push_str(&default_sep);
            }
        };
        match (&n.kind, &o.kind) {
            (Kind::Map { entries: ne, .. }, Kind::Map { entries: oe, .. }) => {
                for e in ne {
                    let j = oe.iter().position(|x| x.key.key_str() == e.key.key_str());
                    emit_sep(out, j, prev, count);
                    match j {
                        Some(j) => {
                            let x = &oe[j];
                            if e.value.id == x.value.id && e.value.same(&x.value) {
                                out.push_str(&src[spans[j].0..spans[j].1]);
                            } else if x.value.start == x.value.end {
                                out.push_str(&src[x.key.start as usize..x.colon as usize + 1]);
                                out.push(' ');
                                self.inline(&e.value, None, inner_col, out);
                            } else {
                                out.push_str(&src[x.key.start as usize..x.value.start as usize]);
                                self.inline(&e.value, Some(&x.value), inner_col, out);
                            }
                        }
                        None => {
                            self.key(&e.key, true, out);
                            out.push_str(": ");
                            self.flow_value(&e.value, inner_col, multiline, out);
                        }
                    }
                    prev = j;
                    count += 1;
                }
            }
            (Kind::Seq { items: ni, .. }, Kind::Seq { items: oi, .. }) => {
                for it in ni {
                    let j = (it.node.id != 0).then(|| oi.iter().position(|x| x.node.id == it.node.id)).flatten();
                    emit_sep(out, j, prev, count);
                    match j {
                        Some(j) => self.inline(&it.node, Some(&oi[j].node), inner_col, out),
                        None => self.flow_value(&it.node, inner_col, multiline, out),
                    }
                    prev = j;
                    count += 1;
                }
            }
            _ => unreachable!(),
        }
        if count == 0 {
            out.push_str(&src[close..o.end as usize]);
        } else if spans.is_empty() {
            let tail = &src[open + 1..close];
            if multiline {
                // `{\n}` became non-empty: close on its own line.
                out.push_str(self.style.nl);
                self.spaces(col_of(src, close), out);
            } else {
                let _ = tail;
            }
            out.push_str(&src[close..o.end as usize]);
        } else {
            out.push_str(&src[spans[spans.len() - 1].1..o.end as usize]);
        }
    }

    /// A new value inside a flow collection; pretty-printed over lines when
    /// the collection is.
    fn flow_value(&self, n: &Node, col: usize, multiline: bool, out: &mut String) {
        if !multiline || n.is_empty() || !(n.is_map() || n.is_seq()) {
            self.inline(n, None, col, out);
            return;
        }
        let step = self.style.step;
        let nl = self.style.nl;
        let (open, close) = if n.is_map() { ('{', '}') } else { ('[', ']') };
        out.push(open);
        let count = n.len();
        for i in 0..count {
            out.push_str(nl);
            self.spaces(col + step, out);
            match &n.kind {
                Kind::Map { entries, .. } => {
                    self.key(&entries[i].key, true, out);
                    out.push_str(": ");
                    self.flow_value(&entries[i].value, col + step, true, out);
                }
                Kind::Seq { items, .. } => self.flow_value(&items[i].node, col + step, true, out),
                _ => {}
            }
            if i + 1 < count {
                out.push(',');
            }
        }
        out.push_str(nl);
        self.spaces(col, out);
        out.push(close);
    }

    fn fresh_entry(&self, e: &Entry, col: usize, out: &mut String) {
        self.key(&e.key, false, out);
        out.push(':');
        let v = &e.value;
        if is_block(v) && !v.is_flow() {
            let child = col + if v.is_seq() { self.style.seq_indent } else { self.style.step };
            self.props_line(v, out);
            out.push_str(self.style.nl);
            self.spaces(child, out);
            self.fresh_block(v, child, out);
        } else if matches!(&v.kind, Kind::Scalar(s) if s.value.is_empty() && s.style == Style::Plain) && v.id == 0 {
            // `key:` with no value.
        } else {
            out.push(' ');
            self.inline(v, None, col, out);
        }
    }

    fn props_line(&self, n: &Node, out: &mut String) {
        if n.anchor.is_some() || n.tag.is_some() {
            out.push(' ');
            let mut s = String::new();
            self.props(n, &mut s);
            out.push_str(s.trim_end());
        }
    }

    /// The value of a sequence item, written after `- `: block mappings start
    /// on the dash line.
    fn fresh_value_after_dash(&self, n: &Node, col: usize, out: &mut String) {
        if is_block(n) && !n.is_flow() {
            if n.anchor.is_some() || n.tag.is_some() {
                self.props(n, out);
                let t = out.trim_end().len();
                out.truncate(t);
                out.push_str(self.style.nl);
                self.spaces(col, out);
            }
            self.fresh_block(n, col, out);
        } else {
            self.inline(n, None, col, out);
        }
    }

    /// Write a node as new block text. The cursor is already at `col` on the
    /// current line; further lines are indented to `col`. No final line break.
    pub fn fresh_block(&self, n: &Node, col: usize, out: &mut String) {
        match &n.kind {
            Kind::Map { entries, .. } if !(entries.is_empty() || n.is_flow() && self.style.json) => {
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(self.style.nl);
                        self.spaces(col, out);
                    }
                    self.fresh_entry(e, col, out);
                }
            }
            Kind::Seq { items, .. } if !(items.is_empty() || n.is_flow() && self.style.json) => {
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(self.style.nl);
                        self.spaces(col, out);
                    }
                    out.push_str("- ");
                    self.fresh_value_after_dash(&it.node, col + 2, out);
                }
            }
            _ => self.inline(n, None, col, out),
        }
    }
}

/// Render a new object as a whole document body (no separator, no final
/// line break).
pub fn fresh_document(n: &Node, style: &DocStyle) -> String {
    let r = Renderer { src: "", style };
    let mut out = String::new();
    if style.json {
        r.flow_value(n, 0, true, &mut out);
    } else {
        r.fresh_block(n, 0, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::{parse, Limits};

    /// given → edit → expected.
    fn given(src: &str, edit: impl FnOnce(&mut Node)) -> String {
        let orig = parse(src, &Limits::default()).unwrap().unwrap();
        let mut new = orig.clone();
        edit(&mut new);
        let style = DocStyle::detect(src, &orig);
        let mut out = String::new();
        Renderer { src, style: &style }.document(&orig, &new, &mut out);
        // The result must parse and mean what the edited tree means.
        let back = parse(&out, &Limits::default()).unwrap_or_else(|e| panic!("{out}\n{e:?}")).unwrap();
        assert!(back.same_value(&new), "rendered text means something else:\n{out}");
        out
    }

    #[test]
    fn unchanged_is_byte_identical() {
        let src = "---\n# Source: x\nkind:  Deployment # c\nspec:\n  a: [1,  2]\n\n  b: |\n    t\n# tail\n";
        assert_eq!(given(src, |_| {}), src);
    }

    #[test]
    fn scalar_change_keeps_neighbours() {
        let src = "apiVersion: apps/v1\nkind: Deployment # was\nmetadata:\n  name: web\n";
        let out = given(src, |n| n.get_mut("kind").unwrap().set_str("StatefulSet"));
        assert_eq!(out, "apiVersion: apps/v1\nkind: StatefulSet # was\nmetadata:\n  name: web\n");
    }

    #[test]
    fn remove_middle_first_and_last_entries() {
        let src = "spec:\n  replicas: 1\n  # about strategy\n  strategy:\n    type: Recreate\n  template: {}\n";
        let out = given(src, |n| {
            n.get_mut("spec").unwrap().remove("strategy");
        });
        // The comment written above a key goes with it.
        assert_eq!(out, "spec:\n  replicas: 1\n  template: {}\n");
        let out = given(src, |n| {
            n.get_mut("spec").unwrap().remove("replicas");
        });
        assert_eq!(out, "spec:\n  # about strategy\n  strategy:\n    type: Recreate\n  template: {}\n");
        let out = given(src, |n| {
            n.get_mut("spec").unwrap().remove("template");
        });
        assert_eq!(out, "spec:\n  replicas: 1\n  # about strategy\n  strategy:\n    type: Recreate\n");
    }

    #[test]
    fn add_entries_in_document_style() {
        let src = "spec:\n    containers:\n    - name: a\n      image: x\n";
        let out = given(src, |n| {
            let c = n.path_mut(&["spec", "containers"]).unwrap().items_mut().next().unwrap();
            c.set(
                "volumeMounts",
                Node::seq().item(Node::map().with("name", Node::str("data")).with("mountPath", Node::str("/data"))),
            );
            n.get_mut("spec").unwrap().set("serviceName", Node::str("web"));
        });
        assert_eq!(
            out,
            "spec:\n    containers:\n    - name: a\n      image: x\n      volumeMounts:\n      - name: data\n        mountPath: /data\n    serviceName: web\n"
        );
    }

    #[test]
    fn sequence_items_removed_and_added() {
        let src = "volumes:\n  - name: a\n    emptyDir: {}\n  - name: b\n    configMap:\n      name: c\n";
        let out = given(src, |n| {
            let v = n.get_mut("volumes").unwrap();
            v.retain_items(|i| i.str_at(&["name"]) != Some("a"));
            v.push(Node::map().with("name", Node::str("d")));
        });
        assert_eq!(out, "volumes:\n  - name: b\n    configMap:\n      name: c\n  - name: d\n");
    }

    #[test]
    fn inline_to_block_and_back() {
        let src = "a: []\nb:\n  - x\nc: {} # keep\n";
        let out = given(src, |n| {
            n.get_mut("a").unwrap().push(Node::str("on"));
            n.set("b", Node::seq());
            n.get_mut("c").unwrap().set("k", Node::str("v"));
        });
        assert_eq!(out, "a:\n  - \"on\"\nb: []\nc:\n  k: v # keep\n");
    }

    #[test]
    fn json_documents_stay_json() {
        let src = "{\n  \"kind\": \"Deployment\",\n  \"spec\": {\n    \"replicas\": 1\n  }\n}\n";
        let out = given(src, |n| {
            n.get_mut("kind").unwrap().set_str("StatefulSet");
            n.get_mut("spec").unwrap().set("serviceName", Node::str("web"));
            n.get_mut("spec").unwrap().set("t", Node::seq().item(Node::map().with("a", Node::plain("1"))));
        });
        assert_eq!(
            out,
            "{\n  \"kind\": \"StatefulSet\",\n  \"spec\": {\n    \"replicas\": 1,\n    \"serviceName\": \"web\",\n    \"t\": [\n      {\n        \"a\": 1\n      }\n    ]\n  }\n}\n"
        );
        let _: serde_json::Value = serde_json::from_str(&out).unwrap();
    }

    #[test]
    fn crlf_and_non_ascii_survive() {
        let src = "kind: Deployment\r\nmetadata:\r\n  name: wéb # ☃\r\nspec:\r\n  x: 1\r\n";
        let out = given(src, |n| n.get_mut("spec").unwrap().set("z", Node::str("ü")));
        assert_eq!(out, "kind: Deployment\r\nmetadata:\r\n  name: wéb # ☃\r\nspec:\r\n  x: 1\r\n  z: ü\r\n");
    }

    #[test]
    fn deep_insert_under_compact_sequence() {
        let src = "a:\n- b:\n  - c: 1\n    d: 2\n";
        let out = given(src, |n| {
            let b = n.get_mut("a").unwrap().items_mut().next().unwrap();
            let c = b.get_mut("b").unwrap().items_mut().next().unwrap();
            c.set("e", Node::map().with("f", Node::plain("3")));
        });
        assert_eq!(out, "a:\n- b:\n  - c: 1\n    d: 2\n    e:\n      f: 3\n");
    }
}
