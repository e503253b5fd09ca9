//! Inputs built to break exactness (issue 11), and the shortcuts each one catches.
//!
//! The book's problems are gentle: a backend that fuses a multiply and an add, or reassociates
//! a sum, still gives the book's Julia checksum and book-like diffusion grids within a few ULP.
//! The cases here are chosen so that **one changed rounding shows**:
//!
//! - Julia problems on chaotic orbits near the Julia set, where a single different rounding
//!   grows, iteration after iteration, until the escape count changes. They were found by
//!   measuring (`cargo run --release --example find_sensitive_julia`), not guessed.
//! - Diffusion grids over the whole finite range of f64: random signs and exponents from
//!   subnormal to 1e300, signed zeros, cells whose `4*u` overflows while `u` does not, and
//!   smooth grids around 1.0.
//!
//! Each case lists the [`JuliaShortcut`]s or [`DiffusionShortcut`]s it catches: kernels that
//! are the canonical one of SPEC §1 with one rounding changed, the way a compiler or a driver
//! changes it. Running a shortcut on its case gives a result that differs from the canonical
//! one (the tests prove it for every pair), so an exact backend that took that shortcut
//! cannot pass the case.
//!
//! Everything here is plain data and reference arithmetic: no backend is involved, and every
//! case is the same on every run and machine (a fixed-seed generator, [`Rng`]).

use ndarray::{Array2, ArrayView2};

use crate::problem::{DiffusionParams, JuliaParams, Region};

/// splitmix64 (Steele, Lea and Flood, 2014): a small deterministic generator, so the cases are
/// identical on every machine without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, on the grid of multiples of 2^-53.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n >= 1`; the modulo bias is irrelevant for test data).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A random f64 of random sign whose binary exponent is uniform from the subnormals' to
    /// `max_exponent` (at most 1023), mantissa bits random too, so `|x| < 2^(max_exponent + 1)`.
    pub fn any_magnitude(&mut self, max_exponent: i32) -> f64 {
        assert!(
            (-1022..=1023).contains(&max_exponent),
            "a finite f64 exponent"
        );
        // Biased exponent 0 is the subnormals, 1 the smallest normals (2^-1022).
        let biased = self.below((max_exponent + 1023 + 1) as u64);
        let mantissa = self.next_u64() & ((1u64 << 52) - 1);
        let sign = self.next_u64() & (1u64 << 63);
        f64::from_bits(sign | (biased << 52) | mantissa)
    }

    /// A `rows x cols` grid of [`unit`](Self::unit) values.
    pub fn grid(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || self.unit())
    }
}

// ---- Julia ---------------------------------------------------------------------------------

/// The Julia iteration of SPEC §1 with one rounding changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JuliaShortcut {
    /// `zi = fma(2*zr, zi, ci)`: what `gcc -O3 -march=native -ffp-contract=fast` makes of
    /// `c_ref/julia.c` (its only contraction there, read in the disassembly of `c-native`).
    FusedImaginary,
    /// `t = fma(zr, zr, -(zi*zi)) + cr`: the other contraction a compiler may choose.
    FusedReal,
    /// The escape test as `fma(zr, zr, zi*zi) < 4`.
    FusedMagnitude,
    /// `t = (zr*zr + cr) - zi*zi`: the reassociated sum lavapipe computes for the WGSL shader
    /// (measured: its counts equal this shortcut's, pixel for pixel; issue 11).
    ReassociatedReal,
    /// `t = (zr + zi)*(zr - zi) + cr`: the textbook factoring of `zr² - zi²`.
    FactoredSquares,
}

