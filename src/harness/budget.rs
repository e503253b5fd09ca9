//! How long each measurement may take, and how many runs it gets: adaptive sampling in the
//! spirit of hyperfine and criterion, so the whole comparison finishes in minutes.
//!
//! - A cell (one backend on one problem) whose predicted time exceeds the budget is not run;
//!   it is reported as skipped, with the prediction, never silently dropped. The prediction
//!   scales the backend's time per update on the largest smaller problem it ran.
//! - The first call is timed. A kernel whose single run is long (at least half the sampling
//!   time) keeps that run as its one timed run, with no separate warm-up: first-call costs
//!   (page faults, thread start-up) are noise against a long call.
//! - Otherwise that call was the warm-up, and the kernel gets as many timed runs as fit in
//!   the sampling time: fast kernels get more runs, at least [`Budget::min_runs`] and at most
//!   [`Budget::max_runs`], never more than the budget allows.

use serde::{Deserialize, Serialize};

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

    /// A quick look: 3 s a cell, a quarter of a second of timed runs.
    pub const QUICK: Budget = Budget {
        cell_seconds: 3.0,
        sampling_seconds: 0.25,
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

#[cfg(test)]
mod tests {
    use super::*;

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
