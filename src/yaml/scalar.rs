//! What a scalar means, and how to write a new one so that it keeps meaning that.
//!
//! kubectl and Helm read YAML with go-yaml v2 (through sigs.k8s.io/yaml), which
//! follows YAML 1.1: `0755` is the octal number 493, `yes`/`on`/`y` are
//! booleans, `1e3` is a float. [`resolve`] mirrors those rules so that the JSON
//! this tool emits and the numbers it compares mean what kubectl would read.
//! [`needs_quotes`] is stricter still: a new string is written plain only when
//! YAML 1.1 (go-yaml and PyYAML) and YAML 1.2 all read it back as that string.

use super::node::{Scalar, Style};

#[derive(Clone, Debug, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

/// Resolve a scalar as go-yaml v2 does (tags `!!str`, `!!int`, ... respected).
pub fn resolve<'a>(s: &'a Scalar, tag: Option<&str>) -> Resolved<'a> {
    match tag {
        Some("!!str") | Some("tag:yaml.org,2002:str") => return Resolved::Str(&s.value),
        Some("!!null") => return Resolved::Null,
        Some("!!bool") | Some("!!int") | Some("!!float") => return resolve_plain(&s.value),
        Some(t) if t != "!" => {}
        _ => {}
    }
    if tag == Some("!") {
        return Resolved::Str(&s.value);
    }
    match s.style {
        Style::Plain => resolve_plain(&s.value),
        _ => Resolved::Str(&s.value),
    }
}

/// go-yaml v2's resolution of an untagged plain scalar.
pub fn resolve_plain(v: &str) -> Resolved<'_> {
    match v {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let first = v.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.') {
        let plain: String = v.chars().filter(|&c| c != '_').collect();
        if let Some(i) = go_parse_int(&plain) {
            return Resolved::Int(i);
        }
        if let Some(f) = go_parse_float(&plain) {
            return Resolved::Float(f);
        }
    }
    Resolved::Str(v)
}

/// Go's `strconv.ParseInt(s, 0, 64)` (and ParseUint): sign, then `0x`, `0o`,
/// `0b` or a leading `0` (octal) prefix.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = u128::from_str_radix(digits, radix).ok()?;
    // ParseInt/ParseUint accept up to 64 bits.
    if n > u64::MAX as u128 || (neg && n > i64::MAX as u128 + 1) {
        return None;
    }
    let n = n as i128;
    Some(if neg { -n } else { n })
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal forms plus inf/nan words.
fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if s.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if lower == "nan" {
        return (body.len() == s.len()).then_some(f64::NAN);
    }
    // Only the decimal syntax: digits, one dot, an exponent. Rust's parser
    // accepts the same set once words are excluded.
    if !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    if !body.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<f64>().ok()
}

/// True when `s`, written as a plain scalar, would not read back as the
/// string `s` under YAML 1.1 (go-yaml, PyYAML) or YAML 1.2, or is not valid
/// plain syntax. `flow` adds the flow-context restrictions.
pub fn needs_quotes(s: &str, flow: bool) -> bool {
    if s.is_empty() || !matches!(resolve_plain(s), Resolved::Str(_)) {
        return true;
    }
    if yaml11_non_string(s) {
        return true;
    }
    let b = s.as_bytes();
    let first = b[0];
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first) || first == b' ' || b[b.len() - 1] == b' ' {
        return true;
    }
    if s.starts_with("...") || s.starts_with("---") {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    if flow && s.bytes().any(|c| b",[]{}".contains(&c)) {
        return true;
    }
    s.chars().any(|c| c.is_control() || c == '\u{FEFF}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}')
}

