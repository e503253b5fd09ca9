//! The Markdown report: the book's tables for this machine, each figure beside the machine's
//! own limits measured in the same run.

use std::fmt::Write as _;

use crate::agreement::Verdict;
use crate::harness::calibration::Calibration;
use crate::harness::compilers::{self, CompilerRow, KernelCell, short_difference};
use crate::harness::measure::{Measurement, Outcome, Timing};
use crate::harness::roofline::Bound;
use crate::harness::{Results, Settings};
use crate::problem::Kernel;
use crate::registry::Agreement;
use crate::report::{bytes, secs, si};

/// A cell of a per-size table for a measurement (`None` if there is none).
type Cell<'a> = &'a dyn Fn(&Timing) -> String;

/// What a skipped cell says in the tables.
pub fn skipped_cell(m: &Measurement) -> Option<String> {
    match &m.outcome {
        Outcome::Skipped(s) => Some(format!(
            "skipped (predicted {} s > budget {} s)",
            secs(s.predicted_seconds),
            secs(s.budget_seconds)
        )),
        Outcome::Measured(_) => None,
    }
}

/// The agreement column: verdict, class and how the results compare.
pub fn agreement_cell(t: &Timing) -> String {
    let verdict = match (t.agreement.verdict, t.agreement.pass) {
        (None, _) => "unchecked",
        (Some(_), true) => "ok",
        (Some(_), false) => "**FAIL**",
    };
    format!(
        "{verdict} ({}): {}",
        class_name(t.agreement.class),
        t.agreement.detail
    )
}

pub fn class_name(class: Agreement) -> &'static str {
    match class {
        Agreement::Exact => "exact",
        Agreement::ToleranceF64 => "f64 tolerance",
        Agreement::ToleranceF32 => "f32 tolerance",
    }
}

/// `43 % of compute floor` / `61 % of memory floor`, or empty for device backends.
pub fn limit_cell(t: &Timing) -> String {
    t.roofline.as_ref().map_or(String::new(), |r| {
        let bound = match r.bound {
            Bound::Compute => "compute",
            Bound::Memory => "memory",
        };
        format!("{:.0} % of {bound} floor", 100.0 * r.fraction)
    })
}

fn speedup_cell(t: &Timing) -> String {
    t.speedup.map_or("n/a".into(), |s| format!("{s:.2}x"))
}

fn allocs_cell(t: &Timing) -> String {
    t.allocations.map_or("n/a".to_string(), |a| {
        format!("{} / {}", a.allocations, bytes(a.bytes))
    })
}

fn transfer_cell(t: &Timing) -> String {
    t.transfer.map_or(String::new(), |t| {
        format!(
            "upload {} / compute {} / read-back {}",
            secs(t.upload),
            secs(t.compute),
            secs(t.read_back)
        )
    })
}

fn runs_cell(t: &Timing) -> String {
    let warm = if t.warmed_up { "" } else { ", no warm-up" };
    // A Python row: timed by the runner's own clock, its build/JIT time apart.
    let python = t.python.as_ref().map_or(String::new(), |p| {
        format!(", Python's clock, +{} compile", secs(p.compile_seconds))
    });
    format!("{}{warm}{python}", t.seconds.len())
}

/// The calibration in a few lines.
pub fn calibration_lines(c: &Calibration) -> Vec<String> {
    let mut lines = Vec::new();
    for m in &c.mixes {
        lines.push(format!(
            "{} exact mix ({}): {}/s per {} on one core, {}/s on {} threads",
            m.kernel,
            m.mix,
            si(m.one_core_per_s),
            m.unit,
            si(m.all_cores_per_s),
            c.threads,
        ));
    }
    if let Some(e) = c.effective_cores {
        let samples: Vec<String> = c
            .effective_cores_samples
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect();
        lines.push(format!(
            "effective cores: {e:.2} of {} (the diffusion mix on every logical CPU at once; measured {})",
            c.threads,
            samples.join(" then ")
        ));
    }
    let gb = |b: f64| format!("{:.1} GB/s", b / 1e9);
    let m = &c.memory;
    lines.push(format!(
        "memory ({} buffers): read {} (1 thread) / {} (all), copy {} / {} (16 B per \
         element moved)",
        bytes(m.buffer_bytes),
        gb(m.read_one_thread),
        gb(m.read_all_threads),
        gb(m.copy_one_thread),
        gb(m.copy_all_threads)
    ));
    if let Some(llc) = c.last_level_cache_bytes {
        lines.push(format!("last-level cache: {}", bytes(llc)));
    }
    lines
}

