//! A YAML parser that keeps byte spans, anchors, tags and scalar styles.
//!
//! It covers what Kubernetes manifests use: block and flow collections (JSON
//! included), plain, quoted and block scalars, anchors, aliases, tags and
//! comments. Constructs that cannot occur in a Kubernetes object (complex or
//! explicit `? ` keys, alias keys) are errors rather than guesses. Duplicate
//! keys are errors: which value wins is ambiguous.
//!
//! Errors carry the byte offset; the caller turns it into a line and column.

use super::node::{Entry, Item, Kind, Node, Scalar, Style};

/// Bounds on what one document may cost to parse.
///
/// Only documents the run must read are parsed (see [`crate::stream`]); the
/// limits apply to those. Exceeding one is an error naming the limit's flag.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Deepest nesting of collections accepted (also bounds how deep aliases
    /// may expand). The parser and the tree walks recurse once per level: a
    /// debug build needs about 9 KiB of stack per level, a release build about
    /// 1.5 KiB, so the default fits a 2 MiB thread (Rust's default for
    /// spawned threads) in either. Real manifests nest fewer than 30 levels.
    pub max_depth: usize,
    /// Largest document, in bytes, that is parsed (documents the tool does not
    /// rewrite are never parsed and have no limit).
    pub max_doc_bytes: usize,
    /// Most nodes that aliases may expand to in one document, as kubectl
    /// would expand them (defeats "billion laughs").
    pub max_alias_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 128, max_doc_bytes: 16 << 20, max_alias_nodes: 100_000 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub offset: usize,
    pub msg: String,
}

type R<T> = Result<T, ParseError>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Doc,
    MapValue,
    SeqItem,
}

/// Parse one document (the text between two `---` separators, the separator
/// line included). `Ok(None)` for a document of only comments. The tree is
/// checked against a second parser ([`super::check`]) before it is returned.
pub fn parse(text: &str, limits: &Limits) -> R<Option<Node>> {
    let (tree, checked_len) = parse_unchecked(text, limits)?;
    // Text after `...` (directives for the next document) is not part of it.
    super::check::cross_check(&text[..checked_len], tree.as_ref())?;
    Ok(tree)
}

/// [`parse`] without the second parser's check (for benchmarks and the
/// check's own tests); also returns how much of `text` is the document.
pub fn parse_unchecked(text: &str, limits: &Limits) -> R<(Option<Node>, usize)> {
    if text.len() > limits.max_doc_bytes {
        return Err(ParseError {
            offset: 0,
            msg: format!(
                "document is {} bytes, more than the {} bytes a document to rewrite may have (--max-doc-bytes)",
                text.len(),
                limits.max_doc_bytes
            ),
        });
    }
    // YAML (and kubectl) allow no control characters but tab, LF and CR; the
    // parser also takes a NUL for the end of the text, so refuse them first.
    if let Some(at) = text.bytes().position(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f) {
        return Err(ParseError {
            offset: at,
            msg: format!("control character U+{:04X} is not allowed in YAML", text.as_bytes()[at]),
        });
    }
    let mut p = P {
        s: text,
        b: text.as_bytes(),
        pos: 0,
        line_start: 0,
        next_id: 1,
        depth: 0,
        limits: *limits,
        doc_end: None,
        seen_yaml_directive: false,
    };
    let tree = p.document()?;
    Ok((tree, p.doc_end.unwrap_or(text.len())))
}

struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    line_start: usize,
    next_id: u32,
    depth: usize,
    limits: Limits,
    /// Where the first `...` marker ends, if there is one.
    doc_end: Option<usize>,
    seen_yaml_directive: bool,
}

fn blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0)
}

