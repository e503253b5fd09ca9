//! A distributed Julia set: rows dealt out round-robin, counts written by each rank at their
//! offsets, or gathered on rank 0 for a picture.
//!
//! The set is uneven (rows through its middle cost hundreds of iterations per pixel, rows at
//! the edge a few), so contiguous blocks of rows would leave the ranks with the edges idle.
//! Dealing rows round-robin — row `j` to rank `j % ranks` — gives every rank rows from every
//! part of the image. The coordinates come from the one `JuliaParams` every rank builds from
//! the same arguments, so each row is computed from exactly the values `scalar` uses.

use std::path::Path;
use std::time::Instant;

use ndarray::Array2;
use rayon::prelude::*;

use crate::backend::rows::RowKernels;
use crate::error::{Error, Result};
use crate::mpi::Mpi;
use crate::mpi::npy::ParallelNpy;
use crate::mpi::slab::Threads;
use crate::mpi::world::World;
use crate::problem::JuliaParams;

/// The rows of rank `rank` of `ranks`, round-robin.
pub fn rows_of(height: usize, rank: usize, ranks: usize) -> impl Iterator<Item = usize> {
    (rank..height).step_by(ranks)
}

/// The outcome of a distributed Julia run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ranks: usize,
    /// This rank's computing time, from a barrier before (seconds).
    pub compute: f64,
    /// The whole computation, from a barrier before to a barrier after (seconds).
    pub seconds: f64,
    /// Writing this rank's rows of the output file (seconds).
    pub write: f64,
    /// The sum of all counts (rank 0; `None` elsewhere), added as integers: exact.
    pub checksum: Option<u64>,
    /// The whole counts array, on rank 0, when asked for (`gather`).
    pub counts: Option<Array2<u32>>,
}

/// The Julia set of `params` over every rank of `world` with `backend`'s kernels, written to
/// `out` when given, gathered on rank 0 when `gather` (collective).
pub fn run(
    world: &World,
    backend: &Mpi,
    params: &JuliaParams,
    out: Option<(&Path, &'static str)>,
    gather: bool,
) -> Result<Outcome> {
    let (height, width) = params.shape();
    let (rank, ranks) = (world.rank(), world.size());
    let mine: Vec<usize> = rows_of(height, rank, ranks).collect();
    let mut counts: Vec<u32> = Vec::new();
    let fits = counts
        .try_reserve_exact(mine.len() * width)
        .map_err(|_| Error::OutOfMemory {
            what: "Julia rows of one rank",
            shape: (mine.len(), width),
            bytes: mine.len() as u128 * width as u128 * 4,
        });
    world.agree(fits)?;
    counts.resize(mine.len() * width, 0);

    world.barrier();
    let t = Instant::now();
    let kernels = backend.kernels();
    match backend.threads() {
        Threads::One => {
            for (&row, out) in mine.iter().zip(counts.chunks_exact_mut(width)) {
                kernels.julia_rows(params, row, out);
            }
        }
        Threads::Pool => mine
            .par_iter()
            .zip(counts.par_chunks_exact_mut(width))
            .for_each(|(&row, out)| kernels.julia_rows(params, row, out)),
    }
    let compute = t.elapsed().as_secs_f64();
    world.barrier();
    let seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    if let Some((path, arg)) = out {
        let file = ParallelNpy::create::<u32>(world, path, arg, params.shape())?;
        let written = mine
            .iter()
            .zip(counts.chunks_exact(width))
            .try_for_each(|(&row, values)| file.write_rows(row, values));
        file.commit(world, written)?;
    }
    let write = t.elapsed().as_secs_f64();

    let sum: u64 = counts.iter().map(|&n| u64::from(n)).sum();
    let checksum = world
        .gather_varcount(&[sum])
        .map(|sums| sums.iter().flatten().sum());
    let counts = if gather {
        gather_counts(world, params, &counts)?
    } else {
        None
    };
    Ok(Outcome {
        ranks,
        compute,
        seconds,
        write,
        checksum,
        counts,
    })
}

/// Every rank's rows put together on rank 0 (collective).
fn gather_counts(world: &World, params: &JuliaParams, mine: &[u32]) -> Result<Option<Array2<u32>>> {
    let (height, width) = params.shape();
    let fits = if mine.len() > i32::MAX as usize {
        Err(Error::invalid(
            "height",
            height,
            "an image whose rows on one rank number fewer than 2^31 counts, to gather it",
        ))
    } else {
        Ok(())
    };
    world.agree(fits)?;
    let all = world.agree(if world.is_root() {
        params.new_counts().map(Some)
    } else {
        Ok(None)
    })?;
    let Some(parts) = world.gather_varcount(mine) else {
        return Ok(None);
    };
    let mut all = all.expect("rank 0 allocated the whole image");
    let data = all.as_slice_mut().expect("a new array is contiguous");
    for (rank, part) in parts.iter().enumerate() {
        for (row, values) in rows_of(height, rank, world.size()).zip(part.chunks_exact(width)) {
            data[row * width..(row + 1) * width].copy_from_slice(values);
        }
    }
    Ok(Some(all))
}
