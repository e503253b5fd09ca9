//! `lancehead compare` and its counting child: flags into [`harness::Options`], a progress
//! bar while it runs, compact tables on the terminal, the reports into `--out`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};

use lancehead::harness::compilers;
use lancehead::harness::counters::{self, ChildRequest, CounterMode};
use lancehead::harness::measure::{Measurement, Outcome};
use lancehead::harness::{self, Observer, Results};
use lancehead::report::{self, markdown, secs, si};
use lancehead::{Error, Kernel};

use super::Failure;
use super::output::say;

/// `--kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KernelChoice {
    Julia,
    Diffusion,
    All,
}

/// `--counters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Counters {
    /// Hardware counters where the kernel allows them, else callgrind, else none (and why).
    Auto,
    /// Hardware counters through perf_event_open; an error where they are not allowed.
    Perf,
    /// valgrind's callgrind; an error where valgrind is missing.
    Callgrind,
    /// No instruction counts.
    Off,
}

#[derive(Args)]
pub struct CompareArgs {
    /// Which kernels to measure.
    #[arg(long, value_enum, default_value = "all")]
    kernel: KernelChoice,
    /// Backends to measure, comma-separated (default: every one available; scalar, the
    /// reference, is always included).
    #[arg(long, value_name = "a,b,..", value_delimiter = ',')]
    backends: Option<Vec<String>>,
    /// Diffusion grid sizes N (N x N), comma-separated [default: 256,512,1024,2048;
    /// --quick: 256,512].
    #[arg(long, value_name = "N,..", value_delimiter = ',', value_parser = super::parse::positive,
          allow_hyphen_values = true)]
    sizes: Option<Vec<usize>>,
    /// Diffusion steps per run [default: 500; --quick: 100].
    #[arg(long, value_parser = super::parse::positive_count, allow_hyphen_values = true)]
    steps: Option<u32>,
    /// Seconds one cell (a backend on a problem) may take: a cell predicted to take longer
    /// is skipped and says so [default: 20; --quick: 3].
    #[arg(long, value_name = "SECONDS", value_parser = super::parse::positive_seconds,
          allow_hyphen_values = true)]
    budget: Option<f64>,
    /// A fixed number of timed runs per cell after one warm-up, instead of adaptive
    /// sampling (about a second of runs per cell; a long kernel gets one run).
    #[arg(long, value_parser = super::parse::positive_count, allow_hyphen_values = true)]
    repeat: Option<u32>,
    /// Instruction counts: hardware counters (perf), callgrind, whichever works (auto), or
    /// none.
    #[arg(long, value_enum, default_value = "auto")]
    counters: Counters,
    /// With callgrind: simulate the caches too and report their misses.
    #[arg(long)]
    cache_sim: bool,
    /// Folder for the reports, replaced as a whole (created when missing; one holding
    /// anything but earlier reports is refused).
    #[arg(long, value_name = "DIR", default_value = "results")]
    out: PathBuf,
    /// Leave out the agreement check on the stress cases (chaotic Julia problems, diffusion
    /// grids over the whole finite range).
    #[arg(long)]
    no_stress: bool,
    /// A look in well under a minute: diffusion 256 and 512, 100 steps, a 3 s budget per
    /// cell, small callgrind problems.
    #[arg(long)]
    quick: bool,
    /// The book's Python strategies too (pure Python, numpy, numexpr, scipy, Numba, Cython,
    /// Pythran), run by $LANCEHEAD_PYTHON or python3; a missing package is a row that says
    /// which to install.
    #[arg(long)]
    python: bool,
    /// Print the results as one JSON object instead of the tables.
    #[arg(long)]
    json: bool,
}

/// The arguments of the counting child (hidden).
#[derive(Args)]
pub struct ChildArgs {
    /// The request, as JSON.
    request: String,
}

impl CompareArgs {
    fn options(&self) -> harness::Options {
        let mut o = if self.quick {
            harness::Options::quick()
        } else {
            harness::Options::book()
        };
        o.kernels = match self.kernel {
            KernelChoice::Julia => vec![Kernel::Julia],
            KernelChoice::Diffusion => vec![Kernel::Diffusion],
            KernelChoice::All => vec![Kernel::Julia, Kernel::Diffusion],
        };
        o.backends = self.backends.clone();
        if let Some(sizes) = &self.sizes {
            o.sizes = sizes.clone();
        }
        if let Some(steps) = self.steps {
            o.steps = steps;
        }
        if let Some(budget) = self.budget {
            o.budget.cell_seconds = budget;
        }
        o.budget.fixed_runs = self.repeat;
        o.counters = match self.counters {
            Counters::Auto => CounterMode::Auto,
            Counters::Perf => CounterMode::Perf,
            Counters::Callgrind => CounterMode::Callgrind,
            Counters::Off => CounterMode::Off,
        };
        o.cache_sim = self.cache_sim;
        o.stress = !self.no_stress;
        o.python = self.python;
        o
    }
}

