//! Measuring one cell — one backend on one workload — within its budget: the first call, the
//! timed runs the budget gives it (median, min, max), agreement with `scalar`, speed-up,
//! throughput, allocations inside the call, peak RSS, the device split, and the roofline.

use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::agreement::{GridDiff, JuliaDiff, Verdict};
use crate::backend::registry::Agreement;
use crate::backend::{Backend, TransferTimes};
use crate::error::Result;
use crate::harness::alloc::{self, AllocCount};
use crate::harness::budget::{self, Budget};
use crate::harness::calibration::Calibration;
use crate::harness::machine;
use crate::harness::roofline::{self, Roofline};
use crate::problem::Kernel;
use crate::workload::{Checksum, Output, Prepared, Workload};

/// How a backend's result compares with `scalar`'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementResult {
    pub class: Agreement,
    /// `None` when there was no reference result to compare with (`scalar` was skipped).
    pub verdict: Option<Verdict>,
    /// Acceptable for the class (also true when unchecked: see `verdict`).
    pub pass: bool,
    /// `all 1000000 pixels identical`, or where and how much they differ.
    pub detail: String,
}

impl AgreementResult {
    fn of(class: Agreement, verdict: Verdict, detail: String) -> AgreementResult {
        AgreementResult {
            class,
            verdict: Some(verdict),
            pass: verdict.passes(),
            detail,
        }
    }
}

/// One backend on one workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    pub kernel: Kernel,
    pub backend: String,
    pub workload: Workload,
    /// `1000x1000 it300`, `512x512 x500 steps`.
    pub problem: String,
    /// Julia: height; diffusion: rows.
    pub rows: usize,
    /// Julia: width; diffusion: columns.
    pub cols: usize,
    /// Julia: max_iter; diffusion: steps.
    pub iterations: u32,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Measured, or skipped by the budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Measured(Box<Timing>),
    Skipped(Skipped),
}

/// Why a cell was not run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Seconds one call was predicted to take.
    pub predicted_seconds: f64,
    /// The budget of a cell.
    pub budget_seconds: f64,
}

/// What a measured cell found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    /// Every timed run, in seconds (the kernel call alone).
    pub seconds: Vec<f64>,
    /// Whether a separate untimed warm-up call came first (not for a long kernel, whose one
    /// timed run is its first call).
    pub warmed_up: bool,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// `scalar`'s median over this backend's (`None` when `scalar` was skipped).
    pub speedup: Option<f64>,
    /// z-updates (Julia: the sum of counts) or cell updates (diffusion) per call.
    pub updates: u64,
    /// `updates / median`.
    pub updates_per_second: f64,
    pub checksum: Checksum,
    pub agreement: AgreementResult,
    /// Allocations inside the kernel call (the most of any timed run); `None` when the
    /// counting allocator is not installed (library use).
    pub allocations: Option<AllocCount>,
    /// Peak resident set size while this backend ran this workload (the harness's own
    /// buffers included); `peak_rss_since_start` when it could not be reset first.
    pub peak_rss_bytes: Option<u64>,
    pub peak_rss_since_start: bool,
    /// Device backends: median upload/compute/read-back split of the timed runs.
    pub transfer: Option<TransferTimes>,
    /// The CPU threads the backend computed with (`None`: a device).
    pub cpu_threads: Option<usize>,
    /// Diffusion steps per pass over memory (1 for a sweep per step, and for Julia).
    pub steps_per_pass: u32,
    /// Against the machine's limits of this run (CPU backends, when calibrated).
    pub roofline: Option<Roofline>,
    /// A Python row (`compare --python`): timed by the runner's clock, its compile time
    /// and versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<crate::harness::python::PythonRun>,
}

impl Measurement {
    /// A cell the budget did not run.
    pub fn skipped(backend: &str, workload: &Workload, skipped: Skipped) -> Measurement {
        Measurement::new(backend, workload, Outcome::Skipped(skipped))
    }

    fn new(backend: &str, workload: &Workload, outcome: Outcome) -> Measurement {
        let (rows, cols) = workload.shape();
        Measurement {
            kernel: workload.kernel(),
            backend: backend.to_string(),
            workload: workload.clone(),
            problem: workload.to_string(),
            rows,
            cols,
            iterations: workload.iterations(),
            outcome,
        }
    }

