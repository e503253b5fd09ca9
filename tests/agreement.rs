//! Every backend in the registry agrees with `scalar` (SPEC §2) on the reference cases and on
//! seeded random inputs. A backend added to the registry is covered here without a change.

mod common;

use common::{Rng, evolve, julia, load, scalar};
use lancehead::agreement::{GridDiff, JuliaDiff};
use lancehead::backend::registry::{self, BackendInfo};
use lancehead::problem::Kernel;
use lancehead::problem::julia::BOOK_C;
use lancehead::{Backend, DiffusionParams, JuliaParams, Region};
use ndarray::Array2;

/// The backends to check against `scalar`: all compiled in except `scalar` itself. Those that
/// cannot run here are reported loudly; with `LANCEHEAD_REQUIRE_ALL=1` that is a failure.
fn candidates() -> Vec<(&'static BackendInfo, Box<dyn Backend>)> {
    let require_all = std::env::var("LANCEHEAD_REQUIRE_ALL").is_ok_and(|v| v == "1");
    // CI sets this where lavapipe is installed, so a GPU backend that cannot run fails there.
    let require_gpu = std::env::var("LANCEHEAD_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let mut found = Vec::new();
    for probe in registry::probe_all() {
        match probe.backend {
            Ok(_) if probe.info.name == "scalar" => {}
            Ok(backend) => found.push((probe.info, backend)),
            Err(reason) if require_all || (require_gpu && probe.info.feature == Some("gpu")) => {
                panic!("backend {} unavailable: {reason}", probe.info.name)
            }
            Err(reason) => eprintln!("SKIPPED backend {}: {reason}", probe.info.name),
        }
    }
    for info in registry::KNOWN {
        if !registry::compiled().any(|c| c.name == info.name) {
            eprintln!(
                "NOT BUILT backend {} (feature {:?})",
                info.name, info.feature
            );
        }
    }
    #[cfg(feature = "simd")]
    found.extend(simd_paths());
    found
}

/// Every SIMD path this CPU supports, each as a one-thread `simd` backend forced onto it (the
/// registry's `simd` runs only the widest). Paths this CPU lacks are reported loudly.
#[cfg(feature = "simd")]
fn simd_paths() -> Vec<(&'static BackendInfo, Box<dyn Backend>)> {
    use lancehead::backend::rows::Serial;
    use lancehead::backend::simd::{SimdPath, SimdRows};
    let info = registry::info("simd").expect("simd is known");
    let mut found: Vec<(&'static BackendInfo, Box<dyn Backend>)> = Vec::new();
    for path in SimdPath::ALL {
        match SimdRows::with_path(path) {
            Ok(rows) => found.push((info, Box::new(Serial::new("simd", rows)))),
            Err(e) => eprintln!("SKIPPED simd path {}: {e}", path.name()),
        }
    }
    found
}

fn julia_cases() -> Vec<(String, JuliaParams)> {
    let mut cases = vec![
        ("book default".to_string(), JuliaParams::book()),
        (
            "37x23 c=0.285+0.01i".to_string(),
            JuliaParams::new(
                37,
                23,
                Region {
                    x1: -2.0,
                    x2: 1.0,
                    y1: -1.25,
                    y2: 1.5,
                },
                (0.285, 0.01),
                1000,
            )
            .unwrap(),
        ),
    ];
    let mut rng = Rng::new(2014);
    let cs = [
        BOOK_C,
        (-0.8, 0.156),
        (0.285, 0.01),
        (-0.4, 0.6),
        (0.0, 0.0),
    ];
    let regions = [
        Region::BOOK,
        Region {
            x1: -2.0,
            x2: 1.0,
            y1: -1.25,
            y2: 1.5,
        },
        Region {
            x1: -0.1,
            x2: 0.05,
            y1: 0.3,
            y2: 0.31,
        },
    ];
    for (i, width) in [1usize, 3, 7, 17, 1000].into_iter().enumerate() {
        for max_iter in [0u32, 1, 300, 2000] {
            let height = 1 + (rng.next_u64() % 9) as usize;
            let c = cs[(i + max_iter as usize) % cs.len()];
            let region = regions[rng.next_u64() as usize % regions.len()];
            let params = JuliaParams::new(width, height, region, c, max_iter).unwrap();
            cases.push((
                format!("{width}x{height} c={c:?} {region:?} max_iter={max_iter}"),
                params,
            ));
        }
    }
    cases.push((
        "1x40 column".into(),
        JuliaParams::new(1, 40, Region::BOOK, BOOK_C, 300).unwrap(),
    ));
    cases.push((
        "2x2".into(),
        JuliaParams::new(2, 2, Region::BOOK, (-0.8, 0.156), 300).unwrap(),
    ));
    cases
}

#[test]
fn julia_agrees_with_scalar() {
    let cases = julia_cases();
    let reference: Vec<_> = cases.iter().map(|(_, p)| julia(&*scalar(), p)).collect();
    assert_eq!(
        lancehead::problem::julia::checksum(reference[0].view()),
        33_219_980
    );
    for (info, backend) in candidates() {
        eprintln!("julia: checking {} {:?}", info.name, backend.details());
        let class = backend.agreement(Kernel::Julia);
        // The f32 tolerance is a rate of differing pixels: on an image so small that one
        // differing pixel already exceeds it (under 200 pixels), the per-image rule would
        // mean "exact", which f32 is not (gpu-f32 differs on 1 pixel of a 3x1 boundary zoom
        // at 2000 iterations). Such images are reported but not judged; every larger image is
        // judged alone. f64-tolerance backends keep the strict judgement of every image.
        let (mut small_pixels, mut small_differing) = (0, 0);
        for ((label, params), expected) in cases.iter().zip(&reference) {
            let diff = JuliaDiff::new(expected.view(), julia(&*backend, params).view());
            if class != registry::Agreement::Exact {
                eprintln!("{} julia {label}: {diff}", info.name);
            }
            if class == registry::Agreement::ToleranceF32 {
                let one_pixel = JuliaDiff {
                    differing: 1,
                    ..diff.clone()
                };
                if !one_pixel.within(class) {
                    small_pixels += diff.pixels;
                    small_differing += diff.differing;
                    continue;
                }
            }
            assert!(diff.within(class), "{} julia {label}: {diff}", info.name);
        }
        if small_pixels > 0 {
            eprintln!(
                "{} julia, images too small for a rate (not judged): {small_differing} of \
                 {small_pixels} pixels differ",
                info.name
            );
        }
    }
}

fn diffusion_cases() -> Vec<(String, DiffusionParams, Array2<f64>, u32)> {
    let book = DiffusionParams::book(256, 256).unwrap();
    let mut cases = vec![
        (
            "book 256x256 x 500".to_string(),
            book,
            book.book_initial().unwrap(),
            500,
        ),
        (
            "random 48x64 x 100".to_string(),
            DiffusionParams::book(48, 64).unwrap(),
            load::<f64>("diffusion_random_48x64_init.npy"),
            100,
        ),
    ];
    let mut rng = Rng::new(1986);
    let shapes = [
        (1, 1),
        (1, 17),
        (17, 1),
        (2, 2),
        (3, 5),
        (5, 3),
        (31, 47),
        (64, 64),
        (100, 7),
        (9, 1000),
        // Widths around the vector widths (4 and 8 lanes, plus the two wrapping edge cells).
        (7, 6),
        (4, 9),
        (6, 10),
        (5, 11),
        (3, 13),
        // Zero steps (index 15): the grid must come back untouched.
        (4, 15),
        (8, 33),
        // Two and three AVX-512 vectors, around where the vector row kernel takes over.
        (3, 16),
        (5, 23),
        (2, 24),
    ];
    // Tall grids, so temporally blocked backends run deep passes: a step count that is no
    // multiple of the depth, and grids of fewer rows than one pass's ghost rows (above).
    for (rows, cols, steps) in [(1024, 64, 37), (2048, 16, 29), (333, 5, 100)] {
        let params = DiffusionParams::book(rows, cols).unwrap();
        cases.push((
            format!("{rows}x{cols} x {steps}"),
            params,
            rng.grid(rows, cols),
            steps,
        ));
    }
    for (i, (rows, cols)) in shapes.into_iter().enumerate() {
        let steps = [0u32, 1, 2, 7, 50][i % 5];
        let (dt, d) = [(0.1, 1.0), (0.25, 1.0), (0.03, 2.5)][i % 3];
        let params = DiffusionParams::new(rows, cols, dt, d).unwrap();
        cases.push((
            format!("{rows}x{cols} x {steps} (dt={dt}, d={d})"),
            params,
            rng.grid(rows, cols),
            steps,
        ));
    }
    cases
}

#[test]
fn diffusion_agrees_with_scalar() {
    let cases = diffusion_cases();
    let reference: Vec<_> = cases
        .iter()
        .map(|(_, p, init, steps)| evolve(&*scalar(), p, init.view(), *steps))
        .collect();
    for (info, backend) in candidates() {
        eprintln!("diffusion: checking {} {:?}", info.name, backend.details());
        let class = backend.agreement(Kernel::Diffusion);
        for ((label, params, init, steps), expected) in cases.iter().zip(&reference) {
            let got = evolve(&*backend, params, init.view(), *steps);
            let diff = GridDiff::new(expected.view(), got.view());
            if class != registry::Agreement::Exact {
                eprintln!("{} diffusion {label}: {diff}", info.name);
            }
            assert!(
                diff.within(class),
                "{} diffusion {label}: {diff}",
                info.name
            );
        }
    }
}

/// Threaded backends give the same bits whatever the number of threads.
#[cfg(feature = "rayon")]
#[test]
fn threaded_results_do_not_depend_on_the_thread_count() {
    let julia_params = JuliaParams::new(300, 200, Region::BOOK, BOOK_C, 300).unwrap();
    // Tall enough that temporally blocked backends run several steps per pass, with a depth
    // that changes with the thread count (bands of 600, 300 and 200 rows); 23 steps is no
    // multiple of those depths.
    let diffusion_params = DiffusionParams::book(600, 40).unwrap();
    let init = Rng::new(5).grid(600, 40);
    for (info, backend) in candidates() {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (counts, grid) = pool.install(|| {
                (
                    julia(&*backend, &julia_params),
                    evolve(&*backend, &diffusion_params, init.view(), 23),
                )
            });
            let expected_counts = julia(&*scalar(), &julia_params);
            let expected_grid = evolve(&*scalar(), &diffusion_params, init.view(), 23);
            let (j, g) = (
                JuliaDiff::new(expected_counts.view(), counts.view()),
                GridDiff::new(expected_grid.view(), grid.view()),
            );
            assert!(
                j.within(backend.agreement(Kernel::Julia)),
                "{} with {threads} threads: {j}",
                info.name
            );
            assert!(
                g.within(backend.agreement(Kernel::Diffusion)),
                "{} with {threads} threads: {g}",
                info.name
            );
        }
    }
}
