//! `kubectl-persist`: parse the command line, run, print the error chain once.

mod app;
mod backup_cmd;
mod cli;
mod cluster;
mod complete;
mod exit;
mod live_cmd;
mod read;
mod report;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    if args.first().is_some_and(|a| a == "__complete") {
        return app::complete(&args[1..]);
    }
    let cli = cli::Cli::parse_from(std::iter::once("kubectl-persist".to_string()).chain(cli::subcommand_first(args)));
    match app::run(cli) {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<exit::Exit>() {
            Some(exit::Exit::BrokenPipe) => ExitCode::from(141),
            Some(exit::Exit::Usage(m)) => {
                report::say(&format!("kubectl-persist: error: {m}\nSee 'kubectl persist --help'."));
                ExitCode::from(2)
            }
            None => {
                report::say(&format!("kubectl-persist: error: {e:#}"));
                ExitCode::FAILURE
            }
        },
    }
}
