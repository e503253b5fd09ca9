//! Every way a Lancehead call can fail, grouped by topic.
//!
//! Each message is one line that names the argument at fault and what is accepted, so the CLI
//! can print it as is. Whatever a message echoes of the user's input goes through [`echo`]
//! (text: one line, at most [`ECHO_LIMIT`] characters) or [`number`] (shortest form), so a
//! hostile `.npy` header or a 1 MB backend name cannot flood a terminal or a log.

use std::fmt;
use std::path::{Path, PathBuf};

/// The result type of every fallible Lancehead call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, grouped by topic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- problem parameters -------------------------------------------------------------
    /// A parameter outside its accepted range (`name` is the CLI argument's name).
    #[error("invalid {name} = {}: expected {accepted}", echo(value))]
    InvalidParameter {
        name: &'static str,
        value: String,
        accepted: String,
    },

    /// `d * dt` beyond the explicit scheme's stability limit.
    #[error(
        "unstable diffusion: d*dt = {}*{} = {} exceeds 0.25, the stability limit of \
         explicit Euler with dx = 1; choose d and dt with d*dt <= 0.25",
        number(*d), number(*dt), number(*product)
    )]
    Unstable { d: f64, dt: f64, product: f64 },

    // ---- buffers ------------------------------------------------------------------------
    /// A buffer whose shape differs from the problem's.
    #[error("{what} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        what: &'static str,
        found: (usize, usize),
        expected: (usize, usize),
    },

    /// A buffer that is not one contiguous row-major block (kernels and FFI need that).
    #[error("{what} must be a contiguous row-major (C order) array")]
    NotContiguous { what: &'static str },

    /// A one-dimensional buffer of the wrong length (checked before a pointer crosses FFI).
    #[error("{what} has {found} elements, expected {expected}")]
    LengthMismatch {
        what: &'static str,
        found: usize,
        expected: usize,
    },

    /// A buffer too large for this machine's memory or address space.
    #[error("{what} of {}x{} needs {bytes} bytes, more than can be allocated here", shape.0, shape.1)]
    OutOfMemory {
        what: &'static str,
        shape: (usize, usize),
        bytes: u128,
    },

    // ---- backends -----------------------------------------------------------------------
    /// A backend name Lancehead does not know.
    #[error("unknown backend `{}`; known backends: {known}", echo(name))]
    UnknownBackend { name: String, known: String },

    /// A backend Lancehead knows but this build left out.
    #[error(
        "backend `{name}` is not compiled in; rebuild with `--features {feature}` \
         (compiled in: {compiled})"
    )]
    NotCompiled {
        name: String,
        feature: &'static str,
        compiled: String,
    },

    /// A backend that is compiled in but cannot run here.
    #[error("backend `{name}` is unavailable: {reason}")]
    Unavailable { name: String, reason: String },

    /// A GPU backend's device failed a call: validation error, device out of memory, lost.
    #[error("backend `{name}`: GPU error: {message}")]
    Gpu { name: &'static str, message: String },

    /// A problem larger than the GPU adapter can hold or dispatch (not tiled).
    #[error(
        "backend `{name}`: {what} needs {needed} {unit}, more than this GPU allows \
         ({limit} = {allowed}); use a smaller problem or a CPU backend"
    )]
    GpuLimit {
        name: &'static str,
        what: String,
        needed: u64,
        unit: &'static str,
        limit: &'static str,
        allowed: u64,
    },

    // ---- files --------------------------------------------------------------------------
    /// A `.npy` file that cannot be read as the array it should hold.
    #[error("{arg} {}: {message}", shown(path))]
    BadNpy {
        arg: &'static str,
        path: PathBuf,
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{arg} {}: {source}", shown(path))]
    Io {
        arg: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Encoding a picture failed.
    #[error("{arg} {}: cannot encode PNG: {message}", shown(path))]
    Png {
        arg: &'static str,
        path: PathBuf,
        message: String,
    },

    /// An output path that names something other than a regular file or a new name.
    #[error(
        "{arg} {}: is a {kind}, not a regular file; give a new file name or a regular file \
         to replace",
        shown(path)
    )]
    NotAFile {
        arg: &'static str,
        path: PathBuf,
        kind: &'static str,
    },

    /// An output folder whose path, or a path above it, is taken by something else.
    #[error(
        "{arg} {}: a file is in the way ({}); {arg} must be a folder, created when missing",
        shown(path),
        shown(in_the_way)
    )]
    NotAFolder {
        arg: &'static str,
        path: PathBuf,
        in_the_way: PathBuf,
    },

    /// Two outputs of one run that would land on the same file.
    #[error(
        "{arg} {} is the same file as {other} {}; give each output its own path",
        shown(path),
        shown(other_path)
    )]
    SameOutput {
        arg: &'static str,
        path: PathBuf,
        other: &'static str,
        other_path: PathBuf,
    },

    // ---- distributed runs (MPI) -------------------------------------------------------
    /// A failure on another rank of an MPI run, passed to every rank so that all of them stop
    /// with the same one-line message.
    #[error("rank {rank} of {ranks}: {message}")]
    OnRank {
        rank: usize,
        ranks: usize,
        message: String,
    },

    // ---- measurement (`lancehead compare`) ---------------------------------------------
    /// Results that differ from `scalar` beyond their backend's agreement class.
    #[error("{count} result(s) disagree with scalar beyond their agreement class; first: {first}")]
    Disagreement { count: usize, first: String },

    /// Instruction counters that were asked for by name but cannot be had here.
    #[error("--counters {mode}: unavailable here: {reason}")]
    CountersUnavailable { mode: &'static str, reason: String },

    /// A counting child process (perf or callgrind) that did not deliver its figures.
    #[error("counting {what} failed: {message}")]
    Counting { what: String, message: String },
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`]; numbers are echoed in shortest form.
    pub fn invalid(name: &'static str, value: impl Echo, accepted: impl ToString) -> Self {
        Error::InvalidParameter {
            name,
            value: value.echo(),
            accepted: accepted.to_string(),
        }
    }
}

/// The most characters of one piece of user input that a message echoes.
pub const ECHO_LIMIT: usize = 160;

/// User text as a message echoes it: control characters escaped (so it stays on one line),
/// cut after [`ECHO_LIMIT`] characters with an ellipsis and the full length in bytes.
pub fn echo(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == ECHO_LIMIT {
            out.push_str(&format!("… ({} bytes)", text.len()));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A number as a message echoes it: the shorter of its two round-trip forms, `Display`'s
/// plain digits (`1`, `0.1`) or `Debug`'s, which switches to an exponent for very large and
/// small numbers (`1e308`, not 309 digits; `1e-7`, not `0.0000001`).
pub fn number(v: f64) -> String {
    let (plain, general) = (format!("{v}"), format!("{v:?}"));
    if general.len() < plain.len() {
        general
    } else {
        plain
    }
}

/// A path as a message echoes it (see [`echo`]); an empty one as `''`.
fn shown(path: &Path) -> String {
    match path.as_os_str().is_empty() {
        true => "''".into(),
        false => echo(&path.display().to_string()),
    }
}

/// A value that a message can echo: numbers in shortest form, text bounded by [`echo`].
pub trait Echo {
    fn echo(&self) -> String;
}

impl Echo for f64 {
    fn echo(&self) -> String {
        number(*self)
    }
}

impl Echo for str {
    fn echo(&self) -> String {
        echo(self)
    }
}

impl Echo for String {
    fn echo(&self) -> String {
        echo(self)
    }
}

impl Echo for fmt::Arguments<'_> {
    fn echo(&self) -> String {
        echo(&self.to_string())
    }
}

impl<T: Echo + ?Sized> Echo for &T {
    fn echo(&self) -> String {
        (**self).echo()
    }
}

macro_rules! echo_integers {
    ($($t:ty),*) => {$(
        impl Echo for $t {
            fn echo(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
echo_integers!(u32, u64, usize, i32, i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_echoed_in_shortest_form() {
        assert_eq!(number(1e308), "1e308");
        assert_eq!(number(-1e308), "-1e308");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(2.5e-323), "2.5e-323");
        assert_eq!(number(f64::NAN), "NaN");
        let e = Error::Unstable {
            d: 1.0,
            dt: 1e308,
            product: 1e308,
        };
        assert!(e.to_string().contains("1*1e308 = 1e308"), "{e}");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(123456.0), "123456");
        assert_eq!(number(1e16), "1e16");
    }

    #[test]
    fn text_is_echoed_on_one_line_and_bounded() {
        assert_eq!(echo("numba"), "numba");
        assert_eq!(echo("a\nb\u{7}"), "a\\nb\\u{7}");
        let long = "é".repeat(1 << 20);
        let shown = echo(&long);
        assert_eq!(
            shown.chars().count(),
            ECHO_LIMIT + " (2097152 bytes)".len() + 1
        );
        assert!(shown.ends_with("… (2097152 bytes)"), "{shown}");
        let e = Error::invalid("--backend", &long, "a name");
        assert!(e.to_string().len() < 600);
    }
}
