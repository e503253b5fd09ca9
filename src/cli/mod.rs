//! The `lancehead` command line (SPEC §4).

mod compare;
#[cfg(feature = "mpi")]
mod mpi;
pub mod output;
mod overflow;
mod parse;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::error::{ContextKind, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use lancehead::error::{echo, number};
use lancehead::harness::counters;
use lancehead::io::picture::{self, JuliaPalette};
use lancehead::io::{atomic, npy};
use lancehead::problem::{diffusion, julia};
use lancehead::workload::{Init, Prepared};
use lancehead::{DiffusionParams, Error, JuliaParams, Kernel, Region, Workload, registry};

use output::{json_number, say, warn};

#[derive(Parser)]
#[command(
    name = "lancehead",
    version,
    about = "The Julia set and 2D diffusion from High Performance Python, one trait, many backends"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the backends compiled in, whether each can run here, and why not.
    Backends {
        /// Print a JSON array, one object per backend compiled in.
        #[arg(long)]
        json: bool,
    },
    /// Compute the Julia set (book defaults: 1000x1000, c = -0.62772-0.42193i, 300 iterations).
    Julia(JuliaArgs),
    /// Run 2D diffusion (book defaults: 1024x1024, 500 steps, dt = 0.1, d = 1).
    Diffusion(DiffusionArgs),
    /// Measure every backend side by side against this machine's limits: agreement with
    /// scalar, speed, instruction counts, allocations; writes Markdown, CSV, JSON and plots.
    Compare(compare::CompareArgs),
    /// Strong and weak scaling of an MPI backend against its inner backend alone (run it
    /// under `mpirun -np N`).
    #[cfg(feature = "mpi")]
    Scaling(mpi::ScalingArgs),
    /// One counted kernel call: the child process of `compare`'s instruction counts.
    #[command(name = counters::CHILD_COMMAND, hide = true)]
    CountedKernel(compare::ChildArgs),
}

#[derive(Args)]
struct JuliaArgs {
    /// Backend to run (see `lancehead backends`).
    #[arg(long, default_value = "scalar")]
    backend: String,
    /// Image width in pixels.
    #[arg(long, default_value_t = julia::BOOK_SIZE, value_parser = parse::positive,
          allow_hyphen_values = true)]
    width: usize,
    /// Image height in pixels.
    #[arg(long, default_value_t = julia::BOOK_SIZE, value_parser = parse::positive,
          allow_hyphen_values = true)]
    height: usize,
    /// Iteration limit per pixel.
    #[arg(long, default_value_t = julia::BOOK_MAX_ITER, value_parser = parse::count,
          allow_hyphen_values = true)]
    max_iter: u32,
    /// The constant c as RE,IM (e.g. `--c=-0.8,0.156` or `--c -0.8,0.156`).
    #[arg(long, value_name = "RE,IM", value_parser = parse::complex,
          default_value = "-0.62772,-0.42193", allow_hyphen_values = true)]
    c: (f64, f64),
    /// The sampled region X1,X2,Y1,Y2 (real axis X1..X2, imaginary axis Y1..Y2).
    #[arg(long, value_name = "X1,X2,Y1,Y2", value_parser = parse::region,
          default_value = "-1.8,1.8,-1.8,1.8", allow_hyphen_values = true)]
    region: Region,
    /// Write the counts as a .npy file (<u4, height x width).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write a picture of the counts as PNG.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// The picture's rendering: the book's Figure 2-1 (false-gray) or Figure 2-3 (linear).
    #[arg(long, value_enum, default_value = "false-gray")]
    palette: Palette,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `--palette`: the flag's spelling of [`JuliaPalette`] (the library knows no flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Palette {
    /// The book's Figure 2-1: counts banded over the RGB bytes.
    FalseGray,
    /// The book's Figure 2-3: counts scaled linearly to gray.
    Linear,
}

impl From<Palette> for JuliaPalette {
    fn from(palette: Palette) -> Self {
        match palette {
            Palette::FalseGray => JuliaPalette::FalseGray,
            Palette::Linear => JuliaPalette::Linear,
        }
    }
}

