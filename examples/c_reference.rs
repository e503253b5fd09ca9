//! Calling the C reference from Rust: `c_ref/` compiled three ways (the book's chapter 7
//! compiler comparison), each through the same safe wrapper, on the book's problems.
//!
//! `cargo run --release --example c_reference`

use std::time::Instant;

use lancehead::ffi::c;
use lancehead::problem::{diffusion, julia};
use lancehead::{Backend, DiffusionParams, JuliaParams, registry};

fn main() -> Result<(), lancehead::Error> {
    let scalar = registry::create("scalar")?;
    let julia_params = JuliaParams::book();
    let diffusion_params = DiffusionParams::book(256, 256)?;
    let init = diffusion_params.book_initial()?;
    let reference_counts = lancehead::julia(&*scalar, &julia_params)?;
    let mut reference_grid = init.clone();
    lancehead::evolve(&*scalar, &diffusion_params, reference_grid.view_mut(), 500)?;

    for backend in [c::c(), c::native(), c::openmp()?] {
        let flags = backend
            .details()
            .into_iter()
            .find(|(key, _)| *key == "flags")
            .map_or(String::new(), |(_, flags)| flags);
        let name = backend.name();
        println!("{name}: {flags}");

        let start = Instant::now();
        let counts = lancehead::julia(&backend, &julia_params)?;
        println!(
            "{name} julia 1000x1000: sum {} in {:.3} s, {}",
            julia::checksum(counts.view()),
            start.elapsed().as_secs_f64(),
            if counts == reference_counts {
                "identical to scalar"
            } else {
                "differs from scalar"
            }
        );

        let mut grid = init.clone();
        let start = Instant::now();
        lancehead::evolve(&backend, &diffusion_params, grid.view_mut(), 500)?;
        let bitwise = grid
            .iter()
            .zip(&reference_grid)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        println!(
            "{name} diffusion 256x256 x 500: sum {:?} in {:.3} s, {}",
            diffusion::checksum(grid.view()),
            start.elapsed().as_secs_f64(),
            if bitwise {
                "bitwise identical to scalar"
            } else {
                "differs from scalar"
            }
        );
    }
    Ok(())
}
