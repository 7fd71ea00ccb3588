//! Split a stream into documents without parsing them, and read each
//! document's `kind`, `apiVersion`, name and namespace with a line scan.
//!
//! The scan looks only at lines that start in column 0 (top-level keys; YAML
//! requires everything nested to be indented) and at the direct children of
//! `metadata:`. Documents whose head cannot be read that way (JSON, tags,
//! anchors or flow values at the top) are marked `uncertain` and parsed in full
//! when the caller needs to know what they are.

use memchr::memchr;

/// One document of a stream: a slice of the input, separator line included.
#[derive(Debug, Clone)]
pub struct Doc<'a> {
    /// The document's bytes, from its `---` line (if any) up to the next one.
    pub text: &'a str,
    /// Byte offset of `text` in the input.
    pub offset: usize,
    /// 1-based line of `text` in the input.
    pub line: usize,
    /// Whether YAML counts this as a document (a comment block before the
    /// first `---` is not one).
    pub counted: bool,
    pub head: Head<'a>,
}

/// What the line scan found at the top of a document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Head<'a> {
    pub kind: Option<&'a str>,
    pub api_version: Option<&'a str>,
    pub name: Option<&'a str>,
    pub namespace: Option<&'a str>,
    /// Only comments and blank lines.
    pub empty: bool,
    /// The scan could not read the head reliably: parse to know.
    pub uncertain: bool,
    /// The first `# Source:` comment, as Helm 3 writes it.
    pub source: Option<&'a str>,
}

fn line_end(b: &[u8], from: usize) -> usize {
    memchr(b'\n', &b[from..]).map_or(b.len(), |i| from + i + 1)
}

fn is_marker(line: &[u8], marker: &[u8; 3]) -> bool {
    line.starts_with(marker) && matches!(line.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

/// Split `text` into documents. Never fails: every byte of the input belongs to
/// exactly one document, in order, so concatenating `text`s gives the input.
///
/// Only lines that start with `---` or `...` can end a document, so the scan
/// jumps from one such line to the next (a SIMD substring search) instead of
/// visiting every line; line numbers are counted between them.
pub fn split(text: &str) -> Vec<Doc<'_>> {
    let b = text.as_bytes();
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    // The 1-based line of `counted_to`.
    let mut line_no = 1usize;
    let mut counted_to = 0usize;
    // A document starts at a `---` line, or with content after a `...` line
    // or at the start of the stream.
    let mut explicit = false;
    for pos in marker_candidates(b) {
        let line_for_marker = if pos == 0 && b.starts_with(BOM) { &b[3..] } else { &b[pos..] };
        let dashes = is_marker(line_for_marker, b"---");
        if !dashes && !is_marker(line_for_marker, b"...") {
            continue;
        }
        line_no += memchr::memchr_iter(b'\n', &b[counted_to..pos]).count();
        counted_to = pos;
        if dashes {
            if pos > start {
                docs.push(make(text, start, pos, start_line, explicit || has_content(&text[start..pos])));
            }
            start = pos;
            start_line = line_no;
            explicit = true;
        } else {
            // The marker ends the current document, which keeps it.
            let end = line_end(b, pos);
            docs.push(make(text, start, end, start_line, explicit || has_content(&text[start..pos])));
            start = end;
            start_line = line_no + 1;
            explicit = false;
        }
    }
    if start < b.len() {
        docs.push(make(text, start, b.len(), start_line, explicit || has_content(&text[start..])));
    }
    docs
}

const BOM: &[u8] = "\u{feff}".as_bytes();

/// The starts of the lines that may be document markers, in order: the start
/// of the text and every line that begins with `---` or `...`.
fn marker_candidates(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut dashes = memchr::memmem::find_iter(b, b"\n---").map(|i| i + 1).peekable();
    let mut dots = memchr::memmem::find_iter(b, b"\n...").map(|i| i + 1).peekable();
    let first = (!b.is_empty()).then_some(0);
    first.into_iter().chain(std::iter::from_fn(move || match (dashes.peek(), dots.peek()) {
        (Some(&a), Some(&d)) if d < a => dots.next(),
        (Some(_), _) => dashes.next(),
        (None, _) => dots.next(),
    }))
}

fn has_content(s: &str) -> bool {
    s.lines().any(|l| {
        let t = l.trim_start_matches('\u{feff}').trim();
        !t.is_empty() && !t.starts_with('#') && !t.starts_with('%')
    })
}

fn make(text: &str, start: usize, end: usize, line: usize, counted: bool) -> Doc<'_> {
    let t = &text[start..end];
    Doc { text: t, offset: start, line, counted, head: scan_head(t) }
}

