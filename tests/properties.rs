//! Property tests: every CPU backend of this build (every SIMD path this CPU supports among
//! them) against `scalar`, in its class, on random problems:
//!
//! - diffusion: shapes from 1 x 1 to 300 x 300, with every width around the vector widths (4
//!   and 8 lanes plus the two wrapping edge cells) and primes; step counts 0, 1 and others
//!   that are no multiple of a block depth (`simd-wavefront` runs up to 12 steps per pass);
//!   random `dt` and `d` up to the stability limit; grids in [0, 1), over the whole finite
//!   range, subnormal, near 1.0, of signed zeros, or overflowing.
//! - Julia: images from 1 x 1 to 64 x 40, regions from the whole set down to 1e-7 wide
//!   anywhere in it, `c` near the chaotic constants or anywhere in [-1.5, 1.5]², max_iter
//!   from 0 to 2000.
//!
//! Exact backends must give `scalar`'s results bit for bit (NaN matching NaN). Tolerance
//! backends are judged by SPEC's bound on grids and by the rounding horizon on counts
//! (`ChaoticDiff`: a random region is as likely chaotic as not). On full-range and overflowing
//! grids a tolerance backend is reported, not judged: SPEC's relative bound does not hold for
//! a fused update under cancellation nor for a non-finite reference (see
//! [`GridKind::spec_tolerance_applies`]).
//!
//! Cases per property: `PROPTEST_CASES`, default 256: both properties together take about 7 s
//! in the dev profile on the 2 shared cores of the development machine (1000 cases: 23 s). A
//! failure prints the shrunk problem; its grid is rebuilt from its `seed`.

mod common;

use std::fmt;

use common::{candidates, evolve, is_device, julia, scalar};
use lancehead::agreement::{ChaoticJudge, GridDiff};
use lancehead::problem::Kernel;
use lancehead::problem::diffusion::STABILITY_LIMIT;
use lancehead::problem::stress::Rng;
use lancehead::registry::{Agreement, BackendInfo};
use lancehead::{Backend, DiffusionParams, JuliaParams, Region};
use ndarray::Array2;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const DEFAULT_CASES: u32 = 256;

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    TestRunner::new(Config {
        cases,
        // The problems are printed on failure; no regression files in the tree.
        failure_persistence: None,
        ..Config::default()
    })
}

/// The CPU backends: every candidate but the device ones (tests/gpu.rs and the agreement
/// tests cover those; a GPU run per random case would dominate the suite).
fn cpu_backends() -> Vec<(&'static BackendInfo, Box<dyn Backend>)> {
    let backends: Vec<_> = candidates()
        .into_iter()
        .filter(|(info, _)| !is_device(info))
        .collect();
    for (info, backend) in &backends {
        eprintln!("property-testing {} {:?}", info.name, backend.details());
    }
    backends
}

/// A label for one backend instance (the SIMD paths share the name `simd`).
fn label(info: &BackendInfo, backend: &dyn Backend) -> String {
    match backend.details().into_iter().find(|(k, _)| *k == "path") {
        Some((_, path)) => format!("{} ({path})", info.name),
        None => info.name.to_string(),
    }
}

