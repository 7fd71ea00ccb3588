//! The one place that knows YAML: split a stream, parse a document into a
//! tree that remembers its source, and render an edited tree back.

pub mod check;
pub mod node;
pub mod parse;
pub mod render;
pub mod scalar;
pub mod split;

use std::collections::HashMap;

pub use node::{Entry, Item, Kind, Node, Scalar, Style};
pub use parse::{Limits, ParseError};
use scalar::Resolved;

/// 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Check a parsed document's aliases the way kubectl would meet them: each
/// names an anchor written before it and not around it, and all of them
/// together expand to at most `limits.max_alias_nodes` nodes ("billion
/// laughs" is an error, not a hang). Linear in the size of the tree. The error
/// carries the byte offset of the alias.
pub fn check_aliases(n: &Node, limits: &Limits) -> Result<(), ParseError> {
    struct Walk<'n> {
        /// Expanded size of each anchor; `None` while its node is being read.
        sizes: HashMap<&'n str, Option<usize>>,
        added: usize,
        max: usize,
    }
    fn walk<'n>(n: &'n Node, w: &mut Walk<'n>) -> Result<usize, ParseError> {
        if let Some(a) = &n.anchor {
            w.sizes.insert(a.as_str(), None);
        }
        let err = |msg: String| Err(ParseError { offset: n.start as usize, msg });
        let size = match &n.kind {
            Kind::Scalar(_) => 1,
            Kind::Alias(name) => match w.sizes.get(name.as_str()) {
                None => return err(format!("alias *{name} names no anchor before it")),
                Some(None) => return err(format!("alias *{name} is inside the node it names (a recursive alias)")),
                Some(Some(size)) => {
                    w.added = w.added.saturating_add(*size);
                    if w.added > w.max {
                        return err(format!(
                            "aliases expand to more than the {} nodes allowed (--max-alias-nodes); is this an alias bomb?",
                            w.max
                        ));
                    }
                    *size
                }
            },
            Kind::Map { entries, .. } => {
                let mut total = 1usize;
                for e in entries {
                    total = total.saturating_add(walk(&e.key, w)?).saturating_add(walk(&e.value, w)?);
                }
                total
            }
            Kind::Seq { items, .. } => {
                let mut total = 1usize;
                for i in items {
                    total = total.saturating_add(walk(&i.node, w)?);
                }
                total
            }
        };
        if let Some(a) = &n.anchor {
            w.sizes.insert(a.as_str(), Some(size));
        }
        Ok(size)
    }
    walk(n, &mut Walk { sizes: HashMap::new(), added: 0, max: limits.max_alias_nodes }).map(|_| ())
}

/// Convert a tree to JSON the way kubectl reads YAML (go-yaml v2 semantics:
/// YAML 1.1 scalars, aliases expanded, `<<` merge keys applied). Alias
/// expansion is bounded by `limits.max_alias_nodes`.
pub fn to_json(n: &Node, limits: &Limits) -> Result<serde_json::Value, String> {
    let mut anchors = HashMap::new();
    let mut budget = limits.max_alias_nodes;
    convert(n, &mut anchors, &mut budget, 0, limits)
}