    /// Places a measured CPU cell on the roofline of `calibration`.
    pub fn place(&mut self, calibration: &Calibration) {
        let (kernel, shape) = (self.kernel, self.workload.shape());
        if let Outcome::Measured(t) = &mut self.outcome {
            t.roofline = t.cpu_threads.and_then(|threads| {
                roofline::of(
                    calibration,
                    &roofline::Call {
                        kernel,
                        shape,
                        updates: t.updates,
                        seconds: t.median,
                        cpu_threads: threads,
                        steps_per_pass: t.steps_per_pass,
                    },
                )
            });
        }
    }

    /// Marks this measurement as the reference the others are judged against.
    pub fn mark_reference(&mut self) {
        if let Outcome::Measured(t) = &mut self.outcome {
            t.speedup = Some(1.0);
            t.agreement = AgreementResult::of(
                Agreement::Exact,
                Verdict::Identical,
                "the reference".to_string(),
            );
        }
    }

    /// The timing, when the cell was measured.
    pub fn timing(&self) -> Option<&Timing> {
        match &self.outcome {
            Outcome::Measured(t) => Some(t),
            Outcome::Skipped(_) => None,
        }
    }
}

/// `scalar`'s output and median on a workload, which the other backends are judged against.
pub struct Reference {
    output: OwnedOutput,
    median: f64,
}

enum OwnedOutput {
    Counts(Array2<u32>),
    Grid(Array2<f64>),
}

impl Reference {
    /// Julia's z-updates, the reference's sum of counts (`None` for diffusion, whose updates
    /// the workload gives).
    pub fn julia_updates(&self) -> Option<u64> {
        match &self.output {
            OwnedOutput::Counts(c) => Some(crate::problem::julia::checksum(c.view())),
            OwnedOutput::Grid(_) => None,
        }
    }
}

impl OwnedOutput {
    fn of(output: Output<'_>) -> OwnedOutput {
        match output {
            Output::Counts(c) => OwnedOutput::Counts(c.to_owned()),
            Output::Grid(g) => OwnedOutput::Grid(g.to_owned()),
        }
    }
}

/// Measures `backend` on `workload` within `budget`; the reference output, when given,
/// judges its agreement and speed-up. Returns the measurement (not yet on a roofline:
/// [`Measurement::place`]) and, for the caller to keep as the reference, this backend's
/// output and median.
pub fn cell(
    backend: &dyn Backend,
    workload: &Workload,
    budget: &Budget,
    reference: Option<&Reference>,
) -> Result<(Measurement, Reference)> {
    let rss_reset = machine::reset_peak_rss();
    let mut run = workload.prepare()?;
    let first = timed_call(backend, &mut run)?;
    let sampling = budget.plan(first.seconds);
    let mut calls = Vec::new();
    if sampling.first_is_timed {
        calls.push(first);
    }
    for _ in 0..sampling.more_runs {
        calls.push(timed_call(backend, &mut run)?);
    }
    let seconds: Vec<f64> = calls.iter().map(|c| c.seconds).collect();
    let allocations = calls
        .iter()
        .filter_map(|c| c.allocations)
        .max_by_key(|a| a.allocations);
    let transfers: Vec<TransferTimes> = calls.iter().filter_map(|c| c.transfer).collect();
    let peak_rss_bytes = machine::peak_rss();

    let kernel = workload.kernel();
    let class = backend.agreement(kernel);
    let output = run.output();
    let agreement = match reference {
        None => AgreementResult {
            class,
            verdict: None,
            pass: true,
            detail: "not checked: no reference result".to_string(),
        },
        Some(r) => judge(&r.output, output, class),
    };
    let median = median(&seconds);
    let updates = run.updates();
    let cpu_threads = backend.cpu_threads().filter(|_| transfers.is_empty());
    let steps_per_pass = run
        .diffusion_params()
        .map_or(1, |p| backend.steps_per_pass(p));
    let timing = Timing {
        warmed_up: !sampling.first_is_timed,
        median,
        min: seconds.iter().copied().fold(f64::INFINITY, f64::min),
        max: seconds.iter().copied().fold(0.0, f64::max),
        seconds,
        speedup: reference.map(|r| r.median / median),
        updates,
        updates_per_second: updates as f64 / median,
        checksum: output.checksum(),
        agreement,
        allocations,
        peak_rss_bytes,
        peak_rss_since_start: !rss_reset,
        transfer: median_transfer(&transfers),
        cpu_threads,
        steps_per_pass,
        roofline: None,
        python: None,
    };
    let kept = Reference {
        output: OwnedOutput::of(output),
        median,
    };
    let measurement = Measurement::new(
        backend.name(),
        workload,
        Outcome::Measured(Box::new(timing)),
    );
    Ok((measurement, kept))
}

