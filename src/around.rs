//! The index of what a workload's rewrite needs from the rest of the
//! stream (headless Services, claims and their access modes, Service names,
//! claim templates): built once per run, below the rewrite, so `transform`
//! hands the rules what they need instead of their reaching back up.

use std::collections::{HashMap, HashSet};

use crate::stream::Stream;
use crate::yaml::Node;
use crate::{decide, is_hook, rules, template_names, Options};

/// A headless Service: its position among the objects, name and selector.
type Headless = (usize, String, Vec<(String, String)>);

/// What a workload's rewrite needs from the rest of the stream, indexed once
/// per run (scanning every object for every workload made large streams
/// quadratic).
pub(crate) struct Around {
    /// Headless Services by (namespace, one of their selector labels), with
    /// their whole selector.
    headless: HashMap<(Option<String>, String, String), Vec<Headless>>,
    /// Access modes of the claims the stream defines, by (namespace, name).
    pub(crate) claims: HashMap<(Option<String>, String), Vec<String>>,
    /// Every Service name, by namespace: a new headless Service must not take
    /// one. `true` for a Helm hook's Service.
    services: HashMap<(Option<String>, String), bool>,
    /// StatefulSet claim names are `<template>-<statefulset>-<n>`: the
    /// `<template>-<statefulset>` of each template, with what owns it. Two
    /// owners of one would share their claims, and so their data.
    stems: HashMap<(Option<String>, String), String>,
    /// Standalone claims this run adds (`--mode pvc`), with their workload.
    made_claims: HashMap<(Option<String>, String), String>,
    /// StatefulSet names, by namespace: a Deployment cannot become one of them.
    statefulsets: HashSet<(Option<String>, String)>,
    /// Claims the input's workloads mount, with the first workload that does.
    claim_refs: HashMap<(Option<String>, String), String>,
}

/// `<stem>` of a claim named `<stem>-<ordinal>`, as a StatefulSet names its claims.
fn claim_stem(claim: &str) -> Option<&str> {
    let (stem, n) = claim.rsplit_once('-')?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(stem)
}

fn template_owner(template: &str, statefulset: &str) -> String {
    format!("claim template {template} of statefulset/{statefulset}")
}

