//! `ndarray-alloc` and `ndarray`: the book's numpy lessons (chapter 6) in Rust.
//!
//! Both work a whole array at a time, as numpy does. `ndarray-alloc` writes each step the way
//! Example 6-9 does with `np.roll`: every expression returns a new array, so a diffusion step
//! allocates a handful of grids and a Julia iteration a handful of images. `ndarray` is the
//! book's fix (Examples 6-14 to 6-17, `roll_add`): the same passes over memory, but written in
//! place into preallocated arrays, so the kernels allocate nothing per step. The harness's
//! allocation counts show the difference; the arithmetic, and so every bit of the result,
//! is the same as `scalar`'s.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, Slice, Zip, azip, concatenate};

use crate::backend::{
    Backend, DiffusionKernel, JuliaKernel, diffusion_buffers, julia_output, ping_pong,
};
use crate::error::Result;
use crate::problem::{DiffusionParams, JuliaParams, try_zeros};

/// `ndarray-alloc`: new arrays for every expression, as numpy with `np.roll` (Example 6-9).
#[derive(Debug, Default, Clone, Copy)]
pub struct NdarrayAlloc;

/// `ndarray`: in-place slice arithmetic into preallocated arrays (Example 6-17).
#[derive(Debug, Default, Clone, Copy)]
pub struct NdarrayInPlace;

impl Backend for NdarrayAlloc {
    fn name(&self) -> &'static str {
        "ndarray-alloc"
    }
}

impl Backend for NdarrayInPlace {
    fn name(&self) -> &'static str {
        "ndarray"
    }
}

/// `z0` for every pixel: `zr[j][i] = xs[i]`, `zi[j][i] = ys[j]`.
fn initial_z(params: &JuliaParams) -> Result<(Array2<f64>, Array2<f64>)> {
    let mut zr = try_zeros(params.shape(), "Julia work array zr")?;
    let mut zi = try_zeros(params.shape(), "Julia work array zi")?;
    let xs = ArrayView2::from_shape((1, params.width()), params.xs()).expect("1 x width");
    let ys = ArrayView2::from_shape((params.height(), 1), params.ys()).expect("height x 1");
    zr.assign(&xs);
    zi.assign(&ys);
    Ok((zr, zi))
}

impl JuliaKernel for NdarrayAlloc {
    /// The reference script's numpy loop: each iteration builds new arrays for `|z|^2`, the
    /// mask, the candidate `z` and the selected `z`.
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = julia_output(params, counts)?;
        let mut counts = ArrayViewMut2::from_shape(params.shape(), counts).expect("checked shape");
        counts.fill(0);
        let (mut zr, mut zi) = initial_z(params)?;
        let (cr, ci) = params.c();
        let mut active = Array2::from_elem(params.shape(), true);
        for _ in 0..params.max_iter() {
            let magnitude = &zr * &zr + &zi * &zi;
            active = Zip::from(&active)
                .and(&magnitude)
                .map_collect(|&a, &m| a && m < 4.0);
            if !active.iter().any(|&a| a) {
                break;
            }
            let next_r = (&zr * &zr - &zi * &zi) + cr;
            let next_i = (&zr * 2.0) * &zi + ci;
            zr = Zip::from(&active)
                .and(&next_r)
                .and(&zr)
                .map_collect(|&a, &n, &z| if a { n } else { z });
            zi = Zip::from(&active)
                .and(&next_i)
                .and(&zi)
                .map_collect(|&a, &n, &z| if a { n } else { z });
            azip!((n in &mut counts, &a in &active) *n += u32::from(a));
        }
        Ok(())
    }
}

