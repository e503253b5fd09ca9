//! The C ABI of Lancehead's own kernels (the `capi` feature): the book's ctypes direction
//! (Example 7-21) turned around, so C, Python's `ctypes` or anything with a C FFI can run any
//! backend of this build. `include/lancehead.h` declares these functions.
//!
//! At the boundary every argument is checked (null pointers, buffer lengths, alignment, the
//! backend name, the problem's parameters) and each failure is an error code plus a message
//! from [`lancehead_last_error`]; a panic is caught and reported, never unwound into C.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError};

use ndarray::ArrayViewMut2;

use crate::Backend;
use crate::error::Error;
use crate::problem::diffusion::check_finite_grid;
use crate::problem::{DiffusionParams, JuliaParams, Region};
use crate::registry;

/// Success.
pub const LANCEHEAD_OK: c_int = 0;
/// A required pointer was NULL.
pub const LANCEHEAD_ERR_NULL_POINTER: c_int = 1;
/// An argument out of range: sizes, region, c, d*dt, a buffer's length or alignment.
pub const LANCEHEAD_ERR_INVALID_ARGUMENT: c_int = 2;
/// The backend is unknown, not compiled in, or cannot run here.
pub const LANCEHEAD_ERR_BACKEND: c_int = 3;
/// Memory for the workspace could not be allocated.
pub const LANCEHEAD_ERR_OUT_OF_MEMORY: c_int = 4;
/// A bug inside Lancehead (a caught panic); the output buffer's contents are unspecified.
pub const LANCEHEAD_ERR_INTERNAL: c_int = 5;

thread_local! {
    /// The message of this thread's most recent failure (empty after a success).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// One failed call: its code and what to tell the caller.
struct Failure(c_int, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match e {
            Error::UnknownBackend { .. }
            | Error::NotCompiled { .. }
            | Error::Unavailable { .. } => LANCEHEAD_ERR_BACKEND,
            Error::OutOfMemory { .. } => LANCEHEAD_ERR_OUT_OF_MEMORY,
            _ => LANCEHEAD_ERR_INVALID_ARGUMENT,
        };
        Failure(code, e.to_string())
    }
}

fn invalid(message: String) -> Failure {
    Failure(LANCEHEAD_ERR_INVALID_ARGUMENT, message)
}

/// Runs `body` as one C call: its result becomes a code and the thread's last error, and a
/// panic is caught here, at the boundary, instead of unwinding into foreign frames.
fn boundary(body: impl FnOnce() -> Result<(), Failure>) -> c_int {
    let (code, message) = match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => (LANCEHEAD_OK, String::new()),
        Ok(Err(Failure(code, message))) => (code, message),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            (
                LANCEHEAD_ERR_INTERNAL,
                format!("internal error (please report): {what}"),
            )
        }
    };
    // A message with a NUL byte cannot be a C string; keep the part before it.
    let message = CString::new(message).unwrap_or_else(|e| {
        let end = e.nul_position();
        CString::new(&e.into_vec()[..end]).unwrap_or_default()
    });
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
    code
}

/// The backend named by the C string `name` (NULL: `scalar`).
///
/// Each backend is built once per process, at its first successful call, and that instance
/// serves every later call from every thread (backends are `Send + Sync` for this): building
/// one can cost far more than a small call (the GPU backends compile their pipelines). A
/// backend that cannot be built is not kept, so the next call asks again.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
unsafe fn backend(name: *const c_char) -> Result<Arc<dyn Backend>, Failure> {
    static BUILT: Mutex<Vec<Arc<dyn Backend>>> = Mutex::new(Vec::new());
    let name = if name.is_null() {
        "scalar"
    } else {
        // SAFETY: the caller promises a NUL-terminated string.
        unsafe { CStr::from_ptr(name) }
            .to_str()
            .map_err(|_| invalid("backend: the name is not valid UTF-8".into()))?
    };
    // A panic elsewhere while the lock was held cannot have left the list half-changed.
    let built = || BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(backend) = built().iter().find(|b| b.name() == name) {
        return Ok(Arc::clone(backend));
    }
    // Built without the lock held, so a slow first call of one backend does not stall the
    // others; two threads may race to build the same one, and the first one kept wins.
    let new: Arc<dyn Backend> = registry::create(name)?.into();
    let mut built = built();
    if let Some(backend) = built.iter().find(|b| b.name() == name) {
        return Ok(Arc::clone(backend));
    }
    built.push(Arc::clone(&new));
    Ok(new)
}

