//! The stress cases of `lancehead::problem::stress` are sharp: every shortcut a case lists (the
//! canonical kernel with one rounding changed) changes its result, so an exact backend taking
//! that shortcut fails the case, and each case lists exactly the shortcuts it catches. The
//! grids hold what their descriptions claim. And the rounding horizon, which judges tolerance
//! backends on chaotic inputs, accepts every correctly rounded variant of the iteration (f64
//! and f32) and rejects real defects.
//!
//! `cargo test --test stress -- --nocapture` prints the measured table.

mod common;

use std::collections::HashMap;

use common::{evolve, julia, scalar};
use lancehead::agreement::{ChaoticDiff, GridDiff, JuliaDiff, Precision, RoundingHorizon};
use lancehead::problem::stress::{
    self, DiffusionCase, DiffusionShortcut, JuliaShortcut, MIN_SENSITIVE_SHARE,
};
use lancehead::{JuliaParams, Region};
use ndarray::Array2;

#[test]
fn each_julia_case_catches_exactly_the_shortcuts_it_lists() {
    for case in stress::julia_cases() {
        let reference = julia(&*scalar(), &case.params);
        println!("julia {} ({})", case.slug, case.why);
        for shortcut in JuliaShortcut::ALL {
            let diff = JuliaDiff::new(reference.view(), shortcut.counts(&case.params).view());
            println!("  {:<18} {diff}", shortcut.name());
            assert_eq!(
                diff.share() >= MIN_SENSITIVE_SHARE,
                case.catches.contains(&shortcut),
                "julia {} under {} ({}): {diff}; its `catches` list is wrong",
                case.slug,
                shortcut.name(),
                shortcut.formula()
            );
        }
    }
}

#[test]
fn each_diffusion_case_catches_exactly_the_shortcuts_it_lists() {
    for case in stress::diffusion_cases() {
        let reference = evolve(&*scalar(), &case.params, case.init.view(), case.steps);
        println!("diffusion {} x {} ({})", case.slug, case.steps, case.why);
        for shortcut in DiffusionShortcut::ALL {
            let got = shortcut.evolve(&case.params, case.init.view(), case.steps);
            let diff = GridDiff::new(reference.view(), got.view());
            println!("  {:<18} {diff}", shortcut.name());
            assert_eq!(
                diff.differing > 0,
                case.catches.contains(&shortcut),
                "diffusion {} under {} ({}): {diff}; its `catches` list is wrong",
                case.slug,
                shortcut.name(),
                shortcut.formula()
            );
        }
    }
}

/// The shortcut models are the canonical kernel where they do not apply: on the book's gentle
/// problems they agree with `scalar` (the book problem "hides fused multiply-adds").
#[test]
fn shortcuts_agree_with_scalar_on_the_book_problems() {
    let params = JuliaParams::new(200, 120, Region::BOOK, stress_book_c(), 300).unwrap();
    let reference = julia(&*scalar(), &params);
    for shortcut in JuliaShortcut::ALL {
        let diff = JuliaDiff::new(reference.view(), shortcut.counts(&params).view());
        assert_eq!(diff.differing, 0, "{}: {diff}", shortcut.name());
    }
    // FusedLaplacian and FlippedLaplacian are provably the canonical result on finite
    // non-zero values that do not overflow: the book grid must not tell them apart.
    let params = lancehead::DiffusionParams::book(64, 64).unwrap();
    let init = params.book_initial().unwrap();
    let reference = evolve(&*scalar(), &params, init.view(), 50);
    for shortcut in [
        DiffusionShortcut::FusedLaplacian,
        DiffusionShortcut::FlippedLaplacian,
    ] {
        let got = shortcut.evolve(&params, init.view(), 50);
        let diff = GridDiff::new(reference.view(), got.view());
        assert_eq!(diff.differing, 0, "{}: {diff}", shortcut.name());
    }
}

fn stress_book_c() -> (f64, f64) {
    lancehead::problem::julia::BOOK_C
}

fn cases_by_slug() -> HashMap<&'static str, DiffusionCase> {
    stress::diffusion_cases()
        .into_iter()
        .map(|c| (c.slug, c))
        .collect()
}