/// Read kind, apiVersion, metadata.name and metadata.namespace from the
/// document's top-level lines.
pub fn scan_head(t: &str) -> Head<'_> {
    let b = t.as_bytes();
    let mut h = Head { empty: true, ..Head::default() };
    let mut pos = 0;
    let mut first_content = true;
    let mut in_metadata = false;
    let mut meta_indent: Option<usize> = None;
    while pos < b.len() {
        // Once the first content line is read, an indented line outside
        // `metadata:` cannot change the head: skip it without looking at it.
        // (Most of a manifest is such lines.)
        if !first_content && matches!(b[pos], b' ' | b'\t') {
            // Inside `metadata:` only its direct children count: a line
            // indented more (labels, annotations) is skipped the same way.
            let deeper = |mi: usize| b.get(pos + mi).is_some_and(|c| matches!(c, b' ' | b'\t'));
            if !in_metadata || meta_indent.is_some_and(deeper) {
                pos = line_end(b, pos);
                continue;
            }
        }
        let end = line_end(b, pos);
        let raw = &t[pos..end];
        pos = end;
        let line = raw.trim_end_matches(['\n', '\r']);
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        if is_marker(line.as_bytes(), b"---") || is_marker(line.as_bytes(), b"...") {
            let rest = line[3..].trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                // Content on the separator line (`--- !tag`, `--- {`): parse it.
                h.uncertain = true;
                h.empty = false;
            }
            continue;
        }
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with('#') {
            if h.source.is_none() && h.empty {
                if let Some(s) = trimmed.strip_prefix("# Source: ") {
                    h.source = Some(s.trim_end());
                }
            }
            continue;
        }
        if line.starts_with('%') && h.empty {
            continue;
        }
        h.empty = false;
        let indent = line.len() - trimmed.len();
        if first_content {
            first_content = false;
            if indent != 0 || !starts_like_block_key(trimmed) {
                h.uncertain = true;
                return h;
            }
        }
        if indent == 0 {
            in_metadata = false;
            if trimmed.starts_with(['-', '&', '*', '!', '?', '[', '{', '"', '\'', '<']) {
                // A quoted or special top-level key: fall back to parsing.
                if !trimmed.starts_with("\"") && !trimmed.starts_with('\'') {
                    h.uncertain = true;
                    return h;
                }
            }
            let Some((key, value)) = split_key(line) else { continue };
            match key {
                "kind" => set(&mut h, Field::Kind, value),
                "apiVersion" => set(&mut h, Field::ApiVersion, value),
                "metadata" => {
                    if value.is_some() {
                        h.uncertain = true;
                    }
                    in_metadata = true;
                    meta_indent = None;
                }
                "<<" => h.uncertain = true,
                _ => {}
            }
        } else if in_metadata {
            let mi = *meta_indent.get_or_insert(indent);
            if indent == mi {
                if let Some((key, value)) = split_key(trimmed) {
                    match key {
                        "name" => set(&mut h, Field::Name, value),
                        "namespace" => set(&mut h, Field::Namespace, value),
                        "<<" => h.uncertain = true,
                        _ => {}
                    }
                }
            }
        }
    }
    h
}

fn starts_like_block_key(line: &str) -> bool {
    !line.starts_with(['{', '[', '-', '&', '*', '!', '?', '|', '>'])
}

enum Field {
    Kind,
    ApiVersion,
    Name,
    Namespace,
}

