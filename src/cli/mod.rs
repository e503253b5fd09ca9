//! The `lancehead` command line (SPEC §4).

mod compare;
#[cfg(feature = "mpi")]
mod mpi;
mod parse;

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use lancehead::harness::counters;
use lancehead::io::picture::{self, JuliaPalette};
use lancehead::io::{atomic, npy};
use lancehead::problem::{diffusion, julia};
use lancehead::{DiffusionParams, Error, JuliaParams, Kernel, Region, registry};

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
    #[arg(long, default_value_t = julia::BOOK_SIZE, value_parser = parse::positive)]
    width: usize,
    /// Image height in pixels.
    #[arg(long, default_value_t = julia::BOOK_SIZE, value_parser = parse::positive)]
    height: usize,
    /// Iteration limit per pixel.
    #[arg(long, default_value_t = julia::BOOK_MAX_ITER, value_parser = parse::count)]
    max_iter: u32,
    /// The constant c as RE,IM (give negative values with `=`: `--c=-0.8,0.156`).
    #[arg(long, value_name = "RE,IM", value_parser = parse::complex,
          default_value = "-0.62772,-0.42193")]
    c: (f64, f64),
    /// The sampled region X1,X2,Y1,Y2 (real axis X1..X2, imaginary axis Y1..Y2).
    #[arg(long, value_name = "X1,X2,Y1,Y2", value_parser = parse::region,
          default_value = "-1.8,1.8,-1.8,1.8")]
    region: Region,
    /// Write the counts as a .npy file (<u4, height x width).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write a picture of the counts as PNG.
    #[arg(long, value_name = "FILE")]
    png: Option<PathBuf>,
    /// The picture's rendering: the book's Figure 2-1 (false-gray) or Figure 2-3 (linear).
    #[arg(long, value_enum, default_value = "false-gray")]
    palette: JuliaPalette,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DiffusionArgs {
    /// Backend to run (see `lancehead backends`).
    #[arg(long, default_value = "scalar")]
    backend: String,
    /// A square grid of N x N cells (default 1024, the book's grid_shape).
    #[arg(long, value_name = "N", value_parser = parse::positive, conflicts_with = "shape")]
    size: Option<usize>,
    /// A grid of ROWS x COLS cells.
    #[arg(long, value_name = "ROWSxCOLS", value_parser = parse::shape)]
    shape: Option<(usize, usize)>,
    /// Number of time steps.
    #[arg(long, default_value_t = diffusion::BOOK_STEPS, value_parser = parse::count)]
    steps: u32,
    /// Time step (d*dt must be <= 0.25).
    #[arg(long, default_value_t = diffusion::BOOK_DT, value_parser = parse::finite)]
    dt: f64,
    /// Diffusion coefficient (d*dt must be <= 0.25).
    #[arg(long, default_value_t = diffusion::BOOK_D, value_parser = parse::finite)]
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

/// How a run failed: the one-line message and the exit code.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

/// Parses the command line and runs it.
pub fn run() -> Result<(), Failure> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap prints them and they are no error.
            let _ = e.print();
            return Ok(());
        }
        Err(e) => {
            // clap's errors come with a usage block; keep the first paragraph (what is wrong,
            // and the possible values when it lists them) as one line.
            let text = e.to_string();
            let paragraph: Vec<&str> = text
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            return Err(Failure {
                message: paragraph
                    .join(" ")
                    .trim_start_matches("error: ")
                    .to_string(),
                code: 2,
            });
        }
    };
    match cli.command {
        Command::Backends { json } => backends(json),
        #[cfg(feature = "mpi")]
        Command::Julia(args) if mpi::wanted(&args.backend) => mpi::julia(args)?,
        #[cfg(feature = "mpi")]
        Command::Diffusion(args) if mpi::wanted(&args.backend) => mpi::diffusion(args)?,
        #[cfg(feature = "mpi")]
        Command::Scaling(args) => mpi::scaling(args)?,
        Command::Julia(args) => run_julia(args)?,
        Command::Diffusion(args) => run_diffusion(args)?,
        Command::Compare(args) => compare::run(args)?,
        Command::CountedKernel(args) => compare::child(args)?,
    }
    Ok(())
}