impl Around {
    pub(crate) fn index(s: &Stream, opts: &Options) -> Around {
        let mut around = Around {
            headless: HashMap::new(),
            claims: HashMap::new(),
            services: HashMap::new(),
            stems: HashMap::new(),
            made_claims: HashMap::new(),
            statefulsets: HashSet::new(),
            claim_refs: HashMap::new(),
        };
        for (i, o) in s.objects.iter().enumerate() {
            let ns = o.effective_ns(opts.namespace.as_deref()).map(str::to_string);
            let Some(obj) = s.obj(o.id) else { continue };
            if let Some(pod) = rules::pod_spec(obj, &o.kind) {
                for v in pod.get("volumes").into_iter().flat_map(|v| v.items()) {
                    if let Some(c) = v.str_at(&["persistentVolumeClaim", "claimName"]) {
                        around.claim_refs.entry((ns.clone(), c.to_string())).or_insert_with(|| o.label());
                    }
                }
            }
            match o.kind.as_str() {
                "StatefulSet" => {
                    around.statefulsets.insert((ns.clone(), o.name.clone()));
                    for t in template_names(obj) {
                        around.stems.insert((ns.clone(), format!("{t}-{}", o.name)), template_owner(&t, &o.name));
                    }
                }
                "Service" => {
                    around.services.insert((ns.clone(), o.name.clone()), is_hook(obj));
                    // A hook Service is gone once its hook ran: it cannot govern a StatefulSet.
                    if let Some(sel) = rules::headless::headless_selector(obj).filter(|_| !is_hook(obj)) {
                        if let Some((k, v)) = sel.first().cloned() {
                            around.headless.entry((ns, k, v)).or_default().push((i, o.name.clone(), sel));
                        }
                    }
                }
                "PersistentVolumeClaim" => {
                    let modes = obj
                        .path(&["spec", "accessModes"])
                        .map(|m| m.items().filter_map(|i| i.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    around.claims.insert((ns, o.name.clone()), modes);
                }
                _ => {}
            }
        }
        around
    }

    /// Register the names a workload's rewrite made; a name another object
    /// has already is an error, since sharing it would share data (claims) or
    /// replace an object (Services).
    pub(crate) fn register(
        &mut self,
        ns: &Option<String>,
        sts: Option<(&str, Vec<String>)>,
        converted: bool,
        new: &[Node],
        label: &str,
    ) -> Result<(), String> {
        if let Some((name, templates)) = sts {
            // The API server takes these names for a Deployment but not for a
            // StatefulSet, whose pods get `<name>-<hash>` revision labels (63 at most).
            if converted && (!decide::values::is_dns_label(name) || name.len() > 52) {
                return Err(format!(
                    "{name:?} cannot be a StatefulSet's name: that must be a DNS label (lowercase letters, digits \
                     and '-', no dots) of at most 52 characters. Use --mode pvc, which keeps the Deployment"
                ));
            }
            if converted && !self.statefulsets.insert((ns.clone(), name.to_string())) {
                return Err(format!(
                    "a StatefulSet named {name} is already in the input: the Deployment cannot become a \
                     StatefulSet of a name that is taken. Rename one of them, or use --mode pvc"
                ));
            }
            for t in templates {
                let stem = format!("{t}-{name}");
                let me = template_owner(&t, name);
                match self.stems.get(&(ns.clone(), stem.clone())) {
                    Some(other) if *other != me => {
                        return Err(format!(
                            "the claims of {me} ({stem}-0, {stem}-1, ...) would be those of {other}: two workloads \
                             would share their data. Give one of the volumes another name (a config rule's claimName)"
                        ))
                    }
                    _ => {}
                };
                // A claim another workload mounts, or one this run made for
                // another, named like one of this StatefulSet's.
                let taken =
                    self.claim_refs.iter().chain(self.made_claims.iter()).find(|((n, c), owner)| {
                        n == ns && claim_stem(c) == Some(stem.as_str()) && owner.as_str() != label
                    });
                if let Some(((_, c), owner)) = taken {
                    return Err(format!(
                        "{me} names its claims {stem}-0, {stem}-1, ...: claim {c} is {owner}'s, and a pod of the \
                         StatefulSet would share its data. Give the volume another name (a config rule's claimName)"
                    ));
                }
                self.stems.insert((ns.clone(), stem), me);
            }
        }
        for o in new {
            let name = o.str_at(&["metadata", "name"]).unwrap_or_default().to_string();
            let key = (ns.clone(), name.clone());
            match o.str_at(&["kind"]) {
                Some("PersistentVolumeClaim") => {
                    let template = claim_stem(&name).and_then(|st| self.stems.get(&(ns.clone(), st.to_string())));
                    let mounted = self.claim_refs.get(&key).filter(|o| o.as_str() != label);
                    if let Some(other) = self.made_claims.get(&key).or(template).or(mounted) {
                        return Err(format!(
                            "the claim {name} would be made for {label} and for {other}: two workloads would share \
                             their data. Give one of the volumes another name (a config rule's claimName)"
                        ));
                    }
                    self.made_claims.insert(key, label.to_string());
                }
                Some("Service") => {
                    if !name.starts_with(|c: char| c.is_ascii_lowercase()) || !decide::values::is_dns_label(&name) {
                        return Err(format!(
                            "the headless Service the StatefulSet needs would be named {name:?}, which is not a \
                             valid Service name (a DNS label that starts with a letter). Add a headless Service \
                             (clusterIP: None) that selects the pods, and it is used instead"
                        ));
                    }
                    if let Some(&hook) = self.services.get(&key) {
                        let which = if hook {
                            "Helm hook Service (deleted after its hook, so it cannot serve)"
                        } else {
                            "Service"
                        };
                        return Err(format!(
                            "the headless Service {name} that the StatefulSet needs would replace the {which} of \
                             that name in the input. Add a headless Service (clusterIP: None, not a hook) that \
                             selects the pods, and it is used instead"
                        ));
                    }
                    self.services.insert(key, false);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The first headless Service (in stream order) whose selector the pod
    /// labels satisfy.
    pub(crate) fn headless_for(&self, ns: Option<&str>, pod_labels: &[(String, String)]) -> Option<String> {
        pod_labels
            .iter()
            .filter_map(|(k, v)| self.headless.get(&(ns.map(str::to_string), k.clone(), v.clone())))
            .flatten()
            .filter(|(_, _, sel)| sel.iter().all(|p| pod_labels.contains(p)))
            .min_by_key(|(i, _, _)| *i)
            .map(|(_, name, _)| name.clone())
    }
}