/// Store a scanned value; values the scan cannot read simply (quoted with
/// escapes, anchors, block scalars, flow) make the head uncertain.
fn set<'a>(h: &mut Head<'a>, f: Field, value: Option<&'a str>) {
    let v = match value.map(simple_value) {
        Some(Some(v)) => Some(v),
        Some(None) => {
            h.uncertain = true;
            return;
        }
        None => None,
    };
    let slot = match f {
        Field::Kind => &mut h.kind,
        Field::ApiVersion => &mut h.api_version,
        Field::Name => &mut h.name,
        Field::Namespace => &mut h.namespace,
    };
    if slot.is_some() {
        // Same key twice: let the parser report it.
        h.uncertain = true;
    }
    *slot = v;
}

/// `key: value` on one line → (key, Some(value) | None for an empty value).
fn split_key(line: &str) -> Option<(&str, Option<&str>)> {
    let (key, rest) = if let Some(q) = line.strip_prefix('"') {
        let close = q.find('"')?;
        let r = q[close + 1..].trim_start();
        (&q[..close], r.strip_prefix(':')?)
    } else {
        let i = line.find(':')?;
        let after = line.as_bytes().get(i + 1);
        if !matches!(after, None | Some(b' ' | b'\t' | b'\r')) {
            return None;
        }
        (line[..i].trim_end(), &line[i + 1..])
    };
    let rest = strip_comment(rest).trim();
    Some((key, if rest.is_empty() { None } else { Some(rest) }))
}

fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'#' && (i == 0 || matches!(b[i - 1], b' ' | b'\t')) {
            return &s[..i];
        }
    }
    s
}