/// A progress bar on stderr, when it is a terminal.
struct Progress(indicatif::ProgressBar);

impl Progress {
    fn new() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(indicatif::ProgressBar::hidden());
        }
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        Progress(bar)
    }
}

impl Observer for Progress {
    fn planned(&self, cells: usize, counts: usize) {
        // The two calibrations are steps too.
        self.0.set_length((2 + cells + counts) as u64);
    }
    fn started(&self, what: &str) {
        self.0.set_message(what.to_string());
    }
    fn finished(&self) {
        self.0.inc(1);
    }
}

pub fn run(a: CompareArgs) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        arg: "compare",
        path: PathBuf::from("lancehead"),
        source,
    })?;
    // A folder that cannot take the reports is refused before anything is measured.
    report::check_folder(&a.out, "--out")?;
    let progress = Progress::new();
    let results = harness::compare(&a.options(), &exe, &progress)?;
    progress.0.finish_and_clear();
    report::write_all(&results, &a.out, "--out")?;
    if a.json {
        say(report::json(&results).trim_end())?;
    } else {
        say(format!(
            "{}Reports written to {}",
            terminal(&results),
            a.out.display()
        ))?;
    }
    let bad = results.disagreements();
    match bad.first() {
        None => Ok(()),
        Some(first) => Err(Error::Disagreement {
            count: bad.len(),
            first: first.clone(),
        }
        .into()),
    }
}

/// The counting child: one counted call, its report as one JSON line.
pub fn child(a: ChildArgs) -> Result<(), Failure> {
    let request: ChildRequest = serde_json::from_str(&a.request).map_err(|e| {
        Error::invalid(
            "request",
            &a.request,
            format!("a counting request as JSON ({e})"),
        )
    })?;
    let report = counters::child(&request)?;
    say(serde_json::to_string(&report).expect("a child report serializes"))
}

/// `--budget` that would include a cell predicted to take `predicted` seconds: a round
/// number a fifth above it.
fn budget_hint(predicted: f64) -> f64 {
    let wanted = predicted * 1.2;
    let step = if wanted >= 100.0 { 10.0 } else { 5.0 };
    (wanted / step).ceil() * step
}

