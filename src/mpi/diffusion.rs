//! A distributed diffusion run: each rank its slab with halos, from the book's initial rows
//! or its rows of a `.npy` file, to its rows of one `.npy` file.

use std::path::Path;
use std::time::Instant;

use ndarray::ArrayViewMut2;

use crate::error::Result;
use crate::mpi::halo::MpiHalos;
use crate::mpi::npy::{self, ParallelNpy};
use crate::mpi::slab::{self, PassTimes, Slab, Slabs};
use crate::mpi::world::World;
use crate::mpi::{Mpi, checksum, evolve_slab};
use crate::problem::DiffusionParams;

/// Where a distributed run starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// The book's hot square, each rank generating its own rows.
    Book,
    /// A 2D float64 `.npy` file (`arg` names it in errors), each rank reading its own rows.
    File { path: &'a Path, arg: &'static str },
}

/// The shape of the grid a run starts from: the file's, for a `.npy` start (collective only
/// in that every rank reads the same header and finds the same answer).
pub fn start_shape(world: &World, start: Start<'_>) -> Result<Option<(usize, usize)>> {
    world.agree(match start {
        Start::Book => Ok(None),
        Start::File { path, arg } => npy::read_layout(path, arg).map(|l| Some(l.shape)),
    })
}

/// What one rank did in a distributed run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RankRun {
    pub rank: usize,
    /// Its global rows.
    pub rows: (usize, usize),
    /// Reading or generating its initial rows (seconds).
    pub read: f64,
    /// The steps, from a barrier before to a barrier after (seconds).
    pub seconds: f64,
    /// Computing and exchanging within `seconds`.
    pub times: PassTimes,
    /// Writing its rows of the output file (seconds).
    pub write: f64,
}

/// The outcome of a distributed run, on every rank.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ranks: usize,
    /// Steps per exchange.
    pub halo: usize,
    pub mine: RankRun,
    /// numpy's pairwise sum of the whole final grid (rank 0; `None` elsewhere).
    pub checksum: Option<f64>,
    /// The largest value of the final grid (NaN ignored, as a sequential `f64::max` fold).
    pub max: Option<f64>,
}

/// `steps` steps of `params` over every rank of `world` with `backend`'s kernels, from
/// `start`, the final grid written to `out` when given (collective: every rank calls it with
/// the same arguments). A failure on any rank makes every rank return an error.
pub fn run(
    world: &World,
    backend: &Mpi,
    params: &DiffusionParams,
    steps: u32,
    start: Start<'_>,
    out: Option<(&Path, &'static str)>,
    halo: Option<usize>,
) -> Result<Outcome> {
    let (rows, cols) = params.shape();
    let slabs = Slabs::new(rows, world.size());
    let mine = slabs.range(world.rank());
    let halo = world.agree(slab::halo_depth(params, halo))?;
    let mut slab = world.agree(Slab::new(mine.len(), cols, halo))?;

    let t = Instant::now();
    let loaded = match start {
        Start::Book => {
            let view = ArrayViewMut2::from_shape((mine.len(), cols), slab.rows_mut())
                .expect("a slab holds whole rows");
            params.book_initial_rows(mine.start, view);
            Ok(())
        }
        Start::File { path, arg } => npy::read_layout(path, arg)
            .and_then(|layout| npy::read_rows(path, arg, &layout, mine.clone(), slab.rows_mut())),
    };
    world.agree(loaded)?;
    let read = t.elapsed().as_secs_f64();

    let mut times = PassTimes::default();
    world.barrier();
    let t = Instant::now();
    let halos = MpiHalos { world };
    evolve_slab(
        backend,
        params,
        &mut slab,
        slabs,
        world.rank(),
        steps,
        &halos,
        &mut times,
    );
    world.barrier();
    let seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    if let Some((path, arg)) = out {
        let file = ParallelNpy::create::<f64>(world, path, arg, params.shape())?;
        let written = file.write_rows(mine.start, slab.rows());
        file.commit(world, written)?;
    }
    let write = t.elapsed().as_secs_f64();

    let n = rows * cols;
    let checksum =
        checksum::distributed_sum(world, n, mine.start * cols..mine.end * cols, slab.rows());
    let local_max = slab
        .rows()
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let max = world.gather_varcount(&[local_max]).map(|all| {
        all.iter()
            .flatten()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    });
    Ok(Outcome {
        ranks: world.size(),
        halo,
        mine: RankRun {
            rank: world.rank(),
            rows: (mine.start, mine.end),
            read,
            seconds,
            times,
            write,
        },
        checksum,
        max,
    })
}