impl JuliaShortcut {
    pub const ALL: [JuliaShortcut; 5] = [
        JuliaShortcut::FusedImaginary,
        JuliaShortcut::FusedReal,
        JuliaShortcut::FusedMagnitude,
        JuliaShortcut::ReassociatedReal,
        JuliaShortcut::FactoredSquares,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JuliaShortcut::FusedImaginary => "fused-imaginary",
            JuliaShortcut::FusedReal => "fused-real",
            JuliaShortcut::FusedMagnitude => "fused-magnitude",
            JuliaShortcut::ReassociatedReal => "reassociated-real",
            JuliaShortcut::FactoredSquares => "factored-squares",
        }
    }

    /// The changed operation, as code.
    pub fn formula(self) -> &'static str {
        match self {
            JuliaShortcut::FusedImaginary => "zi = fma(2*zr, zi, ci)",
            JuliaShortcut::FusedReal => "t = fma(zr, zr, -(zi*zi)) + cr",
            JuliaShortcut::FusedMagnitude => "fma(zr, zr, zi*zi) < 4",
            JuliaShortcut::ReassociatedReal => "t = (zr*zr + cr) - zi*zi",
            JuliaShortcut::FactoredSquares => "t = (zr + zi)*(zr - zi) + cr",
        }
    }

    /// The escape count of one pixel with this shortcut in SPEC's iteration.
    pub fn pixel(self, zr: f64, zi: f64, cr: f64, ci: f64, max_iter: u32) -> u32 {
        let (mut zr, mut zi) = (zr, zi);
        let mut n = 0;
        while n < max_iter && self.magnitude(zr, zi) < 4.0 {
            let t = match self {
                JuliaShortcut::FusedReal => zr.mul_add(zr, -(zi * zi)) + cr,
                JuliaShortcut::ReassociatedReal => (zr * zr + cr) - zi * zi,
                JuliaShortcut::FactoredSquares => (zr + zi) * (zr - zi) + cr,
                _ => (zr * zr - zi * zi) + cr,
            };
            zi = match self {
                JuliaShortcut::FusedImaginary => (2.0 * zr).mul_add(zi, ci),
                _ => (2.0 * zr) * zi + ci,
            };
            zr = t;
            n += 1;
        }
        n
    }

    fn magnitude(self, zr: f64, zi: f64) -> f64 {
        match self {
            JuliaShortcut::FusedMagnitude => zr.mul_add(zr, zi * zi),
            _ => zr * zr + zi * zi,
        }
    }

    /// The counts of a whole problem with this shortcut.
    pub fn counts(self, params: &JuliaParams) -> Array2<u32> {
        let (cr, ci) = params.c();
        let (xs, ys) = (params.xs(), params.ys());
        Array2::from_shape_fn(params.shape(), |(j, i)| {
            self.pixel(xs[i], ys[j], cr, ci, params.max_iter())
        })
    }
}

/// A Julia problem on which one changed rounding changes many counts.
#[derive(Debug, Clone)]
pub struct JuliaCase {
    /// A file-name-safe identifier (see [`reference_file`](Self::reference_file)).
    pub slug: &'static str,
    /// Why this case is hard.
    pub why: &'static str,
    pub params: JuliaParams,
    /// The shortcuts that change at least [`MIN_SENSITIVE_SHARE`] of its pixels.
    pub catches: &'static [JuliaShortcut],
}

impl JuliaCase {
    /// The numpy reference's file name: `julia_stress_<slug>.npy`.
    pub fn reference_file(&self) -> String {
        format!("julia_stress_{}.npy", self.slug)
    }
}

/// The least share of pixels that each shortcut a Julia case lists must change (0.1 %).
pub const MIN_SENSITIVE_SHARE: f64 = 1e-3;

// ---- diffusion -----------------------------------------------------------------------------

/// The diffusion step of SPEC §1 with one rounding changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiffusionShortcut {
    /// `u + k*lap` as `fma(k, lap, u)`: what `c-native` does (its disassembly).
    FusedUpdate,
    /// `(v + h) - 4*u` as `fma(-4, u, v + h)`, the other contraction of `c-native`. Equal to
    /// the canonical result unless `4*u` overflows (`4*u` is exact otherwise, so the fused
    /// operation rounds the same exact value once).
    FusedLaplacian,
    /// `u - k*(4*u - (v + h))`: the Laplacian with its sign flipped. Negation is exact, so
    /// this equals the canonical result on every nonzero value: only the sign of a zero
    /// result tells them apart (`-0.0 + 0.0` is `0.0`, `-0.0 - 0.0` is `-0.0`).
    FlippedLaplacian,
    /// `((up + down) + left) + right - 4*u`: the four neighbours summed in reading order.
    SequentialSum,
    /// `u*(1 - 4k) + k*(v + h)`: the update factored by `u`.
    FactoredUpdate,
    /// Every subnormal operand and result replaced by a zero of the same sign (FTZ/DAZ, as
    /// `-ffast-math` and many GPU drivers do).
    FlushSubnormals,
}