/// The caller's buffer of `len` elements as a `rows x cols` view, after checking that it is
/// there, exactly `rows * cols` long and aligned for `T`.
///
/// # Safety
/// `data` is NULL or points to `len` initialised elements that nothing else accesses during
/// the call.
unsafe fn buffer<'a, T>(
    what: &str,
    data: *mut T,
    len: usize,
    (rows, cols): (usize, usize),
) -> Result<ArrayViewMut2<'a, T>, Failure> {
    if data.is_null() {
        return Err(Failure(
            LANCEHEAD_ERR_NULL_POINTER,
            format!("{what} is NULL"),
        ));
    }
    if !data.is_aligned() {
        return Err(invalid(format!(
            "{what} is not aligned to {} bytes",
            std::mem::align_of::<T>()
        )));
    }
    let expected = rows.checked_mul(cols);
    if expected != Some(len) {
        return Err(invalid(format!(
            "{what}_len is {len}, expected {rows} * {cols} elements"
        )));
    }
    if len
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|b| b > isize::MAX as usize)
    {
        return Err(invalid(format!(
            "{what}_len is {len}: larger than any buffer can be ({} bytes per element)",
            std::mem::size_of::<T>()
        )));
    }
    // SAFETY: non-null and aligned (checked), `len` elements long (the caller's promise,
    // and `len` is the shape's size), at most isize::MAX bytes (checked).
    let data = unsafe { std::slice::from_raw_parts_mut(data, len) };
    ArrayViewMut2::from_shape((rows, cols), data).map_err(|e| invalid(format!("{what}: {e}")))
}

/// Computes the Julia set; see `include/lancehead.h`.
///
/// # Safety
/// `backend` is NULL or NUL-terminated; `counts` is NULL or points to `counts_len` writable
/// `uint32_t` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lancehead_julia(
    backend: *const c_char,
    width: usize,
    height: usize,
    x1: f64,
    x2: f64,
    y1: f64,
    y2: f64,
    cr: f64,
    ci: f64,
    max_iter: u32,
    counts: *mut u32,
    counts_len: usize,
) -> c_int {
    boundary(|| {
        let problem =
            || JuliaParams::new(width, height, Region { x1, x2, y1, y2 }, (cr, ci), max_iter);
        // A zero size explains any buffer length, so it is reported first (JuliaParams::new
        // refuses it before allocating anything). Then the caller's buffer, so that a bad
        // one is refused before the coordinates (width + height values) are allocated.
        if width == 0 || height == 0 {
            problem()?;
        }
        // SAFETY: the caller's promises, passed on.
        let counts = unsafe { buffer("counts", counts, counts_len, (height, width)) }?;
        let params = problem()?;
        let backend = unsafe { self::backend(backend) }?;
        backend.julia(&params, counts)?;
        Ok(())
    })
}

/// Advances a diffusion grid in place; see `include/lancehead.h`.
///
/// # Safety
/// `backend` is NULL or NUL-terminated; `grid` is NULL or points to `grid_len` readable and
/// writable `double` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lancehead_diffusion(
    backend: *const c_char,
    rows: usize,
    cols: usize,
    dt: f64,
    d: f64,
    steps: u32,
    grid: *mut f64,
    grid_len: usize,
) -> c_int {
    boundary(|| {
        let params = DiffusionParams::new(rows, cols, dt, d)?;
        // SAFETY: the caller's promises, passed on.
        let grid = unsafe { buffer("grid", grid, grid_len, params.shape()) }?;
        check_finite_grid(grid.view()).map_err(|e| invalid(format!("grid: {e}")))?;
        let backend = unsafe { self::backend(backend) }?;
        let mut scratch = params.new_grid()?;
        backend.evolve(&params, grid, scratch.view_mut(), steps)?;
        Ok(())
    })
}

/// The message of this thread's most recent failed call (an empty string after a success).
/// The pointer stays valid until this thread's next Lancehead call.
#[unsafe(no_mangle)]
pub extern "C" fn lancehead_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: lancehead_last_error returns a valid C string owned by this thread.
        unsafe { CStr::from_ptr(lancehead_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_an_error_code_not_an_unwind() {
        let code = boundary(|| panic!("boom"));
        assert_eq!(code, LANCEHEAD_ERR_INTERNAL);
        assert_eq!(last_error(), "internal error (please report): boom");
        assert_eq!(boundary(|| Ok(())), LANCEHEAD_OK);
        assert_eq!(last_error(), "");
    }
}