/// The Markdown report.
pub fn markdown(r: &Results) -> String {
    let s = &r.settings;
    let mut md = String::new();
    let _ = writeln!(md, "# lancehead compare\n");
    let _ = writeln!(md, "- Machine: {}", r.machine.summary());
    let _ = writeln!(md, "- Build: {}", r.machine.lancehead);
    for (tool, version) in &r.machine.compilers {
        let _ = writeln!(md, "- `{tool}`: {version}");
    }
    for (backend, details) in &r.machine.backends {
        if !details.is_empty() {
            let d: Vec<String> = details.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(md, "- `{backend}`: {}", d.join(", "));
        }
    }
    if let Some(python) = &s.python {
        let _ = writeln!(md, "- Python rows: {python}");
    }
    for (backend, reason) in &s.unavailable {
        let _ = writeln!(md, "- `{backend}` not measured: {reason}");
    }
    let _ = writeln!(
        md,
        "- Calibration ({}, {:.2} s, at the start and the end of the run; the better of the two):",
        r.calibration.vector_isa, r.calibration.seconds
    );
    for line in calibration_lines(&r.calibration) {
        let _ = writeln!(md, "  - {line}");
    }
    let _ = writeln!(md, "- Timing: {}", timing_rule(s));
    let _ = writeln!(md, "- Instruction counts: {}", s.counters);
    let _ = writeln!(md, "- The whole run took {:.0} s", r.seconds);
    md.push('\n');

    if s.kernels.contains(&Kernel::Julia) {
        julia_section(r, &mut md);
    }
    if s.kernels.contains(&Kernel::Diffusion) {
        diffusion_sections(r, &mut md);
    }
    compilers_section(r, &mut md);
    stress_section(r, &mut md);
    counters_section(r, &mut md);
    md
}

/// `0.0123 s (2.11x)`, or why there is no time.
pub fn compiler_time(cell: Option<&KernelCell>) -> String {
    match cell {
        None => String::new(),
        Some(KernelCell {
            seconds: Some(t),
            speedup,
            ..
        }) => format!(
            "{} ({})",
            secs(*t),
            speedup.map_or("n/a".into(), |s| format!("{s:.2}x"))
        ),
        Some(c) => c.difference.clone(),
    }
}

/// `12.3 / 4.5`: instructions per update of Julia and diffusion.
pub fn compiler_counts(row: &CompilerRow) -> String {
    let one = |c: &Option<KernelCell>| {
        c.as_ref()
            .and_then(|c| c.instructions_per_update)
            .map_or("n/a".into(), |x| format!("{x:.1}"))
    };
    format!("{} / {}", one(&row.julia), one(&row.diffusion))
}

/// The class and how far the row is from `scalar`: `exact, bitwise`, or the tolerance
/// row's measured difference on both kernels and the stress cases.
pub fn compiler_agreement(row: &CompilerRow) -> String {
    let one = |c: &Option<KernelCell>| {
        c.as_ref().map_or(String::new(), |c| {
            let fail = if c.pass { "" } else { " FAIL" };
            format!("{}{fail}", short_difference(&c.difference))
        })
    };
    let (j, d) = (one(&row.julia), one(&row.diffusion));
    let both = if j == d {
        j
    } else {
        format!("julia {j}; diffusion {d}")
    };
    let stress = match row.stress_not_identical {
        0 => String::new(),
        n => format!("; {n} stress cases not identical"),
    };
    format!("{}: {both}{stress}", class_name(row.class))
}

