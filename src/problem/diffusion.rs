//! The 2D diffusion (heat equation) problem of the book's chapter 6 (SPEC §1): explicit Euler,
//! dx = 1, periodic boundaries.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};

use crate::error::{Error, Result};
use crate::problem::{check_finite, try_zeros};

/// The book's time step.
pub const BOOK_DT: f64 = 0.1;
/// The book's diffusion coefficient.
pub const BOOK_D: f64 = 1.0;
/// The book's number of steps (Tables 6-1 and 6-2).
pub const BOOK_STEPS: u32 = 500;
/// The book's grid sizes (Tables 6-1 and 6-2).
pub const BOOK_SIZES: [usize; 5] = [256, 512, 1024, 2048, 4096];
/// The stability limit of the explicit scheme with dx = 1: `d * dt <= 0.25`.
pub const STABILITY_LIMIT: f64 = 0.25;

/// A validated diffusion problem: grid shape and the scheme's coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiffusionParams {
    rows: usize,
    cols: usize,
    dt: f64,
    d: f64,
    k: f64,
}

impl DiffusionParams {
    /// Validates the shape and the coefficients; refuses an unstable `d * dt`.
    pub fn new(rows: usize, cols: usize, dt: f64, d: f64) -> Result<Self> {
        if rows == 0 {
            return Err(Error::invalid("rows", rows, "an integer >= 1"));
        }
        if cols == 0 {
            return Err(Error::invalid("cols", cols, "an integer >= 1"));
        }
        for (name, v) in [("dt", dt), ("d", d)] {
            check_finite(name, v, v, "a finite number > 0")?;
            if v <= 0.0 {
                return Err(Error::invalid(name, v, "a finite number > 0"));
            }
        }
        let k = d * dt;
        if k > STABILITY_LIMIT {
            return Err(Error::Unstable { d, dt, product: k });
        }
        Ok(DiffusionParams {
            rows,
            cols,
            dt,
            d,
            k,
        })
    }

    /// The book's coefficients (`d = 1.0`, `dt = 0.1`) on a `rows x cols` grid.
    pub fn book(rows: usize, cols: usize) -> Result<Self> {
        Self::new(rows, cols, BOOK_DT, BOOK_D)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
    pub fn dt(&self) -> f64 {
        self.dt
    }
    pub fn d(&self) -> f64 {
        self.d
    }
    /// `k = d * dt`, computed once; every backend multiplies the Laplacian by this value.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// A zeroed grid of this problem's shape, allocated fallibly.
    pub fn new_grid(&self) -> Result<Array2<f64>> {
        try_zeros(self.shape(), "diffusion grid (rows x cols)")
    }

    /// The book's initial condition: zeros, and `0.005` on rows `floor(0.4*rows)..floor(0.5*rows)`
    /// x cols `floor(0.4*cols)..floor(0.5*cols)`.
    pub fn book_initial(&self) -> Result<Array2<f64>> {
        let mut u = self.new_grid()?;
        self.book_initial_rows(0, u.view_mut());
        Ok(u)
    }

    /// Rows `first..first + slab.nrows()` of [`book_initial`](Self::book_initial), written
    /// into `slab` (a rank's slab of a distributed grid, generated where it lives).
    pub fn book_initial_rows(&self, first: usize, mut slab: ArrayViewMut2<'_, f64>) {
        let band = |n: usize| (n as f64 * 0.4) as usize..(n as f64 * 0.5) as usize;
        let (r, c) = (band(self.rows), band(self.cols));
        slab.fill(0.0);
        let end = first + slab.nrows();
        let (lo, hi) = (r.start.clamp(first, end), r.end.clamp(first, end));
        slab.slice_mut(s![lo - first..hi - first, c]).fill(0.005);
    }
}

/// A grid value that is NaN or infinite, refused as an initial grid (SPEC §5: non-finite
/// numbers are bad input). Exactness is promised for finite inputs only, and a NaN or an
/// infinity would spread over the whole grid within a few steps.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("value at {index:?} is {value}; every value must be finite")]
pub struct NonFinite {
    /// `(row, column)` of the first such value in row-major order.
    pub index: (usize, usize),
    pub value: f64,
}

/// The one rule for initial grids, whoever hands them in (a `.npy` file to the CLI, a buffer
/// to the C ABI): every value finite. Overflow *during* a run is IEEE arithmetic, not bad input.
pub fn check_finite_grid(grid: ArrayView2<'_, f64>) -> Result<(), NonFinite> {
    match grid.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(NonFinite { index, value }),
        None => Ok(()),
    }
}

/// The diffusion checksum: the sum of the grid, with numpy's pairwise summation over the
/// row-major data, so it is comparable with `numpy.sum` to the last bit (numpy 2 sums a
/// contiguous array in one pairwise pass; checked against numpy 2.4 in the tests).
pub fn checksum(grid: ArrayView2<'_, f64>) -> f64 {
    match grid.as_slice() {
        Some(data) => pairwise(data),
        None => pairwise(&grid.iter().copied().collect::<Vec<_>>()),
    }
}

/// numpy's `pairwise_sum` (numpy/core/src/umath/loops_utils.h.src): eight accumulators below
/// 128 elements, halves rounded to a multiple of 8 above. The sum of a sub-slice is the sum
/// of that node of the whole array's tree whenever the sub-slice is a node ([`pairwise_split`]),
/// which is how the MPI backends sum a grid spread over ranks to the same bits.
pub(crate) fn pairwise(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, &x| s + x)
    } else if pairwise_split(n).is_none() {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let n2 = pairwise_split(n).expect("more than one block");
        pairwise(&a[..n2]) + pairwise(&a[n2..])
    }
}

/// Where [`pairwise`] splits `n` elements into two halves, or `None` when it sums them as one
/// block (128 elements or fewer).
pub(crate) fn pairwise_split(n: usize) -> Option<usize> {
    const BLOCK: usize = 128;
    (n > BLOCK).then(|| {
        let n2 = n / 2;
        n2 - n2 % 8
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_grid_rule_accepts_every_finite_value_and_names_the_first_other() {
        let extremes = array![
            [-0.0, 5e-324, f64::MAX],
            [f64::MIN, -f64::MIN_POSITIVE, 1.0]
        ];
        assert_eq!(check_finite_grid(extremes.view()), Ok(()));

        let mut grid = Array2::<f64>::zeros((3, 4));
        grid[(2, 0)] = f64::NEG_INFINITY;
        grid[(1, 3)] = f64::NAN;
        let err = check_finite_grid(grid.view()).unwrap_err();
        assert_eq!(err.index, (1, 3));
        assert_eq!(
            err.to_string(),
            "value at (1, 3) is NaN; every value must be finite"
        );
    }
}
