//! Which workloads a command is about: `TYPE/NAME` arguments and `-l`
//! label selectors, spelled as kubectl spells them.

use std::fmt;

/// A workload kind this tool can rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }

    pub fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "Deployment" => Some(WorkloadKind::Deployment),
            "StatefulSet" => Some(WorkloadKind::StatefulSet),
            _ => None,
        }
    }

    /// kubectl's resource name, for messages and commands.
    pub fn resource(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
        }
    }
}

/// `deployment/web`, `deploy/web`, `deployments.apps/web`, `sts/db`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: WorkloadKind,
    pub name: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.resource(), self.name)
    }
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        let Some((ty, name)) = s.split_once('/') else {
            return Err(format!("{s:?} is not TYPE/NAME (for example deployment/web); to read a file use -f {s}"));
        };
        let ty_l = ty.to_ascii_lowercase();
        let ty_base = ty_l.strip_suffix(".apps").unwrap_or(&ty_l);
        let kind = match ty_base {
            "deployment" | "deployments" | "deploy" => WorkloadKind::Deployment,
            "statefulset" | "statefulsets" | "sts" => WorkloadKind::StatefulSet,
            "daemonset" | "daemonsets" | "ds" | "job" | "jobs" | "cronjob" | "cronjobs" | "cj" | "pod" | "pods"
            | "po" | "replicaset" | "replicasets" | "rs" => {
                return Err(format!(
                    "{ty}: kubectl-persist rewrites Deployments and StatefulSets; {s} cannot get per-pod claims"
                ))
            }
            _ => return Err(format!("{ty:?} is not a workload type (use deployment/NAME or statefulset/NAME)")),
        };
        if name.is_empty() || name.contains('/') {
            return Err(format!("{s:?}: expected TYPE/NAME with one '/'"));
        }
        Ok(Target { kind, name: name.to_string() })
    }
}

/// A label selector as `kubectl get -l` takes it: `a=b`, `a==b`, `a!=b`,
/// `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined with commas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    reqs: Vec<Req>,
    text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Selector {
    pub fn parse(s: &str) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                return Err(format!("selector {s:?} has an empty requirement"));
            }
            let bad = || format!("cannot read {p:?} in selector {s:?}");
            let req = if let Some(k) = p.strip_prefix('!') {
                Req::NotExists(check_key(k.trim()).ok_or_else(bad)?)
            } else if let Some((k, v)) = p.split_once("!=") {
                Req::Ne(check_key(k.trim()).ok_or_else(bad)?, check_value(v.trim()).ok_or_else(bad)?)
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                Req::Eq(check_key(k.trim()).ok_or_else(bad)?, check_value(v.trim()).ok_or_else(bad)?)
            } else if let Some((k, rest)) = split_word(p, " notin ") {
                Req::NotIn(check_key(k).ok_or_else(bad)?, set_values(rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = split_word(p, " in ") {
                Req::In(check_key(k).ok_or_else(bad)?, set_values(rest).ok_or_else(bad)?)
            } else {
                Req::Exists(check_key(p).ok_or_else(bad)?)
            };
            reqs.push(req);
        }
        Ok(Selector { reqs, text: s.to_string() })
    }

    pub fn matches<'a>(&self, labels: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.reqs.iter().all(|r| match r {
            Req::Eq(k, v) => labels(k) == Some(v.as_str()),
            Req::Ne(k, v) => labels(k) != Some(v.as_str()),
            Req::In(k, vs) => labels(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Req::NotIn(k, vs) => labels(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Req::Exists(k) => labels(k).is_some(),
            Req::NotExists(k) => labels(k).is_none(),
        })
    }
}

/// Split on commas that are not inside `( )`.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn split_word<'a>(p: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    p.find(word).map(|i| (p[..i].trim(), p[i + word.len()..].trim()))
}

fn set_values(rest: &str) -> Option<Vec<String>> {
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    inner.split(',').map(|v| check_value(v.trim())).collect()
}

/// A label value: empty, or up to 63 characters of letters, digits, `-`,
/// `_` and `.`, starting and ending with a letter or digit (`a=(` is none).
fn check_value(v: &str) -> Option<String> {
    let inner = v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let ends = v.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && v.chars().last().is_none_or(|c| c.is_ascii_alphanumeric());
    (v.len() <= 63 && inner && ends).then(|| v.to_string())
}

fn check_key(k: &str) -> Option<String> {
    let ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    ok.then(|| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        for (s, kind, name) in [
            ("deployment/web", WorkloadKind::Deployment, "web"),
            ("deploy/web", WorkloadKind::Deployment, "web"),
            ("deployments.apps/web", WorkloadKind::Deployment, "web"),
            ("statefulset/db", WorkloadKind::StatefulSet, "db"),
            ("sts/db", WorkloadKind::StatefulSet, "db"),
        ] {
            assert_eq!(Target::parse(s).unwrap(), Target { kind, name: name.into() });
        }
        assert!(Target::parse("web").unwrap_err().contains("-f web"));
        assert!(Target::parse("daemonset/x").unwrap_err().contains("cannot get per-pod claims"));
        assert!(Target::parse("configmap/x").is_err());
    }

    #[test]
    fn selectors() {
        let labels = |k: &str| match k {
            "app" => Some("web"),
            "tier" => Some("front"),
            _ => None,
        };
        for (s, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app=web,tier=front", true),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=db", false),
        ] {
            assert_eq!(Selector::parse(s).unwrap().matches(labels), want, "{s}");
        }
        assert!(Selector::parse("app=web,").is_err());
        assert!(Selector::parse("a in x").is_err());
    }
}
