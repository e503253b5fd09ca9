//! How two results differ, and whether that is within a backend's agreement class (SPEC §2).
//!
//! Reports carry what a person needs to find a bug: how many elements differ, the first one
//! (row, column), and the largest difference, so a failing test or a `compare` run says more
//! than "not equal".

use std::cell::OnceCell;
use std::fmt;

use ndarray::ArrayView2;

use crate::backend::registry::Agreement;
use crate::problem::JuliaParams;

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

    /// Whether `y` is within tolerance of the reference `x`. A reference that is inf or NaN
    /// accepts only itself (any NaN for a NaN): a relative bound of an infinite value would
    /// accept everything.
    pub fn accepts(&self, x: f64, y: f64) -> bool {
        if !x.is_finite() || !y.is_finite() {
            return cells_match(x, y);
        }
        (x - y).abs() <= (self.relative * x.abs()).max(self.absolute)
    }
}

/// The outcome of comparing a backend's result with `scalar`'s under the backend's class.
///
/// A bool would say only pass or fail; this keeps apart the cases a reader must not confuse:
/// an exact backend that differs (a bug, always), a tolerance backend outside its bound, and a
/// tolerance backend that differs on more pixels than SPEC's rate allows on a chaotic input,
/// but only on pixels whose counts f64 rounding does not determine ([`ChaoticDiff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Identical counts, or bitwise-identical grids (NaN matching NaN).
    Identical,
    /// A tolerance backend that differs within its class's bound.
    WithinTolerance,
    /// A tolerance backend on a chaotic Julia input: more pixels differ than SPEC's rate allows,
    /// but every one of them is past its rounding horizon, where any other rounding may change
    /// the count. Not a defect: see the README, "Judging the tolerance class on chaotic inputs".
    BeyondRoundingHorizon,
    /// A tolerance backend whose grid is within its bound except on cells where the reference
    /// is inf or NaN and it is something else. With `d*dt <= 0.25` a step is a convex
    /// combination of its inputs, so from a finite grid the canonical order can only go
    /// non-finite through an intermediate overflow (`4*u`, `v + h` beyond `f64::MAX`), which
    /// another order of the same operations (`fma(-4, u, v + h)`) need not have, or may have
    /// elsewhere (an inf where the reference's inf - inf made a NaN): the tolerance class does
    /// not fix the order, so those cells are reported, not judged. A non-finite value where
    /// the reference is finite stays a failure.
    OnlyWhereReferenceOverflowed,
    /// A tolerance backend outside its class: beyond SPEC's bound, or, on a chaotic input, a
    /// different count on a pixel whose count f64 rounding determines.
    OutsideTolerance,
    /// An exact backend whose result differs.
    ExactDiffers,
}

impl Verdict {
    /// Whether the result is acceptable for its class.
    pub fn passes(self) -> bool {
        matches!(
            self,
            Verdict::Identical
                | Verdict::WithinTolerance
                | Verdict::BeyondRoundingHorizon
                | Verdict::OnlyWhereReferenceOverflowed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::WithinTolerance => "within tolerance",
            Verdict::BeyondRoundingHorizon => "differs only past the rounding horizon",
            Verdict::OnlyWhereReferenceOverflowed => "differs only where the reference overflowed",
            Verdict::OutsideTolerance => "outside tolerance",
            Verdict::ExactDiffers => "exact backend differs",
        }
    }

    /// The verdict of a comparison that found `identical` results, or differences that are
    /// `acceptable` for a tolerance backend.
    fn of(class: Agreement, identical: bool, acceptable: bool) -> Verdict {
        match (identical, class) {
            (true, _) => Verdict::Identical,
            (false, Agreement::Exact) => Verdict::ExactDiffers,
            (false, _) if acceptable => Verdict::WithinTolerance,
            (false, _) => Verdict::OutsideTolerance,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// `sum(reference)`, the reference's checksum.
    pub checksum: u64,
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
            checksum: 0,
            checksum_diff: 0,
        };
        for ((index, &x), &y) in reference.indexed_iter().zip(candidate.iter()) {
            diff.checksum += u64::from(x);
            diff.checksum_diff += i128::from(y) - i128::from(x);
            if x != y {
                diff.differing += 1;
                diff.first.get_or_insert(index);
                diff.max_abs = diff.max_abs.max(x.abs_diff(y));
            }
        }
        diff
    }

    /// The share of pixels that differ, in `[0, 1]` (0 for an empty image).
    pub fn share(&self) -> f64 {
        if self.pixels == 0 {
            0.0
        } else {
            self.differing as f64 / self.pixels as f64
        }
    }

