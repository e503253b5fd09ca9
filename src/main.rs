//! `lancehead`: run the book's kernels on any backend, list backends, compare them.

mod cli;

use std::process::ExitCode;

/// Counts allocations so that `compare` can report those made inside a kernel call; a
/// library may not choose the process's allocator, so the binary installs it.
#[global_allocator]
static ALLOCATOR: lancehead::harness::alloc::CountingAllocator =
    lancehead::harness::alloc::CountingAllocator;

fn main() -> ExitCode {
    match cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("lancehead: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
