//! Every bad input of SPEC §5 that reaches the library is refused with the right error.

mod common;

use common::scalar;
use lancehead::problem::julia::BOOK_C;
use lancehead::{DiffusionParams, Error, JuliaParams, Region, registry};
use ndarray::Array2;

fn julia_err(width: usize, height: usize, region: Region, c: (f64, f64)) -> Error {
    JuliaParams::new(width, height, region, c, 300).expect_err("must be refused")
}

fn invalid_name(e: &Error) -> &'static str {
    match e {
        Error::InvalidParameter { name, .. } => name,
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
}

#[test]
fn julia_refuses_zero_sizes() {
    assert_eq!(
        invalid_name(&julia_err(0, 10, Region::BOOK, BOOK_C)),
        "width"
    );
    assert_eq!(
        invalid_name(&julia_err(10, 0, Region::BOOK, BOOK_C)),
        "height"
    );
}

#[test]
fn julia_refuses_empty_or_inverted_regions() {
    let r = |x1, x2, y1, y2| Region { x1, x2, y1, y2 };
    for region in [
        r(1.0, 1.0, -1.0, 1.0),
        r(2.0, 1.0, -1.0, 1.0),
        r(-1.0, 1.0, 1.0, 1.0),
        r(-1.0, 1.0, 2.0, -2.0),
    ] {
        assert_eq!(
            invalid_name(&julia_err(10, 10, region, BOOK_C)),
            "region",
            "{region:?}"
        );
    }
}

#[test]
fn julia_refuses_non_finite_numbers() {
    let r = |x1, x2, y1, y2| Region { x1, x2, y1, y2 };
    for region in [
        r(f64::NAN, 1.0, -1.0, 1.0),
        r(-1.0, f64::INFINITY, -1.0, 1.0),
        r(-1.0, 1.0, f64::NEG_INFINITY, 1.0),
    ] {
        assert_eq!(invalid_name(&julia_err(10, 10, region, BOOK_C)), "region");
    }
    // Finite ends whose difference overflows: the step would be infinite.
    assert_eq!(
        invalid_name(&julia_err(10, 10, r(-1e308, 1e308, -1.0, 1.0), BOOK_C)),
        "region"
    );
    for c in [(f64::NAN, 0.0), (0.0, f64::INFINITY)] {
        assert_eq!(invalid_name(&julia_err(10, 10, Region::BOOK, c)), "c");
    }
}

#[test]
fn julia_refuses_sizes_beyond_memory() {
    let e = julia_err(1 << 40, 1 << 40, Region::BOOK, BOOK_C);
    assert!(matches!(e, Error::OutOfMemory { .. }), "{e:?}");
    assert!(e.to_string().contains("height x width"), "{e}");
}

#[test]
fn diffusion_refuses_zero_sizes_and_bad_coefficients() {
    let name = |r, c, dt, d| {
        invalid_name(&DiffusionParams::new(r, c, dt, d).expect_err("refused")).to_string()
    };
    assert_eq!(name(0, 5, 0.1, 1.0), "rows");
    assert_eq!(name(5, 0, 0.1, 1.0), "cols");
    for dt in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert_eq!(name(5, 5, dt, 1.0), "dt", "dt = {dt}");
    }
    for d in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
        assert_eq!(name(5, 5, 0.1, d), "d", "d = {d}");
    }
}

#[test]
fn diffusion_refuses_unstable_coefficients() {
    let e = DiffusionParams::new(5, 5, 0.26, 1.0).expect_err("unstable");
    assert!(matches!(e, Error::Unstable { .. }), "{e:?}");
    assert!(e.to_string().contains("0.25"), "{e}");
    assert!(
        DiffusionParams::new(5, 5, 0.25, 1.0).is_ok(),
        "d*dt = 0.25 is the stable limit"
    );
}

#[test]
fn diffusion_refuses_grids_beyond_memory() {
    let params = DiffusionParams::book(1 << 40, 1 << 40).unwrap();
    let e = params.new_grid().expect_err("too big");
    assert!(matches!(e, Error::OutOfMemory { .. }), "{e:?}");
}

#[test]
fn kernels_refuse_buffers_of_the_wrong_shape() {
    let backend = scalar();
    let params = JuliaParams::new(8, 4, Region::BOOK, BOOK_C, 10).unwrap();
    let mut counts = Array2::<u32>::zeros((8, 4));
    let e = backend
        .julia(&params, counts.view_mut())
        .expect_err("transposed shape");
    assert!(
        matches!(e, Error::ShapeMismatch { what: "counts", .. }),
        "{e:?}"
    );

    let params = DiffusionParams::book(6, 5).unwrap();
    let mut grid = Array2::<f64>::zeros((6, 5));
    let mut wrong = Array2::<f64>::zeros((5, 6));
    let e = backend
        .evolve(&params, wrong.view_mut(), grid.view_mut(), 1)
        .expect_err("grid");
    assert!(
        matches!(e, Error::ShapeMismatch { what: "grid", .. }),
        "{e:?}"
    );
    let e = backend
        .evolve(&params, grid.view_mut(), wrong.view_mut(), 1)
        .expect_err("scratch");
    assert!(
        matches!(
            e,
            Error::ShapeMismatch {
                what: "scratch",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn kernels_refuse_non_contiguous_buffers() {
    let backend = scalar();
    let params = DiffusionParams::book(5, 5).unwrap();
    let mut grid = Array2::<f64>::zeros((5, 5));
    let mut scratch = Array2::<f64>::zeros((5, 5));
    let e = backend
        .evolve(
            &params,
            grid.view_mut().reversed_axes(),
            scratch.view_mut(),
            1,
        )
        .expect_err("column-major");
    assert!(matches!(e, Error::NotContiguous { what: "grid" }), "{e:?}");
    let mut wide = Array2::<u32>::zeros((4, 16));
    let params = JuliaParams::new(8, 4, Region::BOOK, BOOK_C, 10).unwrap();
    let strided = wide.slice_mut(ndarray::s![.., ..;2]);
    let e = backend.julia(&params, strided).expect_err("strided");
    assert!(
        matches!(e, Error::NotContiguous { what: "counts" }),
        "{e:?}"
    );
}

#[test]
fn registry_refuses_unknown_backends_and_names_the_known_ones() {
    let e = registry::create("numba").err().expect("unknown");
    let text = e.to_string();
    assert!(matches!(e, Error::UnknownBackend { .. }), "{e:?}");
    for info in registry::KNOWN {
        assert!(
            text.contains(info.name),
            "`{text}` should list {}",
            info.name
        );
    }
}

#[test]
fn registry_names_the_feature_of_backends_left_out_of_this_build() {
    let missing: Vec<_> = registry::KNOWN
        .iter()
        .filter(|info| !registry::compiled().any(|c| c.name == info.name))
        .collect();
    if missing.is_empty() {
        eprintln!(
            "SKIPPED: every backend is compiled into this build; see the CLI test built without default features"
        );
    }
    for info in missing {
        let e = registry::create(info.name).err().expect("not compiled");
        let feature = info
            .feature
            .expect("only feature-gated backends can be missing");
        assert!(matches!(e, Error::NotCompiled { .. }), "{e:?}");
        assert!(
            e.to_string().contains(&format!("--features {feature}")),
            "{e}"
        );
    }
}
