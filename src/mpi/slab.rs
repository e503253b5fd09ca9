//! Rows dealt out to ranks, and one rank's slab with its halos: the passes of a distributed
//! diffusion run, built on the wavefront backend's temporal blocking.

use std::ops::Range;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::backend::rows::RowKernels;
use crate::backend::simd_wavefront::advance_local;
use crate::error::{Error, Result};
use crate::mpi::halo::{HaloPlan, Halos};
use crate::problem::DiffusionParams;

/// The deepest halo: steps between two exchanges, and of temporal blocking within a rank.
/// Measured (docs/mpi.md) with `lancehead scaling --halo-depth D`, 2048² x 48 steps, 2 ranks
/// of `mpi:simd` on a shared 2-core Zen 4, as a ratio to `simd` alone in the same run, two
/// rounds: depth 1 0.79 / 0.40, 2 0.66 / 0.37, 4 0.31 / 0.38, 8 0.29 / 0.22, 16 0.35 / 0.20.
/// 8 is as good as 16 within the noise, with half the `depth²` recomputed rows per edge.
pub const MAX_HALO: usize = 8;
/// Bytes the wavefront rings of one thread may take (as `simd-wavefront`: about a core's L2).
const RING_BUDGET: usize = 1024 * 1024;

/// The rows of a `rows`-row grid dealt out to `ranks` ranks in contiguous slabs, the first
/// `rows % ranks` one row longer. With more ranks than rows the last ranks get none and idle;
/// every rank computes the same split from the same two numbers, so they agree without a
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slabs {
    pub rows: usize,
    pub ranks: usize,
}

impl Slabs {
    pub fn new(rows: usize, ranks: usize) -> Self {
        assert!(rows >= 1 && ranks >= 1);
        Slabs { rows, ranks }
    }

    /// The global rows of rank `rank`.
    pub fn range(&self, rank: usize) -> Range<usize> {
        let (base, extra) = (self.rows / self.ranks, self.rows % self.ranks);
        let start = rank * base + rank.min(extra);
        start..start + base + usize::from(rank < extra)
    }

    /// The rank that owns global row `row`.
    pub fn owner(&self, row: usize) -> usize {
        let (base, extra) = (self.rows / self.ranks, self.rows % self.ranks);
        let long = extra * (base + 1);
        if row < long {
            row / (base + 1)
        } else {
            extra + (row - long) / base
        }
    }

    /// Ranks that own no row (more ranks than rows).
    pub fn idle(&self) -> usize {
        self.ranks.saturating_sub(self.rows)
    }
}

/// The halo depth for `params` over `slabs`: `requested`, or as deep as [`MAX_HALO`] and the
/// ring budget of a `cols`-wide row allow. The same on every rank (it depends on nothing
/// else), and the result does not depend on it: only the speed does.
pub fn halo_depth(params: &DiffusionParams, requested: Option<usize>) -> Result<usize> {
    match requested {
        Some(d) if (1..=64).contains(&d) => Ok(d),
        Some(d) => Err(Error::invalid("halo depth", d, "an integer from 1 to 64")),
        None => {
            let by_cache = RING_BUDGET / (3 * params.cols() * std::mem::size_of::<f64>()) + 1;
            Ok(by_cache.clamp(1, MAX_HALO))
        }
    }
}

/// How a rank computes its rows: one thread (`mpi:simd`) or bands on rayon's pool
/// (`mpi:simd-wavefront`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    One,
    Pool,
}

/// Where a rank's pass spent its time.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct PassTimes {
    /// Computing rows (seconds).
    pub compute: f64,
    /// Exchanging halos, not hidden behind computing (seconds).
    pub exchange: f64,
}

/// One rank's rows with `halo` ghost rows above and below, twice (source and destination of
/// a pass). Memory: `2 * (rows + 2 * halo) * cols * 8` bytes, the grid itself never.
pub struct Slab {
    pub cols: usize,
    /// The slab's own rows.
    pub rows: usize,
    pub halo: usize,
    src: Vec<f64>,
    dst: Vec<f64>,
}

impl Slab {
    /// A zeroed slab, allocated fallibly (a slab too large for this rank is an error, agreed
    /// on by every rank before any exchange).
    pub fn new(rows: usize, cols: usize, halo: usize) -> Result<Self> {
        let len = (rows + 2 * halo) as u128 * cols as u128;
        let too_big = || Error::OutOfMemory {
            what: "MPI slab with halos, twice",
            shape: (rows + 2 * halo, cols),
            bytes: 2 * len * 8,
        };
        let buffer = || -> Result<Vec<f64>> {
            let len = usize::try_from(len).map_err(|_| too_big())?;
            let mut v = Vec::new();
            v.try_reserve_exact(len).map_err(|_| too_big())?;
            v.resize(len, 0.0);
            Ok(v)
        };
        Ok(Slab {
            cols,
            rows,
            halo,
            src: buffer()?,
            dst: buffer()?,
        })
    }

    /// The slab's own rows of the current state, row-major.
    pub fn rows(&self) -> &[f64] {
        &self.src[self.halo * self.cols..(self.halo + self.rows) * self.cols]
    }