fn table(header: &[String]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    for i in 1..header.len() {
        if let Some(column) = t.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// `0.0123 s (2.11x, 43 % C)`: a diffusion cell of the terminal table.
fn compact(m: &Measurement) -> String {
    match &m.outcome {
        Outcome::Skipped(s) => format!("skipped ({} s predicted)", secs(s.predicted_seconds)),
        Outcome::Measured(t) => {
            let speedup = t.speedup.map_or("n/a".into(), |s| format!("{s:.2}x"));
            let limit = t.roofline.as_ref().map_or(String::new(), |r| {
                let bound = match r.bound {
                    harness::roofline::Bound::Compute => "C",
                    harness::roofline::Bound::Memory => "M",
                };
                format!(", {:.0} % {bound}", 100.0 * r.fraction)
            });
            let fail = if t.agreement.pass { "" } else { " FAIL" };
            format!("{} ({speedup}{limit}){fail}", secs(t.median))
        }
    }
}

/// The compiler-strategy table, compact: the compiler's full version and flags, and the
/// vectoriser's reasons, are in the Markdown report and `lancehead backends`.
fn compilers_table(r: &Results) -> String {
    let Some(t) = compilers::table(r) else {
        return String::new();
    };
    let side = t.diffusion_side.map_or("-".into(), |n| format!("{n}²"));
    let mut table = self::table(
        &[
            "backend",
            "Julia s",
            &format!("diffusion {side}"),
            "Ir/update J / D",
            "agreement",
            "vectorised J / D",
        ]
        .map(String::from),
    );
    let mut not_measured = String::new();
    for row in &t.rows {
        if let Some(reason) = &row.reason {
            not_measured.push_str(&format!("  {}: {reason}\n", row.backend));
            continue;
        }
        let vectorised = |c: &Option<compilers::KernelCell>| {
            c.as_ref().map_or(String::new(), |c| {
                compilers::short_vectorised(&c.vectorised)
            })
        };
        table.add_row(vec![
            row.backend.clone(),
            markdown::compiler_time(row.julia.as_ref()),
            markdown::compiler_time(row.diffusion.as_ref()),
            markdown::compiler_counts(row),
            markdown::compiler_agreement(row),
            format!(
                "{} / {}",
                vectorised(&row.julia),
                vectorised(&row.diffusion)
            ),
        ]);
    }
    if !not_measured.is_empty() {
        not_measured.insert_str(0, "Not measured:\n");
    }
    let counted = if r.settings.quick {
        "; --quick counts the main rows only, n/a: Ir of an extra row"
    } else {
        ""
    };
    format!(
        "\nCompiler strategies (Table 7-1; extra rows under a 1 s cell budget{counted}; \
         compilers, flags and the vectorisers' reasons in {}):\n{table}\n{not_measured}",
        report::MARKDOWN
    )
}

/// The run on a terminal: the calibration, then one compact table per kernel, then what
/// was skipped and why.
fn terminal(r: &Results) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {}\nCalibration ({}, {:.2} s):\n",
        r.machine.summary(),
        r.calibration.vector_isa,
        r.calibration.seconds
    ));
    for line in markdown::calibration_lines(&r.calibration) {
        out.push_str(&format!("  {line}\n"));
    }
    let s = &r.settings;
    if s.kernels.contains(&Kernel::Julia) {
        let mut t = table(
            &[
                "backend",
                "median s",
                "runs",
                "speed-up",
                "z-updates/s",
                "vs the machine",
                "agreement",
            ]
            .map(String::from),
        );
        let julia = r.measurements.iter().filter(|m| m.kernel == Kernel::Julia);
        for m in julia.filter(|m| !compilers::is_extra_row(&m.backend)) {
            let row = match m.timing() {
                None => vec![m.backend.clone(), compact(m)],
                Some(t) => vec![
                    m.backend.clone(),
                    secs(t.median),
                    t.seconds.len().to_string(),
                    t.speedup.map_or("n/a".into(), |s| format!("{s:.2}x")),
                    si(t.updates_per_second),
                    markdown::limit_cell(t),
                    if t.agreement.pass {
                        format!("ok ({})", markdown::class_name(t.agreement.class))
                    } else {
                        format!("FAIL: {}", t.agreement.detail)
                    },
                ],
            };
            t.add_row(row);
        }
        let problem = s
            .workloads
            .iter()
            .find(|w| w.kernel() == Kernel::Julia)
            .map_or(String::new(), ToString::to_string);
        out.push_str(&format!("\nJulia {problem}\n{t}\n"));
    }
    if s.kernels.contains(&Kernel::Diffusion) && !s.sizes.is_empty() {
        let mut header = vec!["backend".to_string()];
        header.extend(s.sizes.iter().map(|n| format!("{n}²")));
        let mut t = table(&header);
        for b in s.backends.iter().filter(|b| !compilers::is_extra_row(b)) {
            let mut row = vec![b.clone()];
            row.extend(s.sizes.iter().map(|&n| {
                r.find(Kernel::Diffusion, b, Some(n))
                    .map_or(String::new(), compact)
            }));
            t.add_row(row);
        }
        out.push_str(&format!(
            "\nDiffusion x{} steps: median seconds (speed-up vs scalar, share of the \
             machine's compute (C) or memory (M) floor)\n{t}\n",
            s.steps
        ));
    }
    out.push_str(&compilers_table(r));
    let skipped: Vec<String> = r
        .measurements
        .iter()
        // The compiler table's own rows run under a small budget on purpose (it says so).
        .filter(|m| !compilers::is_extra_row(&m.backend))
        .filter_map(|m| match &m.outcome {
            Outcome::Skipped(sk) => Some(format!(
                "  {} {} {}: skipped (predicted {} s > budget {} s; --budget {} to include)\n",
                m.backend,
                m.kernel.as_str(),
                m.problem,
                secs(sk.predicted_seconds),
                secs(sk.budget_seconds),
                budget_hint(sk.predicted_seconds)
            )),
            Outcome::Measured(_) => None,
        })
        .collect();
    if !skipped.is_empty() {
        out.push_str("\nSkipped by the time budget:\n");
        out.extend(skipped);
    }
    if !r.stress.is_empty() {
        let not_identical: Vec<String> = r
            .stress
            .iter()
            .filter(|x| x.verdict != Some(lancehead::agreement::Verdict::Identical))
            .map(|x| {
                format!(
                    "  {} {} {}: {}\n",
                    x.backend,
                    x.kernel.as_str(),
                    x.case,
                    markdown::verdict_short(x.verdict, &x.detail).trim_matches('*')
                )
            })
            .collect();
        out.push_str(&format!(
            "\nAgreement under stress: {} backend x case results, {} identical to scalar{}\n",
            r.stress.len(),
            r.stress.len() - not_identical.len(),
            if not_identical.is_empty() {
                ""
            } else {
                "; the others:"
            }
        ));
        out.extend(not_identical);
    }
    let failures = &r.counter_failures;
    if !r.counters.is_empty() || !failures.is_empty() {
        out.push_str(&format!(
            "\nInstruction counts ({} counted, {} not; see {}): {}\n",
            r.counters.len(),
            failures.len(),
            report::MARKDOWN,
            s.counters
        ));
    }
    out.push_str(&format!("\nThe run took {:.0} s.\n", r.seconds));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_hint_includes_the_cell() {
        assert_eq!(budget_hint(97.3), 120.0);
        assert_eq!(budget_hint(21.0), 30.0);
        assert!(budget_hint(45.6) >= 45.6);
    }
}
