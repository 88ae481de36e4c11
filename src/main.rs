//! `accountd`: parse the command line, start logging, hand over to the CLI.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match accountd::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line, as INTERFACE.md asks: the message folded, without
            // the usage block (`--help` has that).
            let text = e.to_string();
            let message = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("accountd: {}", message.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    // Logs go to stderr, so stdout carries only the JSON and the listening
    // line. A bad configuration is reported by the command itself; logging
    // starts in the default format meanwhile.
    let format = accountd::config::Config::from_env()
        .map(|c| c.log_format)
        .unwrap_or(accountd::config::LogFormat::Text);
    // Held to the end of main: dropping it flushes the queued lines.
    let _log_guard = accountd::logging::init(format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("accountd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(accountd::cli::run(cli));
    // A blocking task still running (a hash) must not hold the exit past
    // the shutdown deadline.
    runtime.shutdown_timeout(accountd::app::RUNTIME_STOP_WITHIN);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accountd: {e}");
            ExitCode::FAILURE
        }
    }
}