fn backends(json: bool) {
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
        println!("{}", Value::Array(list));
        return;
    }
    println!(
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
        println!("{:<15} {feature:<12} {status:<10} {details}", p.info.name);
    }
    for info in registry::KNOWN {
        if !probes.iter().any(|p| p.info.name == info.name) {
            let feature = info.feature.unwrap_or("(always)");
            println!(
                "{:<15} {feature:<12} {:<10} rebuild with --features {feature}",
                info.name, "not built"
            );
        }
    }
}

/// The class of a probed backend: its instance's when it runs here, else the registry's.
fn agreement(probe: &registry::Probe, kernel: Kernel) -> registry::Agreement {
    match &probe.backend {
        Ok(backend) => backend.agreement(kernel),
        Err(_) => probe.info.agreement(kernel),
    }
}

fn run_julia(a: JuliaArgs) -> Result<(), Error> {
    let params = JuliaParams::new(a.width, a.height, a.region, a.c, a.max_iter)?;
    let backend = registry::create(&a.backend)?;
    let mut counts = params.new_counts()?;

    let start = Instant::now();
    backend.julia(&params, counts.view_mut())?;
    let seconds = start.elapsed().as_secs_f64();

    let checksum = julia::checksum(counts.view());
    atomic::commit_all(
        [
            a.out
                .as_deref()
                .map(|p| npy::stage(p, "--out", counts.view())),
            a.png
                .as_deref()
                .map(|p| picture::stage_julia(p, "--png", counts.view(), a.palette)),
        ]
        .into_iter()
        .flatten(),
    )?;

    let Region { x1, x2, y1, y2 } = params.region();
    if a.json {
        let report = json!({
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
        });
        println!("{report}");
    } else {
        println!(
            "julia {}x{} max_iter={} c={}{:+}i on {}: {:.6} s, sum of counts {}",
            params.width(),
            params.height(),
            params.max_iter(),
            params.c().0,
            params.c().1,
            backend.name(),
            seconds,
            checksum
        );
    }
    Ok(())
}

fn run_diffusion(a: DiffusionArgs) -> Result<(), Error> {
    let requested = a.shape.or(a.size.map(|n| (n, n)));
    let (init, shape) = if a.init == "book" {
        (None, requested.unwrap_or((1024, 1024)))
    } else {
        let grid = npy::read_grid(a.init.as_ref(), "--init")?;
        if let Some(want) = requested.filter(|&s| s != grid.dim()) {
            return Err(Error::invalid(
                if a.shape.is_some() {
                    "--shape"
                } else {
                    "--size"
                },
                format!("{}x{}", want.0, want.1),
                format!(
                    "the shape of the --init file, {}x{} (or leave it out)",
                    grid.nrows(),
                    grid.ncols()
                ),
            ));
        }
        let dim = grid.dim();
        (Some(grid), dim)
    };
    let params = DiffusionParams::new(shape.0, shape.1, a.dt, a.d)?;
    let backend = registry::create(&a.backend)?;
    let mut grid = match init {
        Some(grid) => grid,
        None => params.book_initial()?,
    };
    let mut scratch = params.new_grid()?;

    let start = Instant::now();
    backend.evolve(&params, grid.view_mut(), scratch.view_mut(), a.steps)?;
    let seconds = start.elapsed().as_secs_f64();

    let checksum = diffusion::checksum(grid.view());
    let max = grid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
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

    if a.json {
        let report = json!({
            "kernel": "diffusion",
            "backend": backend.name(),
            "seconds": seconds,
            "checksum": checksum,
            "max": max,
            "rows": params.rows(),
            "cols": params.cols(),
            "shape": [params.rows(), params.cols()],
            "steps": a.steps,
            "dt": params.dt(),
            "d": params.d(),
            "init": a.init,
        });
        println!("{report}");
    } else {
        println!(
            "diffusion {}x{} x {} steps (dt={}, d={}) on {}: {:.6} s, sum {:?}, max {:?}",
            params.rows(),
            params.cols(),
            a.steps,
            params.dt(),
            params.d(),
            backend.name(),
            seconds,
            checksum,
            max
        );
    }
    Ok(())
}

/// User text cut to a length an error message can echo.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}