#[derive(Args)]
struct DiffusionArgs {
    /// Backend to run (see `lancehead backends`).
    #[arg(long, default_value = "scalar")]
    backend: String,
    /// A square grid of N x N cells (default 1024, the book's grid_shape).
    #[arg(long, value_name = "N", value_parser = parse::positive, conflicts_with = "shape",
          allow_hyphen_values = true)]
    size: Option<usize>,
    /// A grid of ROWS x COLS cells.
    #[arg(long, value_name = "ROWSxCOLS", value_parser = parse::shape, allow_hyphen_values = true)]
    shape: Option<(usize, usize)>,
    /// Number of time steps.
    #[arg(long, default_value_t = diffusion::BOOK_STEPS, value_parser = parse::count,
          allow_hyphen_values = true)]
    steps: u32,
    /// Time step (d*dt must be <= 0.25).
    #[arg(long, default_value_t = diffusion::BOOK_DT, value_parser = parse::positive_finite,
          allow_hyphen_values = true)]
    dt: f64,
    /// Diffusion coefficient (d*dt must be <= 0.25).
    #[arg(long, default_value_t = diffusion::BOOK_D, value_parser = parse::positive_finite,
          allow_hyphen_values = true)]
    d: f64,
    /// Initial grid: `book` (the book's hot square) or a 2D float64 .npy file, whose shape
    /// is then the grid's.
    #[arg(long, value_name = "book|FILE.npy", default_value = "book")]
    init: String,
    /// Write the final grid as a .npy file (<f8).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write a heat map of the final grid as PNG.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// How a run ended early: the one-line message (none: end quietly) and the exit code.
pub struct Failure {
    pub message: Option<String>,
    pub code: u8,
}

impl Failure {
    /// A malformed command line (exit 2, like clap's own errors).
    fn usage(message: String) -> Self {
        Failure {
            message: Some(message),
            code: 2,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        // Two outputs on one path is a malformed command line, found once paths are resolved.
        let code = if matches!(e, Error::SameOutput { .. }) {
            2
        } else {
            1
        };
        Failure {
            message: Some(e.to_string()),
            code,
        }
    }
}

/// Parses the command line and runs it.
pub fn run() -> Result<(), Failure> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap prints them and they are no error; a closed stdout
            // is no error either (see `output::say`).
            let _ = e.print();
            return Ok(());
        }
        Err(e) => {
            // Under an MPI launcher every rank parses the same command line and finds the same
            // mistake: one of them says it.
            #[cfg(feature = "mpi")]
            if lancehead::mpi::launcher_rank().is_some_and(|rank| rank != 0) {
                return Err(Failure {
                    message: None,
                    code: 2,
                });
            }
            return Err(Failure::usage(usage_error(&e)));
        }
    };
    match cli.command {
        Command::Backends { json } => backends(json),
        #[cfg(feature = "mpi")]
        Command::Julia(args) if mpi::wanted(&args.backend) => mpi::julia(args),
        #[cfg(feature = "mpi")]
        Command::Diffusion(args) if mpi::wanted(&args.backend) => mpi::diffusion(args),
        #[cfg(feature = "mpi")]
        Command::Scaling(args) => mpi::scaling(args),
        Command::Julia(args) => run_julia(args),
        Command::Diffusion(args) => run_diffusion(args),
        Command::Compare(args) => compare::run(args),
        Command::CountedKernel(args) => compare::child(args),
    }
}

/// One line for a clap error: what is wrong, naming the flag and echoing the user's value
/// through [`echo`], without clap's usage block.
fn usage_error(e: &clap::Error) -> String {
    let context = |kind| e.get(kind).map(|v| v.to_string());
    // "--max-iter <MAX_ITER>" -> "--max-iter".
    let flag = context(ContextKind::InvalidArg)
        .map(|a| a.split_whitespace().next().unwrap_or_default().to_string());
    let value = context(ContextKind::InvalidValue).map(|v| echo(&v));
    match (e.kind(), flag, value) {
        (
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand,
            ..,
        ) => {
            format!(
                "a subcommand is needed: one of {} (see `lancehead --help`)",
                subcommands().join(", ")
            )
        }
        (ErrorKind::InvalidSubcommand, ..) => format!(
            "unknown subcommand '{}'; the subcommands are {}",
            context(ContextKind::InvalidSubcommand)
                .map(|s| echo(&s))
                .unwrap_or_default(),
            subcommands().join(", ")
        ),
        (ErrorKind::ValueValidation, Some(flag), Some(value)) => {
            let why = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "not accepted".into());
            format!("invalid value '{value}' for {flag}: {}", echo(&why))
        }
        (ErrorKind::InvalidValue, Some(flag), Some(value)) => {
            match context(ContextKind::ValidValue) {
                Some(valid) => {
                    format!("invalid value '{value}' for {flag}: expected one of {valid}")
                }
                None => format!("a value is required for {flag}"),
            }
        }
        (ErrorKind::UnknownArgument, Some(flag), _) => {
            let tip = context(ContextKind::SuggestedArg)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            format!("unexpected argument '{}'{tip}", echo(&flag))
        }
        _ => {
            // clap's first paragraph (what is wrong) as one line, echoed like user input
            // because it quotes the user's words.
            let text = e.to_string();
            let paragraph: Vec<&str> = text
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            echo(paragraph.join(" ").trim_start_matches("error: "))
        }
    }
}

