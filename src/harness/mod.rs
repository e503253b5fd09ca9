//! `lancehead compare`: every backend on the book's problems, checked against `scalar` and
//! measured side by side (SPEC §3) — the book's Tables 6-1 and 6-2, its Julia timings and its
//! `perf stat` analyses, regenerated on this machine and set against this machine's limits.
//!
//! [`compare`] returns [`Results`]; writing them is the layer above ([`crate::report`]).
//! Within the harness:
//! - [`calibration`]: the machine's limits, measured first, in about a second;
//! - [`budget`]: how long each cell may take and how many timed runs it gets;
//! - [`measure`]: one cell — timed runs, agreement, allocations, peak RSS, device split;
//! - [`roofline`]: each measurement against the calibrated limits;
//! - [`counters`]: instruction counts from perf or callgrind in a child process;
//! - [`machine`]: what it all ran on; [`alloc`]: the counting allocator the binary installs.

pub mod alloc;
pub mod budget;
pub mod calibration;
pub mod compilers;
pub mod counters;
pub mod machine;
pub mod measure;
pub mod python;
pub mod roofline;
pub mod stress;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::problem::{Kernel, diffusion};
use crate::registry;
use crate::workload::Workload;
use budget::Budget;
use calibration::Calibration;
use counters::{CounterMode, CounterRecord, Plan};
use machine::Machine;
use measure::{Measurement, Reference, Skipped};

/// The diffusion sizes of the book's tables that run by default (4096² on request).
pub const DEFAULT_SIZES: [usize; 4] = [256, 512, 1024, 2048];
/// A quick look: diffusion sizes and steps.
pub const QUICK_SIZES: [usize; 2] = [256, 512];
pub const QUICK_STEPS: u32 = 100;
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

/// What to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub kernels: Vec<Kernel>,
    /// Backends by name (`None`: every one of this build that runs here). `scalar`, the
    /// reference, is always measured first.
    pub backends: Option<Vec<String>>,
    /// Diffusion grid sides (N x N).
    pub sizes: Vec<usize>,
    /// Diffusion steps per run.
    pub steps: u32,
    pub budget: Budget,
    pub counters: CounterMode,
    pub cache_sim: bool,
    /// Smaller problems under callgrind.
    pub quick: bool,
    /// Run every backend on the stress cases too (agreement only, untimed).
    pub stress: bool,
    /// The book's Python strategies too, as `python:<strategy>` rows ([`python`]).
    pub python: bool,
}

impl Options {
    /// The book's problems, every backend, the default budget, counters where available.
    pub fn book() -> Options {
        Options {
            kernels: vec![Kernel::Julia, Kernel::Diffusion],
            backends: None,
            sizes: DEFAULT_SIZES.to_vec(),
            steps: diffusion::BOOK_STEPS,
            budget: Budget::DEFAULT,
            counters: CounterMode::Auto,
            cache_sim: false,
            quick: false,
            stress: true,
            python: false,
        }
    }

    /// A quick look: two small grids, 100 steps, a small budget, small counted problems.
    pub fn quick() -> Options {
        Options {
            sizes: QUICK_SIZES.to_vec(),
            steps: QUICK_STEPS,
            budget: Budget::QUICK,
            quick: true,
            ..Options::book()
        }
    }

    /// The workloads, in report order: Julia, then diffusion by size.
    pub fn workloads(&self) -> Vec<Workload> {
        let mut out = Vec::new();
        if self.kernels.contains(&Kernel::Julia) {
            out.push(Workload::julia_book());
        }
        if self.kernels.contains(&Kernel::Diffusion) {
            out.extend(
                self.sizes
                    .iter()
                    .map(|&n| Workload::diffusion_book(n, n, self.steps)),
            );
        }
        out
    }
}

/// What a run resolved from its [`Options`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub kernels: Vec<Kernel>,
    /// The backends measured, `scalar` (the reference) first.
    pub backends: Vec<String>,
    /// Backends of this build that cannot run here, with the reason.
    pub unavailable: Vec<(String, String)>,
    pub workloads: Vec<Workload>,
    pub sizes: Vec<usize>,
    pub steps: u32,
    pub budget: Budget,
    pub quick: bool,
    /// Where the counts come from, in words.
    pub counters: String,
    /// The Python rows' interpreter (`CPython 3.11.7, numpy 2.4.6, python3`), or why there
    /// are none; `None` when not asked for.
    #[serde(default)]
    pub python: Option<String>,
}