    /// `checksum_diff / checksum` (0 when both sums are 0).
    pub fn checksum_rel(&self) -> f64 {
        match (self.checksum_diff, self.checksum) {
            (0, _) => 0.0,
            (d, 0) => d.signum() as f64 * f64::INFINITY,
            (d, sum) => d as f64 / sum as f64,
        }
    }

    /// SPEC §2's rule: no pixel may differ for exact backends; at most 0.01 % of the pixels for
    /// f64 tolerance and 0.5 % for f32. Meant for book-like inputs; on chaotic inputs a tolerance
    /// backend is judged by [`ChaoticDiff`] instead.
    pub fn verdict(&self, class: Agreement) -> Verdict {
        let allowed = match class {
            Agreement::Exact => 0.0,
            Agreement::ToleranceF64 => 1e-4,
            Agreement::ToleranceF32 => 5e-3,
        };
        Verdict::of(
            class,
            self.differing == 0,
            self.differing as f64 <= allowed * self.pixels as f64,
        )
    }

    /// Whether [`verdict`](Self::verdict) passes.
    pub fn within(&self, class: Agreement) -> bool {
        self.verdict(class).passes()
    }
}

impl fmt::Display for JuliaDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first {
            None => write!(f, "all {} pixels identical", self.pixels),
            Some(first) => write!(
                f,
                "{} of {} pixels differ (first at {:?}), {:.3} %, max |Δcount| {}, \
                 checksum Δ {} ({:+.2e} relative)",
                self.differing,
                self.pixels,
                first,
                100.0 * self.share(),
                self.max_abs,
                self.checksum_diff,
                self.checksum_rel()
            ),
        }
    }
}

// ---- the tolerance class on chaotic inputs ---------------------------------------------------

/// The arithmetic a backend computes in, which bounds how far its rounding may be from the
/// reference's at each operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F64,
    F32,
}

impl Precision {
    /// The precision of a class's backends: f32 for [`Agreement::ToleranceF32`], else f64.
    pub fn of(class: Agreement) -> Precision {
        match class {
            Agreement::ToleranceF32 => Precision::F32,
            Agreement::Exact | Agreement::ToleranceF64 => Precision::F64,
        }
    }

    /// The unit roundoff `u`: a correctly rounded result in the normal range is within `u` of
    /// the exact one, relatively (2^-53 for f64, 2^-24 for f32).
    pub fn unit_roundoff(self) -> f64 {
        match self {
            Precision::F64 => f64::EPSILON / 2.0,
            Precision::F32 => f64::from(f32::EPSILON) / 2.0,
        }
    }

    /// The absolute error of a result that underflows: half the smallest subnormal.
    fn underflow(self) -> f64 {
        match self {
            Precision::F64 => f64::from_bits(1),
            Precision::F32 => f64::from(f32::from_bits(1)),
        }
    }
}

/// Safety factor on the error bound of [`RoundingHorizon`]: covers the rounding of the bound's
/// own f64 arithmetic (relative 1e-12 after thousands of steps) with a wide margin.
const HORIZON_SAFETY: f64 = 2.0;

/// Which pixels of a Julia problem have escape counts that the rounding of the arithmetic
/// determines: the pixels on which any correctly rounded implementation of SPEC's iteration
/// in `precision` (fused or not, sums in any order) must give `scalar`'s count.
///
/// Along each pixel's canonical orbit `z_n`, a running error analysis bounds how far another
/// implementation's orbit `z'_n` can be: `|z'_{n+1} - z_{n+1}| <= (2|z_n| + e_n) e_n + d_n`,
/// where `e_n` bounds `|z'_n - z_n|` and `d_n` bounds both implementations' rounding in one
/// step (at most 3 roundings per component, each within `u` of the exact result; the
/// factored `(zr + zi)(zr - zi)` has 4: `d_n = 8 u (|z_n|² + |cr| + |ci|)` per implementation
/// covers them all, plus underflow). The factor
/// `2|z_n|` is the map's derivative: on chaotic orbits its product grows exponentially (the
/// Lyapunov exponent), so after about `53 ln 2 / λ` iterations one ULP has become O(1). A
/// pixel is determined when, at every escape test its orbit takes, the distance of
/// `zr² + zi²` from 4 exceeds [`HORIZON_SAFETY`] times what `e_n` and the test's own rounding
/// can move it; past the first test that fails this, the count is not determined by the
/// arithmetic, and two correct implementations may legitimately differ.
///
/// An f32 candidate also starts from rounded coordinates and rounds `c`: `e_0 = u (|x| + |y|)`,
/// and `d_n` carries the rounding of `c`.
#[derive(Debug, Clone)]
pub struct RoundingHorizon {
    shape: (usize, usize),
    precision: Precision,
    /// Per pixel, row-major: `None` when its count is determined, else the iteration of the
    /// first escape test whose outcome rounding does not determine.
    horizons: Vec<Option<u32>>,
}