#[test]
fn the_diffusion_grids_hold_what_they_claim() {
    let cases = cases_by_slug();
    let magnitudes = |g: &Array2<f64>| {
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for v in g.iter().map(|v| v.abs()).filter(|&v| v > 0.0) {
            (lo, hi) = (lo.min(v), hi.max(v));
        }
        (lo, hi)
    };
    let both_signs = |g: &Array2<f64>| {
        g.iter().any(|v| v.is_sign_negative()) && g.iter().any(|v| v.is_sign_positive())
    };

    let full = &cases["full_range"].init;
    let (lo, hi) = magnitudes(full);
    assert!(lo < 1e-300 && hi > 1e299, "full_range spans {lo:e}..{hi:e}");
    assert!(both_signs(full));

    let tiny = &cases["subnormal"].init;
    let (_, hi) = magnitudes(tiny);
    assert!(hi < 2f64.powi(-999), "subnormal case reaches {hi:e}");
    let subnormals = tiny.iter().filter(|v| v.is_subnormal()).count();
    assert!(subnormals >= tiny.len() / 50, "{subnormals} subnormals");

    let zeros = &cases["signed_zeros"];
    assert!(zeros.init.iter().any(|&v| v == 0.0 && v.is_sign_negative()));
    let after = evolve(&*scalar(), &zeros.params, zeros.init.view(), zeros.steps);
    let zero_signs = |sign: bool| {
        after
            .iter()
            .filter(|&&v| v == 0.0 && v.is_sign_negative() == sign)
            .count()
    };
    assert!(zero_signs(true) > 0 && zero_signs(false) > 0, "both zeros");

    let overflow = &cases["overflow"];
    assert!(overflow.init.iter().all(|v| v.is_finite()));
    assert!(overflow.init.iter().any(|v| (4.0 * v).is_infinite()));
    let one = evolve(&*scalar(), &overflow.params, overflow.init.view(), 1);
    assert!(one.iter().any(|v| v.is_infinite()) && !one.iter().any(|v| v.is_nan()));
    let two = evolve(&*scalar(), &overflow.params, overflow.init.view(), 2);
    assert!(two.iter().any(|v| v.is_nan()), "inf, then NaN");
    let fused = DiffusionShortcut::FusedLaplacian.evolve(&overflow.params, overflow.init.view(), 2);
    assert!(
        two.iter()
            .zip(&fused)
            .any(|(c, f)| c.is_nan() && f.is_finite()),
        "a fused fma(-4, u, v + h) stays finite where the canonical order gives NaN"
    );

    let near = &cases["near_one"].init;
    assert!(near.iter().all(|v| (v - 1.0).abs() < 2e-3));
    assert!(near.iter().any(|&v| v < 1.0) && near.iter().any(|&v| v > 1.0));
}

/// The same iteration computed in f32 from rounded coordinates and `c`, like `gpu-f32`.
fn julia_f32(params: &JuliaParams) -> Array2<u32> {
    let (cr, ci) = (params.c().0 as f32, params.c().1 as f32);
    Array2::from_shape_fn(params.shape(), |(j, i)| {
        let (mut zr, mut zi) = (params.xs()[i] as f32, params.ys()[j] as f32);
        let mut n = 0;
        while n < params.max_iter() && zr * zr + zi * zi < 4.0 {
            let t = (zr * zr - zi * zi) + cr;
            zi = (2.0 * zr) * zi + ci;
            zr = t;
            n += 1;
        }
        n
    })
}

