//! How long each measurement may take, and how many runs it gets: adaptive sampling in the
//! spirit of hyperfine and criterion, so the whole comparison finishes in minutes.
//!
//! - A cell (one backend on one problem) whose predicted time exceeds the budget is not run;
//!   it is reported as skipped, with the prediction, never silently dropped. The prediction
//!   scales the backend's time per update on the largest smaller problem it ran, or, for its
//!   first problem, the times of probes ([`probe_of`]) a few hundredths of its size.
//! - The first call is timed. A kernel whose single run is long (at least half the sampling
//!   time) keeps that run as its one timed run, with no separate warm-up: first-call costs
//!   (page faults, thread start-up) are noise against a long call.
//! - Otherwise that call was the warm-up, and the kernel gets as many timed runs as fit in
//!   the sampling time: fast kernels get more runs, at least [`Budget::min_runs`] and at most
//!   [`Budget::max_runs`], never more than the budget allows.

use serde::{Deserialize, Serialize};

use crate::problem::Kernel;
use crate::workload::Workload;

/// The time rules of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Seconds one cell may take, warm-up included.
    pub cell_seconds: f64,
    /// Seconds of timed runs a cell aims at.
    pub sampling_seconds: f64,
    pub min_runs: u32,
    pub max_runs: u32,
    /// A fixed number of timed runs after one warm-up, instead of adaptive sampling (still
    /// within the budget's skip rule).
    pub fixed_runs: Option<u32>,
}

impl Budget {
    /// The default: 20 s a cell, about a second of timed runs each.
    pub const DEFAULT: Budget = Budget {
        cell_seconds: 20.0,
        sampling_seconds: 1.0,
        min_runs: 3,
        max_runs: 50,
        fixed_runs: None,
    };

    /// A quick look: 3 s a cell, a tenth of a second of timed runs (a call of 0.05 s or more
    /// is its cell's one timed run; a faster one gets at least two after its warm-up).
    pub const QUICK: Budget = Budget {
        cell_seconds: 3.0,
        sampling_seconds: 0.1,
        min_runs: 2,
        max_runs: 20,
        fixed_runs: None,
    };

    /// Whether a cell predicted to take `predicted` seconds (one call) is skipped.
    pub fn skips(&self, predicted: Option<f64>) -> bool {
        predicted.is_some_and(|p| p > self.cell_seconds)
    }

    /// After the first call took `first` seconds: whether it is the one timed run, and how
    /// many timed runs follow it.
    pub fn plan(&self, first: f64) -> Sampling {
        if let Some(runs) = self.fixed_runs {
            return Sampling {
                first_is_timed: false,
                more_runs: runs,
            };
        }
        if first >= self.sampling_seconds / 2.0 {
            return Sampling {
                first_is_timed: true,
                more_runs: 0,
            };
        }
        let wanted = (self.sampling_seconds / first.max(1e-9)).ceil() as u32;
        let affordable = ((self.cell_seconds - first) / first.max(1e-9))
            .floor()
            .max(1.0) as u32;
        Sampling {
            first_is_timed: false,
            more_runs: wanted
                .clamp(self.min_runs, self.max_runs)
                .min(affordable.max(1)),
        }
    }
}

/// How a cell is sampled once its first call is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// The first call is the only timed run (a long kernel).
    pub first_is_timed: bool,
    /// Timed runs after the first call.
    pub more_runs: u32,
}

/// The predicted seconds of one call of `updates` updates, from a smaller problem the same
/// backend ran: `(its updates, its median seconds)`.
pub fn predict(smaller: Option<(u64, f64)>, updates: u64) -> Option<f64> {
    let (u, s) = smaller?;
    (u > 0).then(|| s * updates as f64 / u as f64)
}

/// Small problems that predict a backend's first workload, which no smaller workload of it
/// precedes. They keep the workload's shape, so they run in its regime (cache, vector
/// lanes, the allocator: `ndarray-alloc` Julia on every sixteenth row ran 3x cheaper per
/// pixel than on the whole image).
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Diffusion: the same grid for a thirty-second of the steps; a call scales with steps.
    Scaled { probe: Workload, scale: f64 },
    /// Julia: the same image with `max_iter` a thirty-second of the workload's, and twice
    /// that. A call costs per pixel-iteration (array-at-a-time backends iterate every pixel
    /// to the end) and per z-update (the others stop at escape); the two probes separate
    /// the two costs ([`predict_julia`]).
    Julia { short: Workload, long: Workload },
}

/// The probes of `workload`; `None` where they would not be smaller than it.
pub fn probe_of(workload: &Workload) -> Option<Probe> {
    let (rows, cols) = workload.shape();
    let iterations = workload.iterations();
    let short = iterations.div_ceil(32);
    match workload.kernel() {
        Kernel::Diffusion => (short < iterations).then(|| Probe::Scaled {
            probe: workload.resized((rows, cols), short),
            scale: f64::from(iterations) / f64::from(short),
        }),
        Kernel::Julia => (2 * short < iterations).then(|| Probe::Julia {
            short: workload.resized((rows, cols), short),
            long: workload.resized((rows, cols), 2 * short),
        }),
    }
}

