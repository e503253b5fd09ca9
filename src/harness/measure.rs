//! Timing one problem on every backend: warm-up, timed runs (median, min, max), agreement
//! with `scalar`, speed-up, throughput, allocations inside the call, peak RSS, and the
//! upload/compute/read-back split of device backends.

use std::fmt;
use std::time::Instant;

use ndarray::Array2;
use serde::Serialize;

use crate::agreement::{GridDiff, JuliaDiff};
use crate::backend::registry::Agreement;
use crate::backend::{Backend, TransferTimes};
use crate::error::Result;
use crate::harness::Kernel;
use crate::harness::alloc::{self, AllocCount};
use crate::harness::counters::problem_label;
use crate::harness::machine;
use crate::problem::julia::{BOOK_C, checksum as julia_checksum};
use crate::problem::{DiffusionParams, JuliaParams, Region, diffusion};

/// A problem of the comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Problem {
    /// The book's region and c.
    Julia {
        height: usize,
        width: usize,
        max_iter: u32,
    },
    /// The book's coefficients and initial condition.
    Diffusion {
        rows: usize,
        cols: usize,
        steps: u32,
    },
}

/// A result's checksum: Julia's sum of counts, diffusion's sum of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Checksum {
    Counts(u64),
    Sum(f64),
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checksum::Counts(n) => write!(f, "{n}"),
            Checksum::Sum(x) => write!(f, "{x:?}"),
        }
    }
}

/// How a backend's result compares with `scalar`'s.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementResult {
    pub class: Agreement,
    pub pass: bool,
    /// `all 1000000 pixels identical`, or where and how much they differ.
    pub detail: String,
}

/// One backend on one problem.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub kernel: Kernel,
    pub backend: String,
    /// `1000x1000 it300`, `512x512 x500 steps`.
    pub problem: String,
    /// Julia: height; diffusion: rows.
    pub rows: usize,
    /// Julia: width; diffusion: columns.
    pub cols: usize,
    /// Julia: max_iter; diffusion: steps.
    pub iterations: u32,
    /// Every timed run, in seconds (the kernel call alone).
    pub seconds: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// `scalar`'s median over this backend's.
    pub speedup: f64,
    /// z-updates (Julia: the sum of counts) or cell updates (diffusion) per call.
    pub updates: u64,
    /// `updates / median`.
    pub updates_per_second: f64,
    pub checksum: Checksum,
    pub agreement: AgreementResult,
    /// Allocations inside the kernel call (the most of any timed run); `None` when the
    /// counting allocator is not installed (library use).
    pub allocations: Option<AllocCount>,
    /// Peak resident set size while this backend ran this problem (the harness's own
    /// buffers included); `peak_rss_since_start` when it could not be reset first.
    pub peak_rss_bytes: Option<u64>,
    pub peak_rss_since_start: bool,
    /// Device backends: median upload/compute/read-back split of the timed runs.
    pub transfer: Option<TransferTimes>,
}

/// The output of one call, kept from the reference to compare the others with.
enum Output {
    Counts(Array2<u32>),
    Grid(Array2<f64>),
}

