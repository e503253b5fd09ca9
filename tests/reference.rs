//! The scalar reference against the book's checksum and the numpy reference results (SPEC §1),
//! and against numpy on the stress cases of `lancehead::problem::stress` (chaotic Julia
//! problems; grids with subnormals, signed zeros and overflow), made by
//! `scripts/make_reference.py` in canonical order.

mod common;

use common::{Rng, evolve, julia, load, scalar};
use lancehead::agreement::{GridDiff, JuliaDiff};
use lancehead::problem::{diffusion, julia as julia_problem, stress};
use lancehead::{DiffusionParams, JuliaParams, Region};
use ndarray::Array2;

#[test]
fn julia_book_default_sums_to_the_books_checksum() {
    let counts = julia(&*scalar(), &JuliaParams::book());
    assert_eq!(counts.dim(), (1000, 1000));
    assert_eq!(julia_problem::checksum(counts.view()), 33_219_980);
}

#[test]
fn julia_200x120_matches_numpy() {
    let params = JuliaParams::new(200, 120, Region::BOOK, julia_problem::BOOK_C, 300).unwrap();
    let counts = julia(&*scalar(), &params);
    assert_eq!(counts, load::<u32>("julia_200x120_it300.npy"));
    assert_eq!(julia_problem::checksum(counts.view()), 785_648);
}

#[test]
fn julia_37x23_other_region_and_c_matches_numpy() {
    let region = Region {
        x1: -2.0,
        x2: 1.0,
        y1: -1.25,
        y2: 1.5,
    };
    let params = JuliaParams::new(37, 23, region, (0.285, 0.01), 1000).unwrap();
    let counts = julia(&*scalar(), &params);
    assert_eq!(counts, load::<u32>("julia_37x23_c0.285_0.01_it1000.npy"));
    assert_eq!(julia_problem::checksum(counts.view()), 12_129);
}

#[test]
fn julia_coordinates_follow_the_spec_formula() {
    let region = Region {
        x1: -2.0,
        x2: 1.0,
        y1: -1.25,
        y2: 1.5,
    };
    let params = JuliaParams::new(37, 23, region, (0.285, 0.01), 10).unwrap();
    assert_eq!(params.xs()[0], -2.0);
    assert_eq!(params.xs()[5], -2.0 + 5.0 * (3.0 / 37.0));
    assert_eq!(params.ys()[0], 1.5, "row 0 is the top edge");
    assert_eq!(params.ys()[22], 1.5 + 22.0 * ((-1.25 - 1.5) / 23.0));
}

#[test]
fn julia_max_iter_zero_gives_zero_counts() {
    let params = JuliaParams::new(9, 4, Region::BOOK, julia_problem::BOOK_C, 0).unwrap();
    assert!(julia(&*scalar(), &params).iter().all(|&n| n == 0));
}

/// Diffusion of the book's initial condition, checked bit for bit against numpy and against
/// the values SPEC §1 lists.
fn check_book_diffusion(n: usize, file: &str, sum: f64, max: f64, centre: f64) {
    let params = DiffusionParams::book(n, n).unwrap();
    let init = params.book_initial().unwrap();
    let grid = evolve(&*scalar(), &params, init.view(), 500);
    let reference = load::<f64>(file);
    let differing = grid
        .iter()
        .zip(&reference)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differing, 0, "{differing} cells differ from numpy's {file}");
    assert_eq!(
        diffusion::checksum(grid.view()),
        sum,
        "numpy's pairwise sum, to the bit"
    );
    assert_eq!(grid.iter().copied().fold(f64::MIN, f64::max), max);
    assert_eq!(grid[[n / 2, n / 2]], centre);
}

#[test]
fn diffusion_book_256_matches_numpy() {
    check_book_diffusion(
        256,
        "diffusion_book_256x256_500steps.npy",
        3.3800000000000003,
        0.0032486906758164903,
        0.0011329283766858286,
    );
}

#[test]
// SPEC's reference values, quoted digit for digit.
#[allow(clippy::excessive_precision)]
fn diffusion_book_512_matches_numpy() {
    check_book_diffusion(
        512,
        "diffusion_book_512x512_500steps.npy",
        13.52,
        0.0049061777063251983,
        0.0011522042853102123,
    );
}

#[test]
fn diffusion_random_48x64_matches_numpy() {
    let init = load::<f64>("diffusion_random_48x64_init.npy");
    let params = DiffusionParams::book(48, 64).unwrap();
    let grid = evolve(&*scalar(), &params, init.view(), 100);
    assert_eq!(grid, load::<f64>("diffusion_random_48x64_100steps.npy"));
    assert_eq!(diffusion::checksum(grid.view()), 1536.1846748794185);
}

