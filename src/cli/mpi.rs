//! The MPI backends on the command line: `julia` and `diffusion` with an `mpi:` backend run
//! distributed ([`lancehead::mpi::diffusion::run`], [`lancehead::mpi::julia::run`]), and
//! `lancehead scaling` measures strong and weak scaling against the inner backend alone.
//!
//! Every rank runs the same command; only rank 0 prints. An error that one rank finds is
//! agreed on by all before the next message (the library's `World::agree`), so every rank
//! exits non-zero; rank 0 prints the one line, the others exit quietly.

use std::path::Path;
use std::time::Instant;

use clap::Args;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use serde_json::json;

use super::output;
use lancehead::harness::machine::peak_rss;
use lancehead::mpi::diffusion::{self as distributed, RankRun, Start};
use lancehead::mpi::slab::Threads;
use lancehead::mpi::{self, Mpi, World};
use lancehead::{DiffusionParams, Error, JuliaParams, Region, registry};

use super::{DiffusionArgs, Failure, JuliaArgs};

/// Whether `backend` names an MPI backend (run distributed).
pub fn wanted(backend: &str) -> bool {
    backend.starts_with("mpi:")
}

/// Runs `body` on this rank's world and finalises MPI. Rank 0 prints the failure's one line
/// before the closing barrier; every rank then exits with its code.
fn on_world(body: impl FnOnce(&World) -> Result<(), Error>) -> Result<(), Failure> {
    let failure = match mpi::world() {
        Ok(world) => {
            // The line is written before the barrier: once any rank passes it and exits
            // non-zero, mpirun may kill rank 0, and a line not yet written would be lost.
            let failure = body(&world).err().map(|e| {
                let Failure { message, code } = Failure::from(e);
                if let Some(message) = message.filter(|_| world.is_root()) {
                    output::to_stderr("error", message);
                }
                Failure {
                    message: None,
                    code,
                }
            });
            // Every rank done with the run before any finalises (every path out of `body`
            // is reached by all ranks alike: errors are agreed on).
            world.barrier();
            failure
        }
        Err(e) => Some(Failure::from(e)),
    };
    mpi::finalize();
    failure.map_or(Ok(()), Err)
}