impl DiffusionShortcut {
    pub const ALL: [DiffusionShortcut; 6] = [
        DiffusionShortcut::FusedUpdate,
        DiffusionShortcut::FusedLaplacian,
        DiffusionShortcut::FlippedLaplacian,
        DiffusionShortcut::SequentialSum,
        DiffusionShortcut::FactoredUpdate,
        DiffusionShortcut::FlushSubnormals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DiffusionShortcut::FusedUpdate => "fused-update",
            DiffusionShortcut::FusedLaplacian => "fused-laplacian",
            DiffusionShortcut::FlippedLaplacian => "flipped-laplacian",
            DiffusionShortcut::SequentialSum => "sequential-sum",
            DiffusionShortcut::FactoredUpdate => "factored-update",
            DiffusionShortcut::FlushSubnormals => "flush-subnormals",
        }
    }

    /// The changed operation, as code.
    pub fn formula(self) -> &'static str {
        match self {
            DiffusionShortcut::FusedUpdate => "fma(k, lap, u)",
            DiffusionShortcut::FusedLaplacian => "lap = fma(-4, u, v + h)",
            DiffusionShortcut::FlippedLaplacian => "u - k*(4*u - (v + h))",
            DiffusionShortcut::SequentialSum => "lap = ((up + down) + left) + right - 4*u",
            DiffusionShortcut::FactoredUpdate => "u*(1 - 4k) + k*(v + h)",
            DiffusionShortcut::FlushSubnormals => "subnormals flushed to zero",
        }
    }

    /// One updated cell with this shortcut.
    pub fn cell(self, up: f64, down: f64, left: f64, right: f64, u: f64, k: f64) -> f64 {
        match self {
            DiffusionShortcut::FusedUpdate => {
                let lap = ((up + down) + (left + right)) - 4.0 * u;
                k.mul_add(lap, u)
            }
            DiffusionShortcut::FusedLaplacian => {
                let lap = (-4.0f64).mul_add(u, (up + down) + (left + right));
                u + k * lap
            }
            DiffusionShortcut::FlippedLaplacian => {
                u - k * (4.0 * u - ((up + down) + (left + right)))
            }
            DiffusionShortcut::SequentialSum => {
                let lap = (((up + down) + left) + right) - 4.0 * u;
                u + k * lap
            }
            DiffusionShortcut::FactoredUpdate => {
                u * (1.0 - 4.0 * k) + k * ((up + down) + (left + right))
            }
            DiffusionShortcut::FlushSubnormals => {
                let f = flush;
                let (up, down, left, right, u) = (f(up), f(down), f(left), f(right), f(u));
                let lap = f(f(f(up + down) + f(left + right)) - f(4.0 * u));
                f(u + f(k * lap))
            }
        }
    }

    /// `steps` steps of this shortcut from `init` (periodic, as SPEC §1).
    pub fn evolve(
        self,
        params: &DiffusionParams,
        init: ArrayView2<'_, f64>,
        steps: u32,
    ) -> Array2<f64> {
        let (rows, cols) = params.shape();
        assert_eq!(init.dim(), (rows, cols), "grid of another problem");
        let k = params.k();
        let mut u = init.to_owned();
        for _ in 0..steps {
            u = Array2::from_shape_fn((rows, cols), |(i, j)| {
                self.cell(
                    u[[(i + rows - 1) % rows, j]],
                    u[[(i + 1) % rows, j]],
                    u[[i, (j + cols - 1) % cols]],
                    u[[i, (j + 1) % cols]],
                    u[[i, j]],
                    k,
                )
            });
        }
        u
    }
}

