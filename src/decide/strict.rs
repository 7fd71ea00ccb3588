//! Strict reading of the user's YAML files (config, catalogs): serde_yaml's
//! messages name the field and the line, except that for an unknown field
//! they give the line of the enclosing mapping; point at the field itself.

use crate::yaml;

/// serde_yaml's message, with the line of an unknown field where it can be found.
pub fn describe_serde_error(e: &serde_yaml::Error, text: &str) -> String {
    let msg = e.to_string();
    if let Some(line) = unknown_field_line(&msg, text) {
        let head = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]);
        return format!("line {line}: {head}");
    }
    match e.location() {
        Some(l) if !msg.contains("line ") => format!("line {}, column {}: {msg}", l.line(), l.column()),
        _ => msg,
    }
}

/// `rules[0].match: unknown field `nme`, ...` → the line of `nme:` in `text`.
fn unknown_field_line(msg: &str, text: &str) -> Option<usize> {
    let i = msg.find("unknown field `")?;
    let path = msg[..i].strip_suffix(": ").unwrap_or("");
    let rest = &msg[i + "unknown field `".len()..];
    let field = &rest[..rest.find('`')?];
    let root = yaml::parse::parse(text, &Default::default()).ok()??;
    let mut node = &root;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (key, index) = match seg.split_once('[') {
            Some((k, i)) => (k, Some(i.strip_suffix(']')?.parse::<usize>().ok()?)),
            None => (seg, None),
        };
        node = node.get(key)?;
        if let Some(i) = index {
            node = node.items().nth(i)?;
        }
    }
    let entry = node.entries().iter().find(|e| e.key.key_str() == Some(field))?;
    Some(yaml::line_col(text, entry.key.start as usize).0)
}
