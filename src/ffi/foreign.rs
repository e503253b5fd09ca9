//! The one safe wrapper around every foreign reference kernel.
//!
//! C (`c_ref/lancehead_ref.h`) and Fortran (`fortran_ref/`, `bind(C)`) export the same two
//! signatures, so a backend is just a pair of function pointers. [`Foreign`] checks the
//! buffers' shapes, contiguity and lengths, and the counts the foreign code can represent,
//! before it hands any pointer across.

use ndarray::ArrayViewMut2;

use crate::backend::{Backend, DiffusionKernel, JuliaKernel, diffusion_buffers, julia_output};
use crate::error::{Error, Result};
use crate::problem::{DiffusionParams, JuliaParams};

/// `julia(width, height, xs, ys, cr, ci, max_iter, counts)` of `c_ref/lancehead_ref.h`.
pub(crate) type JuliaFn =
    unsafe extern "C" fn(usize, usize, *const f64, *const f64, f64, f64, u32, *mut u32);
/// `diffusion(rows, cols, k, steps, grid, scratch)` of `c_ref/lancehead_ref.h`.
pub(crate) type DiffusionFn = unsafe extern "C" fn(usize, usize, f64, u32, *mut f64, *mut f64);

/// Declares foreign kernels with the signatures of `c_ref/lancehead_ref.h` (kept in one
/// place, so the declarations cannot drift apart from each other).
macro_rules! foreign_kernels {
    ($($julia:ident, $diffusion:ident;)*) => {
        unsafe extern "C" {
            $(
                fn $julia(
                    width: usize,
                    height: usize,
                    xs: *const f64,
                    ys: *const f64,
                    cr: f64,
                    ci: f64,
                    max_iter: u32,
                    counts: *mut u32,
                );
                fn $diffusion(
                    rows: usize,
                    cols: usize,
                    k: f64,
                    steps: u32,
                    grid: *mut f64,
                    scratch: *mut f64,
                );
            )*
        }
    };
}
pub(crate) use foreign_kernels;

