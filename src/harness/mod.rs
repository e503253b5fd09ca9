//! `lancehead compare`: every backend on the book's problems, checked against `scalar` and
//! measured side by side (SPEC §3): the book's Tables 6-1 and 6-2, its Julia timings and its
//! `perf stat` analyses, regenerated on this machine.
//!
//! - [`measure`]: warm-up and timed runs, agreement, allocations, peak RSS, device split;
//! - [`counters`]: instruction counts from perf or callgrind in a child process;
//! - [`report`]: Markdown, CSV, JSON and the terminal table; [`plot`]: Figure 6-4;
//! - [`machine`]: what it all ran on; [`alloc`]: the counting allocator the binary installs.

pub mod alloc;
pub mod counters;
pub mod machine;
pub mod measure;
pub mod plot;
pub mod report;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::problem::{diffusion, julia};
use crate::registry;
use counters::{CounterMode, CounterRecord, Job, Plan};
use machine::Machine;
use measure::Measurement;

pub use crate::problem::Kernel;

/// `--kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelChoice {
    Julia,
    Diffusion,
    All,
}

/// What `compare` was asked for; `None` means the default (the book's, or `--quick`'s).
#[derive(Debug, Clone)]
pub struct Options {
    pub kernel: KernelChoice,
    pub backends: Option<Vec<String>>,
    pub sizes: Option<Vec<usize>>,
    pub steps: Option<u32>,
    pub repeat: Option<u32>,
    pub counters: CounterMode,
    pub cache_sim: bool,
    pub out: PathBuf,
    pub quick: bool,
}

/// The diffusion sizes of the book's tables that run by default (4096² on request).
pub const DEFAULT_SIZES: [usize; 4] = [256, 512, 1024, 2048];
/// `--quick`: diffusion sizes, steps, timed runs.
const QUICK_SIZES: [usize; 2] = [256, 512];
const QUICK_STEPS: u32 = 100;
const QUICK_REPEAT: u32 = 2;
/// Timed runs per backend and problem by default.
const DEFAULT_REPEAT: u32 = 3;
/// Untimed runs before them (thread pools, page faults, device set-up).
const WARMUP: u32 = 1;
/// Callgrind runs 20-100 times slower than the CPU: it counts smaller problems, named in
/// the report. Julia: the book's region, c and max_iter on fewer pixels; diffusion: the
/// book's set-up on a small grid for a few steps (instructions per update do not depend on
/// the step count).
const CALLGRIND_JULIA: (usize, usize) = (250, 250);
const CALLGRIND_JULIA_QUICK: (usize, usize) = (120, 200);
const CALLGRIND_DIFFUSION: (usize, u32) = (256, 20);
const CALLGRIND_DIFFUSION_QUICK: (usize, u32) = (128, 10);
/// A counting child that takes longer than this is stopped and reported as failed.
const COUNTER_TIMEOUT: Duration = Duration::from_secs(600);

/// The settings a run resolved from [`Options`].
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub kernels: Vec<Kernel>,
    /// The backends measured, `scalar` (the reference) first.
    pub backends: Vec<String>,
    /// Backends of this build that cannot run here, with the reason.
    pub unavailable: Vec<(String, String)>,
    /// Julia: `(height, width, max_iter)`.
    pub julia: (usize, usize, u32),
    pub sizes: Vec<usize>,
    pub steps: u32,
    pub warmup: u32,
    pub repeat: u32,
    pub quick: bool,
    /// Where the counts come from, in words.
    pub counters: String,
}

/// Everything one `compare` run measured: what the reports are made of.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub settings: Settings,
    pub measurements: Vec<Measurement>,
    pub counters: Vec<CounterRecord>,
    /// Counts that could not be had, one line each.
    pub counter_failures: Vec<String>,
}

impl Results {
    /// Measurements whose results are outside their backend's agreement class.
    pub fn disagreements(&self) -> Vec<&Measurement> {
        self.measurements
            .iter()
            .filter(|m| !m.agreement.pass)
            .collect()
    }

    /// The measurement of `backend` on `kernel` at `size` (diffusion) or the Julia problem.
    pub fn find(&self, kernel: Kernel, backend: &str, size: Option<usize>) -> Option<&Measurement> {
        self.measurements.iter().find(|m| {
            m.kernel == kernel && m.backend == backend && size.is_none_or(|s| m.rows == s)
        })
    }
}

