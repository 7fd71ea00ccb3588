//! Criterion micro-benchmarks of the pipeline's stages on a big stream:
//! split (line scan), read (split + parse of the documents that matter),
//! parse and check every document (the hand parser, then saphyr's check),
//! the whole transform in both modes, and writing the YAML stream.
//!
//! `cargo bench` (or `cargo bench --bench pipeline -- split` for one group).
//! The stream is built by `../shared/corpus/make-big.sh` (5 MiB by default,
//! `PERSIST_BENCH_MB=50` for the big one) into `target/bench-data/`, or taken
//! from `PERSIST_BENCH_STREAM=FILE`. Whole-process comparisons with `cat` and
//! `kubectl kustomize` are in `bench/compare.sh`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kubectl_persist::decide::Mode;
use kubectl_persist::stream::Stream;
use kubectl_persist::yaml::{check, parse, split, Limits};
use kubectl_persist::{emit, transform, Input, Options};

fn stream_file() -> Option<PathBuf> {
    if let Ok(f) = std::env::var("PERSIST_BENCH_STREAM") {
        return Some(PathBuf::from(f));
    }
    let mb = std::env::var("PERSIST_BENCH_MB").unwrap_or_else(|_| "5".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join(format!("target/bench-data/big{mb}.yaml"));
    if out.exists() {
        return Some(out);
    }
    let make = root.join("../shared/corpus/make-big.sh");
    if !make.exists() {
        eprintln!("pipeline bench: no {} and no PERSIST_BENCH_STREAM: nothing to measure", make.display());
        return None;
    }
    std::fs::create_dir_all(out.parent()?).ok()?;
    let ok = std::process::Command::new(&make).arg(&mb).arg(&out).status().is_ok_and(|s| s.success());
    ok.then_some(out)
}

fn opts(mode: Mode) -> Options {
    Options { paths: vec![(None, "/persist-bench".into())], mode: Some(mode), ..Options::default() }
}

fn pipeline(c: &mut Criterion) {
    let Some(file) = stream_file() else { return };
    let bytes = std::fs::read(&file).expect("the bench stream");
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let inputs = vec![Input { name: file.display().to_string(), bytes: bytes.clone() }];
    let limits = Limits::default();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    g.bench_function("split", |b| b.iter(|| split::split(black_box(text)).len()));
    g.bench_function("read", |b| b.iter(|| Stream::read(black_box(&inputs), &limits, false).unwrap().docs.len()));
    // Every document, not only those a run needs: the hand parser alone,
    // then the second parser's check of its trees (README, "Measured
    // against the YAML test suite").
    let docs = split::split(text);
    let trees: Vec<_> = docs.iter().map(|d| parse::parse_unchecked(d.text, &limits).unwrap()).collect();
    g.bench_function("parse_every_document", |b| {
        b.iter(|| docs.iter().filter(|d| parse::parse_unchecked(black_box(d.text), &limits).is_ok()).count())
    });
    g.bench_function("check_every_document", |b| {
        b.iter(|| {
            docs.iter()
                .zip(&trees)
                .filter(|(d, (t, len))| check::cross_check(black_box(&d.text[..*len]), t.as_ref()).is_ok())
                .count()
        })
    });
    for (name, mode) in [("transform_pvc", Mode::Pvc), ("transform_statefulset", Mode::StatefulSet)] {
        let o = opts(mode);
        g.bench_function(name, |b| b.iter(|| transform(black_box(&inputs), &o).unwrap().docs.len()));
    }
    let o = opts(Mode::Pvc);
    let out = transform(&inputs, &o).unwrap();
    g.bench_function("write_yaml", |b| b.iter(|| emit::write_yaml(&out, &inputs, &mut std::io::sink()).unwrap()));
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
