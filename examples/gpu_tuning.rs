//! Measures, on the adapter wgpu finds, the workgroup shapes of both GPU kernels, the number
//! of diffusion steps per submission, and what the exact path costs (plain WGSL, SPIR-V, and
//! SPIR-V with `NoContraction`): the defaults of `GpuOptions` come from this example's output
//! on lavapipe (docs/gpu.md), and a real GPU must be measured again with it.
//!
//! ```text
//! cargo run --release --features gpu --example gpu_tuning
//! cargo run --release --features gpu --example gpu_tuning -- --backend gpu-f32 --size 2048
//! ```
//!
//! Every configuration is its own backend instance (the exact path where the adapter has it,
//! canary off: it only decides the class), and the repeats go round-robin over the
//! configurations so that a burst of load on a shared machine hits all of them alike. Each
//! figure is a median over the repeats of the whole call (upload, compute, read-back): its
//! wall-clock time, and the CPU time the process spent in it, all threads together (from
//! `/proc/self/task/*/schedstat`). On a software adapter such as lavapipe the CPU time is the
//! work itself, and on a machine shared with other jobs it is far steadier than the wall
//! clock, so configurations are ranked by it there; on a real GPU they are ranked by the wall
//! clock (`--rank` overrides).

use std::time::Instant;

use clap::Parser;
use lancehead::gpu::shader::{Real, Workgroup};
use lancehead::gpu::{Gpu, GpuOptions, ShaderPath};
use lancehead::harness::machine::Machine;
use lancehead::{Backend, DiffusionKernel, DiffusionParams, JuliaKernel, JuliaParams};

#[derive(Parser)]
struct Args {
    /// `gpu` (f64) or `gpu-f32`.
    #[arg(long, default_value = "gpu")]
    backend: String,
    /// Timed calls of each configuration.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Side of the diffusion grid (book initial condition).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Diffusion steps per call.
    #[arg(long, default_value_t = 500)]
    steps: u32,
    /// Workgroup shapes to try, `XxY`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "8x8,16x16,32x8,8x32,64x1,256x1,16x4"
    )]
    shapes: Vec<String>,
    /// Diffusion steps per submission to try.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "16,32,64,128,256,512,1024"
    )]
    submissions: Vec<u32>,
    /// Rank by `wall` or `cpu` time (default: `cpu` on a software adapter, else `wall`).
    #[arg(long)]
    rank: Option<Rank>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Rank {
    Wall,
    Cpu,
}

/// CPU seconds this process has run, all its threads together (Linux; 0 elsewhere).
fn process_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let nanoseconds: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanoseconds as f64 * 1e-9
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let shapes = args
        .shapes
        .iter()
        .map(|s| {
            let (x, y) = s.split_once('x').ok_or("a shape is XxY, e.g. 16x16")?;
            Ok(Workgroup::new(x.parse()?, y.parse()?))
        })
        .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
    match args.backend.as_str() {
        "gpu" => tune::<f64>(&args, &shapes),
        "gpu-f32" => tune::<f32>(&args, &shapes),
        other => Err(format!("--backend {other}: expected gpu or gpu-f32").into()),
    }
}

