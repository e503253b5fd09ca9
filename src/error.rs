//! Every way a Lancehead call can fail, grouped by topic.
//!
//! Each message is one line that names the argument at fault and what is accepted, so the CLI
//! can print it as is.

use std::path::PathBuf;

/// The result type of every fallible Lancehead call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, grouped by topic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- problem parameters -------------------------------------------------------------
    /// A parameter outside its accepted range (`name` is the CLI argument's name).
    #[error("invalid {name} = {value}: expected {accepted}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        accepted: String,
    },

    /// `d * dt` beyond the explicit scheme's stability limit.
    #[error(
        "unstable diffusion: d*dt = {d}*{dt} = {product} exceeds 0.25, the stability limit of \
         explicit Euler with dx = 1; choose d and dt with d*dt <= 0.25"
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
    #[error("unknown backend `{name}`; known backends: {known}")]
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
    #[error("{arg} {}: {message}", path.display())]
    BadNpy {
        arg: &'static str,
        path: PathBuf,
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{arg} {}: {source}", path.display())]
    Io {
        arg: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Encoding a picture failed.
    #[error("{arg} {}: cannot encode PNG: {message}", path.display())]
    Png {
        arg: &'static str,
        path: PathBuf,
        message: String,
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
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(name: &'static str, value: impl ToString, accepted: impl ToString) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            accepted: accepted.to_string(),
        }
    }
}