/// Runs the comparison of `options`, writes the reports under `options.out` and returns the
/// results. `exe` is this program, run again as the counting child. Disagreements are in
/// the results (and the reports); the caller decides that they fail the run.
pub fn compare(options: &Options, exe: &Path) -> Result<Results> {
    let kernels = match options.kernel {
        KernelChoice::Julia => vec![Kernel::Julia],
        KernelChoice::Diffusion => vec![Kernel::Diffusion],
        KernelChoice::All => vec![Kernel::Julia, Kernel::Diffusion],
    };
    let quick = options.quick;
    let sizes = options.sizes.clone().unwrap_or_else(|| {
        if quick {
            QUICK_SIZES.to_vec()
        } else {
            DEFAULT_SIZES.to_vec()
        }
    });
    let steps = options.steps.unwrap_or(if quick {
        QUICK_STEPS
    } else {
        diffusion::BOOK_STEPS
    });
    let repeat = options
        .repeat
        .unwrap_or(if quick { QUICK_REPEAT } else { DEFAULT_REPEAT });
    for (name, value) in [("--steps", steps as usize), ("--repeat", repeat as usize)] {
        if value == 0 {
            return Err(Error::invalid(name, value, "an integer >= 1"));
        }
    }
    if let Some(&zero) = sizes.iter().find(|&&n| n == 0) {
        return Err(Error::invalid(
            "--sizes",
            zero,
            "grid sizes >= 1, e.g. 256,512",
        ));
    }

    let (backends, unavailable) = select_backends(options.backends.as_deref())?;
    let plan = counters::plan(options.counters, options.cache_sim)?;
    check_writable(&options.out)?;

    let settings = Settings {
        kernels: kernels.clone(),
        backends: backends.iter().map(|b| b.name().to_string()).collect(),
        unavailable,
        julia: (julia::BOOK_SIZE, julia::BOOK_SIZE, julia::BOOK_MAX_ITER),
        sizes: sizes.clone(),
        steps,
        warmup: WARMUP,
        repeat,
        quick,
        counters: plan.describe(),
    };
    let machine = Machine::describe(backends.iter().map(|b| &**b));

    let problems: Vec<measure::Problem> = kernels
        .iter()
        .flat_map(|&k| match k {
            Kernel::Julia => vec![measure::Problem::Julia {
                height: settings.julia.0,
                width: settings.julia.1,
                max_iter: settings.julia.2,
            }],
            Kernel::Diffusion => sizes
                .iter()
                .map(|&n| measure::Problem::Diffusion {
                    rows: n,
                    cols: n,
                    steps,
                })
                .collect(),
        })
        .collect();

    let bar = progress_bar((problems.len() * backends.len()) as u64);
    let mut measurements = Vec::new();
    for problem in &problems {
        measurements.extend(measure::problem(problem, &backends, WARMUP, repeat, &bar)?);
    }
    bar.finish_and_clear();

    let jobs = counter_jobs(&plan, &settings, &measurements);
    let (counters, mut counter_failures) = count_all(&plan, jobs, exe);
    if matches!(plan, Plan::Callgrind { .. }) {
        let mut device: Vec<(Kernel, &str)> = measurements
            .iter()
            .filter(|m| m.transfer.is_some())
            .map(|m| (m.kernel, m.backend.as_str()))
            .collect();
        device.dedup();
        counter_failures.extend(device.into_iter().map(|(kernel, backend)| {
            format!(
                "{backend} {}: a device backend is not run under callgrind (it would count \
                 the driver's simulation on the CPU, not the device)",
                kernel.as_str()
            )
        }));
    }

    let results = Results {
        machine,
        settings,
        measurements,
        counters,
        counter_failures,
    };
    report::write_all(&results, &options.out)?;
    Ok(results)
}

