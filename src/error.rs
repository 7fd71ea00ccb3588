//! Errors of the library, one variant per stage, each naming where it happened.

use std::fmt;

/// Where in the input something is: file, document, line, and the object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocRef {
    /// Input name as the user gave it (`-` or `<stdin>` for standard input).
    pub input: String,
    /// 1-based document number in that input.
    pub doc: usize,
    /// 1-based line and column in the input, where known.
    pub line: Option<(usize, usize)>,
    /// Helm's `# Source:` template, where the document has one.
    pub source: Option<String>,
    /// `Kind namespace/name`, where known.
    pub object: Option<String>,
}

impl fmt::Display for DocRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Live objects have no file or lines to point at: name the object.
        if self.input == crate::live::LIVE_INPUT {
            return write!(f, "live {}", self.object.as_deref().unwrap_or("object"));
        }
        write!(f, "{}: document {}", self.input, self.doc)?;
        match (&self.object, &self.source) {
            (Some(o), Some(s)) => write!(f, " ({o}, from {s})")?,
            (Some(o), None) => write!(f, " ({o})")?,
            (None, Some(s)) => write!(f, " (from {s})")?,
            (None, None) => {}
        }
        if let Some((l, c)) = self.line {
            write!(f, ", line {l}, column {c}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not valid YAML (or JSON) where it had to be read.
    #[error("{at}: {msg}")]
    Parse { at: Box<DocRef>, msg: String },
    /// A workload cannot be rewritten safely as asked.
    #[error("{at}: {msg}")]
    Rewrite { at: Box<DocRef>, msg: String },
    /// The config file or catalog is invalid.
    #[error("{file}: {msg}")]
    Config { file: String, msg: String },
    /// The input is not UTF-8, or similar problems with the bytes.
    #[error("{input}: {msg}")]
    Input { input: String, msg: String },
    /// A named target does not exist, and similar problems with the request.
    #[error("{0}")]
    Request(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
