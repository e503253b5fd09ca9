//! `lancehead`: run the book's kernels on any backend, list backends, compare them.

mod cli;

use std::process::ExitCode;

/// Counts allocations so that `compare` can report those made inside a kernel call; a
/// library may not choose the process's allocator, so the binary installs it.
#[global_allocator]
static ALLOCATOR: lancehead::harness::alloc::CountingAllocator =
    lancehead::harness::alloc::CountingAllocator;

fn main() -> ExitCode {
    if let Err(e) = lancehead::io::interrupt::remove_temporary_files_on_signals() {
        // Everything still works; only an interrupted write may leave its temporary file.
        cli::output::to_stderr("warning", format_args!("cannot watch for signals: {e}"));
    }
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message {
                cli::output::to_stderr("error", message);
            }
            ExitCode::from(failure.code)
        }
    }
}
