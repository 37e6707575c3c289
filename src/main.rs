//! The `aws-rotate-keys` binary: the I/O shell around the core (see `cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
