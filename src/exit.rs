//! How a run ends, beyond success: the one type every layer of the binary
//! may return, so none of them reaches up to `app` for it.

/// How a run ends, beyond success.
#[derive(Debug)]
pub enum Exit {
    Usage(String),
    /// stdout was closed early (`| head`): end quietly, as a killed filter would.
    BrokenPipe,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Usage(m) => f.write_str(m),
            Exit::BrokenPipe => f.write_str("broken pipe"),
        }
    }
}

impl std::error::Error for Exit {}