#[test]
fn book_initial_condition_is_the_hot_square() {
    let params = DiffusionParams::book(10, 20).unwrap();
    let u = params.book_initial().unwrap();
    for ((i, j), &v) in u.indexed_iter() {
        let hot = i == 4 && (8..10).contains(&j);
        assert_eq!(v, if hot { 0.005 } else { 0.0 }, "at ({i}, {j})");
    }
}

#[test]
fn diffusion_conserves_the_sum_over_500_steps() {
    let params = DiffusionParams::new(40, 56, 0.2, 1.2).unwrap();
    let init = Rng::new(7).grid(40, 56);
    let before = diffusion::checksum(init.view());
    let after = diffusion::checksum(evolve(&*scalar(), &params, init.view(), 500).view());
    assert!(
        (after - before).abs() <= 1e-12 * before,
        "sum drifted from {before} to {after}"
    );
}

#[test]
fn zero_steps_leave_the_grid_unchanged() {
    let params = DiffusionParams::book(5, 7).unwrap();
    let init = Rng::new(3).grid(5, 7);
    assert_eq!(evolve(&*scalar(), &params, init.view(), 0), init);
}

/// The textbook update with modular indices, written independently of the library.
fn modular_step(u: &Array2<f64>, k: f64) -> Array2<f64> {
    let (r, c) = u.dim();
    Array2::from_shape_fn((r, c), |(i, j)| {
        let v = u[[(i + r - 1) % r, j]] + u[[(i + 1) % r, j]];
        let h = u[[i, (j + c - 1) % c]] + u[[i, (j + 1) % c]];
        let lap = (v + h) - 4.0 * u[[i, j]];
        u[[i, j]] + k * lap
    })
}

#[test]
fn degenerate_grids_match_a_modular_index_implementation() {
    let mut rng = Rng::new(11);
    for (rows, cols) in [(1, 1), (1, 9), (9, 1), (2, 2), (1, 2), (2, 1), (3, 3)] {
        let params = DiffusionParams::new(rows, cols, 0.1, 1.0).unwrap();
        let init = rng.grid(rows, cols);
        for steps in [1, 2, 7] {
            let mut expected = init.clone();
            for _ in 0..steps {
                expected = modular_step(&expected, params.k());
            }
            let got = evolve(&*scalar(), &params, init.view(), steps);
            assert_eq!(got, expected, "{rows}x{cols}, {steps} steps");
        }
    }
}

#[test]
fn checksum_is_numpys_pairwise_sum() {
    // Expected values printed by numpy 2.4: `np.full((100, 100), 0.1).sum()` and
    // `x.reshape(300, 500).sum()` with `x = ((i * 7919) % 1000) / 997 + 0.1` for `i` in
    // `0..150000`. A naive loop gives 1000.0000000001588 and 90150.45135406198; summing in
    // 8192-element blocks (numpy 1's buffer) gives 1000.0000000000002 and 90150.4513540622.
    let tenths = Array2::from_elem((100, 100), 0.1);
    assert_eq!(diffusion::checksum(tenths.view()), 999.9999999999999);
    let x = Array2::from_shape_fn((300, 500), |(r, c)| {
        let i = (r * 500 + c) as u64;
        ((i * 7919) % 1000) as f64 / 997.0 + 0.1
    });
    assert_eq!(diffusion::checksum(x.view()), 90150.45135406218);
}

#[test]
fn julia_stress_cases_match_numpy() {
    for case in stress::julia_cases() {
        let counts = julia(&*scalar(), &case.params);
        let expected = load::<u32>(&case.reference_file());
        let diff = JuliaDiff::new(expected.view(), counts.view());
        assert_eq!(diff.differing, 0, "{}: {diff}", case.slug);
    }
}

/// The committed initial grids (numpy's inputs) are what the library's generator makes.
#[test]
fn diffusion_stress_inputs_are_the_committed_files() {
    for case in stress::diffusion_cases() {
        let committed = load::<f64>(&case.init_file());
        assert_eq!(committed.dim(), case.init.dim(), "{}", case.slug);
        let moved = committed
            .iter()
            .zip(&case.init)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(
            moved,
            0,
            "{}: the generator no longer makes {}: rerun `cargo run --example stress_inputs` \
             and scripts/make_reference.py",
            case.slug,
            case.init_file()
        );
    }
}

/// Bit for bit, NaN matching NaN: the overflow case ends in inf and NaN, the signed-zeros case
/// in zeros of both signs, and numpy's IEEE arithmetic agrees with `scalar` on every one.
#[test]
fn diffusion_stress_cases_match_numpy() {
    for case in stress::diffusion_cases() {
        let grid = evolve(&*scalar(), &case.params, case.init.view(), case.steps);
        let expected = load::<f64>(&case.reference_file());
        let diff = GridDiff::new(expected.view(), grid.view());
        assert_eq!(diff.differing, 0, "{}: {diff}", case.slug);
    }
}
