//! What the command line prints: results on stdout, warnings on stderr.
//!
//! A closed stdout (`lancehead backends | head -c 1`) ends the run quietly with status 0, as
//! `ripgrep` and other tools whose output is read by a pipe do: the reader has what it
//! wanted. Rust ignores SIGPIPE, so without this `println!` would panic on EPIPE.

use std::fmt::Display;
use std::io::Write;

use serde_json::Value;

use lancehead::error::number;

use super::Failure;

/// Prints `text` and a newline on stdout.
pub fn say(text: impl Display) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure {
                message: None,
                code: 0,
            },
            _ => Failure {
                message: Some(format!("cannot write to stdout: {e}")),
                code: 1,
            },
        })
}

/// Prints a one-line warning on stderr; a closed stderr loses it, nothing more.
pub fn warn(text: &str) {
    to_stderr("warning", text);
}

/// Writes `lancehead: {kind}: {text}` and its newline to stderr in one `write`: stderr is
/// unbuffered, so `writeln!` would write the line in pieces, and under `mpirun`, which
/// forwards each write of every rank as it comes, another process's output could land inside
/// the line. A closed stderr loses the line (`eprintln!` would panic instead).
pub fn to_stderr(kind: &str, text: impl Display) {
    let line = format!("lancehead: {kind}: {text}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// A number in a JSON report. JSON has no NaN or infinity (serde_json writes them as
/// `null`, which reads as "missing"), so those are written as the strings `"NaN"`, `"inf"`
/// and `"-inf"`, which Python's `float()` and Rust's `str::parse::<f64>` both read back.
pub fn json_number(v: f64) -> Value {
    if v.is_finite() {
        Value::from(v)
    } else {
        Value::String(number(v))
    }
}
