//! Checks for the values a user gives (flags, config file, annotations): one
//! function per kind of value, so every source reports the same way.

/// The access modes Kubernetes accepts on a claim.
pub const ACCESS_MODES: [&str; 4] = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];

/// A mount path must be absolute and must not climb out with `..`.
pub fn check_path(p: &str) -> Result<String, String> {
    if !p.starts_with('/') {
        return Err(format!("path {p:?} is not absolute (it must start with '/')"));
    }
    if p.split('/').any(|s| s == "..") {
        return Err(format!("path {p:?} contains '..'"));
    }
    if p.contains(['\n', '\0']) {
        return Err(format!("path {p:?} contains a control character"));
    }
    let p = normalize_path(p);
    if p == "/" {
        return Err("path \"/\" is the container's root: a claim there would hide the whole image".into());
    }
    if SYSTEM_DIRS.contains(&p.as_str()) {
        return Err(format!(
            "path {p:?} is a system directory: a claim there would hide the image's own files (its programs, \
             libraries or configuration) and the container would not start; give the app's data directory, \
             e.g. /var/lib/APP"
        ));
    }
    Ok(p)
}

/// Directories of the image's operating system (or the kernel's): a claim
/// mounted on one hides what the image ships there.
pub const SYSTEM_DIRS: [&str; 22] = [
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/lib",
    "/var/run",
];

/// `/data/` and `/data//x` name the same directories as `/data` and `/data/x`.
pub fn normalize_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty() && *s != ".").collect();
    format!("/{}", parts.join("/"))
}

/// `[CONTAINER:]PATH`, as `--path` and the `paths` annotation take it.
pub fn parse_path_spec(spec: &str) -> Result<(Option<String>, String), String> {
    let spec = spec.trim();
    match spec.split_once(':') {
        Some((c, p)) if !spec.starts_with('/') => {
            if !is_dns_label(c) {
                return Err(format!("{c:?} in {spec:?} is not a container name"));
            }
            Ok((Some(c.to_string()), check_path(p)?))
        }
        _ => Ok((None, check_path(spec)?)),
    }
}

/// A Kubernetes resource quantity such as `1Gi`, `500M`, `1.5Ti`, `2e9`.
pub fn check_quantity(q: &str) -> Result<String, String> {
    let bad = || Err(format!("{q:?} is not a storage quantity (examples: 1Gi, 500Mi, 10G)"));
    let q = q.strip_prefix('+').unwrap_or(q);
    let num_end = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(num_end);
    if num.is_empty() || num.matches('.').count() > 1 || num == "." {
        return bad();
    }
    let ok_suffix = matches!(suffix, "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "M" | "G" | "T" | "P" | "E")
        || (suffix.len() > 1
            && suffix.starts_with(['e', 'E'])
            && suffix[1..].trim_start_matches(['+', '-']).chars().all(|c| c.is_ascii_digit())
            && !suffix[1..].trim_start_matches(['+', '-']).is_empty());
    if !ok_suffix {
        return bad();
    }
    if num.chars().all(|c| c == '0' || c == '.') {
        return Err(format!("{q:?}: a claim needs a size above zero"));
    }
    Ok(q.to_string())
}

/// Bytes a quantity stands for (for comparing sizes), where it can be read.
pub fn quantity_bytes(q: &str) -> Option<f64> {
    let num_end = q.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(num_end);
    let n: f64 = num.parse().ok()?;
    let m = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * m)
}

pub fn check_access_mode(m: &str) -> Result<String, String> {
    ACCESS_MODES
        .iter()
        .find(|a| a.eq_ignore_ascii_case(m) || abbreviation(a) == m)
        .map(|a| a.to_string())
        .ok_or_else(|| format!("{m:?} is not an access mode (one of {})", ACCESS_MODES.join(", ")))
}

/// A list of access modes, normalised and without repeats. Kubernetes does
/// not let ReadWriteOncePod go with another mode.
pub fn check_access_modes<S: AsRef<str>>(modes: &[S]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for m in modes {
        let m = check_access_mode(m.as_ref().trim())?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    if out.len() > 1 && out.iter().any(|m| m == "ReadWriteOncePod") {
        return Err("ReadWriteOncePod cannot be combined with other access modes".into());
    }
    if out.is_empty() {
        return Err("no access mode given".into());
    }
    Ok(out)
}

/// A group id Kubernetes accepts as fsGroup.
pub fn check_fs_group(g: i64) -> Result<i64, String> {
    if (0..=i64::from(i32::MAX)).contains(&g) {
        Ok(g)
    } else {
        Err(format!("{g} is not a group id (0 to 2147483647)"))
    }
}

fn abbreviation(mode: &str) -> &'static str {
    match mode {
        "ReadWriteOnce" => "RWO",
        "ReadOnlyMany" => "ROX",
        "ReadWriteMany" => "RWX",
        _ => "RWOP",
    }
}

/// A StorageClass name: a DNS subdomain.
pub fn check_storage_class(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label);
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} is not a storage class name"))
    }
}

/// RFC 1123 label: lowercase alphanumerics and '-', at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(check_path("/data/").unwrap(), "/data");
        assert_eq!(check_path("/a//b/./c").unwrap(), "/a/b/c");
        assert!(check_path("data").unwrap_err().contains("not absolute"));
        assert!(check_path("/a/../etc").unwrap_err().contains(".."));
        assert_eq!(parse_path_spec("app:/data").unwrap(), (Some("app".into()), "/data".into()));
        assert_eq!(parse_path_spec("/with:colon").unwrap(), (None, "/with:colon".into()));
        assert!(parse_path_spec("App:/x").is_err());
    }

    #[test]
    fn quantities() {
        for q in ["1Gi", "500Mi", "10G", "1.5Ti", "2e9", "100"] {
            assert!(check_quantity(q).is_ok(), "{q}");
        }
        for q in ["", "Gi", "1GB", "one", "1.2.3Gi", "-1Gi", "0", "1 Gi"] {
            assert!(check_quantity(q).is_err(), "{q}");
        }
        assert_eq!(quantity_bytes("1Gi"), Some(1073741824.0));
        assert!(quantity_bytes("2Gi") > quantity_bytes("1500Mi"));
    }

    #[test]
    fn access_modes() {
        assert_eq!(check_access_mode("RWX").unwrap(), "ReadWriteMany");
        assert_eq!(check_access_mode("readwriteonce").unwrap(), "ReadWriteOnce");
        assert!(check_access_mode("RW").is_err());
    }
}