/// A subnormal replaced by a zero of its sign.
fn flush(x: f64) -> f64 {
    if x.is_subnormal() {
        0.0f64.copysign(x)
    } else {
        x
    }
}

/// A diffusion problem built so that one changed rounding changes many cells.
#[derive(Debug, Clone)]
pub struct DiffusionCase {
    /// A file-name-safe identifier (see [`init_file`](Self::init_file) and
    /// [`reference_file`](Self::reference_file)).
    pub slug: &'static str,
    /// Why this case is hard.
    pub why: &'static str,
    pub params: DiffusionParams,
    pub init: Array2<f64>,
    pub steps: u32,
    /// The shortcuts that change at least one cell of the result.
    pub catches: &'static [DiffusionShortcut],
}

impl DiffusionCase {
    /// The initial grid's file name: `diffusion_stress_<slug>_init.npy`.
    pub fn init_file(&self) -> String {
        format!("diffusion_stress_{}_init.npy", self.slug)
    }

    /// numpy's result's file name: `diffusion_stress_<slug>_<steps>steps.npy`.
    pub fn reference_file(&self) -> String {
        format!("diffusion_stress_{}_{}steps.npy", self.slug, self.steps)
    }
}

/// The diffusion cases, each with the shortcuts it catches (proved by the tests, measured
/// share of changed cells in `cargo test --test stress -- --nocapture`).
pub fn diffusion_cases() -> Vec<DiffusionCase> {
    let mut rng = Rng::new(0x1A2C_E4EA_D011);
    let book = |rows, cols| DiffusionParams::book(rows, cols).expect("valid shape");
    let full_range = Array2::from_shape_simple_fn((40, 37), || rng.any_magnitude(996));
    let tiny = Array2::from_shape_simple_fn((33, 29), || rng.any_magnitude(-1000));
    let smallest = f64::from_bits(1);
    let zeros = Array2::from_shape_simple_fn((24, 23), || match rng.below(100) {
        0..90 => -0.0,
        90..94 => 0.0,
        94..97 => smallest,
        _ => -smallest,
    });
    let overflow = Array2::from_shape_simple_fn((31, 40), || {
        let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
        let scale = if rng.below(10) == 0 {
            0.25 + 0.25 * rng.unit()
        } else {
            0.2 * rng.unit()
        };
        sign * f64::MAX * scale
    });
    let (rows, cols) = (40, 37);
    let near_one = Array2::from_shape_fn((rows, cols), |(i, j)| {
        let (x, y) = (i as f64 / rows as f64, j as f64 / cols as f64);
        let wave = (std::f64::consts::TAU * x).sin() * (2.0 * std::f64::consts::TAU * y).cos();
        1.0 + 1e-3 * (wave + 0.3 * rng.unit())
    });
    use DiffusionShortcut::*;
    vec![
        DiffusionCase {
            slug: "full_range",
            why: "random signs and binary exponents from the subnormals to 996 (below 1.4e300): every \
                  sum and product rounds at its own scale, so any change of order or fusion \
                  shows in the last bit; 11 steps, no multiple of a block depth",
            params: book(40, 37),
            init: full_range,
            steps: 11,
            catches: &[FusedUpdate, SequentialSum, FactoredUpdate],
        },
        DiffusionCase {
            slug: "subnormal",
            why: "binary exponents from the subnormals to -1000 (below 2^-999): products \
                  underflow and round absolutely, and a flush to zero loses whole values",
            params: DiffusionParams::new(33, 29, 0.03, 2.5).expect("stable"),
            init: tiny,
            steps: 3,
            catches: &[FusedUpdate, SequentialSum, FactoredUpdate, FlushSubnormals],
        },
        DiffusionCase {
            slug: "signed_zeros",
            why: "mostly -0.0 with some 0.0 and ±2^-1074: the canonical order turns a -0.0 \
                  whose neighbours are all -0.0 into 0.0, the flipped Laplacian keeps -0.0, and \
                  a fused update rounds a negative tiny product to -0.0",
            params: book(24, 23),
            init: zeros,
            steps: 2,
            catches: &[
                FusedUpdate,
                FlippedLaplacian,
                FactoredUpdate,
                FlushSubnormals,
            ],
        },
        DiffusionCase {
            slug: "overflow",
            why: "a tenth of the cells in [f64::MAX/4, f64::MAX/2), the rest below f64::MAX/5: \
                  4*u overflows where u does not, so the canonical order gives -inf or inf in \
                  the first step and NaN in the second; a fused fma(-4, u, v + h) stays finite",
            params: book(31, 40),
            init: overflow,
            steps: 2,
            catches: &[FusedUpdate, FusedLaplacian, SequentialSum, FactoredUpdate],
        },
        DiffusionCase {
            slug: "near_one",
            why: "a smooth wave of amplitude 1e-3 (plus 3e-4 noise) around 1.0, across the \
                  binade edge at 1.0, 50 steps: a reordered sum changes a third of the cells \
                  by 1 or 2 ULP; a fused update changes about 1 % of them (measured: it is \
                  rarely more, as k*lap is small next to u)",
            params: book(rows, cols),
            init: near_one,
            steps: 50,
            catches: &[FusedUpdate, SequentialSum, FactoredUpdate],
        },
    ]
}

