//! `kubectl-persist`: parse the command line, run, print the error chain once.

mod app;
mod cli;
mod cluster;
mod live_cmd;
mod read;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match app::run(cli) {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<app::Exit>() {
            Some(app::Exit::BrokenPipe) => ExitCode::from(141),
            Some(app::Exit::Usage(m)) => {
                eprintln!("kubectl-persist: error: {m}\nSee 'kubectl persist --help'.");
                ExitCode::from(2)
            }
            None => {
                eprintln!("kubectl-persist: error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
