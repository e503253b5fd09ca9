//! Thread counts asked for in the environment (`RAYON_NUM_THREADS` for the rayon backends,
//! `OMP_NUM_THREADS` for `c-openmp`), checked before any thread is started.
//!
//! Unchecked, `RAYON_NUM_THREADS=100000` had rayon start threads until the system refused one
//! and then panic, `OMP_NUM_THREADS=100000` crashed libgomp at its first parallel region, and
//! `0`, `abc` or an empty value were silently replaced by the default. Here each is one error
//! that names the variable and what it accepts.

use std::num::NonZero;

use crate::error::{Error, Result};

/// The most threads a variable may ask for, per logical CPU.
///
/// The accepted range is 1 to 16 threads per logical CPU this process may run on
/// (`available_parallelism`, which follows the affinity mask and the cgroup CPU quota). The
/// kernels are CPU-bound: past one thread per logical CPU, more threads only take turns on the
/// same cores, so oversubscription serves to test scheduling, for which a few per CPU are
/// plenty (the tests run `c-openmp` with 7 threads on 2 CPUs). Each thread costs a stack
/// (rayon's 2 MiB; libgomp's default is the stack limit, usually 8 MiB) and an entry in the
/// process's task limit, so an unbounded count ends in an exhausted system rather than a clean
/// error. A per-CPU limit grows with the machine, where an absolute one would be too tight for
/// a many-core server or too loose for a small VM.
pub const MAX_THREADS_PER_CPU: usize = 16;

/// The logical CPUs this process may run on (1 when the system cannot say).
pub fn logical_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, NonZero::get)
}

/// The most threads a variable may ask for on this machine.
pub fn max_threads() -> usize {
    logical_cpus() * MAX_THREADS_PER_CPU
}

/// How a variable lists its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// One count (rayon).
    Single,
    /// One count, or a comma-separated list of them, one per nesting level (OpenMP).
    List,
}

/// The counts that `variable` asks for, checked against `1..=max_threads()`; `None` when the
/// variable is not set (an empty value is set, and refused).
pub fn from_env(variable: &'static str, form: Form) -> Result<Option<Vec<usize>>> {
    let Some(value) = std::env::var_os(variable) else {
        return Ok(None);
    };
    parse(variable, &value.to_string_lossy(), form, max_threads()).map(Some)
}

/// `text` as the counts of `variable` (surrounding blanks allowed, as libgomp allows them).
pub fn parse(variable: &'static str, text: &str, form: Form, max: usize) -> Result<Vec<usize>> {
    let parts: Vec<&str> = match form {
        Form::Single => vec![text],
        Form::List => text.split(',').collect(),
    };
    let counts: Option<Vec<usize>> = parts
        .iter()
        .map(|part| part.trim().parse().ok().filter(|n| (1..=max).contains(n)))
        .collect();
    counts.ok_or_else(|| {
        let range = format!(
            "from 1 to {max} ({MAX_THREADS_PER_CPU} per logical CPU; this process may use {})",
            max / MAX_THREADS_PER_CPU
        );
        let accepted = match form {
            Form::Single => format!("an integer {range}"),
            Form::List => format!(
                "an integer {range}, or a comma-separated list of them (one per nesting level)"
            ),
        };
        Error::invalid(variable, shortened(text), accepted)
    })
}

/// A value as it is echoed in a message: a hostile environment may hold a megabyte.
fn shortened(text: &str) -> String {
    const ECHOED: usize = 40;
    match text.char_indices().nth(ECHOED) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_range_are_accepted_in_both_forms() {
        assert_eq!(parse("V", "1", Form::Single, 32).unwrap(), [1]);
        assert_eq!(parse("V", " 32 ", Form::Single, 32).unwrap(), [32]);
        assert_eq!(parse("V", "4, 2", Form::List, 32).unwrap(), [4, 2]);
    }

    #[test]
    fn everything_else_is_one_message_naming_the_variable_and_the_range() {
        for bad in [
            "", " ", "0", "33", "100000", "abc", "-3", "2.5", "4,2", "1e3",
        ] {
            let err = parse("RAYON_NUM_THREADS", bad, Form::Single, 32).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid RAYON_NUM_THREADS = {bad}: expected an integer from 1 to 32 (16 \
                     per logical CPU; this process may use 2)"
                )
            );
        }
        for bad in ["", "2,0", "2,", ",2", "2,,2", "40,2", "a,b"] {
            let err = parse("OMP_NUM_THREADS", bad, Form::List, 32).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid OMP_NUM_THREADS = {bad}: expected")),
                "{err}"
            );
        }
        let long = "9".repeat(100_000);
        let err = parse("OMP_NUM_THREADS", &long, Form::List, 32).unwrap_err();
        assert!(err.to_string().len() < 300, "{err}");
    }
}