/// The backends to measure, built once (`scalar` first, added when not asked for: it is the
/// reference), and the ones of this build that cannot run here.
#[allow(clippy::type_complexity)]
fn select_backends(
    requested: Option<&[String]>,
) -> Result<(Vec<Box<dyn crate::Backend>>, Vec<(String, String)>)> {
    let mut chosen: Vec<Box<dyn crate::Backend>> = Vec::new();
    let mut unavailable = Vec::new();
    match requested {
        Some(names) => {
            // Asked for by name: each must exist and run here.
            for name in names {
                let name = name.trim();
                if chosen.iter().any(|b| b.name() == name) {
                    continue;
                }
                chosen.push(registry::create(name)?);
            }
        }
        None => {
            for probe in registry::probe_all() {
                match probe.backend {
                    Ok(b) => chosen.push(b),
                    Err(reason) => unavailable.push((probe.info.name.to_string(), reason)),
                }
            }
        }
    }
    if !chosen.iter().any(|b| b.name() == "scalar") {
        chosen.insert(0, registry::create("scalar")?);
    }
    // The reference first, the rest in the registry's order.
    chosen.sort_by_key(|b| {
        (
            b.name() != "scalar",
            registry::KNOWN.iter().position(|k| k.name == b.name()),
        )
    });
    Ok((chosen, unavailable))
}

/// Creates `--out` and checks that files can be written there, before anything is measured.
fn check_writable(out: &Path) -> Result<()> {
    let io = |source| Error::Io {
        arg: "--out",
        path: out.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(out).map_err(io)?;
    tempfile::tempfile_in(out).map(drop).map_err(io)
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// What to count: with perf, every measured problem (counting is as fast as running); with
/// callgrind, one smaller problem per kernel and backend. Device backends are not run under
/// callgrind: it would simulate the software driver's threads, not the device.
fn counter_jobs(
    plan: &Plan,
    settings: &Settings,
    measurements: &[Measurement],
) -> Vec<(Job, bool)> {
    match plan {
        Plan::Off { .. } => Vec::new(),
        Plan::Perf => measurements
            .iter()
            .map(|m| {
                (
                    Job {
                        kernel: m.kernel,
                        backend: m.backend.clone(),
                        rows: m.rows,
                        cols: m.cols,
                        iterations: m.iterations,
                    },
                    m.transfer.is_some(),
                )
            })
            .collect(),
        Plan::Callgrind { .. } => {
            let mut jobs = Vec::new();
            for &kernel in &settings.kernels {
                let ((rows, cols), iterations) = match (kernel, settings.quick) {
                    (Kernel::Julia, false) => (CALLGRIND_JULIA, settings.julia.2),
                    (Kernel::Julia, true) => (CALLGRIND_JULIA_QUICK, settings.julia.2),
                    (Kernel::Diffusion, q) => {
                        let (n, steps) = if q {
                            CALLGRIND_DIFFUSION_QUICK
                        } else {
                            CALLGRIND_DIFFUSION
                        };
                        // Never more than the run itself measured.
                        let smallest = settings.sizes.iter().copied().min().unwrap_or(n);
                        let n = n.min(smallest);
                        ((n, n), steps.min(settings.steps))
                    }
                };
                for m in measurements.iter().filter(|m| m.kernel == kernel) {
                    if m.transfer.is_some()
                        || jobs.iter().any(|(j, _): &(Job, bool)| {
                            j.kernel == kernel && j.backend == m.backend
                        })
                    {
                        continue;
                    }
                    jobs.push((
                        Job {
                            kernel,
                            backend: m.backend.clone(),
                            rows,
                            cols,
                            iterations,
                        },
                        false,
                    ));
                }
            }
            jobs
        }
    }
}

/// Runs the counting children, as many at a time as there are CPUs (after the timings, so
/// they disturb no timed run), and returns the records in job order and the failures.
fn count_all(plan: &Plan, jobs: Vec<(Job, bool)>, exe: &Path) -> (Vec<CounterRecord>, Vec<String>) {
    if jobs.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let bar = progress_bar(jobs.len() as u64);
    bar.set_message(format!(
        "counting instructions ({})",
        match plan {
            Plan::Perf => "perf",
            _ => "callgrind",
        }
    ));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<CounterRecord>>> = (0..jobs.len()).map(|_| None).collect();
    let slots_lock = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((job, device)) = jobs.get(i) else {
                        break;
                    };
                    let record = counters::count(plan, job, exe, COUNTER_TIMEOUT, *device);
                    slots_lock.lock().expect("no worker panics")[i] = Some(record);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut records = Vec::new();
    let mut failures = Vec::new();
    for slot in slots.into_iter().flatten() {
        match slot {
            Ok(r) => records.push(r),
            Err(e) => failures.push(e.to_string()),
        }
    }
    (records, failures)
}