/// What a row timed outside this process reports (the Python rows).
pub struct External {
    pub seconds: Vec<f64>,
    pub warmed_up: bool,
    pub class: Agreement,
    pub cpu_threads: usize,
    pub python: crate::harness::python::PythonRun,
}

/// A cell timed elsewhere: its runs and its output, judged against the reference as every
/// backend's. Allocations and peak RSS are the other process's and not measured here.
pub fn external_cell(
    name: &str,
    workload: &Workload,
    run: External,
    output: Output<'_>,
    reference: Option<&Reference>,
) -> Measurement {
    let agreement = match reference {
        None => AgreementResult {
            class: run.class,
            verdict: None,
            pass: true,
            detail: "not checked: no reference result".to_string(),
        },
        Some(r) => judge(&r.output, output, run.class),
    };
    let median = median(&run.seconds);
    let updates = match output {
        Output::Counts(c) => crate::problem::julia::checksum(c),
        Output::Grid(_) => workload.diffusion_updates().unwrap_or_default(),
    };
    let timing = Timing {
        warmed_up: run.warmed_up,
        median,
        min: run.seconds.iter().copied().fold(f64::INFINITY, f64::min),
        max: run.seconds.iter().copied().fold(0.0, f64::max),
        speedup: reference.map(|r| r.median / median),
        updates,
        updates_per_second: updates as f64 / median,
        checksum: output.checksum(),
        seconds: run.seconds,
        agreement,
        allocations: None,
        peak_rss_bytes: None,
        peak_rss_since_start: false,
        transfer: None,
        cpu_threads: Some(run.cpu_threads),
        steps_per_pass: 1,
        roofline: None,
        python: Some(run.python),
    };
    Measurement::new(name, workload, Outcome::Measured(Box::new(timing)))
}

/// One timed kernel call.
struct TimedCall {
    seconds: f64,
    allocations: Option<AllocCount>,
    transfer: Option<TransferTimes>,
}

/// Resets the input (untimed) and times one kernel call, with what it allocated.
fn timed_call(backend: &dyn Backend, run: &mut Prepared) -> Result<TimedCall> {
    run.reset()?;
    let before = alloc::snapshot();
    let start = Instant::now();
    let result = run.call(backend);
    let seconds = start.elapsed().as_secs_f64();
    let after = alloc::snapshot();
    result?;
    Ok(TimedCall {
        seconds,
        allocations: before.zip(after).map(|(b, a)| b.until(a)),
        transfer: backend.last_transfer_times(),
    })
}

/// The predicted seconds of one call of `workload` on `backend`, from its probes
/// ([`budget::probe_of`]); a Julia prediction needs the reference's z-updates. `None` where
/// there is nothing to predict from or a probe fails (the cell then runs and reports it).
pub fn probe(
    backend: &dyn Backend,
    workload: &Workload,
    reference: Option<&Reference>,
) -> Option<f64> {
    match budget::probe_of(workload)? {
        budget::Probe::Scaled { probe, scale } => Some(probe_call(backend, &probe)?.0 * scale),
        budget::Probe::Julia { short, long } => {
            let full_updates = reference?.julia_updates()? as f64;
            let fit = |w: &Workload| {
                probe_call(backend, w)
                    .map(|(s, updates)| (s, budget::pixel_iterations(w), updates as f64))
            };
            let (short, long) = (fit(&short)?, fit(&long)?);
            let full = (budget::pixel_iterations(workload), full_updates);
            Some(budget::predict_julia(short, long, full))
        }
    }
}