/// Pixels times `max_iter` of a Julia workload: the iterations of an array-at-a-time call.
pub fn pixel_iterations(workload: &Workload) -> f64 {
    let (rows, cols) = workload.shape();
    rows as f64 * cols as f64 * f64::from(workload.iterations())
}

/// The seconds of a Julia call of `full = (pixel-iterations, z-updates)` from its two probes'
/// `(seconds, pixel-iterations, z-updates)`: the costs `a` per pixel-iteration and `b` per
/// z-update that fit both probes, neither negative (noise); where the probes cannot tell the
/// two apart (no pixel escaped in either), all of it per z-update, the cheaper reading.
pub fn predict_julia(short: (f64, f64, f64), long: (f64, f64, f64), full: (f64, f64)) -> f64 {
    let ((t1, p1, u1), (t2, p2, u2)) = (short, long);
    let det = p1 * u2 - p2 * u1;
    let per_update = t2 / u2.max(1.0);
    if det.abs() <= 1e-6 * p1 * u2 {
        return per_update * full.1;
    }
    let (a, b) = ((t1 * u2 - t2 * u1) / det, (p1 * t2 - p2 * t1) / det);
    let (a, b) = match (a >= 0.0, b >= 0.0) {
        (true, true) => (a, b),
        (false, _) => (0.0, per_update),
        (_, false) => (t2 / p2.max(1.0), 0.0),
    };
    a * full.0 + b * full.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_keep_the_shape_and_cut_the_iterations() {
        assert_eq!(
            probe_of(&Workload::julia_book()),
            Some(Probe::Julia {
                short: Workload::julia_book_sized(1000, 1000, 10),
                long: Workload::julia_book_sized(1000, 1000, 20),
            })
        );
        assert_eq!(
            probe_of(&Workload::diffusion_book(256, 256, 500)),
            Some(Probe::Scaled {
                probe: Workload::diffusion_book(256, 256, 16),
                scale: 500.0 / 16.0,
            })
        );
        // Nothing smaller to run.
        assert!(probe_of(&Workload::diffusion_book(8, 8, 1)).is_none());
        assert!(probe_of(&Workload::julia_book_sized(9, 9, 2)).is_none());
    }

    /// A backend that pays per pixel-iteration, one that pays per z-update, and probes whose
    /// noise makes one cost negative: the fit finds each.
    #[test]
    fn the_julia_fit_separates_the_two_costs() {
        let (p1, p2, u1, u2) = (1e7, 2e7, 8e6, 1.4e7);
        let full = (3e8, 3.3e7);
        let dense = predict_julia((p1 * 1e-9, p1, u1), (p2 * 1e-9, p2, u2), full);
        assert!((dense - 0.3).abs() < 1e-9, "{dense}");
        let sparse = predict_julia((u1 * 1e-9, p1, u1), (u2 * 1e-9, p2, u2), full);
        assert!((sparse - 0.033).abs() < 1e-9, "{sparse}");
        // A long probe a bit faster than per-update scaling says: b < 0, all per pixel.
        let noisy = predict_julia((1.0, p1, u1), (1.6, p2, u2), full);
        assert!(noisy > 0.0 && noisy.is_finite());
        // No pixel escaped: the cheaper, per-update reading.
        let alive = predict_julia((1.0, p1, p1), (2.0, p2, p2), full);
        assert!((alive - 2.0 / p2 * full.1).abs() < 1e-9);
    }

    #[test]
    fn long_kernels_get_one_timed_run_fast_ones_many() {
        let b = Budget::DEFAULT;
        assert_eq!(
            b.plan(2.8),
            Sampling {
                first_is_timed: true,
                more_runs: 0
            }
        );
        // 10 ms: a second of runs is 100, capped at 50.
        assert_eq!(b.plan(0.01).more_runs, 50);
        // 0.2 s: 5 runs.
        assert_eq!(b.plan(0.2).more_runs, 5);
        // Never fewer than the minimum for a fast kernel.
        assert_eq!(b.plan(0.4).more_runs, 3);
        let fixed = Budget {
            fixed_runs: Some(7),
            ..b
        };
        assert_eq!(
            fixed.plan(5.0),
            Sampling {
                first_is_timed: false,
                more_runs: 7
            }
        );
    }

    #[test]
    fn the_budget_caps_the_runs_and_skips_predicted_overruns() {
        let tight = Budget {
            cell_seconds: 1.0,
            sampling_seconds: 5.0,
            ..Budget::DEFAULT
        };
        // 0.3 s first call: 10 runs wanted for 5 s, 2 affordable in the remaining 0.7 s.
        assert_eq!(tight.plan(0.3).more_runs, 2);
        let b = Budget::DEFAULT;
        // ndarray-alloc: 11.4 s at 1024², so 2048² (4x the updates) is predicted at 45.6 s.
        let predicted = predict(Some((1024 * 1024 * 500, 11.4)), 2048 * 2048 * 500);
        assert!((predicted.unwrap() - 45.6).abs() < 1e-9);
        assert!(b.skips(predicted));
        assert!(!b.skips(Some(19.0)));
        assert!(!b.skips(None), "nothing to predict from: run it");
    }
}
