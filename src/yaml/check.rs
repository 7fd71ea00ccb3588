//! A second reading of every parsed document, by a maintained parser.
//!
//! The tree comes from [`super::parse`], which keeps byte spans for
//! format-preserving edits. Before it is used, saphyr-parser (which passes the
//! whole YAML test suite) reads the same text, and its events must match the
//! tree: structure, scalar text and style, anchors, aliases and tags. Invalid
//! YAML the hand parser let through is refused with saphyr's message, and a
//! construct the two read differently is refused rather than guessed: a
//! wrong reading never reaches a rewrite. Measured in the README ("Why a YAML
//! parser of its own").

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::node::{Kind, Node, Style};
use super::parse::ParseError;

/// Check `tree` (what [`super::parse::parse`] read from `text`) against a
/// second parser. `text` is one document.
pub fn cross_check(text: &str, tree: Option<&Node>) -> Result<(), ParseError> {
    let mut events = Vec::new();
    for ev in Parser::new_from_str(text) {
        match ev {
            Ok((Event::StreamStart | Event::StreamEnd | Event::Nothing, _)) => {}
            Ok(e) => events.push(e),
            // Aliases are check_aliases's to judge, with its own messages.
            Err(e) if e.info().contains("unknown anchor") => return Ok(()),
            // saphyr follows YAML 1.2 to the letter; kubectl's parser (go-yaml,
            // libyaml's lineage) is laxer in places real charts rely on, such
            // as a flow sequence's `]` at its key's indentation. When libyaml
            // reads the document too, kubectl does: keep the hand parser's tree.
            Err(e) if (e.info().contains("indentation") || e.info().contains("tab")) && libyaml_reads(text) => {
                return Ok(())
            }
            Err(e) => {
                return Err(ParseError {
                    offset: byte_offset(text, e.marker().index()),
                    msg: format!("invalid YAML: {}", e.info()),
                })
            }
        }
    }
    let docs = events.iter().filter(|(e, _)| matches!(e, Event::DocumentStart(_))).count();
    let differ = |offset: usize| {
        Err(ParseError {
            offset,
            msg: "YAML that can be read two ways: a second, reference parser reads this node differently, so \
                  nothing is rewritten; write it more plainly (quote the value, put anchors and tags on the \
                  line of their node)"
                .into(),
        })
    };
    let Some(root) = tree else {
        // Only comments, or an explicit empty document.
        let empty = match events.as_slice() {
            [] => true,
            [(Event::DocumentStart(_), _), (Event::Scalar(v, ScalarStyle::Plain, 0, None), _), (Event::DocumentEnd, _)] => {
                v.is_empty()
            }
            _ => false,
        };
        return if empty { Ok(()) } else { differ(0) };
    };
    if docs != 1 {
        return differ(root.start as usize);
    }
    let mut w = Walk { events: &events, at: 1, anchors: HashMap::new() };
    match w.node(root) {
        Ok(()) if matches!(events.get(w.at), Some((Event::DocumentEnd, _))) => Ok(()),
        Ok(()) => differ(root.start as usize),
        Err(offset) => differ(offset),
    }
}

/// Does libyaml (through serde_yaml) read the document without an error?
fn libyaml_reads(text: &str) -> bool {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text).all(|d| serde::de::IgnoredAny::deserialize(d).is_ok())
}

/// saphyr counts positions in characters; messages want bytes.
fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices().nth(chars).map_or(text.len(), |(i, _)| i)
}

struct Walk<'e, 'i, 'n> {
    events: &'e [(Event<'i>, Span)],
    at: usize,
    /// Our anchor names to saphyr's anchor ids.
    anchors: HashMap<&'n str, usize>,
}