/// Everything one `compare` run measured: what the reports are made of.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub machine: Machine,
    /// The machine's limits, measured at the start of the run.
    pub calibration: Calibration,
    pub settings: Settings,
    /// One per backend and workload, skipped cells included.
    pub measurements: Vec<Measurement>,
    /// Every backend on the stress cases (empty when not asked for).
    pub stress: Vec<stress::StressResult>,
    pub counters: Vec<CounterRecord>,
    /// Counts that could not be had, one line each.
    pub counter_failures: Vec<String>,
    /// Seconds the whole comparison took.
    pub seconds: f64,
}

impl Results {
    /// Every result outside its backend's agreement class, timed cell or stress case, one
    /// line each (backend, kernel, problem, how it differs).
    pub fn disagreements(&self) -> Vec<String> {
        let cells = self.measurements.iter().filter_map(|m| {
            let t = m.timing().filter(|t| !t.agreement.pass)?;
            Some(format!(
                "{} {} {}: {}",
                m.backend,
                m.kernel.as_str(),
                m.problem,
                t.agreement.detail
            ))
        });
        let stress = self.stress.iter().filter(|s| s.fails()).map(|s| {
            format!(
                "{} {} stress case {}: {}",
                s.backend,
                s.kernel.as_str(),
                s.case,
                s.detail
            )
        });
        cells.chain(stress).collect()
    }

    /// The measurement of `backend` on `kernel` at grid side `size` (diffusion) or the Julia
    /// problem.
    pub fn find(&self, kernel: Kernel, backend: &str, size: Option<usize>) -> Option<&Measurement> {
        self.measurements.iter().find(|m| {
            m.kernel == kernel && m.backend == backend && size.is_none_or(|s| m.rows == s)
        })
    }
}

/// What `compare` tells its caller while it runs (a progress bar; `()` says nothing).
pub trait Observer: Sync {
    /// Measuring starts: `cells` backend x workload cells, then `counts` counting children.
    fn planned(&self, cells: usize, counts: usize) {
        let _ = (cells, counts);
    }
    /// One cell or count begins (`what` names it).
    fn started(&self, what: &str) {
        let _ = what;
    }
    /// One cell or count is done.
    fn finished(&self) {}
}

impl Observer for () {}

