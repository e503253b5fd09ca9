//! How two results differ, and whether that is within a backend's agreement class (SPEC §2).
//!
//! Reports carry what a person needs to find a bug: how many elements differ, the first one
//! (row, column), and the largest difference, so a failing test or a `compare` run says more
//! than "not equal".

use std::fmt;

use ndarray::ArrayView2;

use crate::backend::registry::Agreement;

/// Relative plus absolute tolerance: `|x - y| <= max(relative * |x|, absolute)`, where `x` is
/// the reference value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub relative: f64,
    pub absolute: f64,
}

impl Tolerance {
    /// SPEC §2 for f64 backends that may round differently (FMA, another compiler).
    pub const F64: Tolerance = Tolerance {
        relative: 1e-12,
        absolute: 1e-300,
    };

    /// SPEC §2 for f32 backends: within 1e-5 (relative to the value, and absolutely, so values
    /// that f32 flushes to zero are judged by the absolute bound).
    pub const F32: Tolerance = Tolerance {
        relative: 1e-5,
        absolute: 1e-5,
    };

    /// Whether `y` is within tolerance of the reference `x`.
    pub fn accepts(&self, x: f64, y: f64) -> bool {
        (x - y).abs() <= (self.relative * x.abs()).max(self.absolute)
    }
}

/// Julia counts compared with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct JuliaDiff {
    pub pixels: usize,
    pub differing: usize,
    /// `(row, column)` of the first differing pixel in row-major order.
    pub first: Option<(usize, usize)>,
    pub max_abs: u32,
    /// `sum(candidate) - sum(reference)`.
    pub checksum_diff: i128,
}

impl JuliaDiff {
    pub fn new(reference: ArrayView2<'_, u32>, candidate: ArrayView2<'_, u32>) -> Self {
        assert_eq!(
            reference.dim(),
            candidate.dim(),
            "compared arrays differ in shape"
        );
        let mut diff = JuliaDiff {
            pixels: reference.len(),
            differing: 0,
            first: None,
            max_abs: 0,
            checksum_diff: 0,
        };
        for ((index, &x), &y) in reference.indexed_iter().zip(candidate.iter()) {
            diff.checksum_diff += i128::from(y) - i128::from(x);
            if x != y {
                diff.differing += 1;
                diff.first.get_or_insert(index);
                diff.max_abs = diff.max_abs.max(x.abs_diff(y));
            }
        }
        diff
    }

    /// Whether the difference is within `class`: none for exact backends, at most 0.01 % of
    /// the pixels for f64 and 0.5 % for f32 tolerance.
    pub fn within(&self, class: Agreement) -> bool {
        let allowed = match class {
            Agreement::Exact => 0.0,
            Agreement::ToleranceF64 => 1e-4,
            Agreement::ToleranceF32 => 5e-3,
        };
        self.differing as f64 <= allowed * self.pixels as f64
    }
}

impl fmt::Display for JuliaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first {
            None => write!(f, "all {} pixels identical", self.pixels),
            Some(first) => write!(
                f,
                "{} of {} pixels differ (first at {:?}), max |Δcount| {}, checksum Δ {}",
                self.differing, self.pixels, first, self.max_abs, self.checksum_diff
            ),
        }
    }
}

/// Diffusion grids compared with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct GridDiff {
    pub cells: usize,
    /// Cells whose bits differ.
    pub differing: usize,
    /// `(row, column)` of the first cell whose bits differ.
    pub first: Option<(usize, usize)>,
    pub max_abs: f64,
    pub max_rel: f64,
    /// Largest distance in units in the last place (adjacent f64 values are 1 apart).
    pub max_ulp: u64,
    /// Cells outside [`Tolerance::F64`].
    pub outside_f64: usize,
    /// Cells outside [`Tolerance::F32`].
    pub outside_f32: usize,
}

impl GridDiff {
    pub fn new(reference: ArrayView2<'_, f64>, candidate: ArrayView2<'_, f64>) -> Self {
        assert_eq!(
            reference.dim(),
            candidate.dim(),
            "compared grids differ in shape"
        );
        let mut diff = GridDiff {
            cells: reference.len(),
            differing: 0,
            first: None,
            max_abs: 0.0,
            max_rel: 0.0,
            max_ulp: 0,
            outside_f64: 0,
            outside_f32: 0,
        };
        for ((index, &x), &y) in reference.indexed_iter().zip(candidate.iter()) {
            if x.to_bits() == y.to_bits() {
                continue;
            }
            diff.differing += 1;
            diff.first.get_or_insert(index);
            let abs = (x - y).abs();
            diff.max_abs = diff.max_abs.max(abs);
            if x != 0.0 {
                diff.max_rel = diff.max_rel.max(abs / x.abs());
            }
            diff.max_ulp = diff.max_ulp.max(ulp_distance(x, y));
            diff.outside_f64 += usize::from(!Tolerance::F64.accepts(x, y));
            diff.outside_f32 += usize::from(!Tolerance::F32.accepts(x, y));
        }
        diff
    }

    /// Whether the difference is within `class`: bitwise equality for exact backends.
    pub fn within(&self, class: Agreement) -> bool {
        match class {
            Agreement::Exact => self.differing == 0,
            Agreement::ToleranceF64 => self.outside_f64 == 0,
            Agreement::ToleranceF32 => self.outside_f32 == 0,
        }
    }
}

impl fmt::Display for GridDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first {
            None => write!(f, "all {} cells bitwise identical", self.cells),
            Some(first) => write!(
                f,
                "{} of {} cells differ (first at {:?}), max |Δ| {:e}, max relative {:e}, \
                 max {} ULP",
                self.differing, self.cells, first, self.max_abs, self.max_rel, self.max_ulp
            ),
        }
    }
}

/// Distance between two f64 values in units in the last place (NaN counts as infinitely far).
pub fn ulp_distance(x: f64, y: f64) -> u64 {
    if x.is_nan() || y.is_nan() {
        return u64::MAX;
    }
    // Map the bit patterns onto a line on which adjacent floats are adjacent integers.
    let ordered = |v: f64| {
        let bits = v.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    ordered(x).abs_diff(ordered(y))
}