/// A side of a grid or image: every size around 4 and 8 lanes and the two edge cells, primes,
/// and anything up to `max`.
fn extent(max: usize) -> impl Strategy<Value = usize> {
    let primes: Vec<usize> = [23, 29, 31, 37, 41, 61, 97, 127, 251, 257, 293]
        .into_iter()
        .filter(|&p| p <= max)
        .collect();
    prop_oneof![
        3 => 1usize..=20,
        2 => prop::sample::select(primes),
        1 => 21usize..=max,
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GridKind {
    Unit,
    FullRange,
    Subnormal,
    NearOne,
    SignedZeros,
    Overflow,
}

impl GridKind {
    /// Whether SPEC's tolerance (`max(1e-12 |x|, 1e-300)`, relative to the result) is a valid
    /// rule for a tolerance backend on such grids. It is not where the canonical result is
    /// not finite (overflow), nor under cancellation: with `k` near 1/4 and neighbours far
    /// smaller than the cell, `u + k*lap` cancels `u` and a fused update, which rounds once,
    /// lands further than 1e-12 from the canonical result, relatively (this test found it:
    /// `c-native` on 6x23 x 1 step, k = 0.25, a full-range grid, max relative 0.497;
    /// tests/stress.rs pins the effect). Such results are printed, not judged.
    fn spec_tolerance_applies(self) -> bool {
        matches!(
            self,
            GridKind::Unit | GridKind::NearOne | GridKind::SignedZeros
        )
    }
}

#[derive(Clone)]
struct DiffusionProblem {
    rows: usize,
    cols: usize,
    steps: u32,
    dt: f64,
    d: f64,
    kind: GridKind,
    seed: u64,
}

impl fmt::Debug for DiffusionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}x{} x {} steps, dt={:?} d={:?}, {:?} grid from seed {}",
            self.rows, self.cols, self.steps, self.dt, self.d, self.kind, self.seed
        )
    }
}

impl DiffusionProblem {
    fn params(&self) -> DiffusionParams {
        DiffusionParams::new(self.rows, self.cols, self.dt, self.d).expect("strategy is stable")
    }

    fn grid(&self) -> Array2<f64> {
        let mut rng = Rng::new(self.seed);
        let smallest = f64::from_bits(1);
        Array2::from_shape_simple_fn((self.rows, self.cols), || match self.kind {
            GridKind::Unit => rng.unit(),
            GridKind::FullRange => rng.any_magnitude(996),
            GridKind::Subnormal => rng.any_magnitude(-1000),
            GridKind::NearOne => 1.0 + 1e-3 * (2.0 * rng.unit() - 1.0),
            GridKind::SignedZeros => {
                [-0.0, -0.0, -0.0, 0.0, smallest, -smallest][rng.below(6) as usize]
            }
            GridKind::Overflow => {
                let sign = if rng.below(2) == 0 { 1.0 } else { -1.0 };
                sign * f64::MAX * 0.5 * rng.unit()
            }
        })
    }
}

fn diffusion_problem() -> impl Strategy<Value = DiffusionProblem> {
    let kind = prop::sample::select(vec![
        GridKind::Unit,
        GridKind::FullRange,
        GridKind::Subnormal,
        GridKind::NearOne,
        GridKind::SignedZeros,
        GridKind::Overflow,
    ]);
    let steps = prop_oneof![Just(0u32), Just(1u32), 2u32..=17, 18u32..=40];
    let d = prop_oneof![Just(1.0f64), 0.01f64..10.0];
    // k = d*dt up to the limit, the limit itself included (the book's k is 0.1).
    let k = prop_oneof![
        Just(STABILITY_LIMIT),
        Just(0.1f64),
        1e-6f64..STABILITY_LIMIT
    ];
    (extent(300), extent(300), steps, d, k, kind, any::<u64>())
        .prop_map(|(rows, cols, steps, d, k, kind, seed)| DiffusionProblem {
            rows,
            cols,
            // Keep the large grids' runs short: cells x steps stays below 2.4 M.
            steps: if rows * cols > 60_000 {
                steps.min(9)
            } else {
                steps
            },
            dt: k / d,
            d,
            kind,
            seed,
        })
        .prop_filter("stable d*dt", |p| {
            DiffusionParams::new(p.rows, p.cols, p.dt, p.d).is_ok()
        })
}

