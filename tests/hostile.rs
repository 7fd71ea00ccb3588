//! Hostile and broken input, and mistakes: the binary either does the right
//! thing or fails with a message naming the file, document and line, with
//! nothing on stdout, within bounded time and memory.
//!
//! * every case under `testdata/bad/` (format: `testdata/bad/README.md`);
//! * generated big cases: a 100 MB document, 100 000 documents, 100 000
//!   levels of nesting, a map of 100 000 keys;
//! * the library at its default depth limit in a 2 MiB thread (debug build):
//!   no stack overflow;
//! * atomic output: a closed pipe ends quietly with 141, an interrupt leaves
//!   no partial `--output-file`, an error leaves the old file as it was;
//! * Secret values never reach `--explain`, `-o diff` or error messages.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kubectl_persist::decide::Mode;
use kubectl_persist::{emit, transform, Input, Options};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubectl-persist")
}

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bad")
}

/// Run the binary in `dir` with `stdin`.
fn run_in(dir: &Path, args: &[String], stdin: Vec<u8>) -> Output {
    common::output(Command::new(bin()).args(args).current_dir(dir), &stdin)
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_in(Path::new(env!("CARGO_MANIFEST_DIR")), &args, stdin.to_vec())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Check one case directory; returns what went wrong, if anything.
fn check_case(dir: &Path) -> Vec<String> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{}/{f}: {e}", dir.display()));
    let args: Vec<String> = read("args").lines().map(str::to_string).collect();
    let stdin = std::fs::read(dir.join("stdin")).unwrap_or_default();
    let out = run_in(dir, &args, stdin);
    let err = stderr(&out);
    let mut problems = Vec::new();
    let status = out.status.code();
    for line in read("expect").lines().filter(|l| !l.trim().is_empty()) {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match (word, rest) {
            ("exit", n) => {
                let want: i32 = n.parse().expect("exit N");
                if status != Some(want) {
                    problems.push(format!("exit status {status:?}, expected {want}; stderr: {err}"));
                }
            }
            ("stdout", r) if r.starts_with("is ") => {
                let want = std::fs::read(dir.join(&r[3..])).unwrap();
                if out.stdout != want {
                    problems.push(format!("stdout differs from {}: {}", &r[3..], first_difference(&out.stdout, &want)));
                }
            }
            ("stderr", r) if r.starts_with("has ") => {
                if !err.contains(&r[4..]) {
                    problems.push(format!("stderr lacks {:?}; it is: {err}", &r[4..]));
                }
            }
            ("stderr", "empty") => {
                if !err.is_empty() {
                    problems.push(format!("stderr is not empty: {err}"));
                }
            }
            _ => panic!("{}/expect: cannot read {line:?}", dir.display()),
        }
    }
    if status != Some(0) && !out.stdout.is_empty() {
        problems.push(format!("exit {status:?} with {} bytes on stdout", out.stdout.len()));
    }
    if status.is_none() {
        problems.push("killed by a signal".into());
    }
    problems
}

fn first_difference(got: &[u8], want: &[u8]) -> String {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    for (i, (g, w)) in got.split_inclusive('\n').zip(want.split_inclusive('\n')).enumerate() {
        if g != w {
            return format!("line {}: got {g:?}, expected {w:?}", i + 1);
        }
    }
    format!("got {} bytes, expected {}", got.len(), want.len())
}