/// The Julia cases: chaotic orbits where one changed rounding changes at least 0.1 % of the
/// counts (measured with `examples/find_sensitive_julia.rs`), and the escape circle.
pub fn julia_cases() -> Vec<JuliaCase> {
    use JuliaShortcut::*;
    let problem = |width, height, region, c, max_iter| {
        JuliaParams::new(width, height, region, c, max_iter).expect("valid problem")
    };
    // Near c = -0.7269 + 0.1889i the Julia set is a dust of spirals: most orbits near it are
    // chaotic for hundreds of iterations before they escape.
    let spiral_c = (-0.7269, 0.1889);
    // sqrt(2) +- 2e-15 on both axes: a few dozen distinct f64 values each, whose |z|² lies
    // within a few ULP of 4 along the diagonal x + y = 2 sqrt(2).
    let (below, above) = (1.4142135623730931, 1.4142135623730971);
    vec![
        JuliaCase {
            slug: "spiral_301x199",
            why: "issue 11's problem: the book's region, c = -0.7269+0.1889i, 3000 iterations; \
                  c-native differs on 0.19 % of the pixels and lavapipe's reassociated shader \
                  on 0.20 %",
            params: problem(301, 199, Region::BOOK, spiral_c, 3000),
            catches: &[FusedImaginary, FusedReal, ReassociatedReal, FactoredSquares],
        },
        JuliaCase {
            slug: "spiral_centre_203x151",
            why: "the centre of the same set, (-0.5, 0.5) x (-0.5, 0.5): about 1 % of the \
                  pixels change under each contraction or reassociation",
            params: problem(
                203,
                151,
                Region {
                    x1: -0.5,
                    x2: 0.5,
                    y1: -0.5,
                    y2: 0.5,
                },
                spiral_c,
                3000,
            ),
            catches: &[FusedImaginary, FusedReal, ReassociatedReal, FactoredSquares],
        },
        JuliaCase {
            slug: "siegel_203x151",
            why: "c = -0.391-0.587i, near the Siegel disk: orbits circle the disk \
                  quasi-periodically and the edge is chaotic; 0.56 % of the pixels change",
            params: problem(
                203,
                151,
                Region {
                    x1: -1.2,
                    x2: -0.2,
                    y1: -0.2,
                    y2: 0.8,
                },
                (-0.391, -0.587),
                3000,
            ),
            catches: &[FusedImaginary, FusedReal, ReassociatedReal, FactoredSquares],
        },
        JuliaCase {
            slug: "escape_circle_203x151",
            why: "a 4e-15 square on the escape circle at 45 degrees, 20 iterations: whether \
                  zr*zr + zi*zi < 4 holds depends on its last bit, so fusing the escape test \
                  changes 0.29 % of the counts (by 1), which no chaotic case shows",
            params: problem(
                203,
                151,
                Region {
                    x1: below,
                    x2: above,
                    y1: below,
                    y2: above,
                },
                spiral_c,
                20,
            ),
            catches: &[FusedMagnitude],
        },
    ]
}