/// Runs the comparison of `options` and returns the results. `exe` is this program, run
/// again as the counting child. Disagreements are in the results; the caller decides that
/// they fail the run.
pub fn compare(options: &Options, exe: &Path, observer: &dyn Observer) -> Result<Results> {
    let start = std::time::Instant::now();
    for (name, value) in [
        ("steps", options.steps as usize),
        ("kernels", options.kernels.len()),
    ] {
        if value == 0 {
            return Err(Error::invalid(name, value, "at least 1"));
        }
    }
    if let Some(&zero) = options.sizes.iter().find(|&&n| n == 0) {
        return Err(Error::invalid(
            "sizes",
            zero,
            "grid sizes >= 1, e.g. 256,512",
        ));
    }
    let (backends, unavailable) = select_backends(options.backends.as_deref())?;
    let plan = counters::plan(options.counters, options.cache_sim)?;
    let workloads = options.workloads();
    let (python, python_rows, python_note, python_missing) = if options.python {
        match python::Python::find() {
            Ok(p) => {
                let (rows, missing) = p.rows(&options.kernels);
                let note = p.description.clone();
                (Some(p), rows, Some(note), missing)
            }
            Err(why) => (None, Vec::new(), Some(why), Vec::new()),
        }
    } else {
        (None, Vec::new(), None, Vec::new())
    };
    let mut settings = Settings {
        kernels: options.kernels.clone(),
        backends: backends.iter().map(|b| b.name().to_string()).collect(),
        unavailable,
        workloads: workloads.clone(),
        sizes: options.sizes.clone(),
        steps: options.steps,
        budget: options.budget,
        quick: options.quick,
        counters: plan.describe(),
        python: python_note,
    };
    for row in &python_rows {
        if !settings.backends.contains(&row.name) {
            settings.backends.push(row.name.clone());
        }
    }
    settings.unavailable.extend(python_missing);
    let machine = Machine::describe(backends.iter().map(|b| &**b));
    let jobs = counter_jobs(&plan, options, &backends);
    let stress_cases = if options.stress {
        crate::problem::stress::julia_cases().len()
            + crate::problem::stress::diffusion_cases().len()
    } else {
        0
    };
    let python_cells: usize = workloads
        .iter()
        .map(|w| {
            python_rows
                .iter()
                .filter(|r| r.kernel() == w.kernel())
                .count()
        })
        .sum();
    observer.planned(
        workloads.len() * backends.len() + python_cells + stress_cases,
        jobs.len(),
    );

    // The machine is measured before and after the cells, and the ceilings are the better
    // of the two: a vCPU starved for part of the run shows in the two effective-core figures.
    observer.started("calibrating the machine");
    let first_calibration = Calibration::measure();
    observer.finished();

    let mut measurements: Vec<Measurement> = Vec::new();
    for workload in &workloads {
        let mut reference: Option<Reference> = None;
        for backend in &backends {
            let name = backend.name();
            observer.started(&format!("{} {workload} {name}", workload.kernel().as_str()));
            let predicted = predict(&measurements, name, workload)
                .or_else(|| measure::probe(&**backend, workload, reference.as_ref()));
            let budget = if compilers::is_extra_row(name) {
                compilers::extra_row_budget(&options.budget)
            } else {
                options.budget
            };
            let m = if budget.skips(predicted) {
                Measurement::skipped(
                    name,
                    workload,
                    Skipped {
                        predicted_seconds: predicted.unwrap_or_default(),
                        budget_seconds: budget.cell_seconds,
                    },
                )
            } else {
                let (mut m, output) =
                    measure::cell(&**backend, workload, &budget, reference.as_ref())?;
                if name == "scalar" {
                    m.mark_reference();
                    reference = Some(output);
                }
                m
            };
            measurements.push(m);
            observer.finished();
        }
        let Some(python) = &python else { continue };
        for row in python_rows
            .iter()
            .filter(|r| r.kernel() == workload.kernel())
        {
            observer.started(&format!(
                "{} {workload} {}",
                workload.kernel().as_str(),
                row.name
            ));
            let predicted = predict(&measurements, &row.name, workload);
            match python.measure(
                row,
                workload,
                &options.budget,
                reference.as_ref(),
                predicted,
            ) {
                Ok(m) => measurements.push(m),
                // A row that fails is reported, never the end of the run.
                Err(why) => settings
                    .unavailable
                    .push((row.name.clone(), format!("failed on {workload}: {why}"))),
            }
            observer.finished();
        }
    }

    // Each Python row's interpreter and package versions, beside the backends' details.
    let mut machine = machine;
    for m in &measurements {
        if let Some(run) = m.timing().and_then(|t| t.python.as_ref()) {
            let details = machine.backends.entry(m.backend.clone()).or_default();
            details.extend(run.versions.clone());
            details.insert("clock".into(), "time.perf_counter (the runner's)".into());
        }
    }

    observer.started("calibrating the machine again");
    let calibration = first_calibration.combine(&Calibration::measure());
    observer.finished();
    for m in &mut measurements {
        m.place(&calibration);
    }

    let stress = if options.stress {
        let predict = |backend: &str, kernel: Kernel, updates: u64| {
            // Time per update on the smallest workload of that kernel the backend ran.
            let t = measurements
                .iter()
                .filter(|m| m.backend == backend && m.kernel == kernel)
                .filter_map(|m| m.timing())
                .min_by_key(|t| t.updates)?;
            budget::predict(Some((t.updates, t.median)), updates)
        };
        stress::check(&backends, options.budget.cell_seconds, &predict, &|what| {
            observer.started(what);
            observer.finished();
        })?
    } else {
        Vec::new()
    };

    let (counters, mut counter_failures) = count_all(&plan, &jobs, exe, observer);
    if matches!(plan, Plan::Callgrind { .. }) {
        counter_failures.extend(backends.iter().filter(|b| is_device(&***b)).map(|b| {
            format!(
                "{}: a device backend is not run under callgrind (it would count the driver's \
                 simulation on the CPU, not the device)",
                b.name()
            )
        }));
    }
    Ok(Results {
        machine,
        calibration,
        settings,
        measurements,
        stress,
        counters,
        counter_failures,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The seconds one call of `backend` on `workload` should take, scaled from the largest
/// smaller diffusion workload it was measured on (none for Julia and the first size: those
/// are predicted by a probe).
fn predict(measurements: &[Measurement], backend: &str, workload: &Workload) -> Option<f64> {
    let updates = workload.diffusion_updates()?;
    let smaller = measurements
        .iter()
        .filter(|m| m.backend == backend && m.kernel == Kernel::Diffusion)
        .filter_map(|m| m.timing())
        .filter(|t| t.updates < updates)
        .max_by_key(|t| t.updates)
        .map(|t| (t.updates, t.median));
    budget::predict(smaller, updates)
}

/// Whether `backend` computes on a device rather than the CPU.
fn is_device(backend: &dyn Backend) -> bool {
    backend.cpu_threads().is_none()
}

/// The backends to measure, built once (`scalar` first, added when not asked for: it is the
/// reference), and the ones of this build that cannot run here.
#[allow(clippy::type_complexity)]
fn select_backends(
    requested: Option<&[String]>,
) -> Result<(Vec<Box<dyn Backend>>, Vec<(String, String)>)> {
    let mut chosen: Vec<Box<dyn Backend>> = Vec::new();
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
            for info in registry::compiled() {
                if let Some(reason) = registry::outside_default_comparison(info) {
                    unavailable.push((info.name.to_string(), reason.to_string()));
                    continue;
                }
                match registry::create(info.name) {
                    Ok(b) => chosen.push(b),
                    Err(Error::Unavailable { reason, .. }) => {
                        unavailable.push((info.name.to_string(), reason))
                    }
                    Err(other) => unavailable.push((info.name.to_string(), other.to_string())),
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

/// What to count: with perf, every workload; with callgrind, one smaller workload per kernel
/// (never larger than what the run measured). Device backends are not run under callgrind:
/// it would simulate the software driver's threads, not the device.
fn counter_jobs(
    plan: &Plan,
    options: &Options,
    backends: &[Box<dyn Backend>],
) -> Vec<(String, Workload, bool)> {
    let workloads = match plan {
        Plan::Off { .. } => return Vec::new(),
        Plan::Perf => options.workloads(),
        Plan::Callgrind { .. } => options
            .kernels
            .iter()
            .map(|&kernel| match kernel {
                Kernel::Julia => {
                    let (rows, cols) = if options.quick {
                        CALLGRIND_JULIA_QUICK
                    } else {
                        CALLGRIND_JULIA
                    };
                    let book = Workload::julia_book();
                    let iterations = book.iterations();
                    book.resized((rows, cols), iterations)
                }
                Kernel::Diffusion => {
                    let (n, steps) = if options.quick {
                        CALLGRIND_DIFFUSION_QUICK
                    } else {
                        CALLGRIND_DIFFUSION
                    };
                    let smallest = options.sizes.iter().copied().min().unwrap_or(n);
                    let n = n.min(smallest);
                    Workload::diffusion_book(n, n, steps.min(options.steps))
                }
            })
            .collect(),
    };
    let callgrind = matches!(plan, Plan::Callgrind { .. });
    let mut jobs = Vec::new();
    for workload in &workloads {
        for backend in backends {
            let device = is_device(&**backend);
            // A quick look counts the main rows: a counting child costs about half a second
            // of valgrind start-up whatever it counts, and the compiler table has 10 more.
            let extra = options.quick && compilers::is_extra_row(backend.name());
            if !(extra || callgrind && device) {
                jobs.push((backend.name().to_string(), workload.clone(), device));
            }
        }
    }
    jobs
}

/// Runs the counting children, as many at a time as there are CPUs (after the timings, so
/// they disturb no timed run), and returns the records in job order and the failures.
fn count_all(
    plan: &Plan,
    jobs: &[(String, Workload, bool)],
    exe: &Path,
    observer: &dyn Observer,
) -> (Vec<CounterRecord>, Vec<String>) {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<CounterRecord>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((backend, workload, device)) = jobs.get(i) else {
                        break;
                    };
                    observer.started(&format!("counting {backend} {workload}"));
                    let record =
                        counters::count(plan, backend, workload, exe, COUNTER_TIMEOUT, *device);
                    *slots[i].lock().expect("no worker panics") = Some(record);
                    observer.finished();
                }
            });
        }
    });
    let mut records = Vec::new();
    let mut failures = Vec::new();
    for slot in slots {
        match slot.into_inner().expect("no worker panics") {
            Some(Ok(r)) => records.push(r),
            Some(Err(e)) => failures.push(e.to_string()),
            None => {}
        }
    }
    (records, failures)
}
