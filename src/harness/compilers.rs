//! The compiler-strategy table (the book's Table 7-1 for this machine, issue 16): one row per
//! compiler x flags pair of the C reference, plus Rust's own strategies (`scalar` for the
//! baseline target, `scalar-autovec` for x86-64-v3/v4, the explicit `simd`) and gfortran. It
//! is a view of one `compare` run's results: time for both kernels, speed-up, instructions per
//! update, agreement class and measured difference, and what each compiler vectorised.
//!
//! The pairs that only this table is about ([`is_extra_row`]) are measured under a small cell
//! budget ([`extra_row_budget`]), so the matrix adds tens of seconds to the default `compare`,
//! not minutes: they get Julia and the diffusion sizes up to about a second per call.

use serde::{Deserialize, Serialize};

use crate::backend::registry::{self, Agreement};
use crate::harness::budget::Budget;
use crate::harness::{Results, measure::Outcome};
use crate::problem::Kernel;

/// The Rust and Fortran rows, before the C matrix (the C pairs come from the registry).
const OTHER_ROWS: [&str; 4] = ["scalar", "scalar-autovec", "simd", "fortran"];

/// The C members that are backends of the main comparison in their own right (SPEC §2); the
/// other pairs are rows of this table only.
const MAIN_C_MEMBERS: [&str; 4] = ["c", "c-native", "c-openmp", "c-native-openmp"];

/// The diffusion side the table shows: the largest measured side up to this one.
const DIFFUSION_SIDE: usize = 512;

/// Whether `backend` is a row of this table only (a C pair beyond the main members, or
/// `scalar-autovec`): it is measured under [`extra_row_budget`].
pub fn is_extra_row(backend: &str) -> bool {
    backend == "scalar-autovec" || (is_c_pair(backend) && !MAIN_C_MEMBERS.contains(&backend))
}

/// The budget of an extra row: at most a second per cell and a quarter of a second of runs.
pub fn extra_row_budget(budget: &Budget) -> Budget {
    Budget {
        cell_seconds: budget.cell_seconds.min(1.0),
        sampling_seconds: budget.sampling_seconds.min(0.25),
        ..*budget
    }
}

/// A backend of the C reference's compiler x flags matrix.
fn is_c_pair(backend: &str) -> bool {
    registry::info(backend).is_some_and(|i| i.feature == Some("c-ref"))
}

/// One kernel of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelCell {
    /// Median seconds, `None` when skipped by the budget.
    pub seconds: Option<f64>,
    pub speedup: Option<f64>,
    /// Instructions per update (callgrind `Ir` or perf `instructions`) on the counted problem.
    pub instructions_per_update: Option<f64>,
    /// How the result compares with `scalar`'s (`all ... identical`, or how far it is).
    pub difference: String,
    pub pass: bool,
    /// What the compiler vectorised of this kernel's inner loop.
    pub vectorised: String,
}

/// One compiler x flags row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompilerRow {
    pub backend: String,
    /// `gcc (Debian 12.2.0-14) 12.2.0`, `rustc (LLVM)`, ...
    pub compiler: String,
    pub flags: String,
    pub class: Agreement,
    /// `None` when the backend did not run (then `reason` says why).
    pub julia: Option<KernelCell>,
    pub diffusion: Option<KernelCell>,
    /// Why the row was not measured (`not installed: apt-get install clang`).
    pub reason: Option<String>,
    /// Stress cases (SPEC's adversarial inputs) whose result was not identical to scalar's.
    pub stress_not_identical: usize,
}

/// The table of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompilerTable {
    /// The diffusion problem of its diffusion columns (`None`: diffusion not measured).
    pub diffusion_side: Option<usize>,
    pub steps: u32,
    pub rows: Vec<CompilerRow>,
}