/// What was vectorised, Julia then diffusion.
pub fn compiler_vectorised(row: &CompilerRow) -> String {
    let one = |c: &Option<KernelCell>| c.as_ref().map_or(String::new(), |c| c.vectorised.clone());
    let (j, d) = (one(&row.julia), one(&row.diffusion));
    if j == d {
        j
    } else {
        format!("julia: {j}; diffusion: {d}")
    }
}

/// The book's Table 7-1 for this machine: one row per compiler x flags.
fn compilers_section(r: &Results, md: &mut String) {
    let Some(t) = compilers::table(r) else {
        return;
    };
    let side = t
        .diffusion_side
        .map_or("-".into(), |n| format!("{n}² x{}", t.steps));
    let _ = writeln!(
        md,
        "## Compiler strategies (Table 7-1)\n\nOne row per compiler x flags of the C \
         reference, with Rust's own strategies and gfortran. Speed-ups are against `scalar`; \
         instructions per update are those of the counted problem (see the counts below); \
         the rows beyond the main C members are timed under a cell budget of at most 1 s.\n"
    );
    let _ = writeln!(
        md,
        "| backend | compiler | flags | Julia s (speed-up) | diffusion {side} s (speed-up) | \
         instructions per update (Julia / diffusion) | agreement (class: measured difference) \
         | vectorised |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---:|---:|---|---|");
    for row in &t.rows {
        if let Some(reason) = &row.reason {
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | | | | not measured: {reason} | |",
                row.backend, row.compiler, row.flags
            );
            continue;
        }
        let _ = writeln!(
            md,
            "| `{}` | {} | `{}` | {} | {} | {} | {} | {} |",
            row.backend,
            row.compiler,
            row.flags,
            compiler_time(row.julia.as_ref()),
            compiler_time(row.diffusion.as_ref()),
            compiler_counts(row),
            compiler_agreement(row),
            compiler_vectorised(row)
        );
    }
    md.push('\n');
}

/// A stress verdict in a few characters.
pub fn verdict_short(v: Option<Verdict>, detail: &str) -> &'static str {
    match v {
        None if detail.starts_with("refused") => "refused",
        None => "skipped",
        Some(Verdict::Identical) => "identical",
        Some(Verdict::WithinTolerance) => "within tolerance",
        Some(Verdict::BeyondRoundingHorizon) => "past the horizon",
        Some(Verdict::OnlyWhereReferenceOverflowed) => "reference overflowed",
        Some(Verdict::OutsideTolerance) => "**outside tolerance**",
        Some(Verdict::ExactDiffers) => "**differs**",
    }
}

fn stress_section(r: &Results, md: &mut String) {
    if r.stress.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "## Agreement under stress\n\nEvery backend on inputs built to show one changed \
         rounding (`lancehead::problem::stress`): chaotic Julia problems where a fused or \
         reassociated iteration changes counts, and diffusion grids over the whole finite \
         range. Exact backends must give `scalar`'s bits; tolerance backends are judged by \
         their class, on chaotic Julia inputs by the rounding horizon (pixels whose counts f64 \
         rounding determines must match; the others are reported, not judged). Untimed.\n"
    );
    let mut cases: Vec<(Kernel, &str)> = Vec::new();
    for s in &r.stress {
        if !cases.iter().any(|&(k, c)| k == s.kernel && c == s.case) {
            cases.push((s.kernel, &s.case));
        }
    }
    let header: Vec<String> = cases
        .iter()
        .map(|(k, c)| format!("{} `{c}`", k.as_str()))
        .collect();
    let _ = writeln!(md, "| backend | class | {} |", header.join(" | "));
    let _ = writeln!(md, "|---|---|{}", "---|".repeat(cases.len()));
    let mut backends: Vec<&str> = Vec::new();
    for s in &r.stress {
        if !backends.contains(&s.backend.as_str()) {
            backends.push(&s.backend);
        }
    }
    for b in backends {
        let of = |k: Kernel, c: &str| {
            r.stress
                .iter()
                .find(|s| s.backend == b && s.kernel == k && s.case == c)
        };
        let classes: Vec<&str> = [Kernel::Julia, Kernel::Diffusion]
            .iter()
            .filter_map(|&k| r.stress.iter().find(|s| s.backend == b && s.kernel == k))
            .map(|s| class_name(s.class))
            .collect();
        let cells: Vec<&str> = cases
            .iter()
            .map(|&(k, c)| of(k, c).map_or("", |s| verdict_short(s.verdict, &s.detail)))
            .collect();
        let _ = writeln!(
            md,
            "| `{b}` | {} | {} |",
            classes.join(" / "),
            cells.join(" | ")
        );
    }
    md.push('\n');
    for s in r
        .stress
        .iter()
        .filter(|s| s.verdict != Some(Verdict::Identical))
    {
        let _ = writeln!(
            md,
            "- `{}` {} `{}`: {}",
            s.backend,
            s.kernel.as_str(),
            s.case,
            s.detail
        );
    }
    md.push('\n');
}