impl RoundingHorizon {
    /// Follows every pixel's orbit once (the cost of one `scalar` run of `params`).
    pub fn new(params: &JuliaParams, precision: Precision) -> Self {
        let (cr, ci) = params.c();
        let mut horizons = Vec::with_capacity(params.width() * params.height());
        for &y in params.ys() {
            for &x in params.xs() {
                horizons.push(horizon(x, y, cr, ci, params.max_iter(), precision));
            }
        }
        RoundingHorizon {
            shape: params.shape(),
            precision,
            horizons,
        }
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// `(height, width)`.
    pub fn shape(&self) -> (usize, usize) {
        self.shape
    }

    /// `None` when the count of pixel `(row, column)` is determined by rounding; otherwise the
    /// iteration from which it is not (its horizon).
    pub fn horizon(&self, (row, column): (usize, usize)) -> Option<u32> {
        self.horizons[row * self.shape.1 + column]
    }

    /// Whether the count of pixel `(row, column)` is determined by rounding.
    pub fn is_determined(&self, index: (usize, usize)) -> bool {
        self.horizon(index).is_none()
    }

    /// How many pixels are determined.
    pub fn determined(&self) -> usize {
        self.horizons.iter().filter(|h| h.is_none()).count()
    }

    /// The median horizon of the pixels that are not determined (`None` if all are): how
    /// many iterations it takes, on this problem, for one rounding to grow to O(1).
    pub fn median_horizon(&self) -> Option<u32> {
        let mut h: Vec<u32> = self.horizons.iter().flatten().copied().collect();
        h.sort_unstable();
        h.get(h.len() / 2).copied()
    }
}

/// `None` when every escape test along the canonical orbit from `(zr, zi)` keeps its outcome
/// under any other correctly rounded evaluation in `candidate` precision (see
/// [`RoundingHorizon`]); otherwise the iteration of the first test that may not.
fn horizon(zr: f64, zi: f64, cr: f64, ci: f64, max_iter: u32, candidate: Precision) -> Option<u32> {
    let reference = Precision::F64;
    let (u_ref, u_cand) = (reference.unit_roundoff(), candidate.unit_roundoff());
    // Per operation; six operations per step.
    let tiny = 6.0 * (reference.underflow() + candidate.underflow());
    let c_abs = cr.abs() + ci.abs();
    let (mut zr, mut zi) = (zr, zi);
    // An f32 candidate's coordinates are the rounded f64 ones; f64 candidates get the same.
    let mut e = match candidate {
        Precision::F64 => 0.0,
        Precision::F32 => u_cand * (zr.abs() + zi.abs()),
    };
    let mut n = 0;
    while n < max_iter {
        let magnitude = zr * zr + zi * zi;
        let z = magnitude.sqrt();
        let z_cand = z + e;
        // How far the candidate's computed `zr² + zi²` can be from the reference's: its state
        // is within e, and each computes the test with 2 roundings (3 unfused, 1 or 2 fused).
        let test_error =
            (2.0 * z + e) * e + 3.0 * (u_ref * magnitude + u_cand * z_cand * z_cand) + tiny;
        // False also once the bound has overflowed to inf or NaN.
        let outcome_is_certain = (magnitude - 4.0).abs() > HORIZON_SAFETY * test_error;
        if !outcome_is_certain {
            return Some(n);
        }
        if magnitude >= 4.0 {
            return None;
        }
        let t = (zr * zr - zi * zi) + cr;
        zi = (2.0 * zr) * zi + ci;
        zr = t;
        e = (2.0 * z + e) * e
            + 8.0 * (u_ref * (magnitude + c_abs) + u_cand * (z_cand * z_cand + c_abs))
            + tiny;
        n += 1;
    }
    None
}

/// Julia counts of a tolerance backend on a chaotic input, judged by the rounding horizon:
/// every pixel whose count rounding determines must be identical; pixels past their horizon
/// may differ, and how many do is reported, not judged. The rule that the README proposes for
/// the tolerance class on chaotic inputs (SPEC's 0.01 % rate is kept for book-like inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct ChaoticDiff {
    /// The plain comparison: differing share, checksum difference, max |Δcount|.
    pub diff: JuliaDiff,
    /// The precision the horizon was computed for.
    pub precision: Precision,
    /// Pixels whose count rounding determines.
    pub determined: usize,
    /// Determined pixels whose count differs: each one is a defect, not rounding.
    pub differing_determined: usize,
    /// `(row, column)` of the first of them.
    pub first_determined: Option<(usize, usize)>,
}

