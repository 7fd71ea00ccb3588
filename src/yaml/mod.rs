//! The one place that knows YAML: split a stream, parse a document into a
//! tree that remembers its source, and render an edited tree back.

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

/// Convert a tree to JSON the way kubectl reads YAML (go-yaml v2 semantics:
/// YAML 1.1 scalars, aliases expanded, `<<` merge keys applied). Alias
/// expansion is bounded by `limits.max_alias_nodes`.
pub fn to_json(n: &Node, limits: &Limits) -> Result<serde_json::Value, String> {
    let mut anchors = HashMap::new();
    let mut budget = limits.max_alias_nodes;
    convert(n, &mut anchors, &mut budget, 0, limits.max_depth)
}

fn convert<'n>(
    n: &'n Node,
    anchors: &mut HashMap<&'n str, &'n Node>,
    budget: &mut usize,
    depth: usize,
    max_depth: usize,
) -> Result<serde_json::Value, String> {
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
                None => return Err(format!("the value {} has no JSON form", s.value)),
            },
            Resolved::Str(v) => Value::String(v.to_string()),
        },
        Kind::Alias(name) => {
            let target =
                *anchors.get(name.as_str()).ok_or_else(|| format!("alias *{name} names no anchor before it"))?;
            let count = count_nodes(target, *budget + 1);
            if count > *budget {
                return Err(format!(
                    "aliases expand to more than the {} nodes allowed (--max-alias-nodes); is this an alias bomb?",
                    count.max(*budget)
                ));
            }
            *budget -= count;
            convert(target, anchors, budget, depth + 1, max_depth)?
        }
        Kind::Seq { items, .. } => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(convert(&i.node, anchors, budget, depth + 1, max_depth)?);
            }
            Value::Array(out)
        }
        Kind::Map { entries, .. } => {
            let mut out = serde_json::Map::new();
            let mut merges = Vec::new();
            for e in entries {
                let key = match e.key.scalar() {
                    Some(s) => s.value.clone(),
                    None => return Err("a mapping key is not a string".into()),
                };
                let v = convert(&e.value, anchors, budget, depth + 1, max_depth)?;
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
        assert!(err.contains("alias bomb"), "{err}");
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