/// Runs `problem` on every backend (`scalar`, the reference, first) and measures each.
pub fn problem(
    problem: &Problem,
    backends: &[Box<dyn Backend>],
    warmup: u32,
    repeat: u32,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<Measurement>> {
    let mut reference: Option<(Output, f64)> = None;
    let mut out = Vec::new();
    for backend in backends {
        bar.set_message(format!(
            "{} {}",
            match problem {
                Problem::Julia { .. } => "julia".to_string(),
                Problem::Diffusion { rows, cols, .. } => format!("diffusion {rows}x{cols}"),
            },
            backend.name()
        ));
        let m = one(problem, &**backend, warmup, repeat, &mut reference)?;
        out.push(m);
        bar.inc(1);
    }
    Ok(out)
}

/// Timed runs of one backend. The first backend measured becomes the reference.
fn one(
    problem: &Problem,
    backend: &dyn Backend,
    warmup: u32,
    repeat: u32,
    reference: &mut Option<(Output, f64)>,
) -> Result<Measurement> {
    let rss_reset = machine::reset_peak_rss();
    let mut seconds = Vec::with_capacity(repeat as usize);
    let mut allocations: Option<AllocCount> = None;
    let mut transfers = Vec::new();

    // Times one call; `prepare` (untimed) resets the input first.
    let mut timed = |call: &mut dyn FnMut() -> Result<()>, record: bool| -> Result<()> {
        let before = alloc::snapshot();
        let start = Instant::now();
        let result = call();
        let elapsed = start.elapsed().as_secs_f64();
        let after = alloc::snapshot();
        result?;
        if record {
            seconds.push(elapsed);
            if let (Some(b), Some(a)) = (before, after) {
                let used = b.until(a);
                allocations = Some(match allocations {
                    Some(prev) if prev.allocations >= used.allocations => prev,
                    _ => used,
                });
            }
            if let Some(t) = backend.last_transfer_times() {
                transfers.push(t);
            }
        }
        Ok(())
    };

    let (kernel, rows, cols, iterations, output, updates, checksum) = match *problem {
        Problem::Julia {
            height,
            width,
            max_iter,
        } => {
            let params = JuliaParams::new(width, height, Region::BOOK, BOOK_C, max_iter)?;
            let mut counts = params.new_counts()?;
            for i in 0..warmup + repeat {
                timed(
                    &mut || backend.julia(&params, counts.view_mut()),
                    i >= warmup,
                )?;
            }
            let sum = julia_checksum(counts.view());
            (
                Kernel::Julia,
                height,
                width,
                max_iter,
                Output::Counts(counts),
                sum,
                Checksum::Counts(sum),
            )
        }
        Problem::Diffusion { rows, cols, steps } => {
            let params = DiffusionParams::book(rows, cols)?;
            let init = params.book_initial()?;
            let mut grid = init.clone();
            let mut scratch = params.new_grid()?;
            for i in 0..warmup + repeat {
                grid.assign(&init);
                timed(
                    &mut || backend.evolve(&params, grid.view_mut(), scratch.view_mut(), steps),
                    i >= warmup,
                )?;
            }
            let sum = diffusion::checksum(grid.view());
            (
                Kernel::Diffusion,
                rows,
                cols,
                steps,
                Output::Grid(grid),
                (rows * cols) as u64 * u64::from(steps),
                Checksum::Sum(sum),
            )
        }
    };
    let peak_rss_bytes = machine::peak_rss();

    let agreement = match reference.as_ref() {
        None => AgreementResult {
            class: Agreement::Exact,
            pass: true,
            detail: "the reference".to_string(),
        },
        Some((reference, _)) => judge(reference, &output, backend.agreement(kernel)),
    };
    let median = median(&seconds);
    let speedup = match reference.as_ref() {
        None => 1.0,
        Some((_, reference_median)) => reference_median / median,
    };
    if reference.is_none() {
        *reference = Some((output, median));
    }
    let min = seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let max = seconds.iter().copied().fold(0.0, f64::max);
    Ok(Measurement {
        kernel,
        backend: backend.name().to_string(),
        problem: problem_label(kernel, rows, cols, iterations),
        rows,
        cols,
        iterations,
        median,
        min,
        max,
        seconds,
        speedup,
        updates,
        updates_per_second: updates as f64 / median,
        checksum,
        agreement,
        allocations,
        peak_rss_bytes,
        peak_rss_since_start: !rss_reset,
        transfer: median_transfer(&transfers),
    })
}

/// Compares `candidate` with the `reference` output under the backend's agreement class.
fn judge(reference: &Output, candidate: &Output, class: Agreement) -> AgreementResult {
    match (reference, candidate) {
        (Output::Counts(r), Output::Counts(c)) => {
            let diff = JuliaDiff::new(r.view(), c.view());
            AgreementResult {
                class,
                pass: diff.within(class),
                detail: diff.to_string(),
            }
        }
        (Output::Grid(r), Output::Grid(c)) => {
            let diff = GridDiff::new(r.view(), c.view());
            AgreementResult {
                class,
                pass: diff.within(class),
                detail: diff.to_string(),
            }
        }
        _ => unreachable!("one problem gives one kind of output"),
    }
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
        let reference = Output::Counts(Array2::from_elem((3, 4), 7));
        let mut changed = Array2::from_elem((3, 4), 7);
        changed[(2, 1)] = 9;
        let result = judge(&reference, &Output::Counts(changed), Agreement::Exact);
        assert!(!result.pass);
        assert_eq!(result.class, Agreement::Exact);
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
        let result = judge(&Output::Grid(grid), &Output::Grid(nudged), Agreement::Exact);
        assert!(!result.pass, "one ULP is a failure for an exact backend");
        assert!(
            result.detail.contains("first at (0, 1)"),
            "{}",
            result.detail
        );
    }

    #[test]
    fn a_backend_is_judged_against_the_first_one_measured() {
        let scalar = crate::registry::create("scalar").unwrap();
        let backends = vec![scalar, crate::registry::create("scalar").unwrap()];
        let problem = Problem::Diffusion {
            rows: 16,
            cols: 24,
            steps: 3,
        };
        let bar = indicatif::ProgressBar::hidden();
        let m = super::problem(&problem, &backends, 0, 2, &bar).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].agreement.detail, "the reference");
        assert!(m[1].agreement.pass, "{}", m[1].agreement.detail);
        assert_eq!(m[1].agreement.detail, "all 384 cells bitwise identical");
        assert_eq!(m[0].seconds.len(), 2);
        assert_eq!(m[0].updates, 16 * 24 * 3);
        assert_eq!(m[0].checksum, m[1].checksum);
    }
}