/// The names of the visible subcommands.
fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect()
}

fn backends(json: bool) -> Result<(), Failure> {
    let probes = registry::probe_all();
    if json {
        let list: Vec<Value> = probes
            .iter()
            .map(|p| {
                let details: serde_json::Map<String, Value> = p
                    .backend
                    .as_ref()
                    .map(|b| b.details())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v)))
                    .collect();
                json!({
                    "name": p.info.name,
                    "available": p.backend.is_ok(),
                    "reason": p.backend.as_ref().err(),
                    "feature": p.info.feature,
                    "strategy": p.info.strategy,
                    "book_analogue": p.info.book_analogue,
                    "agreement": {
                        "julia": agreement(p, Kernel::Julia),
                        "diffusion": agreement(p, Kernel::Diffusion),
                    },
                    "details": details,
                })
            })
            .collect();
        return say(Value::Array(list));
    }
    let mut table = format!(
        "{:<15} {:<12} {:<10} details",
        "backend", "feature", "status"
    );
    for p in &probes {
        let (status, details) = match &p.backend {
            Ok(b) => {
                let d: Vec<String> = b
                    .details()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                ("available", d.join(", "))
            }
            Err(reason) => ("missing", reason.clone()),
        };
        let feature = p.info.feature.unwrap_or("(always)");
        table += &format!("\n{:<15} {feature:<12} {status:<10} {details}", p.info.name);
    }
    for info in registry::KNOWN {
        if !probes.iter().any(|p| p.info.name == info.name) {
            let feature = info.feature.unwrap_or("(always)");
            table += &format!(
                "\n{:<15} {feature:<12} {:<10} rebuild with --features {feature}",
                info.name, "not built"
            );
        }
    }
    say(table)
}

/// The class of a probed backend: its instance's when it runs here, else the registry's.
fn agreement(probe: &registry::Probe, kernel: Kernel) -> registry::Agreement {
    match &probe.backend {
        Ok(backend) => backend.agreement(kernel),
        Err(_) => probe.info.agreement(kernel),
    }
}

/// The `--out` and `--png` paths that were given, as `(flag, path)`.
fn outputs<'a>(
    out: &'a Option<PathBuf>,
    png: &'a Option<PathBuf>,
) -> Vec<(&'static str, &'a Path)> {
    [("--out", out), ("--png", png)]
        .into_iter()
        .filter_map(|(flag, path)| Some((flag, path.as_deref()?)))
        .collect()
}

/// `re+imi` with both parts in shortest form.
fn complex_text((re, im): (f64, f64)) -> String {
    let sign = if im.is_sign_negative() { "" } else { "+" };
    format!("{}{sign}{}i", number(re), number(im))
}

fn run_julia(a: JuliaArgs) -> Result<(), Failure> {
    let params = JuliaParams::new(a.width, a.height, a.region, a.c, a.max_iter)?;
    let backend = registry::create(&a.backend)?;
    // Outputs are checked before the kernel runs: a refused path costs no computation.
    atomic::check_outputs(&outputs(&a.out, &a.png))?;
    let mut run = Workload::from(&params).prepare()?;

    let start = Instant::now();
    run.call(&*backend)?;
    let seconds = start.elapsed().as_secs_f64();

    let checksum = run.updates();
    let counts = run.into_counts().expect("a Julia workload");
    atomic::commit_all(
        [
            a.out
                .as_deref()
                .map(|p| npy::stage(p, "--out", counts.view())),
            a.png
                .as_deref()
                .map(|p| picture::stage_julia(p, "--png", counts.view(), a.palette.into())),
        ]
        .into_iter()
        .flatten(),
    )?;

    let Region { x1, x2, y1, y2 } = params.region();
    if a.json {
        say(json!({
            "kernel": "julia",
            "backend": backend.name(),
            "seconds": seconds,
            "checksum": checksum,
            "width": params.width(),
            "height": params.height(),
            "shape": [params.height(), params.width()],
            "max_iter": params.max_iter(),
            "c": [params.c().0, params.c().1],
            "region": [x1, x2, y1, y2],
        }))
    } else {
        say(format!(
            "julia {}x{} max_iter={} c={} on {}: {:.6} s, sum of counts {}",
            params.width(),
            params.height(),
            params.max_iter(),
            complex_text(params.c()),
            backend.name(),
            seconds,
            checksum
        ))
    }
}