/// The compiler-strategy table of `r`; `None` when the run measured none of its rows but
/// `scalar`.
pub fn table(r: &Results) -> Option<CompilerTable> {
    let s = &r.settings;
    let side = (s.kernels.contains(&Kernel::Diffusion))
        .then(|| {
            let at_most: Vec<usize> = s
                .sizes
                .iter()
                .copied()
                .filter(|&n| n <= DIFFUSION_SIDE)
                .collect();
            at_most
                .into_iter()
                .max()
                .or_else(|| s.sizes.iter().copied().min())
        })
        .flatten();
    let names = OTHER_ROWS[..3]
        .iter()
        .copied()
        .chain(
            registry::KNOWN
                .iter()
                .filter(|i| i.feature == Some("c-ref"))
                .map(|i| i.name),
        )
        .chain(OTHER_ROWS[3..].iter().copied());
    // The rustc on PATH, which is the one that built this program under Cargo.
    let rustc = (r.machine.compilers.get("rustc").cloned()).unwrap_or_else(|| "rustc".into());
    let mut rows = Vec::new();
    for name in names {
        let measured = s.backends.iter().any(|b| b == name);
        let unavailable = s.unavailable.iter().find(|(b, _)| b == name);
        if !measured && unavailable.is_none() {
            continue;
        }
        let details = r.machine.backends.get(name);
        let detail = |key: &str| details.and_then(|d| d.get(key)).cloned();
        let (compiler, flags) = match (detail("compiler"), detail("flags")) {
            (Some(c), Some(f)) => (c, f),
            // Not built: what it would have been.
            _ if is_c_pair(name) => (
                "-".into(),
                registry::info(name).map_or(String::new(), |i| i.strategy.to_string()),
            ),
            _ => (
                rustc.clone(),
                rust_flags(name, detail("target"), detail("path")),
            ),
        };
        let class = registry::info(name).map_or(Agreement::Exact, |i| i.diffusion);
        let cell = |kernel: Kernel, size: Option<usize>| -> Option<KernelCell> {
            let m = r.find(kernel, name, size)?;
            let counted = r
                .counters
                .iter()
                .find(|c| c.backend == name && c.kernel == kernel)
                .and_then(|c| Some(c.instructions()? as f64 / c.updates.max(1) as f64));
            let key = match kernel {
                Kernel::Julia => "vectorised julia",
                Kernel::Diffusion => "vectorised diffusion",
            };
            let vectorised = detail(key).unwrap_or_else(|| rust_vectorised(name, details));
            let (seconds, speedup, difference, pass) = match &m.outcome {
                Outcome::Measured(t) => (
                    Some(t.median),
                    t.speedup,
                    t.agreement.detail.clone(),
                    t.agreement.pass,
                ),
                Outcome::Skipped(sk) => (
                    None,
                    None,
                    format!("skipped: {:.1} s predicted", sk.predicted_seconds),
                    true,
                ),
            };
            Some(KernelCell {
                seconds,
                speedup,
                instructions_per_update: counted,
                difference,
                pass,
                vectorised,
            })
        };
        rows.push(CompilerRow {
            backend: name.to_string(),
            compiler,
            flags,
            class,
            julia: cell(Kernel::Julia, None),
            diffusion: side.and_then(|n| cell(Kernel::Diffusion, Some(n))),
            reason: unavailable.map(|(_, why)| why.clone()),
            stress_not_identical: r
                .stress
                .iter()
                .filter(|x| x.backend == name)
                .filter(|x| x.verdict != Some(crate::agreement::Verdict::Identical))
                .count(),
        });
    }
    (rows.len() > 1).then_some(CompilerTable {
        diffusion_side: side,
        steps: s.steps,
        rows,
    })
}

/// The flags of a Rust row.
fn rust_flags(name: &str, target: Option<String>, path: Option<String>) -> String {
    match name {
        "scalar" => "release profile, baseline target (x86-64: SSE2)".to_string(),
        "scalar-autovec" => format!(
            "release profile, #[target_feature] {}",
            target.unwrap_or_default()
        ),
        "simd" => format!("explicit wide vectors, {}", path.unwrap_or_default()),
        _ => String::new(),
    }
}

/// What the vectorisation column says for a Rust row, which has no compiler report.
fn rust_vectorised(
    name: &str,
    details: Option<&std::collections::BTreeMap<String, String>>,
) -> String {
    match name {
        "simd" => format!(
            "explicit vectors ({})",
            details
                .and_then(|d| d.get("path"))
                .map_or("?", String::as_str)
        ),
        _ => "LLVM's choice (no report recorded)".to_string(),
    }
}

/// A short form of a vectorisation summary: `4 x f64`, `4 x f64, interleaved x2`, `no`.
pub fn short_vectorised(summary: &str) -> String {
    if let Some(rest) = summary.strip_prefix("vectorised (") {
        return rest.trim_end_matches(')').to_string();
    }
    if summary.starts_with("not vectorised") {
        return "no".into();
    }
    summary.to_string()
}

/// A short form of an agreement detail for narrow tables: `bitwise`, `12 px differ`,
/// `max rel 3.1e-16, 2 ULP`.
pub fn short_difference(detail: &str) -> String {
    if detail.contains("identical") {
        return "bitwise".into();
    }
    if let Some(rest) = detail.split("max relative ").nth(1) {
        let rel = rest.split(',').next().unwrap_or(rest);
        let rel = rel
            .parse::<f64>()
            .map_or(rel.to_string(), |x| format!("{x:.1e}"));
        let ulp = rest
            .split("max ")
            .nth(1)
            .map_or(String::new(), |u| format!(", {u}"));
        return format!("max rel {rel}{ulp}");
    }
    if let Some(n) = detail
        .split(" of ")
        .next()
        .filter(|_| detail.contains("pixels differ"))
    {
        return format!("{n} px differ");
    }
    detail.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_difference_keeps_the_figures() {
        assert_eq!(
            short_difference("all 100 cells bitwise identical"),
            "bitwise"
        );
        assert_eq!(
            short_difference(
                "3 of 100 cells differ (first at (0, 1)), max |Δ| 1e-19, max relative \
                 2.5e-16, max 1 ULP"
            ),
            "max rel 2.5e-16, 1 ULP"
        );
        assert_eq!(
            short_difference("12 of 1000000 pixels differ (first at (3, 4)), 0.001 %"),
            "12 px differ"
        );
    }

    #[test]
    fn the_short_vectorised_form_keeps_the_width() {
        assert_eq!(
            short_vectorised("vectorised (4 x f64, interleaved x2)"),
            "4 x f64, interleaved x2"
        );
        assert_eq!(
            short_vectorised("not vectorised: control flow in loop"),
            "no"
        );
    }

    #[test]
    fn only_the_matrix_rows_beyond_the_main_members_are_extra() {
        assert!(!is_extra_row("c"));
        assert!(!is_extra_row("c-native-openmp"));
        assert!(!is_extra_row("simd"));
        assert!(is_extra_row("c-gcc-O2"));
        assert!(is_extra_row("c-clang-O3-native-fast"));
        assert!(is_extra_row("scalar-autovec"));
    }
}