/// Not too strict: no correctly rounded variant, f64 or f32, differs on a pixel the rounding
/// horizon calls determined, while the chaotic cases still have most of their pixels judged.
#[test]
fn the_rounding_horizon_accepts_every_correctly_rounded_variant() {
    for case in stress::julia_cases() {
        let reference = julia(&*scalar(), &case.params);
        let f64_horizon = RoundingHorizon::new(&case.params, Precision::F64);
        for shortcut in JuliaShortcut::ALL {
            let counts = shortcut.counts(&case.params);
            let judged = ChaoticDiff::new(&f64_horizon, reference.view(), counts.view());
            assert_eq!(
                judged.differing_determined,
                0,
                "{} under {}: {judged}",
                case.slug,
                shortcut.name()
            );
        }
        let f32_horizon = RoundingHorizon::new(&case.params, Precision::F32);
        let judged = ChaoticDiff::new(
            &f32_horizon,
            reference.view(),
            julia_f32(&case.params).view(),
        );
        println!("{} in f32: {judged}", case.slug);
        assert_eq!(
            judged.differing_determined, 0,
            "{} in f32: {judged}",
            case.slug
        );
        if case.catches != [JuliaShortcut::FusedMagnitude] {
            let pixels = case.params.width() * case.params.height();
            assert!(
                f64_horizon.determined() * 10 >= pixels * 9,
                "{}: only {} of {pixels} pixels judged",
                case.slug,
                f64_horizon.determined()
            );
        }
    }
}

/// Every count of the book's problem is determined by f64 rounding: no correctly rounded f64
/// implementation, fused or reassociated, can change its checksum of 33219980. That is why
/// the book problem cannot show an FMA.
#[test]
fn every_count_of_the_book_problem_is_determined() {
    let params = JuliaParams::book();
    assert_eq!(
        RoundingHorizon::new(&params, Precision::F64).determined(),
        1_000_000
    );
}

/// Not too lenient: defects that a chaotic input could be thought to excuse are caught on the
/// pixels whose counts rounding determines.
#[test]
fn the_rounding_horizon_rejects_defects() {
    let case = &stress::julia_cases()[0];
    let params = &case.params;
    let reference = julia(&*scalar(), params);
    let horizon = RoundingHorizon::new(params, Precision::F64);
    let (cr, ci) = params.c();
    let iterate = |c: (f64, f64), extra: u32| {
        Array2::from_shape_fn(params.shape(), |(j, i)| {
            let n = JuliaShortcut::FusedImaginary.pixel(
                params.xs()[i],
                params.ys()[j],
                c.0,
                c.1,
                params.max_iter(),
            );
            if n < params.max_iter() { n + extra } else { n }
        })
    };
    // `c` passed through f32 by an f64 backend; counting the escaping iteration too.
    let defects = [
        (
            "c rounded to f32",
            iterate((cr as f32 as f64, ci as f32 as f64), 0),
        ),
        ("escape counted", iterate((cr, ci), 1)),
    ];
    for (defect, counts) in defects {
        let judged = ChaoticDiff::new(&horizon, reference.view(), counts.view());
        println!("{defect}: {judged}");
        assert!(judged.differing_determined > 0, "{defect}: {judged}");
        assert!(!judged.within(lancehead::registry::Agreement::ToleranceF64));
    }
}

/// SPEC's f64 tolerance is relative to the result, and under cancellation a fused update is
/// legitimately further than that: with `k` near 1/4, `u + k*lap` cancels `u`, and the fused
/// `fma(k, lap, u)` (what `c-native` computes) rounds once where the canonical order rounds
/// twice. The case is the one tests/properties.rs found (6x23, one step, full-range grid from
/// seed 0); the property test reports such grids instead of judging tolerance backends on
/// them, pending SPEC's rule.
#[test]
fn spec_f64_tolerance_fails_a_fused_update_under_cancellation() {
    let params =
        lancehead::DiffusionParams::new(6, 23, 1.5280471405552092, 0.16360751796516146).unwrap();
    assert!((params.k() - 0.25).abs() < 1e-15, "k = {}", params.k());
    let mut rng = lancehead::problem::stress::Rng::new(0);
    let init = Array2::from_shape_simple_fn((6, 23), || rng.any_magnitude(996));
    let reference = evolve(&*scalar(), &params, init.view(), 1);
    let fused = DiffusionShortcut::FusedUpdate.evolve(&params, init.view(), 1);
    let diff = GridDiff::new(reference.view(), fused.view());
    println!("fused update under cancellation: {diff}");
    assert!(diff.max_rel > 0.1, "{diff}");
    assert!(!diff.within(lancehead::registry::Agreement::ToleranceF64));
}
