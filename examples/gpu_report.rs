//! Prints what the GPU backends measure here: the f32 differences from `scalar` (Julia book
//! default; diffusion 1024² x 500) and the upload / compute / read-back split of each call.
//!
//! `cargo run --release --features gpu --example gpu_report`

use lancehead::agreement::{GridDiff, JuliaDiff};
use lancehead::{Backend, DiffusionParams, JuliaParams, registry};

fn main() -> lancehead::Result<()> {
    let scalar = registry::create("scalar")?;
    let julia = JuliaParams::book();
    let expected_counts = lancehead::julia(&*scalar, &julia)?;
    let diffusion = DiffusionParams::book(1024, 1024)?;
    let mut expected_grid = diffusion.book_initial()?;
    lancehead::evolve(&*scalar, &diffusion, expected_grid.view_mut(), 500)?;

    for name in ["gpu", "gpu-f32"] {
        let backend = match registry::create(name) {
            Ok(backend) => backend,
            Err(e) => {
                println!("{e}");
                continue;
            }
        };
        if let Some((_, adapter)) = backend.details().into_iter().find(|(k, _)| *k == "adapter") {
            println!("{name} on {adapter}");
        }
        let counts = lancehead::julia(&*backend, &julia)?;
        let diff = JuliaDiff::new(expected_counts.view(), counts.view());
        println!(
            "  julia 1000x1000: sum {}; vs scalar: {diff}",
            lancehead::problem::julia::checksum(counts.view())
        );
        split(&*backend);

        let mut grid = diffusion.book_initial()?;
        lancehead::evolve(&*backend, &diffusion, grid.view_mut(), 500)?;
        let diff = GridDiff::new(expected_grid.view(), grid.view());
        println!("  diffusion 1024² x 500: vs scalar: {diff}");
        split(&*backend);
    }
    Ok(())
}

fn split(backend: &dyn Backend) {
    if let Some(t) = backend.last_transfer_times() {
        let total = t.upload + t.compute + t.read_back;
        println!(
            "    upload {:.4} s, compute {:.4} s, read-back {:.4} s ({:.1} % of the call copying)",
            t.upload,
            t.compute,
            t.read_back,
            100.0 * (t.upload + t.read_back) / total
        );
    }
}