impl ChaoticDiff {
    pub fn new(
        horizon: &RoundingHorizon,
        reference: ArrayView2<'_, u32>,
        candidate: ArrayView2<'_, u32>,
    ) -> Self {
        assert_eq!(
            reference.dim(),
            horizon.shape(),
            "horizon of another problem"
        );
        let diff = JuliaDiff::new(reference, candidate);
        let mut judged = ChaoticDiff {
            diff,
            precision: horizon.precision(),
            determined: horizon.determined(),
            differing_determined: 0,
            first_determined: None,
        };
        for ((index, &x), &y) in reference.indexed_iter().zip(candidate.iter()) {
            if x != y && horizon.is_determined(index) {
                judged.differing_determined += 1;
                judged.first_determined.get_or_insert(index);
            }
        }
        judged
    }

    /// Exact backends: identical counts. Tolerance backends: no determined pixel may differ;
    /// within SPEC's rate that is [`Verdict::WithinTolerance`], beyond it
    /// [`Verdict::BeyondRoundingHorizon`].
    ///
    /// # Panics
    /// If the horizon was computed for a finer precision than `class` computes in (an f64
    /// horizon would wrongly hold an f32 backend to f64 rounding).
    pub fn verdict(&self, class: Agreement) -> Verdict {
        if class == Agreement::Exact {
            return Verdict::of(class, self.diff.differing == 0, false);
        }
        assert!(
            Precision::of(class) == self.precision,
            "a {:?} backend needs a rounding horizon computed for {:?}, not {:?}",
            class,
            Precision::of(class),
            self.precision
        );
        if self.diff.differing == 0 {
            Verdict::Identical
        } else if self.differing_determined > 0 {
            Verdict::OutsideTolerance
        } else if self.diff.within(class) {
            Verdict::WithinTolerance
        } else {
            Verdict::BeyondRoundingHorizon
        }
    }

    /// Whether [`verdict`](Self::verdict) passes.
    pub fn within(&self, class: Agreement) -> bool {
        self.verdict(class).passes()
    }
}

impl fmt::Display for ChaoticDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; {} of {} pixels determined by {:?} rounding ({:.1} %), {} of them differ",
            self.diff,
            self.determined,
            self.diff.pixels,
            self.precision,
            100.0 * self.determined as f64 / self.diff.pixels.max(1) as f64,
            self.differing_determined
        )?;
        if let Some(first) = self.first_determined {
            write!(f, " (first at {first:?})")?;
        }
        Ok(())
    }
}

/// Judges Julia counts on one chaotic problem, in any backend's class: exact backends by
/// identity, tolerance backends by the rounding horizon of their precision. The horizons are
/// computed on first use and kept, so one judge serves every backend of a run.
#[derive(Debug)]
pub struct ChaoticJudge<'a> {
    params: &'a JuliaParams,
    f64_horizon: OnceCell<RoundingHorizon>,
    f32_horizon: OnceCell<RoundingHorizon>,
}

/// What a [`ChaoticJudge`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum JuliaJudgement {
    /// An exact backend: the plain comparison.
    Exact(JuliaDiff),
    /// A tolerance backend: the comparison on the pixels that rounding determines.
    Tolerance(ChaoticDiff, Agreement),
}

impl JuliaJudgement {
    pub fn verdict(&self) -> Verdict {
        match self {
            JuliaJudgement::Exact(diff) => diff.verdict(Agreement::Exact),
            JuliaJudgement::Tolerance(judged, class) => judged.verdict(*class),
        }
    }

    /// The plain comparison (share, checksum difference, max |Δcount|).
    pub fn diff(&self) -> &JuliaDiff {
        match self {
            JuliaJudgement::Exact(diff) => diff,
            JuliaJudgement::Tolerance(judged, _) => &judged.diff,
        }
    }
}

impl fmt::Display for JuliaJudgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JuliaJudgement::Exact(diff) => write!(f, "{}: {diff}", self.verdict()),
            JuliaJudgement::Tolerance(judged, _) => write!(f, "{}: {judged}", self.verdict()),
        }
    }
}

impl<'a> ChaoticJudge<'a> {
    pub fn new(params: &'a JuliaParams) -> Self {
        ChaoticJudge {
            params,
            f64_horizon: OnceCell::new(),
            f32_horizon: OnceCell::new(),
        }
    }