/// How cells were timed, in one sentence.
pub fn timing_rule(s: &Settings) -> String {
    let b = &s.budget;
    let sampling = match b.fixed_runs {
        Some(n) => format!("one warm-up and {n} timed runs per cell"),
        None => format!(
            "adaptive: about {} s of timed runs per cell after a warm-up ({}–{} runs), a \
             single timed run for a kernel that takes {} s or more",
            secs(b.sampling_seconds),
            b.min_runs,
            b.max_runs,
            secs(b.sampling_seconds / 2.0),
        ),
    };
    format!(
        "{sampling}; median (min–max) seconds of the kernel call alone; a cell predicted \
         to take more than {} s is skipped (rerun with a larger budget to include it)",
        secs(b.cell_seconds)
    )
}

fn julia_section(r: &Results, md: &mut String) {
    let Some(workload) = r
        .settings
        .workloads
        .iter()
        .find(|w| w.kernel() == Kernel::Julia)
    else {
        return;
    };
    let _ = writeln!(
        md,
        "## Julia set, {workload} (book: sum of counts 33219980)\n"
    );
    let _ = writeln!(
        md,
        "| backend | seconds | runs | speed-up vs scalar | z-updates/s | vs the machine | \
         checksum | agreement | allocations / bytes in call | peak RSS | device split |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|");
    for m in r.measurements.iter().filter(|m| m.kernel == Kernel::Julia) {
        detail_row(md, m, &[], |t| {
            vec![speedup_cell(t), si(t.updates_per_second), limit_cell(t)]
        });
    }
    md.push('\n');
}

/// One row of a detail table: the backend, `leading` cells, the timing, the cells
/// `middle` makes, then checksum, agreement, allocations, peak RSS and device split. A
/// skipped cell says why in the seconds column and leaves the rest empty (Markdown tables
/// allow short rows).
fn detail_row(
    md: &mut String,
    m: &Measurement,
    leading: &[String],
    middle: impl Fn(&Timing) -> Vec<String>,
) {
    let mut cells = vec![format!("`{}`", m.backend)];
    cells.extend(leading.iter().cloned());
    match m.timing() {
        None => cells.push(skipped_cell(m).unwrap_or_default()),
        Some(t) => {
            cells.push(format!(
                "{} ({}–{})",
                secs(t.median),
                secs(t.min),
                secs(t.max)
            ));
            cells.push(runs_cell(t));
            cells.extend(middle(t));
            cells.extend([
                t.checksum.to_string(),
                agreement_cell(t),
                allocs_cell(t),
                t.peak_rss_bytes.map_or("n/a".to_string(), bytes),
                transfer_cell(t),
            ]);
        }
    }
    let _ = writeln!(md, "| {} |", cells.join(" | "));
}

