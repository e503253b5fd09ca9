//! `lancehead`: run the book's kernels on any backend, list backends, compare them.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("lancehead: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