/// The MPI backend `name` (one of the registry's `mpi:` entries).
fn backend(name: &str) -> Result<Mpi, Error> {
    let threads = match name {
        "mpi:simd" => Threads::One,
        "mpi:simd-wavefront" => Threads::Pool,
        _ => {
            return Err(Error::UnknownBackend {
                name: name.to_string(),
                known: registry::KNOWN
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    Mpi::new(
        registry::info(name).expect("a registry entry").name,
        threads,
    )
}

/// Says once, on rank 0, that a run outside an MPI launcher is a world of one.
fn note_ranks(world: &World, name: &str, rows: usize) {
    if !world.is_root() {
        return;
    }
    if !mpi::launched() {
        output::to_stderr(
            "note",
            format_args!(
                "{name} runs as 1 rank: not started by an MPI launcher (mpirun -np N, srun)"
            ),
        );
    }
    if world.size() > rows {
        output::to_stderr(
            "note",
            format_args!(
                "{} ranks for {rows} rows: {} rank(s) hold no row and idle",
                world.size(),
                world.size() - rows
            ),
        );
    }
}

/// What rank 0 reports of every rank.
#[derive(serde::Serialize, serde::Deserialize)]
struct RankRecord {
    #[serde(flatten)]
    run: RankRun,
    peak_rss_bytes: Option<u64>,
}

/// `lancehead diffusion --backend mpi:...`.
pub fn diffusion(a: DiffusionArgs) -> Result<(), Failure> {
    on_world(|world| {
        if let Some(png) = &a.png {
            return Err(Error::invalid(
                "--png",
                png.display().to_string(),
                "no picture with an MPI backend: no rank holds the whole grid; write --out \
                 and draw it from the file",
            ));
        }
        let backend = backend(&a.backend)?;
        let start = if a.init == "book" {
            Start::Book
        } else {
            Start::File {
                path: Path::new(&a.init),
                arg: "--init",
            }
        };
        let shape = a.grid_shape(distributed::start_shape(world, start)?)?;
        let params = DiffusionParams::new(shape.0, shape.1, a.dt, a.d)?;
        note_ranks(world, &a.backend, params.rows());
        let out = a.out.as_deref().map(|p| (p, "--out"));
        let outcome = distributed::run(world, &backend, &params, a.steps, start, out, None)?;
        let records = world.gather(&RankRecord {
            run: outcome.mine.clone(),
            peak_rss_bytes: peak_rss(),
        });
        let Some(records) = records else {
            return Ok(());
        };
        let checksum = outcome.checksum.expect("rank 0 has the checksum");
        let max = outcome.max.expect("rank 0 has the max");
        let seconds = records.iter().map(|r| r.run.seconds).fold(0.0, f64::max);
        let most = |f: fn(&RankRun) -> f64| records.iter().map(|r| f(&r.run)).fold(0.0, f64::max);
        if a.json {
            let report = json!({
                "kernel": "diffusion",
                "backend": backend_name(&backend),
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
                "ranks": outcome.ranks,
                "halo_depth": outcome.halo,
                "threads_per_rank": backend.rank_threads(),
                // The slowest rank's figure of each: the run waits for it.
                "time": {
                    "compute": most(|r| r.times.compute),
                    "halo_exchange": most(|r| r.times.exchange),
                    "io": most(|r| r.read + r.write),
                },
                "per_rank": records,
            });
            println!("{report}");
        } else {
            println!(
                "diffusion {}x{} x {} steps (dt={}, d={}) on {} over {} rank(s), halo depth {}: \
                 {:.6} s, sum {:?}, max {:?}",
                params.rows(),
                params.cols(),
                a.steps,
                params.dt(),
                params.d(),
                backend_name(&backend),
                outcome.ranks,
                outcome.halo,
                seconds,
                checksum,
                max
            );
            for r in &records {
                println!(
                    "  rank {:>3}: rows {:>7}..{:<7} compute {:.3} s, halo exchange {:.3} s, \
                     io {:.3} s, peak RSS {}",
                    r.run.rank,
                    r.run.rows.0,
                    r.run.rows.1,
                    r.run.times.compute,
                    r.run.times.exchange,
                    r.run.read + r.run.write,
                    r.peak_rss_bytes
                        .map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
                );
            }
        }
        Ok(())
    })
}

fn backend_name(backend: &Mpi) -> &'static str {
    lancehead::Backend::name(backend)
}

/// `lancehead julia --backend mpi:...`.
pub fn julia(a: JuliaArgs) -> Result<(), Failure> {
    on_world(|world| {
        let params = JuliaParams::new(a.width, a.height, a.region, a.c, a.max_iter)?;
        let backend = backend(&a.backend)?;
        note_ranks(world, &a.backend, params.height());
        let out = a.out.as_deref().map(|p| (p, "--out"));
        let outcome = mpi::julia::run(world, &backend, &params, out, a.png.is_some())?;
        let peak: Vec<Option<u64>> = world.gather(&peak_rss()).unwrap_or_default();
        if let (Some(png), Some(counts)) = (&a.png, &outcome.counts) {
            lancehead::io::picture::stage_julia(png, "--png", counts.view(), a.palette.into())?
                .commit()?;
        }
        let Some(checksum) = outcome.checksum else {
            return Ok(());
        };
        let Region { x1, x2, y1, y2 } = params.region();
        if a.json {
            let report = json!({
                "kernel": "julia",
                "backend": backend_name(&backend),
                "seconds": outcome.seconds,
                "checksum": checksum,
                "width": params.width(),
                "height": params.height(),
                "shape": [params.height(), params.width()],
                "max_iter": params.max_iter(),
                "c": [params.c().0, params.c().1],
                "region": [x1, x2, y1, y2],
                "ranks": outcome.ranks,
                "time": { "compute": outcome.compute, "io": outcome.write },
                "per_rank": peak.iter().enumerate()
                    .map(|(rank, rss)| json!({"rank": rank, "peak_rss_bytes": rss}))
                    .collect::<Vec<_>>(),
            });
            println!("{report}");
        } else {
            println!(
                "julia {}x{} max_iter={} c={}{:+}i on {} over {} rank(s): {:.6} s, sum of counts {}",
                params.width(),
                params.height(),
                params.max_iter(),
                params.c().0,
                params.c().1,
                backend_name(&backend),
                outcome.ranks,
                outcome.seconds,
                checksum
            );
        }
        Ok(())
    })
}

#[derive(Args)]
pub struct ScalingArgs {
    /// The MPI backend to measure (its inner backend alone is the baseline).
    #[arg(long, default_value = "mpi:simd")]
    backend: String,
    /// The strong-scaling grid, and each rank's share of the weak-scaling grid (ROWSxCOLS).
    #[arg(long, value_name = "ROWSxCOLS", value_parser = super::parse::shape,
          default_value = "2048x2048")]
    shape: (usize, usize),
    /// Steps per run.
    #[arg(long, default_value_t = 100, value_parser = super::parse::positive_count)]
    steps: u32,
    /// Timed runs per cell (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = super::parse::positive_count)]
    repeat: u32,
    /// Steps per halo exchange (default: chosen from the grid's width; the result is the
    /// same bits whatever the depth).
    #[arg(long, value_parser = super::parse::positive)]
    halo_depth: Option<usize>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

/// One measured cell of a scaling table.
#[derive(Debug, Clone, serde::Serialize)]
struct Cell_ {
    ranks: usize,
    rows: usize,
    cols: usize,
    seconds: f64,
    compute: f64,
    halo_exchange: f64,
    /// The inner backend's time alone (scaled to the grid, for weak scaling) over this one.
    speedup: f64,
    /// `speedup / ranks`.
    efficiency: f64,
    /// The MPI backend's own parallel efficiency: its 1-rank time (scaled to the grid) over
    /// `ranks` times this one.
    efficiency_vs_1_rank: f64,
}

/// `lancehead scaling`: the inner backend alone on rank 0, then the MPI backend on 1, 2, ...
/// of the job's ranks, on a fixed grid (strong scaling) and on a grid that grows with the
/// ranks (weak scaling).
pub fn scaling(a: ScalingArgs) -> Result<(), Failure> {
    on_world(|world| {
        let backend = backend(&a.backend)?;
        let (rows, cols) = a.shape;
        let base = DiffusionParams::book(rows, cols)?;
        let inner = registry::create(backend.inner_name())?;
        let counts: Vec<usize> = (0..)
            .map(|i| 1usize << i)
            .take_while(|&p| p < world.size())
            .chain([world.size()])
            .collect();
        if world.is_root() && !mpi::launched() {
            output::to_stderr(
                "note",
                "scaling runs on 1 rank: not started by an MPI launcher \
                 (mpirun -np N lancehead scaling)",
            );
        }
        // The baseline: the inner backend on one process, the whole grid.
        let alone = if world.is_root() {
            let mut times = Vec::new();
            let init = base.book_initial()?;
            for _ in 0..a.repeat {
                let mut grid = init.clone();
                let mut scratch = base.new_grid()?;
                let t = Instant::now();
                inner.evolve(&base, grid.view_mut(), scratch.view_mut(), a.steps)?;
                times.push(t.elapsed().as_secs_f64());
            }
            median(times)
        } else {
            0.0
        };
        world.barrier();
        let mut strong = Vec::new();
        let mut weak = Vec::new();
        for &p in &counts {
            for (table, grid_rows) in [(&mut strong, rows), (&mut weak, rows * p)] {
                let params = DiffusionParams::book(grid_rows, cols)?;
                let sub = world.first(p);
                let mut runs = Vec::new();
                if let Some(sub) = &sub {
                    for _ in 0..a.repeat {
                        let o = distributed::run(
                            sub,
                            &backend,
                            &params,
                            a.steps,
                            Start::Book,
                            None,
                            a.halo_depth,
                        )?;
                        runs.push(o.mine);
                    }
                }
                world.barrier();
                if world.is_root() {
                    let seconds = median(runs.iter().map(|r| r.seconds).collect());
                    let ideal = alone * grid_rows as f64 / rows as f64;
                    let one_rank = table.first().map_or(seconds, |c: &Cell_| {
                        c.seconds * grid_rows as f64 / c.rows as f64
                    });
                    table.push(Cell_ {
                        ranks: p,
                        rows: grid_rows,
                        cols,
                        seconds,
                        compute: median(runs.iter().map(|r| r.times.compute).collect()),
                        halo_exchange: median(runs.iter().map(|r| r.times.exchange).collect()),
                        speedup: ideal / seconds,
                        efficiency: ideal / seconds / p as f64,
                        efficiency_vs_1_rank: one_rank / seconds / p as f64,
                    });
                }
            }
        }
        if !world.is_root() {
            return Ok(());
        }
        if a.json {
            println!(
                "{}",
                json!({
                    "backend": backend_name(&backend),
                    "inner": backend.inner_name(),
                    "threads_per_rank": backend.rank_threads(),
                    "ranks": world.size(),
                    "steps": a.steps,
                    "inner_seconds": alone,
                    "strong": strong,
                    "weak": weak,
                })
            );
            return Ok(());
        }
        println!(
            "{} ({} thread(s) per rank) against {} alone: {}x{} x {} steps, {:.4} s \
             (median of {})",
            backend_name(&backend),
            backend.rank_threads(),
            backend.inner_name(),
            rows,
            cols,
            a.steps,
            alone,
            a.repeat
        );
        for (title, cells) in [
            ("strong scaling (the same grid on more ranks)", &strong),
            ("weak scaling (each rank the same share)", &weak),
        ] {
            println!("\n{title}");
            println!("{}", scaling_table(cells));
        }
        Ok(())
    })
}

fn scaling_table(cells: &[Cell_]) -> Table {
    let mut t = Table::new();
    let header = [
        "ranks",
        "grid",
        "seconds",
        "compute",
        "halo exchange",
        "speed-up vs inner",
        "efficiency vs inner",
        "efficiency vs 1 rank",
    ];
    // Never wrapped: under mpirun stdout is no terminal, and a dynamic table shrinks to nothing.
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(Cell::new));
    for i in 0..header.len() {
        if let Some(column) = t.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    for c in cells {
        t.add_row(vec![
            c.ranks.to_string(),
            format!("{}x{}", c.rows, c.cols),
            format!("{:.4}", c.seconds),
            format!("{:.4}", c.compute),
            format!("{:.4}", c.halo_exchange),
            format!("{:.2}x", c.speedup),
            format!("{:.0} %", 100.0 * c.efficiency),
            format!("{:.0} %", 100.0 * c.efficiency_vs_1_rank),
        ]);
    }
    t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