fn convert<'n>(
    n: &'n Node,
    anchors: &mut HashMap<&'n str, &'n Node>,
    budget: &mut usize,
    depth: usize,
    limits: &Limits,
) -> Result<serde_json::Value, String> {
    let max_depth = limits.max_depth;
    use serde_json::Value;
    if depth > max_depth {
        return Err(format!("aliases expand deeper than {max_depth} levels (--max-depth)"));
    }
    if let Some(a) = &n.anchor {
        anchors.insert(a.as_str(), n);
    }
    Ok(match &n.kind {
        Kind::Scalar(s) => match scalar::resolve(s, n.tag.as_deref()) {
            Resolved::Null => Value::Null,
            Resolved::Bool(b) => Value::Bool(b),
            Resolved::Int(i) => {
                if let Ok(v) = i64::try_from(i) {
                    Value::from(v)
                } else if let Ok(v) = u64::try_from(i) {
                    Value::from(v)
                } else {
                    Value::String(s.value.clone())
                }
            }
            Resolved::Float(f) => match serde_json::Number::from_f64(f) {
                Some(num) => Value::Number(num),
                // The value itself is not shown: it may be a Secret's.
                None => return Err("a float that is not finite (.inf or .nan) has no JSON form".into()),
            },
            Resolved::Str(v) => Value::String(v.to_string()),
        },
        Kind::Alias(name) => {
            let target =
                *anchors.get(name.as_str()).ok_or_else(|| format!("alias *{name} names no anchor before it"))?;
            let count = count_nodes(target, budget.saturating_add(1));
            if count > *budget {
                return Err(format!(
                    "aliases expand to more than the {} nodes allowed (--max-alias-nodes); is this an alias bomb?",
                    limits.max_alias_nodes
                ));
            }
            *budget -= count;
            convert(target, anchors, budget, depth + 1, limits)?
        }
        Kind::Seq { items, .. } => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(convert(&i.node, anchors, budget, depth + 1, limits)?);
            }
            Value::Array(out)
        }
        Kind::Map { entries, .. } => {
            let mut out = serde_json::Map::new();
            let mut merges = Vec::new();
            for e in entries {
                if let Some(a) = &e.key.anchor {
                    anchors.insert(a.as_str(), &e.key);
                }
                let key = match e.key.scalar() {
                    Some(s) => s.value.clone(),
                    None => return Err("a mapping key is not a string".into()),
                };
                let v = convert(&e.value, anchors, budget, depth + 1, limits)?;
                if key == "<<" && e.key.scalar().is_some_and(|s| s.style == Style::Plain) {
                    merges.push(v);
                } else {
                    out.insert(key, v);
                }
            }
            for m in merges {
                let maps = match m {
                    Value::Array(a) => a,
                    other => vec![other],
                };
                for map in maps {
                    if let Value::Object(o) = map {
                        for (k, v) in o {
                            out.entry(k).or_insert(v);
                        }
                    } else {
                        return Err("a '<<' merge key needs a mapping".into());
                    }
                }
            }
            Value::Object(out)
        }
    })
}

fn count_nodes(n: &Node, stop: usize) -> usize {
    let mut count = 1;
    match &n.kind {
        Kind::Map { entries, .. } => {
            for e in entries {
                if count > stop {
                    break;
                }
                count += count_nodes(&e.value, stop) + 1;
            }
        }
        Kind::Seq { items, .. } => {
            for i in items {
                if count > stop {
                    break;
                }
                count += count_nodes(&i.node, stop);
            }
        }
        // An alias inside counts at least one; its own expansion is charged
        // when it is converted.
        _ => {}
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_bombs_hit_the_limit() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            src.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = c;
        }
        let n = parse::parse(&src, &Limits::default()).unwrap().unwrap();
        let err = to_json(&n, &Limits::default()).unwrap_err();
        assert!(err.contains("alias bomb") && err.contains("the 100000 nodes"), "{err}");
    }

    #[test]
    fn alias_checks() {
        let check =
            |src: &str| check_aliases(&parse::parse(src, &Limits::default()).unwrap().unwrap(), &Limits::default());
        assert_eq!(check("a: &a [1, 2]\nb: *a\nc:\n  <<: *a\n"), Ok(()));
        // Redefined anchors: the latest one counts.
        assert_eq!(check("a: &a x\nb: &a [1]\nc: *a\n"), Ok(()));
        assert!(check("a: *nope\n").unwrap_err().msg.contains("names no anchor"));
        assert!(check("a: &a [1, *a]\n").unwrap_err().msg.contains("recursive alias"));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            bomb.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = c;
        }
        let e = check(&bomb).unwrap_err();
        assert!(e.msg.contains("more than the 100000 nodes allowed (--max-alias-nodes)"), "{e:?}");
        assert!(bomb[e.offset..].starts_with('*'), "the error points at an alias");
    }

    #[test]
    fn non_finite_floats_do_not_show_their_text() {
        let n = parse::parse("kind: Secret\nstringData:\n  password: .NaN\n", &Limits::default()).unwrap().unwrap();
        let e = to_json(&n, &Limits::default()).unwrap_err();
        assert!(e.contains("not finite") && !e.contains("NaN"), "{e}");
    }

    #[test]
    fn merge_keys_apply() {
        let n = parse::parse("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\n", &Limits::default()).unwrap().unwrap();
        assert_eq!(to_json(&n, &Limits::default()).unwrap().to_string(), r#"{"a":{"x":1,"y":2},"b":{"y":3,"x":1}}"#);
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("a\nbé c", 6), (2, 4));
    }
}