fn diffusion_sections(r: &Results, md: &mut String) {
    let s = &r.settings;
    let table = |md: &mut String, cell: Cell| {
        let cols: Vec<String> = s.sizes.iter().map(|n| format!("{n}x{n}")).collect();
        let _ = writeln!(md, "| backend | {} |", cols.join(" | "));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(s.sizes.len()));
        for backend in &s.backends {
            let cells: Vec<String> = s
                .sizes
                .iter()
                .map(|&n| {
                    r.find(Kernel::Diffusion, backend, Some(n))
                        .map_or(String::new(), |m| {
                            skipped_cell(m).unwrap_or_else(|| cell(m.timing().expect("measured")))
                        })
                })
                .collect();
            let _ = writeln!(md, "| `{backend}` | {} |", cells.join(" | "));
        }
        md.push('\n');
    };

    let _ = writeln!(
        md,
        "## Diffusion, {} steps: seconds per run (Table 6-1)\n",
        s.steps
    );
    table(md, &|t| secs(t.median));
    let _ = writeln!(
        md,
        "## Diffusion, {} steps: speed-up vs scalar (Table 6-2)\n",
        s.steps
    );
    table(md, &speedup_cell);
    let _ = writeln!(md, "## Diffusion: cell-updates/s\n");
    table(md, &|t| si(t.updates_per_second));
    let _ = writeln!(
        md,
        "## Diffusion: against the machine's limits\n\nThe least time the work could take \
         on the cores the backend used: the exact operation mix at the calibrated issue rate \
         (compute floor), or — for grids larger than the last-level cache — 16 bytes per cell \
         update per pass over memory at the calibrated copy bandwidth (memory floor), \
         whichever is larger; shown as a share of the measured time.\n"
    );
    table(md, &limit_cell);

    let _ = writeln!(md, "## Diffusion: agreement, allocations, memory\n");
    let _ = writeln!(
        md,
        "| backend | grid | seconds | runs | checksum | agreement | allocations / bytes in \
         call | peak RSS | device split |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---|---:|---:|---|");
    for m in r
        .measurements
        .iter()
        .filter(|m| m.kernel == Kernel::Diffusion)
    {
        detail_row(md, m, &[format!("{}x{}", m.rows, m.cols)], |_| Vec::new());
    }
    md.push('\n');
}

/// The counter columns present, in the book's `perf stat` order, then any others.
pub fn counter_columns(r: &Results) -> Vec<String> {
    const ORDER: [&str; 16] = [
        "instructions",
        "Ir",
        "cycles",
        "cache-references",
        "cache-misses",
        "branches",
        "branch-misses",
        "page-faults",
        "Dr",
        "Dw",
        "I1mr",
        "D1mr",
        "D1mw",
        "ILmr",
        "DLmr",
        "DLmw",
    ];
    let records = &r.counters;
    let mut columns: Vec<String> = ORDER
        .iter()
        .filter(|c| records.iter().any(|r| r.events.contains_key(**c)))
        .map(|c| c.to_string())
        .collect();
    for rec in records {
        for k in rec.events.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    columns
}

fn counters_section(r: &Results, md: &mut String) {
    let _ = writeln!(md, "## Instruction counts\n");
    let _ = writeln!(md, "Source: {}\n", r.settings.counters);
    if !r.counters.is_empty() {
        let columns = counter_columns(r);
        let _ = writeln!(
            md,
            "| kernel | backend | problem counted | source | instructions per update | {} |",
            columns.join(" | ")
        );
        let _ = writeln!(
            md,
            "|---|---|---|---|---:|{}",
            "---:|".repeat(columns.len())
        );
        for c in &r.counters {
            let per_update = c
                .instructions()
                .filter(|_| c.updates > 0)
                .map_or(String::new(), |n| {
                    format!("{:.2}", n as f64 / c.updates as f64)
                });
            let cells: Vec<String> = columns
                .iter()
                .map(|k| c.events.get(k).map_or(String::new(), |&v| v.to_string()))
                .collect();
            let source = if c.host_side_only {
                format!("{} (host side only)", c.source.as_str())
            } else {
                c.source.as_str().to_string()
            };
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {source} | {per_update} | {} |",
                c.kernel.as_str(),
                c.backend,
                c.problem,
                cells.join(" | ")
            );
        }
        md.push('\n');
    }
    for f in &r.counter_failures {
        let _ = writeln!(md, "- not counted: {f}");
    }
    if !r.counter_failures.is_empty() {
        md.push('\n');
    }
}