/// A backend whose kernels are foreign functions.
pub struct Foreign {
    name: &'static str,
    julia: JuliaFn,
    diffusion: DiffusionFn,
    /// The largest `max_iter` and `steps` the foreign code can count to.
    count_limit: u32,
    details: Box<dyn Fn() -> Vec<(&'static str, String)> + Send + Sync>,
    /// The threads a call computes with (one, unless the foreign code is threaded).
    threads: fn() -> usize,
    /// Compiled with `-ffast-math`, which assumes no infinity or NaN ever arises
    /// (`-ffinite-math-only`): inputs that could make one are refused.
    finite_math_only: bool,
}

/// A `-ffast-math` build computes diffusion only on grids with every |value| below this: the
/// stencil's largest intermediate, `(up + down) + (left + right)` or `4 c`, is then below
/// 2^1023 and finite, and with `d * dt <= 0.25` a step cannot grow `max |u|` beyond rounding.
const FAST_MATH_GRID_LIMIT: f64 = f64::from_bits((1023 + 1021) << 52); // 2^1021
/// ... and Julia only on coordinates and `c` below this, so that no square overflows before
/// the escape test stops the iteration.
const FAST_MATH_JULIA_LIMIT: f64 = 1.0e150;

impl Foreign {
    /// # Safety
    /// `julia` and `diffusion` must keep the contract of `c_ref/lancehead_ref.h`: touch only
    /// the buffers they are given, within the lengths given; be callable from any thread,
    /// concurrently; never unwind; and count correctly up to `count_limit`.
    pub(crate) unsafe fn new(
        name: &'static str,
        julia: JuliaFn,
        diffusion: DiffusionFn,
        count_limit: u32,
        details: impl Fn() -> Vec<(&'static str, String)> + Send + Sync + 'static,
    ) -> Self {
        Foreign {
            name,
            julia,
            diffusion,
            count_limit,
            details: Box::new(details),
            threads: || 1,
            finite_math_only: false,
        }
    }

    /// For code compiled with `-ffast-math`: refuse inputs that could make an infinity or a
    /// NaN, which such code may not handle (its result there is undefined).
    pub(crate) fn with_finite_math_only(self) -> Self {
        Foreign {
            finite_math_only: true,
            ..self
        }
    }

    /// The `-ffast-math` rule for `values` (argument `what`), see [`FAST_MATH_GRID_LIMIT`].
    fn check_finite_math(&self, what: &'static str, values: &[f64], limit: f64) -> Result<()> {
        if !self.finite_math_only {
            return Ok(());
        }
        match values
            .iter()
            .position(|v| !v.is_finite() || v.abs() >= limit)
        {
            None => Ok(()),
            Some(i) => Err(Error::invalid(
                what,
                format!("{:e} (value {i})", values[i]),
                format!(
                    "finite values below {limit:e} in magnitude for backend `{}`: it is built \
                     with -ffast-math, which assumes no infinity or NaN arises; use `c`",
                    self.name
                ),
            )),
        }
    }

    /// For threaded foreign code: how many threads its next call will use.
    pub(crate) fn with_threads(self, threads: fn() -> usize) -> Self {
        Foreign { threads, ..self }
    }

    fn check_count(&self, argument: &'static str, value: u32) -> Result<()> {
        if value > self.count_limit {
            return Err(Error::invalid(
                argument,
                value,
                format!(
                    "an integer <= {} for backend `{}` (it counts in signed 32-bit integers)",
                    self.count_limit, self.name
                ),
            ));
        }
        Ok(())
    }
}

fn expect_len(what: &'static str, found: usize, expected: usize) -> Result<()> {
    if found != expected {
        return Err(Error::LengthMismatch {
            what,
            found,
            expected,
        });
    }
    Ok(())
}

impl Backend for Foreign {
    fn name(&self) -> &'static str {
        self.name
    }
    fn details(&self) -> Vec<(&'static str, String)> {
        (self.details)()
    }
    fn cpu_threads(&self) -> Option<usize> {
        Some((self.threads)())
    }
}

impl JuliaKernel for Foreign {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = julia_output(params, counts)?;
        let (width, height) = (params.width(), params.height());
        let (xs, ys) = (params.xs(), params.ys());
        expect_len("xs", xs.len(), width)?;
        expect_len("ys", ys.len(), height)?;
        expect_len("counts", counts.len(), width * height)?;
        self.check_count("max-iter", params.max_iter())?;
        let (cr, ci) = params.c();
        for (what, values) in [("xs", xs), ("ys", ys), ("c", &[cr, ci][..])] {
            self.check_finite_math(what, values, FAST_MATH_JULIA_LIMIT)?;
        }
        // SAFETY: the lengths the header requires were checked just above (xs: width, ys:
        // height, counts: width * height, row-major and contiguous); `counts` is borrowed
        // exclusively for the call; `Foreign::new` vouches for the function itself.
        unsafe {
            (self.julia)(
                width,
                height,
                xs.as_ptr(),
                ys.as_ptr(),
                cr,
                ci,
                params.max_iter(),
                counts.as_mut_ptr(),
            )
        };
        Ok(())
    }
}

impl DiffusionKernel for Foreign {
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        let (grid, scratch) = diffusion_buffers(params, grid, scratch)?;
        let (rows, cols) = params.shape();
        expect_len("grid", grid.len(), rows * cols)?;
        expect_len("scratch", scratch.len(), rows * cols)?;
        self.check_count("steps", steps)?;
        self.check_finite_math("grid", grid, FAST_MATH_GRID_LIMIT)?;
        // SAFETY: both buffers hold rows * cols contiguous row-major values (checked above)
        // and, being two exclusive borrows, do not overlap, as the header requires;
        // `Foreign::new` vouches for the function itself.
        unsafe {
            (self.diffusion)(
                rows,
                cols,
                params.k(),
                steps,
                grid.as_mut_ptr(),
                scratch.as_mut_ptr(),
            )
        };
        Ok(())
    }
}
