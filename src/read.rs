//! Read the inputs: files, directories (`*.yaml`, `*.yml`, `*.json` in name
//! order, `-R` descends), and stdin for `-`.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use kubectl_persist::Input;

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

pub fn read_inputs(names: &[PathBuf], recursive: bool) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    let mut stdin_used = false;
    for n in names {
        if n.as_os_str() == "-" {
            if stdin_used {
                bail!("-f - is given twice: standard input can be read once");
            }
            stdin_used = true;
            out.push(read_stdin()?);
            continue;
        }
        let meta = std::fs::metadata(n).with_context(|| format!("{}: cannot read", n.display()))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect(n, recursive, &mut files)?;
            if files.is_empty() {
                bail!(
                    "{}: no *.yaml, *.yml or *.json files in this directory{}",
                    n.display(),
                    if recursive { "" } else { " (use -R to descend)" }
                );
            }
            for f in files {
                out.push(read_file(&f)?);
            }
        } else {
            out.push(read_file(n)?);
        }
    }
    Ok(out)
}

pub fn read_stdin() -> Result<Input> {
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes).context("<stdin>: cannot read standard input")?;
    Ok(Input { name: "<stdin>".into(), bytes })
}

fn read_file(p: &Path) -> Result<Input> {
    let bytes = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
    Ok(Input { name: p.display().to_string(), bytes })
}

fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: cannot list", dir.display()))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                collect(&p, recursive, out)?;
            }
        } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e)) {
            out.push(p);
        }
    }
    Ok(())
}