/// YAML 1.1 resolutions PyYAML applies that go-yaml does not: sexagesimal
/// numbers, timestamps, dotted floats, `=` and `<<`.
fn yaml11_non_string(s: &str) -> bool {
    if s == "=" || s == "<<" {
        return true;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let b = body.as_bytes();
    if b.is_empty() {
        return false;
    }
    // Anything number-shaped: digits, '_', ':', '.', exponent. PyYAML's float
    // pattern `[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?` and sexagesimal
    // `[0-9][0-9_]*(:[0-5]?[0-9])+` both fall in here.
    let numberish = (b[0].is_ascii_digit() || b[0] == b'.')
        && b.iter().all(|c| c.is_ascii_digit() || matches!(c, b'_' | b':' | b'.' | b'e' | b'E' | b'+' | b'-'));
    if numberish && b.iter().any(|c| c.is_ascii_digit()) {
        return true;
    }
    // Timestamps: 2001-12-14, 2001-12-14t21:59:43.10-05:00, ...
    let sb = s.as_bytes();
    sb.len() >= 8 && sb[..4].iter().all(u8::is_ascii_digit) && sb[4] == b'-' && sb[5].is_ascii_digit()
}

/// Write `s` as a double-quoted scalar (also valid JSON).
pub fn double_quoted(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{FEFF}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Write `s` single-quoted (only when it has no line breaks).
pub fn single_quoted(s: &str, out: &mut String) {
    out.push('\'');
    out.push_str(&s.replace('\'', "''"));
    out.push('\'');
}

/// Render a scalar value that has no source text (new, or changed by a rule).
/// `json` forces JSON syntax (double quotes for every string).
pub fn render_scalar(s: &Scalar, flow: bool, json: bool, out: &mut String) {
    match s.style {
        Style::Plain => out.push_str(&s.value),
        Style::Single if !s.value.contains('\n') && !json => single_quoted(&s.value, out),
        Style::Str if !json && !needs_quotes(&s.value, flow) => out.push_str(&s.value),
        _ => double_quoted(&s.value, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: &str) -> Scalar {
        Scalar { value: v.to_string(), style: Style::Plain }
    }

    #[test]
    fn yaml11_meanings() {
        let cases: &[(&str, Resolved)] = &[
            ("0755", Resolved::Int(493)),
            ("0644", Resolved::Int(420)),
            ("0o17", Resolved::Int(15)),
            ("0x1F", Resolved::Int(31)),
            ("0b101", Resolved::Int(5)),
            ("1_000", Resolved::Int(1000)),
            ("-12", Resolved::Int(-12)),
            ("1e3", Resolved::Float(1000.0)),
            ("1.5", Resolved::Float(1.5)),
            (".5", Resolved::Float(0.5)),
            ("yes", Resolved::Bool(true)),
            ("on", Resolved::Bool(true)),
            ("y", Resolved::Bool(true)),
            ("Off", Resolved::Bool(false)),
            ("n", Resolved::Bool(false)),
            ("~", Resolved::Null),
            ("", Resolved::Null),
            ("null", Resolved::Null),
            ("1Gi", Resolved::Str("1Gi")),
            ("/data", Resolved::Str("/data")),
            ("2001-12-14", Resolved::Str("2001-12-14")),
            ("=", Resolved::Str("=")),
        ];
        for (text, want) in cases {
            assert_eq!(&resolve(&plain(text), None), want, "{text}");
        }
    }

    #[test]
    fn quoted_and_tagged_scalars_stay_strings() {
        let s = Scalar { value: "0755".into(), style: Style::Double };
        assert_eq!(resolve(&s, None), Resolved::Str("0755"));
        assert_eq!(resolve(&plain("0755"), Some("!!str")), Resolved::Str("0755"));
    }

    #[test]
    fn new_strings_that_would_change_meaning_are_quoted() {
        for s in [
            "on",
            "yes",
            "y",
            "Y",
            "no",
            "off",
            "true",
            "0777",
            "1e3",
            "~",
            "null",
            "2001-12-14",
            "12:30",
            "1.2.3",
            "=",
            "<<",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "-x",
            "*x",
            "&x",
            "!x",
            "[x",
            "{x",
            "#x",
            "|",
            ">",
            "'x",
            "\"x",
            "%x",
            "@x",
            "`x",
            "---",
            "...",
            "a\nb",
            "0x1F",
            ".inf",
            "+1",
            "-.5",
        ] {
            assert!(needs_quotes(s, false), "{s:?} must be quoted");
        }
        for s in ["data", "/var/lib/data", "1Gi", "ReadWriteOnce", "app.kubernetes.io/name", "web-0", "a-b_c.d", "x:y"]
        {
            assert!(!needs_quotes(s, false), "{s:?} can stay plain");
        }
        assert!(needs_quotes("a,b", true));
        assert!(!needs_quotes("a,b", false));
    }

    #[test]
    fn quoted_strings_round_trip_through_resolution() {
        for s in ["on", "0755", "1e3", "~", "a\"b\\c", "tab\there", "line\nbreak", "\u{7f}x", "é", "'", "a: b"] {
            let mut out = String::from("k: ");
            render_scalar(&Scalar { value: s.into(), style: Style::Str }, false, false, &mut out);
            let n = crate::yaml::parse::parse(&out, &Default::default()).unwrap().unwrap();
            assert_eq!(n.get("k").unwrap().resolve(), Some(Resolved::Str(s)), "{s:?} -> {out}");
        }
    }
}