    /// The problem's rounding horizon for `precision`, computed once.
    pub fn horizon(&self, precision: Precision) -> &RoundingHorizon {
        let cell = match precision {
            Precision::F64 => &self.f64_horizon,
            Precision::F32 => &self.f32_horizon,
        };
        cell.get_or_init(|| RoundingHorizon::new(self.params, precision))
    }

    /// `candidate`'s counts against the `reference` (`scalar`'s) for a backend of `class`.
    pub fn judge(
        &self,
        class: Agreement,
        reference: ArrayView2<'_, u32>,
        candidate: ArrayView2<'_, u32>,
    ) -> JuliaJudgement {
        match class {
            Agreement::Exact => JuliaJudgement::Exact(JuliaDiff::new(reference, candidate)),
            _ => JuliaJudgement::Tolerance(
                ChaoticDiff::new(self.horizon(Precision::of(class)), reference, candidate),
                class,
            ),
        }
    }
}

/// Diffusion grids compared with the reference.
///
/// Two cells match when their bits are equal or when both are NaN, whatever the payload and
/// sign: IEEE 754 leaves a NaN's payload to the hardware, so no operation order can fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct GridDiff {
    pub cells: usize,
    /// Cells that do not match.
    pub differing: usize,
    /// `(row, column)` of the first cell that does not match.
    pub first: Option<(usize, usize)>,
    /// Cells that are NaN in one grid and not in the other (the largest difference there is,
    /// kept out of the figures below).
    pub nan_mismatches: usize,
    /// Cells that are `0.0` in one grid and `-0.0` in the other (equal as numbers, so they
    /// add nothing to the figures below, and within every tolerance).
    pub zero_signs: usize,
    /// Cells where the reference is inf or NaN and the candidate differs (see
    /// [`Verdict::OnlyWhereReferenceOverflowed`]).
    pub reference_overflowed: usize,
    /// Over the differing cells that are NaN in neither grid (inf - inf counts as infinite).
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
            nan_mismatches: 0,
            zero_signs: 0,
            reference_overflowed: 0,
            max_abs: 0.0,
            max_rel: 0.0,
            max_ulp: 0,
            outside_f64: 0,
            outside_f32: 0,
        };
        for ((index, &x), &y) in reference.indexed_iter().zip(candidate.iter()) {
            if cells_match(x, y) {
                continue;
            }
            diff.differing += 1;
            diff.first.get_or_insert(index);
            // A NaN on one side only is outside every tolerance.
            diff.outside_f64 += usize::from(!Tolerance::F64.accepts(x, y));
            diff.outside_f32 += usize::from(!Tolerance::F32.accepts(x, y));
            diff.reference_overflowed += usize::from(!x.is_finite());
            if x.is_nan() || y.is_nan() {
                diff.nan_mismatches += 1;
                continue;
            }
            if x == y {
                // Different bits, equal numbers: 0.0 and -0.0.
                diff.zero_signs += 1;
                continue;
            }
            // inf against the other inf gives NaN here: an infinite difference.
            let abs = (x - y).abs();
            let abs = if abs.is_nan() { f64::INFINITY } else { abs };
            diff.max_abs = diff.max_abs.max(abs);
            if x != 0.0 {
                let rel = abs / x.abs();
                diff.max_rel = diff
                    .max_rel
                    .max(if rel.is_nan() { f64::INFINITY } else { rel });
            }
            diff.max_ulp = diff.max_ulp.max(ulp_distance(x, y));
        }
        diff
    }

    /// SPEC §2's rule: bitwise equality (NaN matching NaN) for exact backends; every cell
    /// within [`Tolerance::F64`] or [`Tolerance::F32`] for tolerance backends, but for the
    /// cells where only the reference overflowed ([`Verdict::OnlyWhereReferenceOverflowed`]).
    pub fn verdict(&self, class: Agreement) -> Verdict {
        let outside = match class {
            Agreement::Exact => return Verdict::of(class, self.differing == 0, false),
            Agreement::ToleranceF64 => self.outside_f64,
            Agreement::ToleranceF32 => self.outside_f32,
        };
        // Every overflowed cell is outside both tolerances (a non-finite reference accepts
        // only itself).
        match outside - self.reference_overflowed {
            0 if self.reference_overflowed > 0 => Verdict::OnlyWhereReferenceOverflowed,
            rest => Verdict::of(class, self.differing == 0, rest == 0),
        }
    }

    /// Whether [`verdict`](Self::verdict) passes.
    pub fn within(&self, class: Agreement) -> bool {
        self.verdict(class).passes()
    }
}

