//! terraform-provider-jit: started by Terraform, never by hand (except `--version`).

use std::process::ExitCode;

use jit_provider::{clock, logging, plugin, server::JitProvider};

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == "--version")
    {
        println!("terraform-provider-jit {}", jit_provider::VERSION_LINE);
        return ExitCode::SUCCESS;
    }
    let handshake = match plugin::Handshake::from_env() {
        Ok(h) => h,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    logging::init();
    tracing::debug!(
        version = jit_provider::VERSION,
        commit = jit_provider::COMMIT,
        "terraform-provider-jit starting"
    );
    let clock = match clock::from_env() {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(plugin::serve(JitProvider::new(clock), handshake)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("terraform-provider-jit: {message}");
            ExitCode::FAILURE
        }
    }
}
