//! criterion benches of every backend this build contains that can run here:
//! `julia/<backend>` (the book's problem) and `diffusion/<backend>/<size>` (the book's set-up,
//! `STEPS` steps per iteration). Throughput is in elements: z-updates (the sum of counts) for
//! Julia, cell updates for diffusion. Device backends return only when their results are
//! back in host memory, so they are timed to completion.
//!
//! Sizes: 256, 512 and 1024 by default, so that `cargo bench` stays within about ten
//! minutes on two cores; `LANCEHEAD_BENCH_SIZES=256,512,1024,2048,4096` for the book's set.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use lancehead::problem::julia::checksum;
use lancehead::{DiffusionParams, JuliaParams, registry};

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

fn julia(c: &mut Criterion) {
    let params = JuliaParams::book();
    let mut group = c.benchmark_group("julia");
    // One iteration is a whole image (up to seconds for ndarray-alloc): flat sampling keeps
    // the sample count at the minimum without criterion stretching the run.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for backend in backends() {
        let mut counts = params.new_counts().expect("the book's image fits");
        backend
            .julia(&params, counts.view_mut())
            .expect("julia runs");
        group.throughput(Throughput::Elements(checksum(counts.view())));
        group.bench_function(backend.name(), |b| {
            b.iter(|| {
                backend
                    .julia(black_box(&params), counts.view_mut())
                    .expect("julia runs")
            })
        });
    }
    group.finish();
}

fn diffusion(c: &mut Criterion) {
    let mut group = c.benchmark_group("diffusion");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let backends = backends();
    for n in sizes() {
        let params = DiffusionParams::book(n, n).expect("a valid grid size");
        let init = params.book_initial().expect("the grid fits in memory");
        let mut scratch = params.new_grid().expect("the grid fits in memory");
        group.throughput(Throughput::Elements((n * n) as u64 * u64::from(STEPS)));
        for backend in &backends {
            group.bench_function(format!("{}/{n}", backend.name()), |b| {
                // Every iteration starts from the book's initial grid (copied untimed), so
                // all backends do the same work on the same values.
                b.iter_batched_ref(
                    || init.clone(),
                    |grid| {
                        backend
                            .evolve(&params, grid.view_mut(), scratch.view_mut(), STEPS)
                            .expect("diffusion runs")
                    },
                    BatchSize::LargeInput,
                )
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