#[test]
fn diffusion_backends_agree_with_scalar_on_random_problems() {
    let backends = cpu_backends();
    let scalar = scalar();
    runner()
        .run(&diffusion_problem(), |problem| {
            let params = problem.params();
            let init = problem.grid();
            let expected = evolve(&*scalar, &params, init.view(), problem.steps);
            for (info, backend) in &backends {
                let class = backend.agreement(Kernel::Diffusion);
                let name = label(info, &**backend);
                // As in tests/agreement.rs: a tolerance backend may refuse a grid outside the
                // inputs it declares (-ffast-math builds refuse values near overflow), saying
                // so; an exact backend must compute every finite grid.
                let mut got = init.to_owned();
                if let Err(e) =
                    lancehead::evolve(&**backend, &params, got.view_mut(), problem.steps)
                {
                    prop_assert!(
                        class != Agreement::Exact,
                        "{name} (exact) failed on {problem:?}: {e}"
                    );
                    eprintln!("{name} ({class:?}) refused {problem:?}: {e}");
                    continue;
                }
                let diff = GridDiff::new(expected.view(), got.view());
                if class != Agreement::Exact && !problem.kind.spec_tolerance_applies() {
                    if !diff.within(class) {
                        eprintln!(
                            "{name} on {problem:?} (outside SPEC's tolerance, not judged): {diff}"
                        );
                    }
                    continue;
                }
                prop_assert!(
                    diff.within(class),
                    "{name} ({class:?}) on {problem:?}: {}: {diff}",
                    diff.verdict(class)
                );
            }
            Ok(())
        })
        .unwrap();
}

#[derive(Clone)]
struct JuliaProblem {
    width: usize,
    height: usize,
    region: Region,
    c: (f64, f64),
    max_iter: u32,
}

impl fmt::Debug for JuliaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.region;
        write!(
            f,
            "{}x{} --region={:?},{:?},{:?},{:?} --c={:?},{:?} --max-iter {}",
            self.width, self.height, r.x1, r.x2, r.y1, r.y2, self.c.0, self.c.1, self.max_iter
        )
    }
}

fn julia_problem() -> impl Strategy<Value = JuliaProblem> {
    // Constants whose Julia sets are chaotic dusts, spirals and dendrites, jittered.
    let chaotic = prop::sample::select(vec![
        (-0.7269, 0.1889),
        (-0.8, 0.156),
        (-0.391, -0.587),
        (0.285, 0.01),
        (-0.62772, -0.42193),
        (0.26, 0.0016),
    ]);
    let c = prop_oneof![
        (chaotic, -1e-3f64..1e-3, -1e-3f64..1e-3).prop_map(|((r, i), dr, di)| (r + dr, i + di)),
        (-1.5f64..1.5, -1.5f64..1.5),
    ];
    let region = (-1.8f64..1.8, -1.8f64..1.8, -7.0f64..0.3, 0.5f64..2.0).prop_map(
        |(x, y, log_half, aspect)| {
            let half = 10f64.powf(log_half);
            Region {
                x1: x - half,
                x2: x + half,
                y1: y - half * aspect,
                y2: y + half * aspect,
            }
        },
    );
    let max_iter = prop_oneof![Just(0u32), Just(1u32), 2u32..=300, 301u32..=2000];
    (extent(64), 1usize..=40, region, c, max_iter).prop_map(
        |(width, height, region, c, max_iter)| JuliaProblem {
            width,
            height,
            region,
            c,
            max_iter,
        },
    )
}

#[test]
fn julia_backends_agree_with_scalar_on_random_problems() {
    let backends = cpu_backends();
    let scalar = scalar();
    runner()
        .run(&julia_problem(), |problem| {
            let params = JuliaParams::new(
                problem.width,
                problem.height,
                problem.region,
                problem.c,
                problem.max_iter,
            )
            .expect("strategy makes valid problems");
            let expected = julia(&*scalar, &params);
            let judge = ChaoticJudge::new(&params);
            for (info, backend) in &backends {
                let class = backend.agreement(Kernel::Julia);
                let counts = julia(&**backend, &params);
                let judged = judge.judge(class, expected.view(), counts.view());
                prop_assert!(
                    judged.verdict().passes(),
                    "{} ({class:?}) on {problem:?}: {judged}",
                    label(info, &**backend)
                );
            }
            Ok(())
        })
        .unwrap();
}