impl DiffusionArgs {
    /// The grid's shape: `--shape` or `--size` (default 1024 x 1024), or the `--init` file's
    /// shape `file`, which a `--shape` or `--size` given as well must match.
    fn grid_shape(&self, file: Option<(usize, usize)>) -> Result<(usize, usize), Error> {
        let requested = self.shape.or(self.size.map(|n| (n, n)));
        match (file, requested) {
            (None, requested) => Ok(requested.unwrap_or((1024, 1024))),
            (Some(file), Some(want)) if want != file => Err(Error::invalid(
                if self.shape.is_some() {
                    "--shape"
                } else {
                    "--size"
                },
                format!("{}x{}", want.0, want.1),
                format!(
                    "the shape of the --init file, {}x{} (or leave it out)",
                    file.0, file.1
                ),
            )),
            (Some(file), _) => Ok(file),
        }
    }
}

fn run_diffusion(a: DiffusionArgs) -> Result<(), Failure> {
    let (init, shape) = if a.init == "book" {
        (None, a.grid_shape(None)?)
    } else {
        let grid = npy::read_grid(a.init.as_ref(), "--init")?;
        let shape = a.grid_shape(Some(grid.dim()))?;
        (Some(grid), shape)
    };
    let params = DiffusionParams::new(shape.0, shape.1, a.dt, a.d)?;
    let backend = registry::create(&a.backend)?;
    atomic::check_outputs(&outputs(&a.out, &a.png))?;
    // No copy of the initial grid is kept: the replay that locates an overflow makes or reads
    // it again (`Workload::initial_grid`).
    let (grid, source) = match init {
        Some(grid) => (grid, Init::File(PathBuf::from(&a.init))),
        None => (params.book_initial()?, Init::Book),
    };
    let mut run = Prepared::diffusion_from(params, grid, a.steps, source)?;

    let start = Instant::now();
    run.call(&*backend)?;
    let seconds = start.elapsed().as_secs_f64();
    let workload = run.workload().clone();
    let grid = run.into_grid().expect("a diffusion workload");

    let summary = overflow::Summary::of(grid.view());
    atomic::commit_all(
        [
            a.out
                .as_deref()
                .map(|p| npy::stage(p, "--out", grid.view())),
            a.png
                .as_deref()
                .map(|p| picture::stage_heat_map(p, "--png", grid.view())),
        ]
        .into_iter()
        .flatten(),
    )?;

    // Only a run that ended non-finite pays for finding where it began: a replay from the
    // initial grid, one step at a time (see `overflow`).
    let first_nonfinite_step = if summary.nonfinite_cells > 0 {
        let step = workload.initial_grid().and_then(|start| {
            let start = start.expect("a diffusion workload");
            let mut scratch = params.new_grid()?;
            overflow::first_nonfinite_step(start, scratch.view_mut(), a.steps, |g, s| {
                backend.evolve(&params, g, s, 1)
            })
        });
        warn(&summary.overflow_warning(a.steps, step.as_ref().ok().copied().flatten()));
        step.ok().flatten()
    } else {
        if !summary.checksum.is_finite() {
            warn(&summary.overflow_warning(a.steps, None));
        }
        None
    };

    if a.json {
        say(json!({
            "kernel": "diffusion",
            "backend": backend.name(),
            "seconds": seconds,
            "checksum": json_number(summary.checksum),
            "max": json_number(summary.max),
            "nonfinite_cells": summary.nonfinite_cells,
            "first_nonfinite_step": first_nonfinite_step,
            "rows": params.rows(),
            "cols": params.cols(),
            "shape": [params.rows(), params.cols()],
            "steps": a.steps,
            "dt": params.dt(),
            "d": params.d(),
            "init": a.init,
        }))
    } else {
        let cells = if summary.nonfinite_cells > 0 {
            format!(
                " ({} of {} cells inf or NaN)",
                summary.nonfinite_cells,
                grid.len()
            )
        } else {
            String::new()
        };
        say(format!(
            "diffusion {}x{} x {} steps (dt={}, d={}) on {}: {:.6} s, sum {}, max {}{cells}",
            params.rows(),
            params.cols(),
            a.steps,
            number(params.dt()),
            number(params.d()),
            backend.name(),
            seconds,
            number(summary.checksum),
            number(summary.max),
        ))
    }
}