impl JuliaKernel for NdarrayInPlace {
    /// The same array-at-a-time loop, updating preallocated `z` arrays and the counts in one
    /// fused pass per iteration: the work arrays are allocated once per call.
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = julia_output(params, counts)?;
        let mut counts = ArrayViewMut2::from_shape(params.shape(), counts).expect("checked shape");
        counts.fill(0);
        let (mut zr, mut zi) = initial_z(params)?;
        let (cr, ci) = params.c();
        let mut active = Array2::from_elem(params.shape(), true);
        for _ in 0..params.max_iter() {
            let still_active = Zip::from(&mut zr)
                .and(&mut zi)
                .and(&mut active)
                .and(&mut counts)
                .fold(0usize, |live, zr, zi, a, n| {
                    if *a && *zr * *zr + *zi * *zi < 4.0 {
                        let t = (*zr * *zr - *zi * *zi) + cr;
                        *zi = (2.0 * *zr) * *zi + ci;
                        *zr = t;
                        *n += 1;
                        live + 1
                    } else {
                        *a = false;
                        live
                    }
                });
            if still_active == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// `np.roll(u, shift, axis)` for `shift` = +1 or -1: a new array whose element `i` along
/// `axis` is `u[i - shift]`, wrapping around.
fn roll(u: &ArrayView2<'_, f64>, shift: isize, axis: Axis) -> Array2<f64> {
    let n = u.len_of(axis) as isize;
    let split = if shift > 0 { n - 1 } else { 1 };
    let tail = u.slice_axis(axis, Slice::from(split..));
    let head = u.slice_axis(axis, Slice::from(..split));
    concatenate(axis, &[tail, head]).expect("same shapes but along axis")
}

impl DiffusionKernel for NdarrayAlloc {
    /// Example 6-9, step by step: `v = roll(u, 1, 0) + roll(u, -1, 0)`,
    /// `h = roll(u, 1, 1) + roll(u, -1, 1)`, `lap = (v + h) - 4 u`, `u = u + k lap`.
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        // The scratch grid goes unused: allocating as numpy does is this backend's point.
        let (grid, _) = diffusion_buffers(params, grid, scratch)?;
        let mut grid = ArrayViewMut2::from_shape(params.shape(), grid).expect("checked shape");
        let k = params.k();
        let mut u = grid.to_owned();
        for _ in 0..steps {
            let view = u.view();
            let v = roll(&view, 1, Axis(0)) + roll(&view, -1, Axis(0));
            let h = roll(&view, 1, Axis(1)) + roll(&view, -1, Axis(1));
            let lap = (v + h) - &u * 4.0;
            u = &u + &(lap * k);
        }
        grid.assign(&u);
        Ok(())
    }
}

impl DiffusionKernel for NdarrayInPlace {
    /// `roll_add` in place: three passes per step into the preallocated `out` grid, no
    /// temporaries. Pass 1 writes `h`, pass 2 adds `v` (`h + v` is `v + h` to the bit: IEEE
    /// addition commutes), pass 3 turns it into `u + k ((v + h) - 4 u)`.
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        let (grid, scratch) = diffusion_buffers(params, grid, scratch)?;
        let shape = params.shape();
        let k = params.k();
        ping_pong(grid, scratch, steps, |src, dst| {
            let u = ArrayView2::from_shape(shape, src).expect("checked shape");
            let mut out = ArrayViewMut2::from_shape(shape, dst).expect("checked shape");
            neighbour_sum(&u, &mut out, Axis(1), |o, a, b| *o = a + b);
            neighbour_sum(&u, &mut out, Axis(0), |o, a, b| *o += a + b);
            azip!((o in &mut out, &c in &u) *o = c + k * (*o - 4.0 * c));
        });
        Ok(())
    }
}

/// For every element `i` along `axis`: `f(out[i], u[i-1], u[i+1])`, wrapping at both ends.
/// Written as three slice operations (interior, first, last), the way `roll_add` avoids
/// building rolled copies.
fn neighbour_sum(
    u: &ArrayView2<'_, f64>,
    out: &mut ArrayViewMut2<'_, f64>,
    axis: Axis,
    f: impl Fn(&mut f64, f64, f64) + Copy,
) {
    let n = u.len_of(axis) as isize;
    let mut apply = |target: Slice, before: Slice, after: Slice| {
        Zip::from(out.slice_axis_mut(axis, target))
            .and(u.slice_axis(axis, before))
            .and(u.slice_axis(axis, after))
            .for_each(|o, &a, &b| f(o, a, b));
    };
    let at = |i: isize| Slice::from(i..i + 1);
    if n == 1 {
        apply(at(0), at(0), at(0));
        return;
    }
    apply(
        Slice::from(1..n - 1),
        Slice::from(..n - 2),
        Slice::from(2..),
    );
    apply(at(0), at(n - 1), at(1));
    apply(at(n - 1), at(n - 2), at(0));
}
