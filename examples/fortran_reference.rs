//! Calling the Fortran reference from Rust: `fortran_ref/`'s `bind(C)` procedures read Rust's
//! row-major arrays in place (declared with reversed dimensions; no copy, no transpose). The
//! non-square problems show that the layout is right: a transposed read would not match.
//!
//! `cargo run --release --features fortran-ref --example fortran_reference`

use lancehead::ffi::fortran;
use lancehead::problem::julia::{BOOK_C, BOOK_MAX_ITER};
use lancehead::problem::{diffusion, julia};
use lancehead::{Backend, DiffusionParams, JuliaParams, Region, registry};

fn main() -> Result<(), lancehead::Error> {
    let scalar = registry::create("scalar")?;
    let backend = fortran::backend();
    for (key, value) in backend.details() {
        println!("{key}: {value}");
    }

    let book = JuliaParams::book();
    let wide = JuliaParams::new(200, 120, Region::BOOK, BOOK_C, BOOK_MAX_ITER)?;
    for (label, params) in [("julia 1000x1000", book), ("julia 200x120", wide)] {
        let counts = lancehead::julia(&backend, &params)?;
        let same = counts == lancehead::julia(&*scalar, &params)?;
        println!(
            "{label}: sum {}, {}",
            julia::checksum(counts.view()),
            if same {
                "identical to scalar"
            } else {
                "differs from scalar"
            }
        );
    }

    for (rows, cols) in [(256, 256), (96, 160)] {
        let params = DiffusionParams::book(rows, cols)?;
        let mut grid = params.book_initial()?;
        let mut expected = grid.clone();
        lancehead::evolve(&backend, &params, grid.view_mut(), 500)?;
        lancehead::evolve(&*scalar, &params, expected.view_mut(), 500)?;
        let bitwise = grid
            .iter()
            .zip(&expected)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        println!(
            "diffusion {rows}x{cols} x 500: sum {:?}, {}",
            diffusion::checksum(grid.view()),
            if bitwise {
                "bitwise identical to scalar"
            } else {
                "differs from scalar"
            }
        );
    }
    Ok(())
}