#[test]
fn every_case_in_testdata_bad() {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(bad_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 30, "the hostile suite has {} cases", dirs.len());
    let mut failures = Vec::new();
    for d in &dirs {
        for p in check_case(d) {
            failures.push(format!("{}: {p}", d.file_name().unwrap().to_string_lossy()));
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: nginx
        volumeMounts:
        - name: data
          mountPath: /data
      volumes:
      - name: data
        emptyDir: {}
";

/// Write `bytes` to a fresh temporary file; keep the guard alive while used.
fn temp_input(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

fn time<T>(what: &str, limit: Duration, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    let took = t.elapsed();
    assert!(took < limit, "{what} took {took:?} (limit {limit:?})");
    eprintln!("{what}: {took:?}");
    r
}

#[test]
fn a_100_mb_document_that_is_not_rewritten_passes_through() {
    let mut big = String::with_capacity(105 << 20);
    big.push_str("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n");
    let mut i = 0;
    while big.len() < 100 << 20 {
        big.push_str(&format!("  key{i}: {}\n", "x".repeat(90)));
        i += 1;
    }
    // Broken YAML in it is not looked at either.
    big.push_str("  broken: \"unclosed\n\tfoo: [\n---\n");
    big.push_str(DEPLOYMENT);
    let f = temp_input(big.as_bytes());
    let out =
        time("100 MB", Duration::from_secs(60), || run(&["-f", f.path().to_str().unwrap(), "--path", "/data"], b""));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cut = big.rfind("---\n").unwrap() + 4;
    assert!(out.stdout.len() > cut && out.stdout[..cut] == big.as_bytes()[..cut], "the big document changed");
    assert!(String::from_utf8_lossy(&out.stdout[cut..]).contains("kind: StatefulSet"));
}

#[test]
fn a_hundred_thousand_tiny_documents() {
    let mut s = String::new();
    for i in 0..100_000 {
        s.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"));
    }
    let cut = s.len();
    s.push_str("---\n");
    s.push_str(DEPLOYMENT);
    let out = time("100 000 documents", Duration::from_secs(60), || run(&["--path", "/data"], s.as_bytes()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout[..cut] == s.as_bytes()[..cut], "untouched documents changed");
    assert!(String::from_utf8_lossy(&out.stdout[cut..]).contains("kind: StatefulSet"));
}

fn deep_cases(levels: usize) -> Vec<(&'static str, String)> {
    let head = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: deep\nspec:\n  x: ";
    vec![
        ("flow sequences", format!("{head}{}{}\n", "[".repeat(levels), "]".repeat(levels))),
        ("unclosed flow sequences", format!("{head}{}\n", "[".repeat(levels))),
        ("flow mappings", format!("{head}{}1{}\n", "{a: ".repeat(levels), "}".repeat(levels))),
        ("block sequences", format!("{head}\n    {}a\n", "- ".repeat(levels))),
        ("anchored block sequences", format!("{head}\n    {}a\n", "- &x !t ".repeat(levels))),
        // Each level of a block mapping is indented one more column: the
        // text grows with the square of the depth, so stop at 3000.
        (
            "block mappings",
            format!(
                "{head}\n{}",
                (0..levels.min(3000)).map(|i| format!("{}a:\n", " ".repeat(i + 4))).collect::<String>()
            ),
        ),
    ]
}

#[test]
fn deep_nesting_is_a_clear_error_without_stack_overflow() {
    for (what, text) in deep_cases(100_000) {
        let f = temp_input(text.as_bytes());
        for fmt in ["yaml", "json", "diff"] {
            let out = time(what, Duration::from_secs(30), || {
                run(&["-f", f.path().to_str().unwrap(), "--path", "/data", "-o", fmt], b"")
            });
            assert_eq!(out.status.code(), Some(1), "{what} -o {fmt}: {}", stderr(&out));
            assert!(out.stdout.is_empty());
            let err = stderr(&out);
            assert!(err.contains("document 1 (Deployment deep), line "), "{what}: {err}");
            assert!(err.contains("nesting deeper than 128 levels (--max-depth)"), "{what}: {err}");
        }
    }
}

#[test]
fn a_raised_depth_limit_does_not_overflow_the_stack_either() {
    // The binary sizes its stack for --max-depth; 20 000 levels of each kind.
    for (what, text) in deep_cases(20_000) {
        let f = temp_input(text.as_bytes());
        let out =
            run(&["-f", f.path().to_str().unwrap(), "--path", "/data", "--max-depth", "30000", "-o", "json"], b"");
        // Parsed fine (or a syntax error for the unclosed one), then refused:
        // `spec` is not a workload spec. A crash would have no exit code.
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert!(!stderr(&out).contains("nesting deeper"), "{what}: {}", stderr(&out));
    }
}

/// The library in a thread with Rust's default 2 MiB stack, at the default
/// depth limit, through every stage and emitter: no overflow, in debug too.
#[test]
fn the_default_depth_limit_fits_a_small_thread_stack() {
    let shapes: [fn(usize) -> String; 5] = [
        |n| format!("{} {}{}\n", deep_head(), "[".repeat(n), "]".repeat(n)),
        |n| format!("{} {}1{}\n", deep_head(), "{a: ".repeat(n), "}".repeat(n)),
        |n| format!("{}\n    {}a\n", deep_head(), "- ".repeat(n)),
        |n| format!("{}\n{}", deep_head(), (0..n).map(|i| format!("{}a:\n", " ".repeat(i + 4))).collect::<String>()),
        |n| {
            let body: String = (0..n).map(|i| format!("{}a:\n", " ".repeat(i + 4))).collect();
            format!("{} &x\n{body}  y: *x\n", deep_head())
        },
    ];
    let opts =
        |mode| Options { paths: vec![(None, "/data".into())], mode: Some(mode), parse_all: true, ..Options::default() };
    let parses = move |text: &str| {
        let inputs = [Input { name: "deep.yaml".into(), bytes: text.as_bytes().to_vec() }];
        transform(&inputs, &opts(Mode::StatefulSet)).is_ok()
    };
    // Find the deepest text of each shape the default limit accepts, on a big
    // stack (how levels are counted differs a little between shapes).
    let deepest: Vec<String> = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            shapes
                .iter()
                .map(|shape| {
                    let n = (1..400).rev().find(|&n| parses(&shape(n))).expect("some depth parses");
                    assert!(n >= 100, "only {n} levels parse");
                    assert!(!parses(&shape(n + 1)));
                    shape(n)
                })
                .collect()
        })
        .unwrap()
        .join()
        .unwrap();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for text in deepest {
                let inputs = [Input { name: "deep.yaml".into(), bytes: text.into_bytes() }];
                for mode in [Mode::StatefulSet, Mode::Pvc] {
                    let o = opts(mode);
                    let out = transform(&inputs, &o).unwrap();
                    assert!(emit::yaml(&out).contains("/data"));
                    assert!(emit::json(&out, &o.limits).is_ok());
                    assert!(!emit::diff(&out, &["deep.yaml".into()]).is_empty());
                }
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

fn deep_head() -> &'static str {
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: x\n  x:"
}

#[test]
fn a_map_of_many_keys_costs_linear_time() {
    // Comparing and patching maps once took the square of their size.
    let mut s = String::from("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n");
    for i in 0..100_000 {
        s.push_str(&format!("    k{i}: v{i}\n"));
    }
    s.push_str(&DEPLOYMENT[DEPLOYMENT.find("spec:").unwrap()..]);
    let f = temp_input(s.as_bytes());
    for fmt in ["yaml", "json", "diff"] {
        let out = time("100 000 keys", Duration::from_secs(60), || {
            run(&["-f", f.path().to_str().unwrap(), "--path", "/data", "-o", fmt], b"")
        });
        // -o diff exits 1 when there are differences, as kubectl diff.
        assert_eq!(out.status.code(), Some(i32::from(fmt == "diff")), "{}", stderr(&out));
    }
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_quietly_with_141() {
    use std::os::unix::process::ExitStatusExt;
    // Reader gone before anything is written (`| true`), and reader gone
    // after a few bytes (`| head -c 100`) with more output than a pipe holds.
    let mut big = String::new();
    for i in 0..20_000 {
        big.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"));
    }
    for read_first in [0usize, 100] {
        let mut child =
            Command::new(bin()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        if read_first > 0 {
            let mut buf = vec![0; read_first];
            let mut input = child.stdin.take().unwrap();
            let data = big.clone();
            let w = std::thread::spawn(move || input.write_all(data.as_bytes()));
            stdout.read_exact(&mut buf).unwrap();
            drop(stdout);
            w.join().unwrap().unwrap();
        } else {
            drop(stdout);
            child.stdin.take().unwrap().write_all(big.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(141), "status {:?} signal {:?}", out.status, out.status.signal());
        assert!(out.stderr.is_empty(), "{}", stderr(&out));
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".kubectl-persist-"))
        .collect()
}

#[test]
fn an_error_leaves_the_output_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.yaml");
    std::fs::write(&target, "old\n").unwrap();
    let input = dir.path().join("in.yaml");
    std::fs::write(&input, DEPLOYMENT.replace("replicas: 1", "replicas: 1\n  replicas: 2")).unwrap();
    let out = run(&["-f", input.to_str().unwrap(), "--path", "/data", "--output-file", target.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
    assert!(leftovers(dir.path()).is_empty());
}

/// SIGINT during a run with --output-file: the file is the old one or the
/// whole new output, never a part, and no temporary file stays. Interrupts
/// land at spread-out moments, and right after the temporary file appears
/// (while it is being written).
#[cfg(unix)]
#[test]
fn an_interrupt_leaves_no_partial_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = String::new();
    while big.len() < 4 << 20 {
        big.push_str(&format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{}\n", big.len()));
    }
    let input = dir.path().join("in.yaml");
    std::fs::write(&input, &big).unwrap();
    let target = dir.path().join("out.yaml");
    let args = ["-f", input.to_str().unwrap(), "--output-file", target.to_str().unwrap()];
    // How long a whole run takes, to spread the interrupts over it.
    let t = Instant::now();
    assert_eq!(run(&args, b"").status.code(), Some(0));
    let whole = t.elapsed();
    assert_eq!(std::fs::read(&target).unwrap(), big.as_bytes());
    let mut caught_while_writing = 0;
    for step in 0..14u32 {
        std::fs::write(&target, "old\n").unwrap();
        let mut child = Command::new(bin()).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        if step < 10 {
            std::thread::sleep(whole * step / 10);
        } else {
            let t = Instant::now();
            while leftovers(dir.path()).is_empty() && child.try_wait().unwrap().is_none() {
                assert!(t.elapsed() < Duration::from_secs(60));
            }
        }
        // The shell's own `kill`: no procps needed.
        let _ = Command::new("sh").args(["-c", &format!("kill -INT {}", child.id())]).status();
        let status = child.wait().unwrap();
        if status.code() == Some(130) {
            caught_while_writing += 1;
        }
        let now = std::fs::read(&target).unwrap();
        assert!(now == b"old\n" || now == big.as_bytes(), "step {step}: a partial file of {} bytes", now.len());
        assert!(leftovers(dir.path()).is_empty(), "step {step}: {:?} left behind", leftovers(dir.path()));
    }
    assert!(caught_while_writing > 0, "no interrupt arrived while the output was being written");
}

const SECRET_VALUE: &str = "hunter2-very-secret";
// base64 of SECRET_VALUE
const SECRET_B64: &str = "aHVudGVyMi12ZXJ5LXNlY3JldA==";

/// Secrets in every shape the tool meets, beside Deployments that read them
/// through secretKeyRef and get rewritten (so their documents are diffed).
fn secret_stream() -> String {
    let deployment = DEPLOYMENT.replace(
        "        image: nginx\n",
        "        image: nginx\n        env:\n        - name: PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: creds\n              key: password\n",
    );
    format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: creds
data:
  password: {SECRET_B64}
stringData:
  token: {SECRET_VALUE}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata:
    name: listed
  stringData:
    token: {SECRET_VALUE}
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: in-list
  spec:
    selector:
      matchLabels: {{app: listed}}
    template:
      metadata:
        labels: {{app: listed}}
      spec:
        containers:
        - name: app
          image: nginx
          env:
          - name: TOKEN
            valueFrom:
              secretKeyRef: {{name: listed, key: token}}
---
{{\"apiVersion\": \"v1\", \"kind\": \"Secr\\u0065t\", \"metadata\": {{\"name\": \"json\"}}, \"stringData\": {{\"token\": \"{SECRET_VALUE}\"}}}}
---
{deployment}"
    )
}

fn assert_no_secret(what: &str, text: &str) {
    for v in [SECRET_VALUE, SECRET_B64] {
        assert!(!text.contains(v), "{what} shows a Secret value:\n{text}");
    }
}

#[test]
fn secret_values_stay_out_of_explain_diff_and_errors() {
    let stream = secret_stream();
    for mode in ["statefulset", "pvc"] {
        let out = run(&["--path", "/data", "--mode", mode, "-o", "diff", "--explain"], stream.as_bytes());
        assert_eq!(out.status.code(), Some(1), "differences: {}", stderr(&out));
        let diff = String::from_utf8(out.stdout.clone()).unwrap();
        // The List changed (its Deployment did): its Secret, in the diff's
        // context when the kind line changes, is masked.
        assert!(mode == "pvc" || diff.contains("token: \"***\""), "{diff}");
        assert_no_secret("-o diff", &diff);
        assert!(stderr(&out).contains("persist /data"), "{}", stderr(&out));
        assert_no_secret("--explain", &stderr(&out));
    }
    // Errors in and around Secrets: broken YAML in a Secret that must be read
    // (-o json reads everything), a float JSON cannot hold, an alias bomb.
    let broken = [
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: {SECRET_VALUE}\n   more: {SECRET_VALUE}\n"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: \"{SECRET_VALUE}\n"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: {SECRET_VALUE}\n  token: {SECRET_VALUE}\n"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: .NaN\n".to_string(),
        format!("{{\"kind\": \"Secret\", \"stringData\": {{\"token\": \"{SECRET_VALUE}\",}}}}\n"),
        format!("kind: Secret\nstringData:\n  token: \"{SECRET_VALUE}\\q\"\n"),
    ];
    for b in &broken {
        let out = run(&["-o", "json"], b.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{b}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        assert_no_secret("an error", &stderr(&out));
        assert!(!stderr(&out).contains("NaN"), "{}", stderr(&out));
    }
}

#[test]
fn a_secret_that_cannot_be_masked_is_not_shown() {
    // A List whose Secret takes its data through an alias: masking node by
    // node would miss the anchor's text, so the document is withheld.
    let text = format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: c}}\n  data: &d {{token: {SECRET_VALUE}}}\n- apiVersion: v1\n  kind: Secret\n  metadata: {{name: s}}\n  stringData: *d\n"
    );
    let m = emit::masked(&text);
    assert_no_secret("masked()", &m);
    assert!(m.starts_with("# kubectl-persist: not shown"), "{m}");
    // Escapes that spell Secret are seen through.
    let m = emit::masked(&format!("kind: \"Secr\\x65t\"\nstringData:\n  token: {SECRET_VALUE}\n"));
    assert_no_secret("masked()", &m);
}
