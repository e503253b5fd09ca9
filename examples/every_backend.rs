//! The library API in a few lines: run the book's Julia problem and a diffusion problem on
//! every backend this build contains, and check each against the book.
//!
//! `cargo run --release --example every_backend`

use std::time::Instant;

use lancehead::problem::{diffusion, julia};
use lancehead::{DiffusionParams, JuliaParams, registry};

fn main() -> Result<(), lancehead::Error> {
    let julia_params = JuliaParams::book();
    let diffusion_params = DiffusionParams::book(256, 256)?;
    let init = diffusion_params.book_initial()?;
    let mut counts = julia_params.new_counts()?;
    let (mut grid, mut scratch) = (init.clone(), diffusion_params.new_grid()?);

    for probe in registry::probe_all() {
        let backend = match probe.backend {
            Ok(backend) => backend,
            Err(reason) => {
                println!("{:<14} unavailable: {reason}", probe.info.name);
                continue;
            }
        };
        let start = Instant::now();
        backend.julia(&julia_params, counts.view_mut())?;
        let julia_seconds = start.elapsed().as_secs_f64();

        grid.assign(&init);
        let start = Instant::now();
        backend.evolve(&diffusion_params, grid.view_mut(), scratch.view_mut(), 500)?;
        let diffusion_seconds = start.elapsed().as_secs_f64();

        let sum = julia::checksum(counts.view());
        println!(
            "{:<14} julia {julia_seconds:.4} s, sum {sum} ({}); diffusion 256² x 500 {diffusion_seconds:.4} s, sum {:?}",
            backend.name(),
            if sum == julia::BOOK_CHECKSUM {
                "the book's"
            } else {
                "WRONG"
            },
            diffusion::checksum(grid.view()),
        );
    }
    Ok(())
}
