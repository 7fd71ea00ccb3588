//! Structure-aware: the fuzzer's bytes choose how a Deployment is written
//! (anchors and aliases, tags, flow or block collections, block scalars with
//! chomping and indentation indicators, comments, CRLF, quoting), never what
//! it means. The transform then persists /data; serde_yaml, a parser
//! independent of ours, reads input and output, and the output must mean the
//! input plus the intended edits: the Deployment is a StatefulSet, the
//! container mounts /data once, and every other field of the container and
//! of the ConfigMap beside it is as it was. A refusal (an error) is allowed;
//! a panic or another meaning is a finding.
#![no_main]

use kubectl_persist::decide::Mode;
use kubectl_persist::{emit, transform, Input, Options};
use libfuzzer_sys::fuzz_target;
use serde_yaml::Value;

/// Choices drawn from the fuzzer's bytes (zeros when they run out).
struct Pick<'a>(&'a [u8]);

impl Pick<'_> {
    fn n(&mut self, k: u8) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b % k
    }
    fn yes(&mut self) -> bool {
        self.n(2) == 1
    }
}

/// One string value, written in one of YAML's styles. `ind` is the
/// indentation of the key it belongs to.
fn scalar(p: &mut Pick, text: &str, ind: usize, nl: &str) -> String {
    let pad = " ".repeat(ind + 2);
    match p.n(6) {
        0 => format!("'{}'", text.replace('\'', "''")),
        1 => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
        2 => format!("!!str {text}"),
        3 => {
            // A block scalar: clip, strip or keep, maybe an indentation
            // indicator, maybe trailing empty lines (whitespace-only too).
            let chomp = ["", "-", "+"][p.n(3) as usize];
            let indicator = if p.yes() { "2" } else { "" };
            let trail = ["", nl, &format!("{nl}{pad}"), &format!("{nl} {nl}")][p.n(4) as usize].to_string();
            let c = if p.yes() { " # c" } else { "" };
            format!("|{indicator}{chomp}{c}{nl}{pad}{text}{nl}{pad}  more{trail}")
        }
        4 => format!(">-{nl}{pad}{text}{nl}{pad}folded"),
        _ => text.to_string(),
    }
}

fn build(p: &mut Pick) -> String {
    let nl = if p.yes() { "\r\n" } else { "\n" };
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push_str(nl);
    };
    if p.yes() {
        line("# a comment before the stream");
    }
    line("apiVersion: v1");
    line("kind: ConfigMap");
    line("metadata: {name: cfg}");
    line("data:");
    let v = scalar(p, "config text", 2, nl);
    line(&format!("  conf: {v}"));
    line("---");
    line("apiVersion: apps/v1");
    line("kind: Deployment");
    line("metadata:");
    line(&format!("  name: app{}", if p.yes() { "  # the name" } else { "" }));
    line("spec:");
    line("  selector:");
    if p.yes() {
        line("    matchLabels: {app: app}");
    } else {
        line("    matchLabels:");
        line("      app: app");
    }
    line("  template:");
    line("    metadata:");
    line("      labels: {app: app}");
    line("    spec:");
    // The container: flow or block, its keys in a chosen order, with
    // anchors, tags and an alias to an earlier value.
    let image = scalar(p, "nginx", 8, nl);
    let flow = p.n(4) == 0;
    let anchor_container = p.yes();
    let anchor_key = p.yes();
    let has_mount = p.yes();
    let args_last = p.yes();
    let env_alias = p.yes();
    if flow {
        let mounts = if has_mount { ", volumeMounts: [{name: data, mountPath: /data}]" } else { "" };
        let one = if p.yes() && !has_mount {
            "[name: app]".to_string()
        } else {
            format!("[{{name: app, image: nginx{mounts}}}]")
        };
        line(&format!("      containers: {one}"));
    } else {
        line("      containers:");
        let mut first = String::from("      - ");
        if anchor_container {
            first.push_str("&appc");
            line(&first);
            first = "        ".into();
        }
        let mut entries: Vec<String> = Vec::new();
        entries.push(format!("name: {}", if p.yes() { "!!str app" } else { "app" }));
        entries.push(format!("image: {image}"));
        if env_alias {
            entries.push(format!(
                "env:{nl}        - &e {{name: A, value: \"1\"}}{nl}        - name: B{nl}          value: \"2\""
            ));
        }
        if has_mount {
            let key = if anchor_key { "&vm volumeMounts" } else { "volumeMounts" };
            let item = if p.yes() {
                "- &m\n          &p mountPath: /data\n          name: data"
            } else {
                "- {name: data, mountPath: /data}"
            };
            entries.push(format!("{key}:{nl}        {}", item.replace('\n', nl)));
        }
        let args = scalar(p, "run", 8, nl);
        let args = format!("args: {args}");
        if args_last {
            entries.push(args);
        } else {
            entries.insert(1, args);
        }
        for (i, e) in entries.iter().enumerate() {
            if i == 0 {
                line(&format!("{first}{e}"));
            } else {
                line(&format!("        {e}"));
            }
        }
    }
    // The mounted volume: an emptyDir, written out or (Kubernetes' default)
    // as a name only.
    if has_mount {
        line("      volumes:");
        line(if p.yes() { "      - name: data" } else { "      - {name: data, emptyDir: {}}" });
    }
    out
}

fn docs(text: &str) -> Option<Vec<Value>> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(text).map(Value::deserialize).collect::<Result<Vec<_>, _>>().ok()
}

fn container(v: &Value) -> Option<&serde_yaml::Mapping> {
    v.get("spec")?.get("template")?.get("spec")?.get("containers")?.get(0)?.as_mapping()
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let text = build(&mut Pick(data));
    let Some(before) = docs(&text) else { return };
    let inputs = [Input { name: "fuzz.yaml".into(), bytes: text.clone().into_bytes() }];
    let opts =
        Options { mode: Some(Mode::StatefulSet), paths: vec![(None, "/data".to_string())], ..Options::default() };
    let Ok(out) = transform(&inputs, &opts) else { return };
    let yaml = emit::yaml(&out);
    let after = docs(&yaml).unwrap_or_else(|| panic!("serde_yaml cannot read the output:\n{yaml}\n--- from\n{text}"));
    // The ConfigMap means what it meant.
    assert_eq!(after[0], before[0], "the ConfigMap changed:\n{yaml}\n--- from\n{text}");
    let sts = &after[1];
    assert_eq!(sts.get("kind").and_then(Value::as_str), Some("StatefulSet"), "{yaml}");
    let (old, new) = (container(&before[1]).unwrap(), container(sts).unwrap());
    let mounts = new.get("volumeMounts").and_then(Value::as_sequence).expect("volumeMounts");
    let at_data = mounts.iter().filter(|m| m.get("mountPath").and_then(Value::as_str) == Some("/data")).count();
    assert_eq!(at_data, 1, "/data is mounted {at_data} times:\n{yaml}\n--- from\n{text}");
    for (k, v) in old {
        if k.as_str() != Some("volumeMounts") {
            assert_eq!(new.get(k), Some(v), "container field {k:?} changed:\n{yaml}\n--- from\n{text}");
        }
    }
    let _ = emit::json(&out, &opts.limits);
}