/// One probe's seconds and updates: its first call where that is long enough for warm-up
/// costs to be noise, else its second.
fn probe_call(backend: &dyn Backend, probe: &Workload) -> Option<(f64, u64)> {
    const LONG_ENOUGH: f64 = 0.05;
    let mut run = probe.prepare().ok()?;
    let mut seconds = timed_call(backend, &mut run).ok()?.seconds;
    if seconds < LONG_ENOUGH {
        seconds = timed_call(backend, &mut run).ok()?.seconds;
    }
    Some((seconds, run.updates()))
}

/// Compares `candidate` with the `reference` output under `class`.
fn judge(reference: &OwnedOutput, candidate: Output<'_>, class: Agreement) -> AgreementResult {
    let (verdict, detail) = match (reference, candidate) {
        (OwnedOutput::Counts(r), Output::Counts(c)) => {
            let diff = JuliaDiff::new(r.view(), c);
            (diff.verdict(class), diff.to_string())
        }
        (OwnedOutput::Grid(r), Output::Grid(c)) => {
            let diff = GridDiff::new(r.view(), c);
            (diff.verdict(class), diff.to_string())
        }
        _ => unreachable!("one workload gives one kind of output"),
    };
    AgreementResult::of(class, verdict, detail)
}

/// The median of a non-empty list (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn median_transfer(t: &[TransferTimes]) -> Option<TransferTimes> {
    if t.is_empty() {
        return None;
    }
    let m = |f: fn(&TransferTimes) -> f64| median(&t.iter().map(f).collect::<Vec<_>>());
    Some(TransferTimes {
        upload: m(|t| t.upload),
        compute: m(|t| t.compute),
        read_back: m(|t| t.read_back),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_different_result_fails_exact_agreement_and_says_where() {
        let reference = OwnedOutput::Counts(Array2::from_elem((3, 4), 7));
        let mut changed = Array2::from_elem((3, 4), 7);
        changed[(2, 1)] = 9;
        let result = judge(&reference, Output::Counts(changed.view()), Agreement::Exact);
        assert_eq!(result.verdict, Some(Verdict::ExactDiffers));
        assert!(!result.pass);
        assert!(
            result
                .detail
                .contains("1 of 12 pixels differ (first at (2, 1))"),
            "{}",
            result.detail
        );

        let grid = Array2::from_elem((2, 2), 0.25);
        let mut nudged = grid.clone();
        nudged[(0, 1)] = f64::from_bits(0.25f64.to_bits() + 1);
        let result = judge(
            &OwnedOutput::Grid(grid),
            Output::Grid(nudged.view()),
            Agreement::Exact,
        );
        assert!(!result.pass, "one ULP is a failure for an exact backend");
        assert!(
            result.detail.contains("first at (0, 1)"),
            "{}",
            result.detail
        );
    }

    #[test]
    fn a_backend_is_judged_against_the_reference_and_sampled_by_the_budget() {
        let scalar = crate::registry::create("scalar").unwrap();
        let workload = Workload::diffusion_book(16, 24, 3);
        let budget = Budget {
            fixed_runs: Some(2),
            ..Budget::DEFAULT
        };
        let (first, reference) = cell(&*scalar, &workload, &budget, None).unwrap();
        let t = first.timing().unwrap();
        assert_eq!(t.agreement.verdict, None);
        assert_eq!(t.speedup, None);
        let (second, _) = cell(&*scalar, &workload, &budget, Some(&reference)).unwrap();
        let t2 = second.timing().unwrap();
        assert_eq!(t2.agreement.verdict, Some(Verdict::Identical), "{t2:?}");
        assert_eq!(t2.agreement.detail, "all 384 cells bitwise identical");
        assert_eq!(t2.seconds.len(), 2);
        assert!(t2.warmed_up);
        assert_eq!(t2.updates, 16 * 24 * 3);
        assert_eq!(t.checksum, t2.checksum);
        assert!(t2.speedup.is_some());
    }
}
