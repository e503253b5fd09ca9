//! Times one backend on one workload: the loop behind the figures of docs/performance.md,
//! for quick experiments (`lancehead compare` is the full harness, with the same workloads).
//!
//! ```text
//! cargo run --release --example time_backend -- julia simd [REPEAT]
//! cargo run --release --example time_backend -- diffusion simd-wavefront SIZE STEPS [REPEAT]
//! ```
//! Prints the minimum and median wall-clock seconds of the kernel call alone.

use std::time::Instant;

use lancehead::harness::measure::median;
use lancehead::{Workload, registry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: time_backend julia BACKEND [REPEAT] | diffusion BACKEND SIZE STEPS [REPEAT]";
    let arg = |i: usize| args.get(i).ok_or(usage);
    let backend = registry::create(arg(1)?)?;
    let (workload, repeat) = match arg(0)?.as_str() {
        "julia" => (
            Workload::julia_book(),
            args.get(2).map_or(Ok(9), |r| r.parse())?,
        ),
        "diffusion" => {
            let (size, steps): (usize, u32) = (arg(2)?.parse()?, arg(3)?.parse()?);
            (
                Workload::diffusion_book(size, size, steps),
                args.get(4).map_or(Ok(5), |r| r.parse())?,
            )
        }
        _ => return Err(usage.into()),
    };
    let mut run = workload.prepare()?;
    let mut seconds = Vec::new();
    for _ in 0..repeat {
        run.reset()?;
        let start = Instant::now();
        run.call(&*backend)?;
        seconds.push(start.elapsed().as_secs_f64());
    }
    println!(
        "{} {workload} on {} ({:?}): min {:.4} s, median {:.4} s over {} runs",
        workload.kernel().as_str(),
        backend.name(),
        backend.details(),
        seconds.iter().copied().fold(f64::INFINITY, f64::min),
        median(&seconds),
        seconds.len()
    );
    Ok(())
}
