//! Times one backend on one problem: the loop behind the figures of docs/performance.md, for
//! quick experiments (`lancehead compare` is the full harness).
//!
//! ```text
//! cargo run --release --example time_backend -- julia simd [REPEAT]
//! cargo run --release --example time_backend -- diffusion simd-wavefront SIZE STEPS [REPEAT]
//! ```
//! Prints the minimum and median wall-clock seconds of the kernel call alone.

use std::time::Instant;

use lancehead::{DiffusionParams, JuliaParams, registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: time_backend julia BACKEND [REPEAT] | diffusion BACKEND SIZE STEPS [REPEAT]";
    let arg = |i: usize| args.get(i).ok_or(usage);
    let backend = registry::create(arg(1)?)?;
    let mut seconds = Vec::new();
    let mut time = |f: &mut dyn FnMut() -> lancehead::Result<()>| -> lancehead::Result<()> {
        let start = Instant::now();
        f()?;
        seconds.push(start.elapsed().as_secs_f64());
        Ok(())
    };
    let label = match arg(0)?.as_str() {
        "julia" => {
            let repeat: usize = args.get(2).map_or(Ok(9), |r| r.parse())?;
            let params = JuliaParams::book();
            let mut counts = params.new_counts()?;
            for _ in 0..repeat {
                time(&mut || backend.julia(&params, counts.view_mut()))?;
            }
            "julia book default".to_string()
        }
        "diffusion" => {
            let (size, steps): (usize, u32) = (arg(2)?.parse()?, arg(3)?.parse()?);
            let repeat: usize = args.get(4).map_or(Ok(5), |r| r.parse())?;
            let params = DiffusionParams::book(size, size)?;
            let init = params.book_initial()?;
            let (mut grid, mut scratch) = (init.clone(), params.new_grid()?);
            for _ in 0..repeat {
                grid.assign(&init);
                time(&mut || backend.evolve(&params, grid.view_mut(), scratch.view_mut(), steps))?;
            }
            format!("diffusion {size}x{size} x {steps}")
        }
        _ => return Err(usage.into()),
    };
    seconds.sort_by(f64::total_cmp);
    println!(
        "{label} on {} ({:?}): min {:.4} s, median {:.4} s over {} runs",
        backend.name(),
        backend.details(),
        seconds[0],
        seconds[seconds.len() / 2],
        seconds.len()
    );
    Ok(())
}
