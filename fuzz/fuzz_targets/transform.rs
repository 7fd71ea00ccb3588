//! The stream entry point on arbitrary bytes: `transform` with a few option
//! sets, then every emitter. It must never panic, overflow its stack, hang or
//! run out of memory (limits keep every input bounded), and a run that
//! changed nothing must give the input back byte for byte.
#![no_main]

use kubectl_persist::decide::Mode;
use kubectl_persist::{emit, transform, Input, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let inputs = [Input { name: "fuzz.yaml".into(), bytes: data.to_vec() }];
    let variants = [
        (Mode::StatefulSet, Some("/data"), true),
        (Mode::Pvc, Some("/var/lib/app"), false),
        (Mode::StatefulSet, None, false),
    ];
    for (mode, path, parse_all) in variants {
        let opts = Options {
            mode: Some(mode),
            paths: path.map(|p| vec![(None, p.to_string())]).unwrap_or_default(),
            parse_all,
            ..Options::default()
        };
        let Ok(out) = transform(&inputs, &opts) else { continue };
        let yaml = emit::yaml(&out);
        if !out.docs.iter().any(|d| d.changed()) {
            assert_eq!(yaml.as_bytes(), data, "nothing changed, yet the output differs from the input");
        }
        let _ = emit::json(&out, &opts.limits);
        let names = ["fuzz.yaml".to_string()];
        let _ = emit::diff(&out, &names);
        let _ = emit::patch(&out, &opts.limits, &names);
    }
});
