//! criterion benches of every backend this build contains that can run here:
//! `julia/<backend>` (the book's problem) and `diffusion/<backend>/<size>` (the book's set-up,
//! `STEPS` steps per iteration). Throughput is in elements: z-updates (the sum of counts) for
//! Julia, cell updates for diffusion. Device backends return only when their results are
//! back in host memory, so they are timed to completion.
//!
//! Sizes: 256, 512 and 1024 by default, so that `cargo bench` stays within about ten
//! minutes on two cores; `LANCEHEAD_BENCH_SIZES=256,512,1024,2048,4096` for the book's set.

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use lancehead::workload::{Prepared, Workload};
use lancehead::{Backend, registry};

const DEFAULT_SIZES: [usize; 3] = [256, 512, 1024];
const STEPS: u32 = 50;

fn sizes() -> Vec<usize> {
    match std::env::var("LANCEHEAD_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n >= 1)
                    .unwrap_or_else(|| {
                        panic!(
                            "LANCEHEAD_BENCH_SIZES: expected sizes >= 1 like 256,512, got `{list}`"
                        )
                    })
            })
            .collect(),
        Err(_) => DEFAULT_SIZES.to_vec(),
    }
}

/// Every backend of the build that can run here; the others are named on stderr.
fn backends() -> Vec<Box<dyn lancehead::Backend>> {
    registry::probe_all()
        .into_iter()
        .filter_map(|p| match p.backend {
            Ok(b) => Some(b),
            Err(reason) => {
                eprintln!("skipping {}: {reason}", p.info.name);
                None
            }
        })
        .collect()
}

/// Times `iters` calls of `run` on `backend`, the input put back (untimed) before each.
fn timed(run: &mut Prepared, backend: &dyn Backend, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        run.reset().expect("the initial grid is kept");
        let start = Instant::now();
        run.call(backend).expect("the kernel runs");
        total += start.elapsed();
    }
    total
}

fn julia(c: &mut Criterion) {
    let mut group = c.benchmark_group("julia");
    // One iteration is a whole image (up to seconds for ndarray-alloc): flat sampling keeps
    // the sample count at the minimum without criterion stretching the run.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let workload = Workload::julia_book();
    for backend in backends() {
        let mut run = workload.prepare().expect("the book's image fits");
        run.call(&*backend).expect("julia runs");
        group.throughput(Throughput::Elements(run.updates()));
        group.bench_function(backend.name(), |b| {
            b.iter_custom(|iters| timed(&mut run, &*backend, iters))
        });
    }
    group.finish();
}

fn diffusion(c: &mut Criterion) {
    let mut group = c.benchmark_group("diffusion");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let backends = backends();
    for n in sizes() {
        // Every call starts from the book's initial grid, so all backends do the same work
        // on the same values.
        let workload = Workload::diffusion_book(n, n, STEPS);
        let mut run = workload.prepare().expect("the grid fits in memory");
        group.throughput(Throughput::Elements(run.updates()));
        for backend in &backends {
            group.bench_function(format!("{}/{n}", backend.name()), |b| {
                b.iter_custom(|iters| timed(&mut run, &**backend, iters))
            });
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = julia, diffusion
}
criterion_main!(benches);