/// Whether two cells match: the same bits, or both NaN.
pub fn cells_match(x: f64, y: f64) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

impl fmt::Display for GridDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first {
            None => write!(f, "all {} cells bitwise identical", self.cells),
            Some(first) => {
                write!(
                    f,
                    "{} of {} cells differ (first at {:?})",
                    self.differing, self.cells, first
                )?;
                if self.nan_mismatches > 0 {
                    write!(f, ", {} NaN on one side only", self.nan_mismatches)?;
                }
                if self.zero_signs > 0 {
                    write!(f, ", {} zeros of the other sign", self.zero_signs)?;
                }
                if self.reference_overflowed > 0 {
                    write!(
                        f,
                        ", {} where the reference overflowed",
                        self.reference_overflowed
                    )?;
                }
                if self.differing > self.nan_mismatches + self.zero_signs {
                    write!(
                        f,
                        ", max |Δ| {:e}, max relative {:e}, max {} ULP",
                        self.max_abs, self.max_rel, self.max_ulp
                    )?;
                }
                Ok(())
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::scalar::julia_pixel;
    use crate::problem::Region;
    use ndarray::{Array2, arr2};

    #[test]
    fn nan_matches_nan_whatever_its_payload_and_sign() {
        let quiet = f64::NAN;
        let negative = -f64::NAN;
        let payload = f64::from_bits(0x7FF0_0000_0000_0001 | 0x0008_0000_0000_0000 | 0x1234);
        assert!(payload.is_nan() && payload.to_bits() != quiet.to_bits());
        let reference = arr2(&[[quiet, 1.0], [negative, payload]]);
        let candidate = arr2(&[[payload, 1.0], [quiet, negative]]);
        let diff = GridDiff::new(reference.view(), candidate.view());
        assert_eq!(diff.differing, 0, "{diff}");
        assert_eq!(diff.verdict(Agreement::Exact), Verdict::Identical);
    }

    #[test]
    fn nan_against_a_number_differs_in_every_class() {
        let reference = arr2(&[[f64::NAN, 2.0, f64::INFINITY]]);
        let candidate = arr2(&[[1.0, f64::NAN, 1e308]]);
        let diff = GridDiff::new(reference.view(), candidate.view());
        assert_eq!((diff.differing, diff.nan_mismatches), (3, 2), "{diff}");
        assert_eq!((diff.outside_f64, diff.outside_f32), (3, 3));
        assert_eq!(diff.max_abs, f64::INFINITY, "inf against a finite value");
        assert_eq!(diff.verdict(Agreement::Exact), Verdict::ExactDiffers);
        assert_eq!(
            diff.verdict(Agreement::ToleranceF64),
            Verdict::OutsideTolerance
        );
        assert!(
            diff.to_string().contains("2 NaN on one side only"),
            "{diff}"
        );
    }

    /// Another value where the reference overflowed is reported, not judged, for tolerance
    /// backends; it stays a difference for exact ones, and the other way round (a finite
    /// reference, a non-finite candidate) is a failure in every class.
    #[test]
    fn finite_where_only_the_reference_overflowed_is_reported_for_tolerance() {
        let reference = arr2(&[[f64::NAN, f64::INFINITY, f64::NAN, 1.0]]);
        let candidate = arr2(&[[1e308, -1e308, f64::NEG_INFINITY, 1.0]]);
        let diff = GridDiff::new(reference.view(), candidate.view());
        assert_eq!(diff.reference_overflowed, 3, "{diff}");
        assert_eq!(diff.verdict(Agreement::Exact), Verdict::ExactDiffers);
        for class in [Agreement::ToleranceF64, Agreement::ToleranceF32] {
            assert_eq!(diff.verdict(class), Verdict::OnlyWhereReferenceOverflowed);
        }
        assert!(
            diff.to_string()
                .contains("3 where the reference overflowed"),
            "{diff}"
        );
        let reversed = GridDiff::new(candidate.view(), reference.view());
        assert_eq!(
            reversed.reference_overflowed, 1,
            "only the -inf against a NaN"
        );
        assert_eq!(
            reversed.verdict(Agreement::ToleranceF64),
            Verdict::OutsideTolerance
        );
    }

    /// A relative bound of an infinite reference is infinite: it must not accept a finite
    /// value (before this rule, `-inf` against `1e300` passed the f64 tolerance).
    #[test]
    fn an_infinite_reference_accepts_only_itself() {
        for t in [Tolerance::F64, Tolerance::F32] {
            assert!(!t.accepts(f64::NEG_INFINITY, 1e300));
            assert!(!t.accepts(f64::INFINITY, f64::NEG_INFINITY));
            assert!(!t.accepts(1.0, f64::INFINITY));
            assert!(t.accepts(f64::INFINITY, f64::INFINITY));
            assert!(t.accepts(f64::NAN, -f64::NAN));
            assert!(t.accepts(1.0, 1.0 + 1e-13));
        }
    }

    #[test]
    fn zeros_of_the_other_sign_differ_bitwise_but_not_in_value() {
        let reference = arr2(&[[0.0, -0.0, 1.0]]);
        let candidate = arr2(&[[-0.0, 0.0, 1.0]]);
        let diff = GridDiff::new(reference.view(), candidate.view());
        assert_eq!((diff.differing, diff.zero_signs), (2, 2), "{diff}");
        assert_eq!(diff.verdict(Agreement::Exact), Verdict::ExactDiffers);
        assert_eq!(
            diff.verdict(Agreement::ToleranceF64),
            Verdict::WithinTolerance
        );
        assert!(
            diff.to_string().contains("2 zeros of the other sign"),
            "{diff}"
        );
    }

    #[test]
    fn julia_report_says_share_and_relative_checksum() {
        let reference = Array2::from_elem((10, 100), 10u32);
        let mut candidate = reference.clone();
        candidate[[3, 7]] = 30;
        candidate[[9, 99]] = 0;
        let diff = JuliaDiff::new(reference.view(), candidate.view());
        assert_eq!(diff.checksum, 10_000);
        assert_eq!(
            (diff.differing, diff.max_abs, diff.checksum_diff),
            (2, 20, 10)
        );
        assert_eq!(diff.share(), 2e-3);
        assert_eq!(diff.checksum_rel(), 1e-3);
        let text = diff.to_string();
        assert!(text.contains("(first at (3, 7)), 0.200 %"), "{text}");
        assert!(text.contains("checksum Δ 10 (+1.00e-3 relative)"), "{text}");
        // SPEC's rate: 2 of 1000 pixels is outside 0.01 % and inside 0.5 %.
        assert_eq!(diff.verdict(Agreement::Exact), Verdict::ExactDiffers);
        assert_eq!(
            diff.verdict(Agreement::ToleranceF64),
            Verdict::OutsideTolerance
        );
        assert_eq!(
            diff.verdict(Agreement::ToleranceF32),
            Verdict::WithinTolerance
        );
    }

    fn spiral() -> JuliaParams {
        JuliaParams::new(61, 41, Region::BOOK, (-0.7269, 0.1889), 3000).unwrap()
    }

    /// The reference counts, pixel by pixel.
    fn canonical(params: &JuliaParams) -> Array2<u32> {
        let (cr, ci) = params.c();
        Array2::from_shape_fn(params.shape(), |(j, i)| {
            julia_pixel(params.xs()[i], params.ys()[j], cr, ci, params.max_iter())
        })
    }

    #[test]
    fn the_horizon_determines_escapes_far_from_the_set() {
        // Outside radius 2 everything escapes at the first test, far from its threshold.
        let far = JuliaParams::new(
            5,
            5,
            Region {
                x1: 3.0,
                x2: 4.0,
                y1: 3.0,
                y2: 4.0,
            },
            (0.0, 0.0),
            100,
        )
        .unwrap();
        let h = RoundingHorizon::new(&far, Precision::F64);
        assert_eq!(h.determined(), 25);
        assert_eq!(h.median_horizon(), None);
        // c = 0: |z| < 1 converges to 0 (an attracting fixed point), determined even at
        // max_iter.
        let disk = JuliaParams::new(
            4,
            4,
            Region {
                x1: -0.5,
                x2: 0.5,
                y1: -0.5,
                y2: 0.5,
            },
            (0.0, 0.0),
            5000,
        )
        .unwrap();
        assert_eq!(RoundingHorizon::new(&disk, Precision::F32).determined(), 16);
    }

    #[test]
    fn chaotic_orbits_are_undetermined_and_f32_more_so() {
        let params = spiral();
        let (f64_h, f32_h) = (
            RoundingHorizon::new(&params, Precision::F64),
            RoundingHorizon::new(&params, Precision::F32),
        );
        let pixels = params.width() * params.height();
        assert!(f64_h.determined() < pixels, "some orbits are chaotic");
        assert!(
            f64_h.determined() * 10 > pixels * 9,
            "most pixels escape early"
        );
        assert!(f32_h.determined() < f64_h.determined());
        // A pixel determined for f32 arithmetic is determined for f64.
        for j in 0..params.height() {
            for i in 0..params.width() {
                assert!(!f32_h.is_determined((j, i)) || f64_h.is_determined((j, i)));
            }
        }
        let (h64, h32) = (
            f64_h.median_horizon().unwrap(),
            f32_h.median_horizon().unwrap(),
        );
        assert!(
            h32 < h64,
            "f32's horizon {h32} should come before f64's {h64}"
        );
    }

    /// The chaotic judgement has teeth: a count that differs on a determined pixel is a defect
    /// for a tolerance backend, however few pixels differ.
    #[test]
    fn a_changed_determined_count_is_outside_tolerance() {
        let params = spiral();
        let horizon = RoundingHorizon::new(&params, Precision::F64);
        let reference = canonical(&params);
        let determined = (0..params.height())
            .flat_map(|j| (0..params.width()).map(move |i| (j, i)))
            .find(|&p| horizon.is_determined(p))
            .unwrap();
        let mut candidate = reference.clone();
        candidate[determined] += 1;
        let judged = ChaoticDiff::new(&horizon, reference.view(), candidate.view());
        assert_eq!(judged.differing_determined, 1);
        assert_eq!(judged.first_determined, Some(determined));
        assert_eq!(
            judged.verdict(Agreement::ToleranceF64),
            Verdict::OutsideTolerance
        );
        assert_eq!(judged.verdict(Agreement::Exact), Verdict::ExactDiffers);
    }

    /// Differences confined to undetermined pixels pass a tolerance backend, and are
    /// [`Verdict::BeyondRoundingHorizon`] once they exceed SPEC's rate; never an exact one.
    #[test]
    fn changed_undetermined_counts_are_beyond_the_horizon() {
        let params = spiral();
        let horizon = RoundingHorizon::new(&params, Precision::F64);
        let reference = canonical(&params);
        let mut candidate = reference.clone();
        for j in 0..params.height() {
            for i in 0..params.width() {
                if !horizon.is_determined((j, i)) {
                    candidate[[j, i]] = candidate[[j, i]].saturating_sub(7);
                }
            }
        }
        let judged = ChaoticDiff::new(&horizon, reference.view(), candidate.view());
        assert!(judged.diff.differing > 0 && judged.differing_determined == 0);
        assert!(
            !judged.diff.within(Agreement::ToleranceF64),
            "beyond SPEC's rate"
        );
        assert_eq!(
            judged.verdict(Agreement::ToleranceF64),
            Verdict::BeyondRoundingHorizon
        );
        assert!(judged.within(Agreement::ToleranceF64));
        assert_eq!(judged.verdict(Agreement::Exact), Verdict::ExactDiffers);
        let same = ChaoticDiff::new(&horizon, reference.view(), reference.view());
        assert_eq!(same.verdict(Agreement::ToleranceF64), Verdict::Identical);
    }

    #[test]
    fn the_judge_uses_each_class_own_rule() {
        let params = spiral();
        let reference = canonical(&params);
        let judge = ChaoticJudge::new(&params);
        let mut candidate = reference.clone();
        // The first pixel escapes at once, far outside: determined in every precision.
        assert!(judge.horizon(Precision::F32).is_determined((0, 0)));
        candidate[[0, 0]] += 1;
        let exact = judge.judge(Agreement::Exact, reference.view(), candidate.view());
        assert!(matches!(exact, JuliaJudgement::Exact(_)));
        assert_eq!(exact.verdict(), Verdict::ExactDiffers);
        for class in [Agreement::ToleranceF64, Agreement::ToleranceF32] {
            let judged = judge.judge(class, reference.view(), candidate.view());
            assert_eq!(judged.verdict(), Verdict::OutsideTolerance, "{judged}");
            assert_eq!(judged.diff().differing, 1);
            let JuliaJudgement::Tolerance(chaotic, _) = judged else {
                panic!("a tolerance class is judged by the horizon")
            };
            assert_eq!(chaotic.precision, Precision::of(class));
        }
        let same = judge.judge(Agreement::ToleranceF32, reference.view(), reference.view());
        assert_eq!(same.verdict(), Verdict::Identical);
        assert!(
            same.to_string()
                .starts_with("identical: all 2501 pixels identical"),
            "{same}"
        );
    }

    #[test]
    #[should_panic(expected = "needs a rounding horizon computed for F32")]
    fn an_f32_backend_is_not_judged_by_an_f64_horizon() {
        let params = spiral();
        let horizon = RoundingHorizon::new(&params, Precision::F64);
        let reference = canonical(&params);
        ChaoticDiff::new(&horizon, reference.view(), reference.view())
            .verdict(Agreement::ToleranceF32);
    }
}
