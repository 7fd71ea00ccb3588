//! The `--config persist.yaml` file: rules matched by kind, name, namespace
//! and labels, each saying what to persist and how. Read strictly: an unknown
//! field is an error with its line.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::values;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Settings for every workload a rule does not override.
    #[serde(default)]
    pub defaults: Settings,
    /// Checked in order; the first rule whose `match` fits a workload decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// `auto`: read live StatefulSets when post-rendering (same as `--cluster`).
    #[serde(default)]
    pub cluster: Option<ClusterSetting>,
    /// Image catalog files to add (as `--catalog`), relative to this file.
    #[serde(default)]
    pub catalogs: Vec<String>,
    /// `--carry` when the flag is not given: auto, per-pod or none.
    #[serde(default)]
    pub carry: Option<String>,
    /// `--helper-image` when the flag is not given.
    #[serde(default, rename = "helperImage")]
    pub helper_image: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterSetting {
    Auto,
    Off,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    pub mode: Option<ModeName>,
    pub size: Option<String>,
    pub storage_class: Option<String>,
    pub access_modes: Option<Vec<String>>,
    pub fs_group: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Statefulset,
    Pvc,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    #[serde(rename = "match", default)]
    pub matcher: Match,
    #[serde(default)]
    pub paths: Vec<PathEntry>,
    #[serde(default)]
    pub skip: bool,
    #[serde(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    pub kind: Option<String>,
    /// Exact name, or a pattern with `*`.
    pub name: Option<String>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PathEntry {
    /// `[CONTAINER:]PATH`
    Short(String),
    Long(PathDetail),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PathDetail {
    pub path: String,
    pub container: Option<String>,
    /// The volume / claim template name to use instead of one made from the path.
    pub claim_name: Option<String>,
    pub size: Option<String>,
    pub storage_class: Option<String>,
    pub access_modes: Option<Vec<String>>,
}

impl ConfigFile {
    /// Read and check a config file. `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<ConfigFile, crate::Error> {
        let err = |msg: String| crate::Error::Config { file: name.to_string(), msg };
        if text.trim().is_empty() {
            return Ok(ConfigFile::default());
        }
        let cfg: ConfigFile =
            serde_yaml::from_str(text).map_err(|e| err(super::strict::describe_serde_error(&e, text)))?;
        cfg.check().map_err(err)?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        self.defaults.check().map_err(|e| format!("defaults: {e}"))?;
        for (i, r) in self.rules.iter().enumerate() {
            let at = |e: String| format!("rules[{i}]: {e}");
            r.settings.check().map_err(at)?;
            if let Some(k) = &r.matcher.kind {
                if super::select::WorkloadKind::from_kind(k).is_none() {
                    return Err(at(format!("match.kind {k:?} must be Deployment or StatefulSet")));
                }
            }
            if r.skip && !r.paths.is_empty() {
                return Err(at("a rule with skip: true cannot also list paths".into()));
            }
            for p in &r.paths {
                match p {
                    PathEntry::Short(s) => {
                        values::parse_path_spec(s).map_err(at)?;
                    }
                    PathEntry::Long(d) => {
                        values::check_path(&d.path).map_err(at)?;
                        if let Some(c) = &d.claim_name {
                            if !values::is_dns_label(c) {
                                return Err(at(format!(
                                    "claimName {c:?} is not a DNS label (lowercase, digits, '-', at most 63)"
                                )));
                            }
                        }
                        Settings {
                            size: d.size.clone(),
                            storage_class: d.storage_class.clone(),
                            access_modes: d.access_modes.clone(),
                            ..Settings::default()
                        }
                        .check()
                        .map_err(at)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Settings {
    fn check(&self) -> Result<(), String> {
        if let Some(s) = &self.size {
            values::check_quantity(s)?;
        }
        if let Some(s) = &self.storage_class {
            values::check_storage_class(s)?;
        }
        if let Some(m) = &self.access_modes {
            values::check_access_modes(m)?;
        }
        if let Some(g) = self.fs_group {
            values::check_fs_group(g)?;
        }
        Ok(())
    }
}

impl Match {
    pub fn matches<'a>(
        &self,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        label: impl Fn(&str) -> Option<&'a str>,
    ) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.name.as_deref().is_none_or(|p| glob(p, name))
            && self.namespace.as_deref().is_none_or(|n| Some(n) == namespace)
            && self.labels.iter().all(|(k, v)| label(k) == Some(v.as_str()))
    }
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_example() {
        let text = "defaults:\n  size: 2Gi\n  storageClass: fast\nrules:\n  - match: {kind: Deployment, name: 'web*', labels: {tier: db}}\n    paths: [/data, 'app:/config', {path: /x, claimName: xdata, size: 5Gi}]\n    mode: pvc\n  - match: {name: cache}\n    skip: true\n";
        let c = ConfigFile::parse(text, "persist.yaml").unwrap();
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.defaults.size.as_deref(), Some("2Gi"));
        assert_eq!(c.rules[0].settings.mode, Some(ModeName::Pvc));
        assert!(c.rules[0].matcher.matches("Deployment", "web-1", None, |k| (k == "tier").then_some("db")));
        assert!(!c.rules[0].matcher.matches("StatefulSet", "web-1", None, |k| (k == "tier").then_some("db")));
    }

    #[test]
    fn unknown_fields_name_their_line() {
        let e =
            ConfigFile::parse("rules:\n  - match: {name: x}\n    pth: [/data]\n", "p.yaml").unwrap_err().to_string();
        assert!(e.contains("p.yaml") && e.contains("pth") && e.contains("line 3"), "{e}");
        let e = ConfigFile::parse("defaults:\n  size: lots\n", "p.yaml").unwrap_err().to_string();
        assert!(e.contains("not a storage quantity"), "{e}");
        let e = ConfigFile::parse("rules:\n  - paths: [data]\n", "p.yaml").unwrap_err().to_string();
        assert!(e.contains("not absolute"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob("web*", "web-1"));
        assert!(glob("*-db", "app-db"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("web", "web-1"));
    }
}