fn flow_indicator(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'a> P<'a> {
    fn err<T>(&self, offset: usize, msg: impl Into<String>) -> R<T> {
        Err(ParseError { offset, msg: msg.into() })
    }

    fn peek(&self) -> u8 {
        self.at(0)
    }

    fn at(&self, off: usize) -> u8 {
        *self.b.get(self.pos + off).unwrap_or(&0)
    }

    fn eof(&self) -> bool {
        self.pos >= self.b.len()
    }

    fn col(&self) -> i32 {
        (self.pos - self.line_start) as i32
    }

    fn at_eol(&self) -> bool {
        match self.peek() {
            b'\n' | 0 => true,
            b'\r' => self.at(1) == b'\n' || self.at(1) == 0,
            _ => false,
        }
    }

    /// Consume one line break (`\n` or `\r\n`).
    fn newline(&mut self) {
        if self.peek() == b'\r' {
            self.pos += 1;
        }
        if self.peek() == b'\n' {
            self.pos += 1;
        }
        self.line_start = self.pos;
    }

    fn skip_inline_ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t') {
            self.pos += 1;
        }
    }

    fn at_comment(&self) -> bool {
        self.peek() == b'#'
    }

    fn skip_to_eol(&mut self) {
        while !self.at_eol() {
            self.pos += 1;
        }
    }

    fn at_doc_marker(&self) -> bool {
        self.pos == self.line_start
            && (self.b[self.pos..].starts_with(b"---") || self.b[self.pos..].starts_with(b"..."))
            && blank(self.at(3))
    }

    /// Skip spaces, comments and line breaks up to the next token. In block
    /// context a tab in the indentation of a line that holds content is an
    /// error (YAML forbids tabs for indentation).
    fn skip_to_next_token(&mut self, block: bool) -> R<()> {
        loop {
            let line_begin = self.pos == self.line_start;
            let ws_start = self.pos;
            self.skip_inline_ws();
            if self.at_comment() {
                self.skip_to_eol();
            }
            if self.eof() {
                return Ok(());
            }
            if self.at_eol() {
                self.newline();
                continue;
            }
            if block && line_begin && self.b[ws_start..self.pos].contains(&b'\t') {
                return self.err(ws_start, "tab character used for indentation (YAML allows only spaces)");
            }
            return Ok(());
        }
    }

    fn id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn node(&mut self, kind: Kind, start: usize, end: usize) -> Node {
        let id = self.id();
        Node { kind, anchor: None, tag: None, id, start: start as u32, end: end as u32 }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return self.err(self.pos, format!("nesting deeper than {} levels (--max-depth)", self.limits.max_depth));
        }
        Ok(())
    }

    fn document(&mut self) -> R<Option<Node>> {
        if self.b.starts_with("\u{feff}".as_bytes()) {
            self.pos = 3;
            self.line_start = 3;
        }
        let mut first_directive = None;
        loop {
            self.skip_to_next_token(true)?;
            if self.peek() == b'%' && self.pos == self.line_start {
                first_directive.get_or_insert(self.pos);
                self.directive()?;
                continue;
            }
            break;
        }
        if self.eof() {
            // Directives with no document after them here: the stream was
            // split before the `---` of the document they belong to.
            self.doc_end = first_directive;
            return Ok(None);
        }
        if self.at_doc_marker() && self.b[self.pos] == b'-' {
            self.pos += 3;
            let before = self.pos;
            self.skip_inline_ws();
            let after_sep = self.pos;
            self.skip_to_next_token(true)?;
            if self.eof() || self.at_doc_marker() {
                if self.at_doc_marker() && self.b[self.pos] == b'-' {
                    return self.err(self.pos, "unexpected document separator");
                }
                if self.eof() {
                    return Ok(None);
                }
                // `---` then `...`: an empty document.
                self.after_document_end()?;
                return Ok(None);
            }
            // Content starts on the separator line or below it.
            self.pos = after_sep;
            if self.at_comment() || self.at_eol() {
                self.skip_to_next_token(true)?;
            } else if self.pos == before {
                return self.err(self.pos, "expected a space after '---'");
            }
        } else if self.at_doc_marker() {
            // `...` ends an empty document.
            self.after_document_end()?;
            return Ok(None);
        }
        if self.eof() {
            return Ok(None);
        }
        let root = self.block_node(-1, Ctx::Doc)?;
        self.skip_to_next_token(true)?;
        if self.at_doc_marker() && self.b[self.pos] == b'.' {
            self.after_document_end()?;
        }
        if !self.eof() {
            return self.err(
                self.pos,
                "unexpected content: the document's structure ended before this point (check the indentation)",
            );
        }
        Ok(Some(root))
    }

    /// Skip a directive line (`%YAML 1.2`); `%TAG` is refused: tags here are
    /// compared as written, so a handle defined elsewhere would be misread.
    fn directive(&mut self) -> R<()> {
        if self.b[self.pos..].starts_with(b"%TAG") && blank(self.at(4)) {
            return self
                .err(self.pos, "%TAG directives are not supported: write tags in full (!<tag:...>) or as !!name");
        }
        let from = self.pos;
        self.skip_to_eol();
        let line = self.s[from..self.pos].trim_end_matches('\r');
        let Some(rest) = line.strip_prefix("%YAML") else { return Ok(()) };
        if !rest.starts_with([' ', '\t']) {
            return Ok(()); // another directive (`%YAMLL`), ignored as YAML says
        }
        let mut words = rest.split_whitespace();
        let version_ok = words.next().is_some_and(|v| {
            v.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && (a.to_owned() + b).bytes().all(|c| c.is_ascii_digit())
            })
        });
        if !version_ok || words.next().is_some_and(|w| !w.starts_with('#')) {
            return self.err(from, "a %YAML directive takes one version number, like %YAML 1.2");
        }
        if self.seen_yaml_directive {
            return self.err(from, "more than one %YAML directive for one document");
        }
        self.seen_yaml_directive = true;
        Ok(())
    }

    /// After `...`: only comments and directives (for the next document).
    fn after_document_end(&mut self) -> R<()> {
        self.pos += 3;
        self.doc_end.get_or_insert(self.pos);
        self.seen_yaml_directive = false;
        loop {
            self.skip_to_next_token(true)?;
            if self.peek() == b'%' && self.pos == self.line_start {
                self.directive()?;
                continue;
            }
            if self.at_doc_marker() && self.b[self.pos] == b'.' {
                self.pos += 3;
                continue;
            }
            break;
        }
        if !self.eof() {
            return self.err(self.pos, "content after the document end marker '...'");
        }
        Ok(())
    }

    /// May the token at the cursor be the content of a node whose parent block
    /// has indentation `n`?
    fn content_allowed(&self, n: i32, ctx: Ctx) -> bool {
        if self.eof() || self.at_doc_marker() {
            return false;
        }
        let c = self.col();
        c > n || (c == n && ctx == Ctx::MapValue && self.peek() == b'-' && blank(self.at(1)))
    }

    fn block_node(&mut self, n: i32, ctx: Ctx) -> R<Node> {
        self.enter()?;
        let r = self.block_node_inner(n, ctx);
        self.depth -= 1;
        r
    }

    fn block_node_inner(&mut self, n: i32, ctx: Ctx) -> R<Node> {
        let after_indicator = self.pos;
        self.skip_inline_ws();
        let mut same_line = !(self.at_comment() || self.at_eol());
        if !same_line {
            self.skip_to_next_token(true)?;
            if !self.content_allowed(n, ctx) {
                return Ok(self.empty(after_indicator));
            }
        }
        let props_start = self.pos;
        let (anchor, tag) = self.properties(false)?;
        let has_props = anchor.is_some() || tag.is_some();
        let props_end = self.pos;
        if has_props {
            self.skip_inline_ws();
            if self.at_comment() || self.at_eol() {
                self.skip_to_next_token(true)?;
                if !self.content_allowed(n, ctx) {
                    let mut e = self.empty(props_start);
                    e.end = props_end as u32;
                    e.anchor = anchor;
                    e.tag = tag;
                    return Ok(e);
                }
                same_line = false;
            }
        }
        // `&a\n&k key: v` or `!!map\n&k key: v`: properties on a line of their
        // own, then a line that starts with properties again. Those belong to
        // the key when a mapping follows, else to the same node as the first.
        let (mut anchor, mut tag) = (anchor, tag);
        let mut inner: Option<(usize, Option<String>, Option<String>)> = None;
        while has_props && !same_line && inner.is_none() && matches!(self.peek(), b'&' | b'!') {
            let at = self.pos;
            let (a2, t2) = self.properties(false)?;
            self.skip_inline_ws();
            if !(self.at_comment() || self.at_eol()) {
                inner = Some((at, a2, t2));
                break;
            }
            // `&a\n!!map\n...`: more properties of the same node.
            if a2.is_some() && anchor.is_some() || t2.is_some() && tag.is_some() {
                return self.err(at, "a node may have only one anchor and one tag");
            }
            anchor = anchor.or(a2);
            tag = tag.or(t2);
            let props_end = self.pos;
            self.skip_to_next_token(true)?;
            if !self.content_allowed(n, ctx) {
                let mut e = self.empty(props_start);
                e.end = props_end as u32;
                e.anchor = anchor;
                e.tag = tag;
                return Ok(e);
            }
        }
        let col = match &inner {
            Some((at, ..)) => (at - self.line_start) as i32,
            None => self.col(),
        };
        let start = if has_props { props_start } else { self.pos };
        // Properties that must be the node's own when no mapping key follows.
        let merge = |anchor: &mut Option<String>,
                     tag: &mut Option<String>,
                     inner: &mut Option<(usize, Option<String>, Option<String>)>|
         -> R<()> {
            if let Some((at, a2, t2)) = inner.take() {
                if a2.is_some() && anchor.is_some() || t2.is_some() && tag.is_some() {
                    return Err(ParseError { offset: at, msg: "a node may have only one anchor and one tag".into() });
                }
                *anchor = anchor.take().or(a2);
                *tag = tag.take().or(t2);
            }
            Ok(())
        };
        let starts_block = matches!(self.peek(), b'-' | b'?') && blank(self.at(1));
        if inner.is_some() && (starts_block || matches!(self.peek(), b'*')) {
            return self.err(self.pos, "properties (anchors, tags) cannot stand before this on the same line");
        }
        if starts_block || matches!(self.peek(), b'|' | b'>' | b'[' | b'{' | b'*') {
            // Not a scalar that could be a key: the inner properties are the node's.
            merge(&mut anchor, &mut tag, &mut inner)?;
        }
        let mut node = match self.peek() {
            b'-' if blank(self.at(1)) => {
                if same_line && ctx == Ctx::MapValue {
                    return self.err(self.pos, "a block sequence may not start on the same line as its key");
                }
                let indentless = ctx == Ctx::MapValue && col == n;
                self.block_seq(col, indentless)?
            }
            b'?' if blank(self.at(1)) => {
                return self
                    .err(self.pos, "explicit keys ('? ') are not supported: Kubernetes objects have string keys");
            }
            b'|' | b'>' => self.block_scalar(n)?,
            b'[' | b'{' => {
                let node = self.flow_collection()?;
                self.after_inline_value(true)?;
                node
            }
            b'*' => {
                let node = self.alias()?;
                self.after_inline_value(false)?;
                node
            }
            _ => {
                let key_start = self.pos;
                let (scalar, multiline) = self.scalar_in_block(n)?;
                self.skip_inline_ws();
                let is_key = self.peek() == b':' && blank(self.at(1));
                if is_key {
                    if multiline && scalar.scalar().is_some_and(|s| s.style == Style::Plain) {
                        // `a: 1\n   b: 2`: the deeper line continues the value above.
                        let last = self.s[key_start..self.pos].rfind('\n').map_or(key_start, |i| key_start + i + 1);
                        let at = last + self.s[last..].len() - self.s[last..].trim_start_matches([' ', '\t']).len();
                        return self.err(
                            at,
                            "bad indentation: this key is indented more than the line above, so it reads as part of that value",
                        );
                    }
                    if multiline {
                        return self.err(key_start, "a mapping key must fit on one line");
                    }
                    if same_line && ctx == Ctx::MapValue {
                        return self.err(self.pos, "mapping values are not allowed here (a value cannot itself start a mapping on the same line; check for a missing quote or a ': ' inside the value)");
                    }
                    let mut key = scalar;
                    if let Some((at, a2, t2)) = inner.take() {
                        key.anchor = a2;
                        key.tag = t2;
                        key.start = at as u32;
                        let mut map = self.block_map(col, key)?;
                        map.anchor = anchor;
                        map.tag = tag;
                        map.start = start as u32;
                        return Ok(map);
                    }
                    // Properties on the key's own line belong to the key.
                    if has_props && !same_line_props_before_newline(self, props_start, key_start) {
                        let mut map = self.block_map(col, key)?;
                        map.anchor = anchor;
                        map.tag = tag;
                        map.start = start as u32;
                        return Ok(map);
                    }
                    key.anchor = anchor.clone();
                    key.tag = tag.clone();
                    // `&a key: v`: the mapping's column is where the key's
                    // properties start, not the key's text.
                    let mut map_col = col;
                    if has_props {
                        key.start = props_start as u32;
                        map_col = (props_start - self.line_start) as i32;
                    }
                    let map = self.block_map(map_col, key)?;
                    return Ok(map);
                }
                if self.peek() == b':' && blank(self.at(1)) {
                    return self.err(self.pos, "mapping values are not allowed here");
                }
                merge(&mut anchor, &mut tag, &mut inner)?;
                scalar
            }
        };
        node.anchor = anchor;
        node.tag = tag;
        node.start = start as u32;
        Ok(node)
    }

    /// After a flow collection, alias or quoted scalar in block context only a
    /// comment or the end of the line may follow (or `:` when it is a key).
    fn after_inline_value(&mut self, collection: bool) -> R<()> {
        let save = self.pos;
        self.skip_inline_ws();
        if self.peek() == b':' && blank(self.at(1)) {
            return self.err(
                self.pos,
                if collection {
                    "collections as mapping keys are not supported: Kubernetes objects have string keys"
                } else {
                    "aliases as mapping keys are not supported"
                },
            );
        }
        if !(self.at_eol() || self.at_comment()) {
            return self.err(self.pos, "unexpected text after the value on this line");
        }
        self.pos = save;
        Ok(())
    }

    fn empty(&mut self, at: usize) -> Node {
        self.node(Kind::Scalar(Scalar { value: String::new(), style: Style::Plain }), at, at)
    }

    /// `&anchor` and `!tag`, in either order.
    fn properties(&mut self, flow: bool) -> R<(Option<String>, Option<String>)> {
        let mut anchor = None;
        let mut tag = None;
        loop {
            match self.peek() {
                b'&' if anchor.is_none() => {
                    let at = self.pos;
                    self.pos += 1;
                    let name = self.name_token(flow);
                    if name.is_empty() {
                        return self.err(at, "anchor without a name");
                    }
                    anchor = Some(name.to_string());
                }
                b'!' if tag.is_none() => {
                    let from = self.pos;
                    if self.at(1) == b'<' {
                        while !self.at_eol() && self.peek() != b'>' {
                            self.pos += 1;
                        }
                        if self.peek() != b'>' {
                            return self.err(from, "unclosed verbatim tag '!<'");
                        }
                        self.pos += 1;
                    } else {
                        while !(blank(self.peek()) || flow && flow_indicator(self.peek())) {
                            self.pos += 1;
                        }
                    }
                    let t = &self.s[from..self.pos];
                    if t.len() > 2
                        && !t.starts_with("!<")
                        && !t.starts_with("!!")
                        && t[1..].find('!').is_some_and(|i| i + 2 < t.len())
                    {
                        return self.err(
                            from,
                            "named tag handles (!name!...) need a %TAG directive, which is not supported: write the tag in full (!<tag:...>)",
                        );
                    }
                    tag = Some(t.to_string());
                }
                b'&' | b'!' => return self.err(self.pos, "a node may have only one anchor and one tag"),
                _ => break,
            }
            let save = self.pos;
            self.skip_inline_ws();
            if !matches!(self.peek(), b'&' | b'!') {
                self.pos = save;
                break;
            }
        }
        Ok((anchor, tag))
    }

    fn name_token(&mut self, flow: bool) -> &'a str {
        let from = self.pos;
        while !(blank(self.peek()) || flow && flow_indicator(self.peek())) {
            self.pos += 1;
        }
        &self.s[from..self.pos]
    }

    fn alias(&mut self) -> R<Node> {
        let at = self.pos;
        self.pos += 1;
        let name = self.name_token(true);
        if name.is_empty() {
            return self.err(at, "alias without a name");
        }
        let name = name.to_string();
        Ok(self.node(Kind::Alias(name), at, self.pos))
    }

    fn block_map(&mut self, col: i32, first_key: Node) -> R<Node> {
        let start = first_key.start as usize;
        let mut entries: Vec<Entry> = Vec::new();
        let mut key = first_key;
        loop {
            self.skip_inline_ws();
            if !(self.peek() == b':' && blank(self.at(1))) {
                return self.err(key.start as usize, "could not find the ':' after this mapping key");
            }
            let colon = self.pos;
            self.pos += 1;
            let value = self.block_node(col, Ctx::MapValue)?;
            entries.push(Entry { key, value, colon: colon as u32 });
            self.skip_to_next_token(true)?;
            if self.eof() || self.at_doc_marker() || self.col() < col {
                break;
            }
            if self.col() > col {
                return self.err(self.pos, format!("bad indentation: expected a mapping key at column {}", col + 1));
            }
            if self.peek() == b'-' && blank(self.at(1)) {
                return self.err(self.pos, "expected a mapping key, found a sequence item ('- ')");
            }
            let kstart = self.pos;
            let (anchor, tag) = self.properties(false)?;
            if anchor.is_some() || tag.is_some() {
                self.skip_inline_ws();
            }
            key = match self.peek() {
                b'[' | b'{' => {
                    return self.err(
                        self.pos,
                        "collections as mapping keys are not supported: Kubernetes objects have string keys",
                    )
                }
                b'*' => return self.err(self.pos, "aliases as mapping keys are not supported"),
                b'?' if blank(self.at(1)) => {
                    return self
                        .err(self.pos, "explicit keys ('? ') are not supported: Kubernetes objects have string keys")
                }
                b'|' | b'>' => return self.err(self.pos, "a block scalar cannot be a mapping key"),
                b'-' if blank(self.at(1)) => unreachable_seq(self)?,
                _ => {
                    let (mut k, multiline) = self.key_scalar()?;
                    if multiline {
                        return self.err(kstart, "a mapping key must fit on one line");
                    }
                    k.anchor = anchor;
                    k.tag = tag;
                    k.start = kstart as u32;
                    k
                }
            };
        }
        check_duplicates(self, &entries)?;
        let end = entries.last().map_or(start, |e| e.value.end as usize);
        Ok(self.node(Kind::Map { entries, flow: false }, start, end))
    }

    fn block_seq(&mut self, col: i32, indentless: bool) -> R<Node> {
        let start = self.pos;
        let mut items = Vec::new();
        loop {
            let dash = self.pos;
            self.pos += 1;
            let node = self.block_node(col, Ctx::SeqItem)?;
            items.push(Item { node, dash: dash as u32 });
            self.skip_to_next_token(true)?;
            if self.eof() || self.at_doc_marker() || self.col() < col {
                break;
            }
            if self.col() > col {
                return self.err(self.pos, format!("bad indentation: expected a sequence item at column {}", col + 1));
            }
            if !(self.peek() == b'-' && blank(self.at(1))) {
                if indentless {
                    break;
                }
                return self.err(self.pos, "expected a sequence item ('- ') at this indentation");
            }
        }
        let end = items.last().map_or(start, |i| i.node.end as usize);
        Ok(self.node(Kind::Seq { items, flow: false }, start, end))
    }

    /// A scalar in block context: quoted or plain, possibly over several lines.
    fn scalar_in_block(&mut self, n: i32) -> R<(Node, bool)> {
        match self.peek() {
            b'"' | b'\'' => {
                let node = self.quoted()?;
                let multiline = self.s[node.start as usize..node.end as usize].contains('\n');
                let save = self.pos;
                self.skip_inline_ws();
                if !(self.at_eol() || self.at_comment() || (self.peek() == b':' && blank(self.at(1)))) {
                    return self.err(self.pos, "unexpected text after a quoted scalar");
                }
                self.pos = save;
                Ok((node, multiline))
            }
            c if matches!(c, b'%' | b'@' | b'`' | b',' | b']' | b'}') => {
                self.err(self.pos, format!("'{}' cannot start a plain value; quote the value", c as char))
            }
            _ => self.plain(n, false, false),
        }
    }

    fn key_scalar(&mut self) -> R<(Node, bool)> {
        match self.peek() {
            b'"' | b'\'' => {
                let node = self.quoted()?;
                let multiline = self.s[node.start as usize..node.end as usize].contains('\n');
                Ok((node, multiline))
            }
            c if matches!(c, b'%' | b'@' | b'`' | b',' | b']' | b'}') => {
                self.err(self.pos, format!("'{}' cannot start a mapping key; quote the key", c as char))
            }
            _ => self.plain(-1, false, true),
        }
    }

    /// A plain scalar. Block context: continuation lines must be indented more
    /// than `n`. Returns the node and whether it spans lines.
    fn plain(&mut self, n: i32, flow: bool, single_line: bool) -> R<(Node, bool)> {
        let start = self.pos;
        let mut value = String::new();
        let mut end;
        let mut multiline = false;
        loop {
            let seg_start = self.pos;
            let mut stop = false;
            while !self.at_eol() {
                let c = self.peek();
                if c == b':' && (blank(self.at(1)) || (flow && flow_indicator(self.at(1)))) {
                    stop = true;
                    break;
                }
                if c == b'#' && self.pos > seg_start && matches!(self.b[self.pos - 1], b' ' | b'\t') {
                    stop = true;
                    break;
                }
                if flow && flow_indicator(c) {
                    stop = true;
                    break;
                }
                self.pos += 1;
            }
            let seg = self.s[seg_start..self.pos].trim_end_matches([' ', '\t', '\r']);
            if seg_start == start && seg.is_empty() {
                return self.err(start, "expected a value");
            }
            value.push_str(seg);
            end = seg_start + seg.len();
            if stop || single_line {
                break;
            }
            // Look for a continuation line.
            let save = (self.pos, self.line_start);
            let mut breaks = 0;
            let mut cont = false;
            loop {
                if !self.at_eol() || self.eof() {
                    break;
                }
                self.newline();
                breaks += 1;
                self.skip_inline_ws();
                if self.eof() {
                    break;
                }
                if self.at_eol() {
                    continue;
                }
                let line_head = self.line_start;
                let is_marker = {
                    let p = self.pos;
                    self.pos = line_head;
                    let m = self.at_doc_marker();
                    self.pos = p;
                    m
                };
                if self.at_comment() || is_marker {
                    break;
                }
                if !flow && self.col() <= n {
                    break;
                }
                if flow && flow_indicator(self.peek()) {
                    break;
                }
                if self.peek() == b':' && (blank(self.at(1)) || flow && flow_indicator(self.at(1))) {
                    break;
                }
                cont = true;
                break;
            }
            if !cont {
                self.pos = save.0;
                self.line_start = save.1;
                break;
            }
            if breaks == 1 {
                value.push(' ');
            } else {
                for _ in 1..breaks {
                    value.push('\n');
                }
            }
            multiline = true;
        }
        // Leave the cursor after the last character of the value.
        self.pos = end;
        Ok((self.node(Kind::Scalar(Scalar { value, style: Style::Plain }), start, end), multiline))
    }

    fn quoted(&mut self) -> R<Node> {
        let start = self.pos;
        let double = self.peek() == b'"';
        self.pos += 1;
        let mut value = String::new();
        let mut line_mark = 0; // value length where the current line's text began
        loop {
            if self.eof() {
                return self.err(
                    start,
                    if double { "unclosed double-quoted string" } else { "unclosed single-quoted string" },
                );
            }
            let c = self.peek();
            if self.at_eol() {
                // Fold the line break: trailing spaces go, one break is a space,
                // each further empty line a newline.
                let keep = value[line_mark..].trim_end_matches([' ', '\t']).len() + line_mark;
                value.truncate(keep);
                let mut breaks = 0;
                while self.at_eol() && !self.eof() {
                    self.newline();
                    breaks += 1;
                    if self.at_doc_marker() {
                        return self.err(start, "unclosed quoted string (a document marker appears inside it)");
                    }
                    self.skip_inline_ws();
                }
                if breaks == 1 {
                    value.push(' ');
                } else {
                    for _ in 1..breaks {
                        value.push('\n');
                    }
                }
                line_mark = value.len();
                continue;
            }
            if !double {
                if c == b'\'' {
                    if self.at(1) == b'\'' {
                        value.push('\'');
                        self.pos += 2;
                        continue;
                    }
                    self.pos += 1;
                    break;
                }
            } else if c == b'"' {
                self.pos += 1;
                break;
            } else if c == b'\\' {
                let esc_at = self.pos;
                self.pos += 1;
                let e = self.peek();
                if self.at_eol() && !self.eof() {
                    // Escaped line break: join without a space.
                    self.newline();
                    while self.at_eol() && !self.eof() {
                        self.newline();
                        value.push('\n');
                    }
                    self.skip_inline_ws();
                    line_mark = value.len();
                    continue;
                }
                self.pos += 1;
                let simple = match e {
                    b'0' => Some('\0'),
                    b'a' => Some('\x07'),
                    b'b' => Some('\x08'),
                    b't' | b'\t' => Some('\t'),
                    b'n' => Some('\n'),
                    b'v' => Some('\x0b'),
                    b'f' => Some('\x0c'),
                    b'r' => Some('\r'),
                    b'e' => Some('\x1b'),
                    b' ' => Some(' '),
                    b'"' => Some('"'),
                    b'/' => Some('/'),
                    b'\\' => Some('\\'),
                    b'N' => Some('\u{85}'),
                    b'_' => Some('\u{a0}'),
                    b'L' => Some('\u{2028}'),
                    b'P' => Some('\u{2029}'),
                    _ => None,
                };
                if let Some(ch) = simple {
                    value.push(ch);
                    line_mark = value.len();
                    continue;
                }
                let len = match e {
                    b'x' => 2,
                    b'u' => 4,
                    b'U' => 8,
                    _ => {
                        return self.err(esc_at, format!("unknown escape '\\{}' in a double-quoted string", e as char))
                    }
                };
                let hex = self.s.get(self.pos..self.pos + len).unwrap_or("");
                let code = u32::from_str_radix(hex, 16).ok().filter(|_| hex.len() == len);
                match code.and_then(char::from_u32) {
                    Some(ch) => value.push(ch),
                    None => return self.err(esc_at, "invalid escape in a double-quoted string"),
                }
                self.pos += len;
                line_mark = value.len();
                continue;
            }
            // Copy one UTF-8 character.
            let ch_len = utf8_len(c);
            value.push_str(&self.s[self.pos..self.pos + ch_len]);
            self.pos += ch_len;
        }
        let style = if double { Style::Double } else { Style::Single };
        Ok(self.node(Kind::Scalar(Scalar { value, style }), start, self.pos))
    }

    /// `|` or `>` block scalar; `n` is the indentation of the parent block.
    fn block_scalar(&mut self, n: i32) -> R<Node> {
        let start = self.pos;
        let literal = self.peek() == b'|';
        self.pos += 1;
        let mut chomp = 0i8; // -1 strip, 0 clip, 1 keep
        let mut indicator: Option<i32> = None;
        for _ in 0..2 {
            match self.peek() {
                b'-' if chomp == 0 => chomp = -1,
                b'+' if chomp == 0 => chomp = 1,
                c @ b'1'..=b'9' if indicator.is_none() => indicator = Some((c - b'0') as i32),
                _ => break,
            }
            self.pos += 1;
        }
        let header_end = self.pos;
        self.skip_inline_ws();
        if self.at_comment() && self.pos > header_end {
            self.skip_to_eol();
        }
        if !self.at_eol() {
            return self.err(self.pos, "expected a comment or a line break after the block scalar indicator");
        }
        let mut end = self.pos;
        if self.eof() {
            let node = self.node(Kind::Scalar(Scalar { value: String::new(), style: Style::Literal }), start, end);
            return Ok(node);
        }
        self.newline();
        let base = n.max(-1);
        // Find the content indentation.
        let indent = match indicator {
            Some(i) => {
                if base >= 0 {
                    base + i
                } else {
                    i
                }
            }
            None => {
                let mut p = self.pos;
                let mut max_empty = 0;
                let mut found = None;
                while p < self.b.len() {
                    let mut q = p;
                    while q < self.b.len() && self.b[q] == b' ' {
                        q += 1;
                    }
                    let c = *self.b.get(q).unwrap_or(&0);
                    if c == b'\n' || (c == b'\r' && self.b.get(q + 1) == Some(&b'\n')) {
                        max_empty = max_empty.max((q - p) as i32);
                        p = q + if c == b'\r' { 2 } else { 1 };
                        continue;
                    }
                    if q < self.b.len() {
                        found = Some((q - p) as i32);
                    }
                    break;
                }
                match found {
                    Some(i) if i > base => {
                        if max_empty > i {
                            return self.err(
                                self.pos,
                                "a leading empty line of this block scalar has more spaces than its first line",
                            );
                        }
                        i
                    }
                    // No content: the longest empty line sets the indentation.
                    _ => (base + 1).max(max_empty),
                }
            }
        };
        let indent = indent.max(0) as usize;
        let mut lines: Vec<Option<&str>> = Vec::new(); // None = empty line
        let mut trailing_break = false;
        // Where the line break of the last trailing empty line starts.
        let mut last_empty_break: Option<usize> = None;
        loop {
            if self.eof() {
                break;
            }
            let ls = self.pos;
            let mut q = ls;
            while q < self.b.len() && self.b[q] == b' ' && q - ls < indent {
                q += 1;
            }
            let at_line_end = |q: usize| {
                let c = *self.b.get(q).unwrap_or(&0);
                c == b'\n' || c == 0 || (c == b'\r' && matches!(self.b.get(q + 1), Some(b'\n') | None))
            };
            let spaces_only = {
                let mut r = q;
                while r < self.b.len() && self.b[r] == b' ' {
                    r += 1;
                }
                at_line_end(r) && r < self.b.len()
            };
            if q - ls < indent {
                if spaces_only || at_line_end(q) && q < self.b.len() {
                    lines.push(None);
                    self.pos = q;
                    self.skip_to_eol();
                    last_empty_break = Some(self.pos);
                    self.newline();
                    continue;
                }
                break; // less indented content: the scalar is over
            }
            if indent == 0 && self.at_doc_marker() {
                break;
            }
            self.pos = q;
            if at_line_end(q) && q < self.b.len() {
                lines.push(None);
                self.skip_to_eol();
                last_empty_break = Some(self.pos);
                self.newline();
                continue;
            }
            self.skip_to_eol();
            let text = self.s[q..self.pos].strip_suffix('\r').unwrap_or(&self.s[q..self.pos]);
            lines.push(Some(text));
            last_empty_break = None;
            end = self.pos - usize::from(self.s[q..self.pos].ends_with('\r'));
            trailing_break = !self.eof();
            if !self.eof() {
                self.newline();
            }
        }
        // Drop trailing empty lines from the span but count them for chomping.
        let mut value = String::new();
        let mut pending = 0usize;
        let mut prev_text: Option<bool> = None; // Some(true) = text line, Some(false) = more-indented line
        let mut saw_content = false;
        for l in &lines {
            match l {
                None => pending += 1,
                Some(t) => {
                    let spaced = t.starts_with([' ', '\t']);
                    match prev_text {
                        None => value.extend(std::iter::repeat_n('\n', pending)),
                        Some(prev_is_text) => {
                            if !literal && prev_is_text && !spaced {
                                if pending == 0 {
                                    value.push(' ');
                                } else {
                                    value.extend(std::iter::repeat_n('\n', pending));
                                }
                            } else {
                                value.extend(std::iter::repeat_n('\n', pending + 1));
                            }
                        }
                    }
                    value.push_str(t);
                    pending = 0;
                    prev_text = Some(!spaced);
                    saw_content = true;
                }
            }
        }
        match chomp {
            -1 => {}
            0 => {
                if saw_content && (trailing_break || pending > 0) {
                    value.push('\n');
                }
            }
            _ => {
                if saw_content && (trailing_break || pending > 0) {
                    value.push('\n');
                }
                value.extend(std::iter::repeat_n('\n', pending));
            }
        }
        // Kept trailing empty lines are part of the value, so they are part of
        // the span too, up to the last line break: whatever is written after
        // the scalar then starts on a line of its own below them.
        if chomp == 1 {
            if let Some(b) = last_empty_break {
                end = b;
            }
        }
        // The cursor sits at the start of the first line after the scalar.
        let style = if literal { Style::Literal } else { Style::Folded };
        let node = self.node(Kind::Scalar(Scalar { value, style }), start, end);
        Ok(node)
    }

    fn skip_flow_ws(&mut self, open_at: usize) -> R<()> {
        loop {
            self.skip_inline_ws();
            if self.at_comment() {
                self.skip_to_eol();
            }
            if self.eof() {
                return self.err(open_at, "unclosed flow collection");
            }
            if self.at_eol() {
                self.newline();
                if self.at_doc_marker() {
                    return self.err(open_at, "unclosed flow collection");
                }
                continue;
            }
            return Ok(());
        }
    }

    fn flow_collection(&mut self) -> R<Node> {
        self.enter()?;
        let r = self.flow_collection_inner();
        self.depth -= 1;
        r
    }

    fn flow_collection_inner(&mut self) -> R<Node> {
        let start = self.pos;
        let is_map = self.peek() == b'{';
        let close = if is_map { b'}' } else { b']' };
        self.pos += 1;
        let mut entries: Vec<Entry> = Vec::new();
        let mut items: Vec<Item> = Vec::new();
        loop {
            self.skip_flow_ws(start)?;
            if self.peek() == close {
                self.pos += 1;
                break;
            }
            if self.peek() == b',' {
                return self.err(self.pos, "expected a value before ','");
            }
            if self.peek() == b'?' && blank(self.at(1)) {
                return self
                    .err(self.pos, "explicit keys ('? ') are not supported: Kubernetes objects have string keys");
            }
            let first = self.flow_node(start)?;
            self.skip_flow_ws(start)?;
            let json_like = matches!(first.kind, Kind::Map { .. } | Kind::Seq { .. })
                || matches!(first.scalar().map(|s| s.style), Some(Style::Double | Style::Single));
            let has_value = self.peek() == b':' && (json_like || blank(self.at(1)) || flow_indicator(self.at(1)));
            if is_map || has_value {
                if matches!(first.kind, Kind::Map { .. } | Kind::Seq { .. }) {
                    return self.err(
                        first.start as usize,
                        "collections as mapping keys are not supported: Kubernetes objects have string keys",
                    );
                }
                if first.is_alias() {
                    return self.err(first.start as usize, "aliases as mapping keys are not supported");
                }
                let (colon, value) = if has_value {
                    let colon = self.pos;
                    self.pos += 1;
                    self.skip_flow_ws(start)?;
                    if self.peek() == b',' || self.peek() == close {
                        let e = self.empty(colon + 1);
                        (colon, e)
                    } else {
                        (colon, self.flow_node(start)?)
                    }
                } else {
                    let e = self.empty(first.end as usize);
                    (first.end as usize, e)
                };
                let entry = Entry { key: first, value, colon: colon as u32 };
                if is_map {
                    entries.push(entry);
                } else {
                    // `[a: b]`: a single-pair mapping as a sequence item.
                    let (s, e) = (entry.key.start as usize, entry.value.end as usize);
                    let m = self.node(Kind::Map { entries: vec![entry], flow: true }, s, e);
                    items.push(Item { node: m, dash: 0 });
                }
            } else {
                items.push(Item { node: first, dash: 0 });
            }
            self.skip_flow_ws(start)?;
            match self.peek() {
                b',' => self.pos += 1,
                c if c == close => {}
                _ => {
                    return self.err(
                        self.pos,
                        format!(
                            "expected ',' or '{}' in a flow collection (is the '{}' before it closed?)",
                            close as char,
                            if is_map { '{' } else { '[' }
                        ),
                    )
                }
            }
        }
        let kind = if is_map {
            check_duplicates(self, &entries)?;
            Kind::Map { entries, flow: true }
        } else {
            Kind::Seq { items, flow: true }
        };
        Ok(self.node(kind, start, self.pos))
    }

    fn flow_node(&mut self, open_at: usize) -> R<Node> {
        let props_start = self.pos;
        let (anchor, tag) = self.properties(true)?;
        let has_props = anchor.is_some() || tag.is_some();
        if has_props {
            self.skip_flow_ws(open_at)?;
        }
        let mut node = match self.peek() {
            b'[' | b'{' => self.flow_collection()?,
            b'"' | b'\'' => self.quoted()?,
            b'*' => self.alias()?,
            b',' | b']' | b'}' if has_props => {
                let mut e = self.empty(props_start);
                e.end = self.pos as u32;
                e
            }
            c if matches!(c, b'%' | b'@' | b'`' | b'|' | b'>' | b'#') => {
                return self
                    .err(self.pos, format!("'{}' cannot start a value in a flow collection; quote it", c as char))
            }
            b']' | b'}' => return self.err(self.pos, "unexpected closing bracket"),
            _ => self.plain(-1, true, false)?.0,
        };
        if has_props {
            node.start = props_start as u32;
        }
        node.anchor = anchor;
        node.tag = tag;
        Ok(node)
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Were the properties written on the line of the key (`&a key: v`, so they
/// belong to the key) or on a line of their own (`&a\nkey: v`, the mapping's)?
fn same_line_props_before_newline(p: &P<'_>, props_start: usize, key_start: usize) -> bool {
    !p.s[props_start..key_start].contains('\n')
}

fn unreachable_seq(p: &P<'_>) -> R<Node> {
    p.err(p.pos, "expected a mapping key, found a sequence item ('- ')")
}

fn check_duplicates(p: &P<'_>, entries: &[Entry]) -> R<()> {
    if entries.len() < 2 {
        return Ok(());
    }
    let mut keys: Vec<(&str, usize)> =
        entries.iter().filter_map(|e| e.key.scalar().map(|s| (s.value.as_str(), e.key.start as usize))).collect();
    keys.sort();
    for w in keys.windows(2) {
        if w[0].0 == w[1].0 {
            let later = w[0].1.max(w[1].1);
            return p.err(later, format!("duplicate key '{}' in one mapping (which value wins is ambiguous)", w[0].0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::to_json;

    fn json(src: &str) -> String {
        let n = parse(src, &Limits::default()).unwrap_or_else(|e| panic!("{src:?}: {e:?}")).unwrap();
        to_json(&n, &Limits::default()).unwrap().to_string()
    }

    fn fails(src: &str) -> String {
        match parse(src, &Limits::default()) {
            Err(e) => e.msg,
            Ok(n) => panic!("{src:?} parsed: {n:?}"),
        }
    }

    #[test]
    fn block_structures() {
        let cases: &[(&str, &str)] = &[
            ("a: 1\nb: x\n", r#"{"a":1,"b":"x"}"#),
            ("a:\n  b: c\n  d:\n  - 1\n  - 2\ne: f\n", r#"{"a":{"b":"c","d":[1,2]},"e":"f"}"#),
            ("- a\n- - b\n  - c\n- k: v\n  l: w\n", r#"["a",["b","c"],{"k":"v","l":"w"}]"#),
            ("a:\n", r#"{"a":null}"#),
            ("a: ~\nb: null\nc:\n", r#"{"a":null,"b":null,"c":null}"#),
            ("k: multi\n  line\n\n  text\n", r#"{"k":"multi line\ntext"}"#),
            ("k: 'it''s'\nl: \"a\\tb\\u00e9\"\n", r#"{"k":"it's","l":"a\tbé"}"#),
            ("k: \"fold\n  ed\"\n", r#"{"k":"fold ed"}"#),
            ("m: 0755\nq: \"0755\"\n", r#"{"m":493,"q":"0755"}"#),
            ("k: a#b # comment\n", r##"{"k":"a#b"}"##),
            ("url: http://x:80/y\n", r#"{"url":"http://x:80/y"}"#),
            ("- =\n", r#"["="]"#),
            ("a: &x\n  b: 1\nc: *x\n", r#"{"a":{"b":1},"c":{"b":1}}"#),
            ("? \n", ""),
        ];
        for (src, want) in cases.iter().filter(|(_, w)| !w.is_empty()) {
            assert_eq!(json(src), *want, "{src:?}");
        }
    }

    #[test]
    fn block_scalars() {
        let cases: &[(&str, &str)] = &[
            ("k: |\n  a\n  b\n", r#"{"k":"a\nb\n"}"#),
            ("k: |-\n  a\n\n", r#"{"k":"a"}"#),
            ("k: |+\n  a\n\n", r#"{"k":"a\n\n"}"#),
            ("k: >\n  a\n  b\n\n  c\n", r#"{"k":"a b\nc\n"}"#),
            ("k: >\n  a\n    x\n  b\n", r#"{"k":"a\n  x\nb\n"}"#),
            ("k: |2\n    a\n", r#"{"k":"  a\n"}"#),
            ("- |\n  a\n- b\n", r#"["a\n","b"]"#),
            ("k: |\n  a\n\tb\n", ""),
            ("k: |\nn: 1\n", r#"{"k":"","n":1}"#),
            ("k: |\n  tab\there\n", r#"{"k":"tab\there\n"}"#),
        ];
        for (src, want) in cases.iter().filter(|(_, w)| !w.is_empty()) {
            assert_eq!(json(src), *want, "{src:?}");
        }
    }

    #[test]
    fn flow_and_json() {
        let cases: &[(&str, &str)] = &[
            ("{\"a\": [1, 2, {\"b\": null}], \"c\": true}\n", r#"{"a":[1,2,{"b":null}],"c":true}"#),
            ("{\"a\":1,\"b\":\"x\"}", r#"{"a":1,"b":"x"}"#),
            ("k: [a, b ,c]\n", r#"{"k":["a","b","c"]}"#),
            ("k: {a: 1, b: [x, y, z]}\n", r#"{"k":{"a":1,"b":["x",true,"z"]}}"#),
            ("k: [\n  a,\n  b,\n]\n", r#"{"k":["a","b"]}"#),
            ("k: {}\nl: []\n", r#"{"k":{},"l":[]}"#),
            ("k: [a: 1]\n", r#"{"k":[{"a":1}]}"#),
        ];
        for (src, want) in cases {
            assert_eq!(json(src), *want, "{src:?}");
        }
    }

    #[test]
    fn errors_are_specific() {
        assert!(fails("a: 1\na: 2\n").contains("duplicate key 'a'"));
        assert!(fails("a: \"open\n").contains("unclosed double-quoted"));
        assert!(fails("a: 'open\n").contains("unclosed single-quoted"));
        assert!(fails("a: [1, 2\n").contains("unclosed flow collection"));
        assert!(fails("a:\n\tb: 1\n").contains("tab character"));
        assert!(fails("a:\n    b: 1\n  c: 2\n").contains("bad indentation"));
        assert!(fails("a: b: c\n").contains("not allowed here"));
        let e = parse("a: 1\n   b: 2\n", &Limits::default()).unwrap_err();
        assert!(e.msg.starts_with("bad indentation: this key is indented more") && e.offset == 8, "{e:?}");
        assert!(fails("a: {b: c\nd: e\n").contains("is the '{' before it closed?"));
        assert!(fails("? a\n: b\n").contains("explicit keys"));
        assert!(fails("a: - b\n").contains("same line"));
        // Found by the fuzzer: a NUL in a parsed document hung the parser.
        let e = parse("kind: Deployment\nspec:\n  a: b\0\0\n  c: d\n", &Limits::default()).unwrap_err();
        assert_eq!((e.offset, e.msg.as_str()), (29, "control character U+0000 is not allowed in YAML"));
        for c in ['\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}'] {
            assert!(fails(&format!("a: x{c}y\n")).starts_with("control character"), "{c:?}");
        }
        assert!(parse("a: \"x\ty\"\r\nb: 1\r\n", &Limits::default()).is_ok());
        let deep = "[".repeat(1000);
        assert!(fails(&deep).contains("nesting deeper"));
    }

    #[test]
    fn properties_on_their_own_line() {
        // The suite's 7BMT/U3XV: the key keeps its anchor, the map its own.
        let n = parse("top: &node\n  &k key: one\n", &Limits::default()).unwrap().unwrap();
        let m = n.get("top").unwrap();
        assert_eq!(m.anchor.as_deref(), Some("node"));
        assert_eq!((m.entries()[0].key.key_str(), m.entries()[0].key.anchor.as_deref()), (Some("key"), Some("k")));
        // A container written `- &appc` then `&vm volumeMounts:`.
        let n = parse("- &appc\n  &vm volumeMounts: []\n  name: app\n", &Limits::default()).unwrap().unwrap();
        let c = n.items().next().unwrap();
        assert!(c.get("volumeMounts").is_some() && c.str_at(&["name"]) == Some("app"));
        assert_eq!(json("--- !!str\n&a scalar\n"), r#""scalar""#);
        // An anchored or tagged first key (the suite's ZH7C, 74H7).
        assert_eq!(json("&a a: b\nc: &d d\n"), r#"{"a":"b","c":"d"}"#);
        assert_eq!(json("spec:\n  &r replicas: 1\n  b: *r\n"), r#"{"spec":{"replicas":1,"b":"replicas"}}"#);
        assert_eq!(json("{foo\n: bar}\n"), r#"{"foo":"bar"}"#);
    }

    #[test]
    fn keep_chomped_span_holds_its_empty_lines() {
        let src = "a: |+\n  run\n\n\nb: 1\n";
        let n = parse(src, &Limits::default()).unwrap().unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(&src[a.start as usize..a.end as usize], "|+\n  run\n\n");
        assert_eq!(json(src), r#"{"a":"run\n\n\n","b":1}"#);
        assert_eq!(json("- |+\n   \n"), r#"["\n"]"#);
    }

    #[test]
    fn spans_cover_nodes() {
        let src = "---\n# Source: x\nkind: Deployment\nspec:\n  a: [1, 2]  # c\n  b: |\n    t\n";
        let n = parse(src, &Limits::default()).unwrap().unwrap();
        assert_eq!(&src[n.start as usize..n.end as usize], &src[16..src.len() - 1]);
        let a = n.path(&["spec", "a"]).unwrap();
        assert_eq!(&src[a.start as usize..a.end as usize], "[1, 2]");
        let b = n.path(&["spec", "b"]).unwrap();
        assert_eq!(&src[b.start as usize..b.end as usize], "|\n    t");
    }
}