/// A value readable without a parser: plain text or a quoted string without
/// escapes. Anything else returns `None`.
fn simple_value(v: &str) -> Option<&str> {
    if let Some(q) = v.strip_prefix('"') {
        let inner = q.strip_suffix('"')?;
        return (!inner.contains(['"', '\\'])).then_some(inner);
    }
    if let Some(q) = v.strip_prefix('\'') {
        let inner = q.strip_suffix('\'')?;
        return (!inner.contains('\'')).then_some(inner);
    }
    if v.starts_with(['&', '*', '!', '|', '>', '[', '{', '@', '`', '%']) {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Option<&str>, Option<&str>, bool)> {
        split(s).iter().map(|d| (d.head.kind, d.head.name, d.counted)).collect()
    }

    #[test]
    fn concatenation_gives_the_input_back() {
        for s in [
            "",
            "---\n",
            "a: 1\n",
            "---\n# Source: x\nkind: A\n---\nkind: B\n",
            "# lead\n---\nkind: A\n...\n---\nkind: B",
            "\u{feff}---\r\nkind: A\r\n---\r\nkind: B\r\n",
            "kind: A\n...\nkind: B\n",
            "--- # c\nkind: A\n--- \nkind: B\n",
        ] {
            let joined: String = split(s).iter().map(|d| d.text).collect();
            assert_eq!(joined, s);
        }
    }

    #[test]
    fn heads() {
        let s = "---\n# Source: c/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  labels:\n    name: nope\n  name:  web # comment\n  namespace: \"demo\"\nspec: {}\n";
        let d = &split(s)[0];
        assert_eq!(d.head.kind, Some("Deployment"));
        assert_eq!(d.head.api_version, Some("apps/v1"));
        assert_eq!(d.head.name, Some("web"));
        assert_eq!(d.head.namespace, Some("demo"));
        assert_eq!(d.head.source, Some("c/templates/d.yaml"));
        assert!(!d.head.uncertain);
    }

    #[test]
    fn document_counting() {
        assert_eq!(kinds("# c\n---\nkind: A\n"), vec![(None, None, false), (Some("A"), None, true)]);
        assert_eq!(kinds("---\n# only comment\n---\nkind: A\n"), vec![(None, None, true), (Some("A"), None, true)]);
        assert_eq!(kinds("kind: A\n...\nkind: B\n"), vec![(Some("A"), None, true), (Some("B"), None, true)]);
    }

    #[test]
    fn unreadable_heads_are_uncertain() {
        for s in
            ["{\"kind\": \"Deployment\"}", "--- !!map\nkind: A\n", "kind: &k Deployment\n", "metadata: {name: x}\n"]
        {
            assert!(split(s)[0].head.uncertain, "{s}");
        }
    }

    /// The line-by-line splitter that the marker search replaced: every
    /// line is looked at. The oracle for `split`.
    fn split_by_lines(text: &str) -> Vec<(usize, usize, usize, bool)> {
        let b = text.as_bytes();
        let (mut out, mut start, mut start_line, mut pos, mut line_no, mut explicit) = (Vec::new(), 0, 1, 0, 1, false);
        while pos < b.len() {
            let end = line_end(b, pos);
            let line = &b[pos..end];
            let line = if pos == 0 && line.starts_with(BOM) { &line[3..] } else { line };
            if is_marker(line, b"---") {
                if pos > start {
                    out.push((start, pos, start_line, explicit || has_content(&text[start..pos])));
                }
                (start, start_line, explicit) = (pos, line_no, true);
            } else if is_marker(line, b"...") {
                out.push((start, end, start_line, explicit || has_content(&text[start..pos])));
                (start, start_line, explicit) = (end, line_no + 1, false);
            }
            pos = end;
            line_no += 1;
        }
        if start < b.len() {
            out.push((start, b.len(), start_line, explicit || has_content(&text[start..])));
        }
        out
    }

    fn spans(text: &str) -> Vec<(usize, usize, usize, bool)> {
        split(text).iter().map(|d| (d.offset, d.offset + d.text.len(), d.line, d.counted)).collect()
    }

    #[test]
    fn marker_search_agrees_with_a_line_scan() {
        // Every text of up to four lines from these pieces, with and without
        // a final newline and a BOM.
        let lines = ["---", "--- # c", "---x", "...", "....", "kind: A", "  - x", "# c", "", "---\t", " ---", "...\r"];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for t in &texts {
                for l in lines {
                    next.push(format!("{t}{l}\n"));
                }
            }
            texts.extend(next);
        }
        for t in texts {
            for t in [t.clone(), t.trim_end_matches('\n').to_string(), format!("\u{feff}{t}")] {
                assert_eq!(spans(&t), split_by_lines(&t), "{t:?}");
            }
        }
        // And real renders, where the corpus is there.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/rendered");
        for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap();
            assert_eq!(spans(&text), split_by_lines(&text), "{}", f.path().display());
        }
    }

    #[test]
    fn indented_lines_never_make_the_head() {
        let long = "  x: 1\n".repeat(100);
        fn h(s: &str) -> Head<'_> {
            split(s).swap_remove(0).head
        }
        // Keys inside `spec` are not top-level, however many lines come first.
        let t1 = format!("kind: A\nspec:\n{long}  kind: B\n  metadata:\n    name: n\nmetadata:\n  name: m\n");
        let d = h(&t1);
        assert_eq!((d.kind, d.name, d.uncertain), (Some("A"), Some("m"), false));
        // A top-level key after a long indented block is still seen.
        let t2 = format!("kind: A\nspec:\n{long}kind: B\n");
        let d = h(&t2);
        assert!(d.uncertain, "a second kind: is for the parser to report");
        let t3 = format!("kind: A\nspec:\n{long}\tmetadata: x\nmetadata:\n\tname: t\n");
        let d = h(&t3);
        assert_eq!((d.name, d.uncertain), (Some("t"), false));
        // The first content line decides, even when it is indented.
        assert!(h("---\n# c\n\n  kind: A\n").uncertain);
    }

    /// Where the scan reads a head (not uncertain), it reads what the parser reads.
    #[test]
    fn heads_agree_with_the_parser_on_the_corpus() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/rendered");
        let limits = crate::yaml::Limits::default();
        for f in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(f.path()).unwrap();
            for d in split(&text).iter().filter(|d| !d.head.uncertain && !d.head.empty) {
                let tree = crate::yaml::parse::parse(d.text, &limits).unwrap().unwrap();
                let at = |k: &[&str]| tree.str_at(k);
                let want = (at(&["kind"]), at(&["apiVersion"]), at(&["metadata", "name"]));
                let got = (d.head.kind, d.head.api_version, d.head.name);
                assert_eq!(got, want, "{} line {}", f.path().display(), d.line);
                assert_eq!(d.head.namespace, at(&["metadata", "namespace"]), "{} line {}", f.path().display(), d.line);
            }
        }
    }
}
