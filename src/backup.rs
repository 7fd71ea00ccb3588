//! Backups of a workload's claims, the pure part: which claims a workload's
//! pods use, names and labels, reading backups back from the snapshot
//! objects, and the restore plan. `cluster` in the binary talks to the API.
//!
//! A backup is one VolumeGroupSnapshot over the claims (where the group API
//! and a group class for the driver exist) or one VolumeSnapshot per claim,
//! every object labelled with the workload and the backup's name, and each
//! snapshot with the claim it came from.

use serde_json::{json, Value};

/// `<kind>.<name>` of the workload (cut with a hash to fit a label value).
pub const WORKLOAD_LABEL: &str = "kubectl-persist/workload";
/// The backup's name.
pub const BACKUP_LABEL: &str = "kubectl-persist/backup";
/// The claim a snapshot was taken of.
pub const CLAIM_LABEL: &str = "kubectl-persist/claim";
/// Set on claims while a group snapshot selects them.
pub const SELECT_LABEL: &str = "kubectl-persist/in-backup";

/// FNV-1a, for short stable suffixes.
fn hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h as u32)
}

/// A label value (at most 63 characters) that stands for `s`.
pub fn label_value(s: &str) -> String {
    if s.len() <= 63 {
        return s.to_string();
    }
    format!("{}-{}", &s[..54].trim_end_matches(['-', '.']), hash(s))
}

pub fn workload_label(kind: &str, name: &str) -> String {
    label_value(&format!("{}.{name}", kind.to_ascii_lowercase()))
}

/// A Unix time in UTC as (year, month, day, hour, minute, second): the
/// civil-from-days algorithm, so no date crate is needed.
pub fn civil(unix: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = (unix / 86400) as i64;
    let rem = unix % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn stamp(unix: u64) -> String {
    let (y, m, d, hh, mm, ss) = civil(unix);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// The default backup name: `<workload>-<UTC time>`, a valid object name and
/// label value.
pub fn default_name(workload: &str, unix: u64) -> String {
    let suffix = stamp(unix);
    let room = 63 - suffix.len() - 1;
    let mut base: String = workload.chars().take(room).collect();
    while base.ends_with(['-', '.']) {
        base.pop();
    }
    format!("{base}-{suffix}")
}

/// Whether `name` may name a backup (a DNS label: it is also a label value).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} cannot name a backup: lowercase letters, digits and '-', at most 63, as a DNS label"))
    }
}

/// The claims a workload's pods use: for a StatefulSet every claim of each
/// template that exists (`<template>-<name>-<ordinal>`, also beyond the
/// replicas a scale-down left), then the claims its pod spec names.
pub fn claims_of(workload: &Value, existing: &[String]) -> Vec<String> {
    let name = workload["metadata"]["name"].as_str().unwrap_or_default();
    let mut out = Vec::new();
    for t in workload["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
        let stem = format!("{}-{name}-", t["metadata"]["name"].as_str().unwrap_or_default());
        let mut found: Vec<(u64, &String)> =
            existing.iter().filter_map(|c| Some((c.strip_prefix(&stem)?.parse::<u64>().ok()?, c))).collect();
        found.sort();
        out.extend(found.into_iter().map(|(_, c)| c.clone()));
    }
    for v in workload["spec"]["template"]["spec"]["volumes"].as_array().into_iter().flatten() {
        if let Some(c) = v["persistentVolumeClaim"]["claimName"].as_str() {
            if !out.iter().any(|o| o == c) {
                out.push(c.to_string());
            }
        }
    }
    out
}

/// One snapshot of a backup.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub claim: String,
    pub snapshot: String,
    pub size: Option<String>,
    pub ready: bool,
}

/// A backup as read back from the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    pub name: String,
    pub workload: String,
    pub created: String,
    /// The VolumeGroupSnapshot's name, for a group backup.
    pub group: Option<String>,
    pub class: Option<String>,
    pub members: Vec<Member>,
}

impl Backup {
    pub fn ready(&self) -> bool {
        !self.members.is_empty() && self.members.iter().all(|m| m.ready)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name, "workload": self.workload, "created": self.created,
            "kind": if self.group.is_some() { "group" } else { "per-claim" },
            "groupSnapshot": self.group, "class": self.class, "ready": self.ready(),
            "claims": self.members.iter().map(|m| json!({"claim": m.claim, "snapshot": m.snapshot,
                "size": m.size, "ready": m.ready})).collect::<Vec<_>>(),
        })
    }
}