impl<'n> Walk<'_, '_, 'n> {
    /// Consume the events of one node; `Err(offset)` at the first difference.
    fn node(&mut self, n: &'n Node) -> Result<(), usize> {
        let here = n.start as usize;
        let Some((ev, _)) = self.events.get(self.at) else { return Err(here) };
        self.at += 1;
        let (id, tag) = match (ev, &n.kind) {
            (Event::Scalar(v, style, id, tag), Kind::Scalar(s)) => {
                let same_style = matches!(
                    (style, s.style),
                    (ScalarStyle::Plain, Style::Plain)
                        | (ScalarStyle::SingleQuoted, Style::Single)
                        | (ScalarStyle::DoubleQuoted, Style::Double)
                        | (ScalarStyle::Literal, Style::Literal)
                        | (ScalarStyle::Folded, Style::Folded)
                );
                if !same_style || v.as_ref() != s.value {
                    return Err(here);
                }
                (*id, tag)
            }
            (Event::Alias(id), Kind::Alias(name)) => {
                return if self.anchors.get(name.as_str()) == Some(id) { Ok(()) } else { Err(here) };
            }
            (Event::MappingStart(id, tag), Kind::Map { entries, .. }) => {
                self.props(n, *id, tag.as_deref())?;
                for e in entries {
                    self.node(&e.key)?;
                    self.node(&e.value)?;
                }
                return self.end(n, |e| matches!(e, Event::MappingEnd));
            }
            (Event::SequenceStart(id, tag), Kind::Seq { items, .. }) => {
                self.props(n, *id, tag.as_deref())?;
                for i in items {
                    self.node(&i.node)?;
                }
                return self.end(n, |e| matches!(e, Event::SequenceEnd));
            }
            _ => return Err(here),
        };
        self.props(n, id, tag.as_deref())
    }

    fn end(&mut self, n: &Node, is_end: impl Fn(&Event) -> bool) -> Result<(), usize> {
        match self.events.get(self.at) {
            Some((e, _)) if is_end(e) => {
                self.at += 1;
                Ok(())
            }
            // The other parser has more entries or items than we do.
            _ => Err(n.end as usize),
        }
    }

    fn props(&mut self, n: &'n Node, id: usize, tag: Option<&saphyr_parser::Tag>) -> Result<(), usize> {
        match &n.anchor {
            Some(a) if id != 0 => {
                self.anchors.insert(a.as_str(), id);
            }
            None if id == 0 => {}
            _ => return Err(n.start as usize),
        }
        let theirs = tag.map(|t| format!("{}{}", t.handle, t.suffix));
        if theirs != n.tag.as_deref().map(full_tag) {
            return Err(n.start as usize);
        }
        Ok(())
    }
}

/// A tag as written (`!!str`, `!local`, `!<tag:x>`) in full.
fn full_tag(t: &str) -> String {
    if let Some(v) = t.strip_prefix("!<") {
        v.strip_suffix('>').unwrap_or(v).to_string()
    } else if let Some(v) = t.strip_prefix("!!") {
        format!("tag:yaml.org,2002:{v}")
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse, Limits};

    fn msg(src: &str) -> String {
        parse(src, &Limits::default()).unwrap_err().msg
    }

    #[test]
    fn invalid_yaml_the_hand_parser_accepts_is_refused() {
        // Suite cases the hand parser alone accepted (SU5Z, 9JBA, YJV2).
        for src in ["key: \"value\"# invalid comment\n", "---\n[ a, b, c, ]#invalid\n", "[-]\n"] {
            assert!(msg(src).starts_with("invalid YAML: "), "{src:?}: {}", msg(src));
        }
    }

    #[test]
    fn layout_kubectl_accepts_is_accepted() {
        // minio's chart: a flow sequence closed at its key's indentation.
        // YAML 1.2 says no, kubectl (go-yaml) and libyaml read it.
        let src = "spec:\n  command: [\n    \"x\"\n  ]\n  b: 1\n";
        assert!(parse(src, &Limits::default()).is_ok());
    }

    #[test]
    fn a_different_reading_is_refused() {
        // A keep-chomped scalar whose last line is spaces without a line
        // break (the suite's JEF9): the two parsers read it differently.
        let e = parse("- |+\n   ", &Limits::default()).unwrap_err();
        assert!(e.msg.starts_with("YAML that can be read two ways") && e.offset == 2, "{e:?}");
        // Properties on a line of their own: both read them alike now.
        assert!(parse("--- !!str\n&a2 scalar2\n", &Limits::default()).is_ok());
        // A named tag handle needs %TAG: the hand parser refuses it first.
        assert!(msg("a: !e!foo bar\n").contains("%TAG"));
    }

    #[test]
    fn tags_compare_in_full() {
        for src in ["a: !!str 1\n", "a: !local x\n", "a: !<tag:example.com,2000:x> y\n", "- ! a\n"] {
            assert!(parse(src, &Limits::default()).is_ok(), "{src}");
        }
    }
}