/// One configuration's timings of whole calls, in seconds.
#[derive(Default)]
struct Timings {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Timings {
    fn median(v: &[f64]) -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

fn tune<R: Real>(args: &Args, shapes: &[Workgroup]) -> Result<(), Box<dyn std::error::Error>> {
    let base = GpuOptions {
        canary: false,
        ..GpuOptions::default()
    };
    let probe = Gpu::<R>::with_options(base)?;
    let details = probe.details();
    let detail = |key: &str| {
        let found = details.iter().find(|(k, _)| *k == key);
        found.map_or_else(String::new, |(_, v)| v.clone())
    };
    println!("machine: {}", Machine::describe(std::iter::empty()).cpu);
    println!("adapter: {}", detail("adapter"));
    println!("{}: {}", args.backend, detail("shaders"));
    println!("defaults: {}", detail("workgroups"));
    drop(probe);
    let software = lancehead::gpu::context::shared()
        .is_ok_and(|c| c.info.device_type == wgpu::DeviceType::Cpu);
    let rank = args
        .rank
        .unwrap_or(if software { Rank::Cpu } else { Rank::Wall });
    println!(
        "ranked by {} time",
        if rank == Rank::Cpu {
            "CPU"
        } else {
            "wall-clock"
        }
    );
    canary_cost::<R>(args.repeat)?;

    let julia = JuliaParams::book();
    let mut counts = julia.new_counts()?;
    let julia_call =
        |gpu: &Gpu<R>, counts: &mut ndarray::Array2<u32>| gpu.julia(&julia, counts.view_mut());
    let configs = |f: &dyn Fn(Workgroup) -> GpuOptions| -> lancehead::Result<Vec<_>> {
        shapes
            .iter()
            .map(|&shape| Ok((shape.to_string(), Gpu::<R>::with_options(f(shape))?)))
            .collect()
    };

    let instances = configs(&|shape| GpuOptions {
        julia_workgroup: shape,
        ..base
    })?;
    let julia_times = sweep(&instances, args.repeat, &mut |gpu| {
        julia_call(gpu, &mut counts)
    })?;
    let what = "Julia book problem (1000x1000, max_iter 300): workgroup";
    report(what, &instances, &julia_times, rank);

    let diffusion = DiffusionParams::book(args.size, args.size)?;
    let init = diffusion.book_initial()?;
    let (mut grid, mut scratch) = (init.clone(), diffusion.new_grid()?);
    let mut diffusion_call = |gpu: &Gpu<R>| {
        grid.assign(&init);
        gpu.evolve(&diffusion, grid.view_mut(), scratch.view_mut(), args.steps)
    };
    let instances = configs(&|shape| GpuOptions {
        diffusion_workgroup: shape,
        ..base
    })?;
    let diffusion_times = sweep(&instances, args.repeat, &mut diffusion_call)?;
    let what = format!(
        "diffusion {0}x{0} x {1}, {2} steps per submission: workgroup",
        args.size, args.steps, base.steps_per_submission
    );
    let best = report(&what, &instances, &diffusion_times, rank);

    let best_shape = shapes[best];
    let instances: Vec<_> = args
        .submissions
        .iter()
        .map(|&steps_per_submission| {
            let options = GpuOptions {
                diffusion_workgroup: best_shape,
                steps_per_submission,
                ..base
            };
            Ok((
                steps_per_submission.to_string(),
                Gpu::<R>::with_options(options)?,
            ))
        })
        .collect::<lancehead::Result<_>>()?;
    let times = sweep(&instances, args.repeat, &mut diffusion_call)?;
    let what = format!(
        "diffusion {0}x{0} x {1}, workgroup {best_shape}: steps per submission",
        args.size, args.steps
    );
    report(&what, &instances, &times, rank);

    // What exactness costs: the same kernels, defaults otherwise, on each shader path.
    let paths = [
        ("WGSL", ShaderPath::Wgsl),
        (
            "SPIR-V",
            ShaderPath::Spirv {
                no_contraction: false,
            },
        ),
        (
            "SPIR-V+NC",
            ShaderPath::Spirv {
                no_contraction: true,
            },
        ),
    ];
    let instances: lancehead::Result<Vec<_>> = paths
        .iter()
        .map(|&(label, shaders)| {
            let options = GpuOptions { shaders, ..base };
            Ok((label.to_string(), Gpu::<R>::with_options(options)?))
        })
        .collect();
    match instances {
        Ok(instances) => {
            let times = sweep(&instances, args.repeat, &mut |gpu| {
                julia_call(gpu, &mut counts)
            })?;
            report("Julia book problem: shader path", &instances, &times, rank);
            let times = sweep(&instances, args.repeat, &mut diffusion_call)?;
            let what = format!(
                "diffusion {0}x{0} x {1}: shader path",
                args.size, args.steps
            );
            report(&what, &instances, &times, rank);
        }
        Err(e) => println!("\nshader paths not compared: {e}"),
    }
    Ok(())
}

/// What the canary adds to building an instance: constructions with and without it, in turns.
fn canary_cost<R: Real>(repeat: usize) -> lancehead::Result<()> {
    let mut seconds = [Vec::new(), Vec::new()];
    let mut reason = String::new();
    for _ in 0..repeat.max(5) {
        for (canary, times) in [false, true].into_iter().zip(&mut seconds) {
            let start = Instant::now();
            let gpu = Gpu::<R>::with_options(GpuOptions {
                canary,
                ..GpuOptions::default()
            })?;
            times.push(start.elapsed().as_secs_f64());
            if canary {
                reason = gpu.exactness().reason.clone();
            }
        }
    }
    let [off, on] = [&seconds[0], &seconds[1]].map(|s| Timings::median(s) * 1e3);
    println!(
        "construction (median of {}): {off:.1} ms without the canary, {on:.1} ms with it; {reason}",
        seconds[0].len()
    );
    Ok(())
}

/// Calls `call` on every instance, `repeat` rounds, after one untimed warm-up round.
fn sweep<R: Real>(
    instances: &[(String, Gpu<R>)],
    repeat: usize,
    call: &mut dyn FnMut(&Gpu<R>) -> lancehead::Result<()>,
) -> lancehead::Result<Vec<Timings>> {
    let mut timings: Vec<Timings> = instances.iter().map(|_| Timings::default()).collect();
    for round in 0..=repeat {
        for ((_, gpu), t) in instances.iter().zip(&mut timings) {
            let (start, cpu) = (Instant::now(), process_cpu_seconds());
            call(gpu)?;
            let (wall, cpu) = (start.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
            if round > 0 {
                t.wall.push(wall);
                t.cpu.push(cpu);
            }
        }
    }
    Ok(timings)
}

/// Prints one sweep as a Markdown table and returns the index of the fastest configuration
/// by the median of `rank`.
fn report<R: Real>(
    what: &str,
    instances: &[(String, Gpu<R>)],
    timings: &[Timings],
    rank: Rank,
) -> usize {
    let ranked: Vec<f64> = timings
        .iter()
        .map(|t| Timings::median(if rank == Rank::Cpu { &t.cpu } else { &t.wall }))
        .collect();
    let best = (0..ranked.len())
        .min_by(|&a, &b| ranked[a].total_cmp(&ranked[b]))
        .expect("at least one configuration");
    println!("\n{what} (medians of {} calls)\n", timings[0].wall.len());
    println!("| {:<8} | wall ms | CPU ms | min wall ms | vs best |", "");
    println!("|---|---:|---:|---:|---:|");
    for (i, ((label, _), t)) in instances.iter().zip(timings).enumerate() {
        let min = t.wall.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "| {label:<8} | {:.1} | {:.1} | {:.1} | {:.2}x{} |",
            Timings::median(&t.wall) * 1e3,
            Timings::median(&t.cpu) * 1e3,
            min * 1e3,
            ranked[i] / ranked[best],
            if i == best { " (best)" } else { "" }
        );
    }
    best
}