fn label<'v>(o: &'v Value, key: &str) -> Option<&'v str> {
    o["metadata"]["labels"][key].as_str()
}

/// Read backups from the group snapshots and snapshots of a namespace. A
/// group's member snapshots are found by their owner and name the claim in
/// `spec.source.persistentVolumeClaimName`; per-claim snapshots carry the
/// labels themselves. Newest first.
pub fn backups(groups: &[Value], snapshots: &[Value]) -> Vec<Backup> {
    let mut out: Vec<Backup> = Vec::new();
    let member = |s: &Value| Member {
        claim: s["spec"]["source"]["persistentVolumeClaimName"]
            .as_str()
            .or_else(|| label(s, CLAIM_LABEL))
            .unwrap_or_default()
            .to_string(),
        snapshot: s["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        size: s["status"]["restoreSize"].as_str().map(str::to_string),
        ready: s["status"]["readyToUse"] == true,
    };
    for g in groups {
        let (Some(name), Some(workload)) = (label(g, BACKUP_LABEL), label(g, WORKLOAD_LABEL)) else { continue };
        let uid = g["metadata"]["uid"].as_str().unwrap_or_default();
        let mut members: Vec<Member> = snapshots
            .iter()
            .filter(|s| s["metadata"]["ownerReferences"].as_array().is_some_and(|o| o.iter().any(|r| r["uid"] == uid)))
            .map(member)
            .collect();
        members.sort_by(|a, b| a.claim.cmp(&b.claim));
        out.push(Backup {
            name: name.to_string(),
            workload: workload.to_string(),
            created: g["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string(),
            group: g["metadata"]["name"].as_str().map(str::to_string),
            class: g["spec"]["volumeGroupSnapshotClassName"].as_str().map(str::to_string),
            members,
        });
    }
    for s in snapshots {
        let (Some(name), Some(workload)) = (label(s, BACKUP_LABEL), label(s, WORKLOAD_LABEL)) else { continue };
        // A group's member is part of its group only (also while the group
        // goes away and takes its members with it).
        let in_group = s["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|o| o.iter().any(|r| r["kind"] == "VolumeGroupSnapshot"));
        if in_group || out.iter().any(|b| b.group.is_some() && b.name == name) {
            continue;
        }
        let m = member(s);
        match out.iter_mut().find(|b| b.name == name && b.group.is_none()) {
            Some(b) => b.members.push(m),
            None => out.push(Backup {
                name: name.to_string(),
                workload: workload.to_string(),
                created: s["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string(),
                group: None,
                class: s["spec"]["volumeSnapshotClassName"].as_str().map(str::to_string),
                members: vec![m],
            }),
        }
    }
    for b in &mut out {
        b.members.sort_by(|a, b| a.claim.cmp(&b.claim));
    }
    out.sort_by(|a, b| b.created.cmp(&a.created).then(a.name.cmp(&b.name)));
    out
}

/// The claim to create in place of `current` from `snapshot`: the same name,
/// class, modes and volume mode, a size of at least the snapshot's.
pub fn restored_claim(current: &Value, snapshot: &str, restore_size: Option<&str>) -> Value {
    let spec = &current["spec"];
    let mut size = spec["resources"]["requests"]["storage"].clone();
    if let (Some(want), Some(have)) = (restore_size, size.as_str()) {
        let bytes = crate::decide::values::quantity_bytes;
        if bytes(want).zip(bytes(have)).is_some_and(|(w, h)| w > h) {
            size = json!(want);
        }
    }
    let mut c = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": current["metadata"]["name"], "namespace": current["metadata"]["namespace"]},
        "spec": {
            "accessModes": spec["accessModes"],
            "resources": {"requests": {"storage": size}},
            "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": snapshot},
        }
    });
    for f in ["storageClassName", "volumeMode"] {
        if !spec[f].is_null() {
            c["spec"][f] = spec[f].clone();
        }
    }
    if let Some(l) = current["metadata"]["labels"].as_object() {
        let mut l = l.clone();
        l.remove(SELECT_LABEL);
        c["metadata"]["labels"] = Value::Object(l);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_labels_and_objects() {
        assert_eq!(stamp(0), "19700101-000000");
        assert_eq!(stamp(1_796_518_422), "20261206-005342");
        assert_eq!(default_name("web", 1_796_518_422), "web-20261206-005342");
        let long = default_name(&"a".repeat(80), 0);
        assert_eq!(long.len(), 63);
        check_name(&long).unwrap();
        assert!(check_name("Web").is_err() && check_name("-a").is_err() && check_name(&"a".repeat(64)).is_err());
        assert_eq!(workload_label("StatefulSet", "web"), "statefulset.web");
        let l = workload_label("StatefulSet", &"x".repeat(70));
        assert_eq!(l.len(), 63);
        assert_ne!(l, workload_label("StatefulSet", &"x".repeat(71)));
    }

    #[test]
    fn a_statefulsets_claims_are_every_ordinal_of_every_template_and_its_own() {
        let sts = json!({"metadata": {"name": "db"}, "spec": {
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}, {"metadata": {"name": "wal"}}],
            "template": {"spec": {"volumes": [{"name": "x", "persistentVolumeClaim": {"claimName": "shared"}}]}}}});
        let existing: Vec<String> =
            ["data-db-10", "data-db-1", "data-db-0", "wal-db-0", "data-dbx-0", "other", "shared"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(claims_of(&sts, &existing), vec!["data-db-0", "data-db-1", "data-db-10", "wal-db-0", "shared"]);
    }

    #[test]
    fn backups_read_back_from_groups_and_per_claim_snapshots() {
        let labels = |b: &str| json!({BACKUP_LABEL: b, WORKLOAD_LABEL: "statefulset.db"});
        let group = json!({"metadata": {"name": "db-1", "uid": "g1", "creationTimestamp": "2026-12-06T01:00:00Z", "labels": labels("db-1")},
                           "spec": {"volumeGroupSnapshotClassName": "gc"}});
        let member = |claim: &str, ready: bool| {
            json!({"metadata": {"name": format!("snapshot-{claim}"), "ownerReferences": [{"uid": "g1"}]},
            "spec": {"source": {"persistentVolumeClaimName": claim}}, "status": {"readyToUse": ready, "restoreSize": "1Gi"}})
        };
        let mut single = json!({"metadata": {"name": "db-2-data-db-0", "creationTimestamp": "2026-12-06T02:00:00Z", "labels": labels("db-2")},
            "spec": {"source": {"persistentVolumeClaimName": "data-db-0"}, "volumeSnapshotClassName": "sc"}, "status": {"readyToUse": true}});
        single["metadata"]["labels"][CLAIM_LABEL] = json!("data-db-0");
        let b = backups(
            &[group],
            &[member("wal-db-0", false), member("data-db-0", true), single, json!({"metadata": {"name": "theirs"}})],
        );
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].name, "db-2", "newest first");
        assert_eq!((b[0].group.clone(), b[0].class.as_deref(), b[0].ready()), (None, Some("sc"), true));
        assert_eq!(b[1].group.as_deref(), Some("db-1"));
        assert_eq!(b[1].members.iter().map(|m| m.claim.as_str()).collect::<Vec<_>>(), vec!["data-db-0", "wal-db-0"]);
        assert!(!b[1].ready(), "one member is not ready yet");
        assert_eq!(b[1].to_json()["kind"], "group");
    }

    #[test]
    fn a_restored_claim_keeps_name_class_and_grows_to_the_snapshot() {
        let current = json!({"metadata": {"name": "data-db-0", "namespace": "n", "labels": {"app": "db", SELECT_LABEL: "x"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast", "volumeMode": "Filesystem",
                     "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-1"}});
        let c = restored_claim(&current, "snap", Some("2Gi"));
        assert_eq!(c["metadata"]["name"], "data-db-0");
        assert_eq!(c["spec"]["storageClassName"], "fast");
        assert_eq!(c["spec"]["resources"]["requests"]["storage"], "2Gi");
        assert_eq!(c["spec"]["dataSource"]["name"], "snap");
        assert!(c["spec"]["volumeName"].is_null(), "a new volume, not the old one");
        assert!(c["metadata"]["labels"][SELECT_LABEL].is_null());
        assert_eq!(restored_claim(&current, "snap", Some("512Mi"))["spec"]["resources"]["requests"]["storage"], "1Gi");
    }
}
