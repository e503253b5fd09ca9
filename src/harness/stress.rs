//! Agreement under stress: every backend on inputs built to show one changed rounding
//! ([`crate::problem::stress`]) — chaotic Julia problems on which a fused or reassociated
//! iteration changes counts, and diffusion grids over the whole finite range, with signed
//! zeros, subnormals, overflow and smooth values near 1.0. Not timed: the book's problems hide
//! fused multiply-adds, so this is where `compare` shows what "exact" and "tolerance" mean.
//!
//! Exact backends must give `scalar`'s bits on every case; one that does not is a
//! disagreement and fails the run. Tolerance backends are judged by their class — on chaotic
//! Julia inputs by the rounding horizon ([`ChaoticJudge`]): pixels whose counts the arithmetic
//! determines must match, the others are reported, kept apart from a failure.

use serde::{Deserialize, Serialize};

use crate::agreement::{ChaoticJudge, GridDiff, Verdict};
use crate::backend::Backend;
use crate::error::Result;
use crate::problem::{Kernel, stress};
use crate::registry::Agreement;

/// One backend on one stress case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StressResult {
    pub backend: String,
    pub kernel: Kernel,
    /// The case's name (`spiral_301x199`, `overflow`, ...).
    pub case: String,
    pub class: Agreement,
    /// `None` when the case was not run (the budget, or the backend refused the input).
    pub verdict: Option<Verdict>,
    /// How the results compare: differing pixels or cells, how far, and why that is or is
    /// not acceptable for the class; or why the case was not run.
    pub detail: String,
}

impl StressResult {
    /// Whether the result is outside the backend's class (a case not run is not).
    pub fn fails(&self) -> bool {
        self.verdict.is_some_and(|v| !v.passes())
    }
}

/// Runs every stress case on `backends` (the first is the reference, `scalar`), telling
/// `started` the name of each case as it begins. `predict(backend, kernel, updates)` says how
/// long a case of `updates` updates should take on a backend; a case predicted beyond
/// `budget` seconds is not run, and says so.
pub fn check(
    backends: &[Box<dyn Backend>],
    budget: f64,
    predict: &dyn Fn(&str, Kernel, u64) -> Option<f64>,
    started: &dyn Fn(&str),
) -> Result<Vec<StressResult>> {
    let Some((reference, others)) = backends.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut record = |backend: &dyn Backend, kernel, case: &str, outcome: Outcome| {
        let class = backend.agreement(kernel);
        let (verdict, detail) = match outcome {
            Outcome::Judged(verdict, detail) => (Some(verdict), detail),
            Outcome::NotRun(why) => (None, why),
        };
        out.push(StressResult {
            backend: backend.name().to_string(),
            kernel,
            case: case.to_string(),
            class,
            verdict,
            detail,
        });
    };
    let not_run = |backend: &dyn Backend, kernel, updates: u64| {
        let predicted = predict(backend.name(), kernel, updates)?;
        (predicted > budget).then(|| {
            Outcome::NotRun(format!(
                "skipped (predicted {predicted:.1} s > budget {budget} s)"
            ))
        })
    };
    for case in stress::julia_cases() {
        started(&format!("stress julia {}", case.slug));
        let expected = crate::julia(&**reference, &case.params)?;
        let updates = crate::problem::julia::checksum(expected.view());
        let judge = ChaoticJudge::new(&case.params);
        for backend in others {
            let class = backend.agreement(Kernel::Julia);
            let outcome = match not_run(&**backend, Kernel::Julia, updates) {
                Some(skipped) => skipped,
                None => match crate::julia(&**backend, &case.params) {
                    Ok(counts) => {
                        let judgement = judge.judge(class, expected.view(), counts.view());
                        Outcome::Judged(judgement.verdict(), judgement.to_string())
                    }
                    Err(e) => Outcome::NotRun(format!("refused: {e}")),
                },
            };
            record(&**backend, Kernel::Julia, case.slug, outcome);
        }
    }
    for case in stress::diffusion_cases() {
        started(&format!("stress diffusion {}", case.slug));
        let run = |backend: &dyn Backend| {
            let mut grid = case.init.clone();
            crate::evolve(backend, &case.params, grid.view_mut(), case.steps).map(|()| grid)
        };
        let expected = run(&**reference)?;
        let (rows, cols) = case.params.shape();
        let updates = (rows * cols) as u64 * u64::from(case.steps);
        for backend in others {
            let class = backend.agreement(Kernel::Diffusion);
            let outcome = match not_run(&**backend, Kernel::Diffusion, updates) {
                Some(skipped) => skipped,
                None => match run(&**backend) {
                    Ok(grid) => {
                        let diff = GridDiff::new(expected.view(), grid.view());
                        let verdict = diff.verdict(class);
                        Outcome::Judged(verdict, format!("{verdict}: {diff}"))
                    }
                    Err(e) => Outcome::NotRun(format!("refused: {e}")),
                },
            };
            record(&**backend, Kernel::Diffusion, case.slug, outcome);
        }
    }
    Ok(out)
}

enum Outcome {
    Judged(Verdict, String),
    NotRun(String),
}