    /// The slab's own rows, to fill in the initial state.
    pub fn rows_mut(&mut self) -> &mut [f64] {
        &mut self.src[self.halo * self.cols..(self.halo + self.rows) * self.cols]
    }

    /// Advances the slab by `depth <= halo` steps: the halos of depth `depth` are exchanged
    /// (by `halos`, following `plan`) while the interior rows, whose cone lies inside the
    /// slab, are computed; then the rows near the edges, which need the halos.
    #[allow(clippy::too_many_arguments)]
    pub fn pass<K: RowKernels>(
        &mut self,
        kernels: &K,
        threads: Threads,
        k: f64,
        depth: usize,
        plan: &HaloPlan,
        halos: &dyn Halos,
        times: &mut PassTimes,
    ) {
        assert!(depth >= 1 && depth <= self.halo);
        let (n, h, cols) = (self.rows, self.halo, self.cols);
        if n == 0 {
            // An idle rank still serves its part of the exchange (none: it owns no row).
            halos.exchange(plan, cols, &mut self.src, h, n, &mut |_, _| {});
            return;
        }
        let start = Instant::now();
        let mut computing = Duration::ZERO;
        // Rows d..n-d of the slab need no halo: computed while the halos travel.
        let interior = (n > 2 * depth).then(|| depth..n - depth);
        {
            let dst = &mut self.dst;
            let computing = &mut computing;
            let interior = interior.clone();
            halos.exchange(plan, cols, &mut self.src, h, n, &mut |slab, progress| {
                if let Some(rows) = &interior {
                    let t = Instant::now();
                    let out = &mut dst[(h + rows.start) * cols..(h + rows.end) * cols];
                    compute(
                        kernels, threads, k, cols, depth, slab, rows.start, out, progress,
                    );
                    *computing += t.elapsed();
                }
            });
        }
        let t = Instant::now();
        // The edge rows after the wait; all the rows when the slab has no interior.
        #[allow(clippy::single_range_in_vec_init)]
        let edges: &[Range<usize>] = match interior {
            Some(_) => &[0..depth, n - depth..n],
            None => &[0..n],
        };
        for rows in edges.iter().cloned() {
            // The rows plus `depth` ghost rows each side, halos included.
            let window = &self.src[(h + rows.start - depth) * cols..(h + rows.end + depth) * cols];
            let out = &mut self.dst[(h + rows.start) * cols..(h + rows.end) * cols];
            compute(
                kernels,
                threads,
                k,
                cols,
                depth,
                window,
                depth,
                out,
                &mut || {},
            );
        }
        computing += t.elapsed();
        std::mem::swap(&mut self.src, &mut self.dst);
        times.compute += computing.as_secs_f64();
        times.exchange += (start.elapsed() - computing).as_secs_f64();
    }
}

/// Rows `first..first + out.len() / cols` of `window` (whole rows, indexed from its start)
/// advanced `depth` steps into `out`; the window holds at least `depth` rows on each side of
/// them. With a pool, the rows are cut into one band per thread, each with its own ghost
/// rows; `progress` is called between bands (it lets MPI move the halos along).
#[allow(clippy::too_many_arguments)]
fn compute<K: RowKernels>(
    kernels: &K,
    threads: Threads,
    k: f64,
    cols: usize,
    depth: usize,
    window: &[f64],
    first: usize,
    out: &mut [f64],
    progress: &mut dyn FnMut(),
) {
    let rows = out.len() / cols;
    let band = |b: usize, out: &mut [f64], band_rows: usize| {
        let start = first + b * band_rows;
        let src = &window[(start - depth) * cols..(start + out.len() / cols + depth) * cols];
        advance_local(kernels, k, cols, depth, src, out);
    };
    match threads {
        Threads::One => {
            // Four pieces, so that MPI can progress the exchange between them.
            let piece = rows.div_ceil(4).max(1);
            for (b, out) in out.chunks_mut(piece * cols).enumerate() {
                band(b, out, piece);
                progress();
            }
        }
        Threads::Pool => {
            let band_rows = rows.div_ceil(rayon::current_num_threads().clamp(1, rows));
            out.par_chunks_mut(band_rows * cols)
                .enumerate()
                .for_each(|(b, out)| band(b, out, band_rows));
            progress();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slabs_cover_the_rows_in_order_and_owner_inverts_range() {
        for rows in 1..40 {
            for ranks in 1..12 {
                let slabs = Slabs::new(rows, ranks);
                let mut next = 0;
                for r in 0..ranks {
                    let range = slabs.range(r);
                    assert_eq!(range.start, next, "{rows} rows / {ranks} ranks");
                    assert!(range.len() == rows / ranks || range.len() == rows / ranks + 1);
                    for row in range.clone() {
                        assert_eq!(slabs.owner(row), r, "{rows} rows / {ranks} ranks");
                    }
                    next = range.end;
                }
                assert_eq!(next, rows);
                assert_eq!(
                    (0..ranks).filter(|&r| slabs.range(r).is_empty()).count(),
                    slabs.idle()
                );
            }
        }
    }
}
