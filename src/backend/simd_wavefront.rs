//! `simd-wavefront`: `simd-rayon` with diffusion temporally blocked, several steps per pass
//! over memory, still bitwise equal to `scalar`.
//!
//! One pass over a large grid per step is bound by memory bandwidth (16 bytes or more per cell
//! update). Here each thread owns a band of rows and advances it `depth` steps in one pass: a
//! wavefront walks down the band, and at each position level `t` computes row `r = i - t + 1`
//! at time `t` from the three rows of level `t - 1` just above it in the pipeline. Level 0 is
//! read from the source grid, level `depth` is written to the destination, and the levels in
//! between live in a ring of three rows each — a working set of `3 * (depth - 1)` rows that
//! stays in the core's cache while the grid streams through once.
//!
//! Rows outside the band (ghost rows, wrapping periodically) are recomputed by each band
//! rather than exchanged: level `t` covers the band widened by `depth - t` rows on each side,
//! a trapezoid, so the bands are independent for a whole pass and the threads meet once per
//! pass instead of once per step. The recomputation costs `depth * (depth - 1)` rows per band
//! and pass; every row is computed by the same row kernel from the same inputs as in a
//! one-step sweep, so the result is bit for bit the same whatever the depth, the band split or
//! the step count.
//!
//! The threads meet as a [`team`]: formed once per call, a member per band, at a spinning
//! barrier after each pass. A fork-join per pass cost 26-44 µs on the Intel machine (the
//! workers sleep and are woken), against 0.03-0.25 µs for a barrier round (`cargo run
//! --release --example team_costs`): at 256² x 500, with a pass of two steps, the fork-joins
//! alone took as long as the arithmetic (22 ms a call, 6.6 ms with the team). Where a team
//! cannot be formed the passes fall back to fork-joins; with one thread they run on the
//! caller's.

use std::cell::RefCell;

use ndarray::ArrayViewMut2;
use rayon::prelude::*;

use crate::backend::rayon::Parallel;
use crate::backend::rows::{Lap, RowKernels};
use crate::backend::team;
use crate::backend::{Backend, DiffusionKernel, JuliaKernel, diffusion_buffers, ping_pong};
use crate::error::Result;
use crate::problem::{DiffusionParams, JuliaParams};

/// The deepest temporal block: more steps per pass save bandwidth but cost ghost rows and a
/// larger ring. Measured on the Intel machine (2 MiB L2), two threads, 2048² and 4096² x 96
/// steps: depth 4, 8, 12, 16 took 0.206, 0.136, 0.121, 0.121 s and 0.737, 0.513, 0.444,
/// 0.516 s (minima of 7 runs).
const MAX_DEPTH: usize = 12;
/// Bytes the rings of one thread may take: about a core's L2 cache (1 MiB on Zen 4), so the
/// rows that wait for the next level are still there when it reads them. Measured on 4096²
/// x 48 steps, one thread: 128 KiB 0.73 s, 256 KiB 0.57 s, 512 KiB 0.40 s, 1 MiB 0.38 s.
const RING_BUDGET: usize = 1024 * 1024;
/// The ring's bytes for a grid that stays in the cache anyway: the L1 data cache of the
/// smallest core these machines have (32 KiB).
const SMALL_GRID_RING_BUDGET: usize = 32 * 1024;

thread_local! {
    /// Each worker thread's ring rows, grown on first use and kept, so that a timed call
    /// allocates nothing once the pool has warmed up.
    static RING: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Julia as `simd-rayon`; diffusion in temporally blocked passes.
#[derive(Debug, Clone)]
pub struct Wavefront<K> {
    inner: Parallel<K>,
}

impl<K: RowKernels> Wavefront<K> {
    pub fn new(name: &'static str, kernels: K) -> Result<Self> {
        Ok(Wavefront {
            inner: Parallel::new(name, kernels)?,
        })
    }
}

impl<K: RowKernels> Backend for Wavefront<K> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn details(&self) -> Vec<(&'static str, String)> {
        let mut details = self.inner.details();
        details.push(("max depth", MAX_DEPTH.to_string()));
        details
    }
    fn cpu_threads(&self) -> Option<usize> {
        self.inner.cpu_threads()
    }
    fn steps_per_pass(&self, params: &DiffusionParams) -> u32 {
        depth_for(band_rows(params), params.rows(), params.cols()) as u32
    }
}

impl<K: RowKernels> JuliaKernel for Wavefront<K> {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        self.inner.julia(params, counts)
    }
}

impl<K: RowKernels> DiffusionKernel for Wavefront<K> {
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        let (grid, scratch) = diffusion_buffers(params, grid, scratch)?;
        if steps == 0 {
            return Ok(());
        }
        let band_rows = band_rows(params);
        let pass = Pass {
            rows: params.rows(),
            cols: params.cols(),
            k: params.k(),
            band_rows,
            depth: depth_for(band_rows, params.rows(), params.cols()),
            lap: self.inner.kernels().lap_for(params, grid),
            steps: steps as usize,
        };
        let kernels = self.inner.kernels();
        if rayon::current_num_threads() == 1 {
            // One band: on this thread, without waking the pool once per call or pass.
            pass.serial(kernels, grid, scratch);
        } else if !pass.in_team(kernels, grid, scratch) {
            pass.fork_join(kernels, grid, scratch);
        }
        Ok(())
    }
}

/// The plan of one `evolve` call: bands of `band_rows` rows, `depth` steps per pass.
#[derive(Clone, Copy)]
struct Pass {
    rows: usize,
    cols: usize,
    k: f64,
    band_rows: usize,
    depth: usize,
    lap: Lap,
    steps: usize,
}

impl Pass {
    /// Steps of pass number `p`: `depth`, the last one what is left.
    fn steps_of(&self, p: usize) -> usize {
        self.depth.min(self.steps - p * self.depth)
    }

    fn passes(&self) -> usize {
        self.steps.div_ceil(self.depth)
    }

    /// Band `b` of a pass from `src`.
    fn band<'a>(&self, src: &'a [f64], b: usize, p: usize) -> Band<'a> {
        Band {
            rows: self.rows,
            cols: self.cols,
            k: self.k,
            src,
            depth: self.steps_of(p),
            first: b * self.band_rows,
            lap: self.lap,
        }
    }

    /// Every pass by one team (`team::run`), a member per band meeting at a spinning barrier
    /// after each pass; `false`, with nothing done, when no team can be formed now.
    fn in_team<K: RowKernels>(&self, kernels: &K, grid: &mut [f64], scratch: &mut [f64]) -> bool {
        let len = grid.len();
        // The pointers below are read as `len` cells of `rows` rows each.
        assert!(scratch.len() == len && len == self.rows * self.cols);
        let buffers = [
            SharedGrid(grid.as_mut_ptr()),
            SharedGrid(scratch.as_mut_ptr()),
        ];
        let passes = self.passes();
        let bands = self.rows.div_ceil(self.band_rows);
        team::run(|member| {
            // Member `m` takes bands `m`, `m + members`, ...: one band each as `evolve` plans.
            let mine = (member.index..bands).step_by(member.count);
            let cells = |b: usize| {
                b * self.band_rows * self.cols
                    ..((b + 1) * self.band_rows).min(self.rows) * self.cols
            };
            RING.with_borrow_mut(|ring| {
                for p in 0..passes {
                    let (src, dst) = (&buffers[p % 2], &buffers[1 - p % 2]);
                    for b in mine.clone() {
                        let cells = cells(b);
                        // SAFETY: both buffers are `len` long and outlive the team. In a pass
                        // every member reads only `src` and writes only its own bands' rows of
                        // `dst`, disjoint from every other member's; the barrier between passes
                        // orders one pass's writes before the next pass's reads, and these
                        // borrows end with the pass.
                        let (src, out) = unsafe {
                            (
                                std::slice::from_raw_parts(src.0, len),
                                std::slice::from_raw_parts_mut(dst.0.add(cells.start), cells.len()),
                            )
                        };
                        self.band(src, b, p).advance(kernels, out, ring);
                    }
                    member.barrier.wait();
                }
            });
            if passes % 2 == 1 {
                // The result is in `scratch`; each member copies back the rows it wrote last.
                for b in mine {
                    let cells = cells(b);
                    // SAFETY: as above, each member touches only its own bands' rows of both
                    // buffers, and no member reads after the last barrier.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            buffers[1].0.add(cells.start),
                            buffers[0].0.add(cells.start),
                            cells.len(),
                        )
                    }
                }
            }
        })
        .is_some()
    }

    /// Every pass, band after band, on the calling thread.
    fn serial<K: RowKernels>(&self, kernels: &K, grid: &mut [f64], scratch: &mut [f64]) {
        RING.with_borrow_mut(|ring| {
            self.each_pass(grid, scratch, |src, dst, p| {
                for (b, out) in dst.chunks_mut(self.band_rows * self.cols).enumerate() {
                    self.band(src, b, p).advance(kernels, out, ring);
                }
            })
        });
    }

    /// Every pass as one fork-join of the bands over rayon's pool.
    fn fork_join<K: RowKernels>(&self, kernels: &K, grid: &mut [f64], scratch: &mut [f64]) {
        self.each_pass(grid, scratch, |src, dst, p| {
            dst.par_chunks_mut(self.band_rows * self.cols)
                .enumerate()
                .for_each(|(b, out)| {
                    RING.with_borrow_mut(|ring| self.band(src, b, p).advance(kernels, out, ring))
                });
        });
    }

    /// `pass(src, dst, p)` for every pass `p`, ping-ponging between the buffers.
    fn each_pass(
        &self,
        grid: &mut [f64],
        scratch: &mut [f64],
        mut pass: impl FnMut(&[f64], &mut [f64], usize),
    ) {
        let mut p = 0;
        ping_pong(grid, scratch, self.passes() as u32, |src, dst| {
            pass(src, dst, p);
            p += 1;
        });
    }
}

/// A grid buffer that the members of a team share; see [`Pass::in_team`] for the discipline
/// that makes this sound.
struct SharedGrid(*mut f64);
// SAFETY: the pointer is only dereferenced under `Pass::in_team`'s discipline.
unsafe impl Sync for SharedGrid {}

/// Rows of each thread's band: one band per thread.
fn band_rows(params: &DiffusionParams) -> usize {
    let rows = params.rows();
    rows.div_ceil(rayon::current_num_threads().clamp(1, rows))
}

/// Steps per pass for bands of `band_rows` rows of `cols` cells: as deep as the ring budget
/// allows, and shallow enough that the ghost rows stay under a thirty-second of the work.
/// (Level `t` of a pass recomputes `2 * (depth - t)` ghost rows, `depth * (depth - 1)` in all
/// against `depth * band_rows` useful ones.) Measured on the Intel machine, two threads, x500
/// steps: 256² (bands of 128 rows) depth 2, 4, 8, 12: 7.9, 5.1, 5.3, 6.1 ms; 512²
/// depth 4, 8, 12: 29.1, 24.7, 26.4 ms.
///
/// A grid that fits in the ring budget itself (256² is 1 MiB with its scratch) is read from
/// the cache whatever the depth; there a pass only saves barriers, and the ring is kept to
/// [`SMALL_GRID_RING_BUDGET`] so as not to push the grid's rows out.
fn depth_for(band_rows: usize, rows: usize, cols: usize) -> usize {
    let row_bytes = 3 * cols * std::mem::size_of::<f64>();
    let budget = if 2 * rows * cols * std::mem::size_of::<f64>() <= RING_BUDGET {
        SMALL_GRID_RING_BUDGET
    } else {
        RING_BUDGET
    };
    let by_cache = budget / row_bytes + 1;
    let by_ghosts = band_rows / 32 + 1;
    by_cache.min(by_ghosts).clamp(1, MAX_DEPTH)
}

/// Advances the middle rows of a local buffer by `depth` steps: `local` holds
/// `out.len() / cols + 2 * depth` whole rows of `cols` cells — a slab of a larger grid with
/// `depth` ghost rows on each side — and `out` receives the slab's rows after `depth` steps.
/// The rows do not wrap (the ghost rows stand in for the neighbours: the outermost ones are
/// only read); the columns wrap, as in every row kernel. With `depth` ghost rows each side
/// the cone of every output row lies inside `local`, so each output row is computed by the
/// same row kernel from the same inputs as in `depth` whole-grid sweeps: bit for bit the
/// result of `scalar`. The MPI backends build each rank's pass on this, the halos that other
/// ranks sent being the ghost rows.
#[cfg(any(feature = "mpi", test))]
pub(crate) fn advance_local<K: RowKernels>(
    kernels: &K,
    k: f64,
    cols: usize,
    depth: usize,
    local: &[f64],
    out: &mut [f64],
) {
    assert!(
        cols >= 1
            && depth >= 1
            && out.len().is_multiple_of(cols)
            && local.len().is_multiple_of(cols)
    );
    assert_eq!(
        local.len(),
        out.len() + 2 * depth * cols,
        "local holds out plus ghost rows"
    );
    let band = Band {
        // Row `depth` of `local` is the first output row; the band's reads stay within
        // `first - depth..first + out rows + depth`, the whole buffer, so the periodic index
        // of `Band` never wraps.
        rows: local.len() / cols,
        cols,
        k,
        src: local,
        depth,
        first: depth,
        // Unfused: the MPI slabs do not check their grids (the exact form for every input).
        lap: Lap::Separate,
    };
    RING.with_borrow_mut(|ring| band.advance(kernels, out, ring));
}

/// One band's pass: `depth` steps of rows `first..first + out.len() / cols` from `src`, a
/// `rows x cols` grid periodic in both directions.
struct Band<'a> {
    rows: usize,
    cols: usize,
    k: f64,
    src: &'a [f64],
    depth: usize,
    first: usize,
    lap: Lap,
}

impl Band<'_> {
    fn advance<K: RowKernels>(&self, kernels: &K, out: &mut [f64], ring: &mut Vec<f64>) {
        let (rows, cols, k) = (self.rows, self.cols, self.k);
        let d = self.depth as isize;
        let (first, end) = (
            self.first as isize,
            (self.first + out.len() / cols) as isize,
        );
        // Level t (1..depth) holds rows at time t; levels 1..depth-1 keep three rows each.
        let level_len = 3 * cols;
        let ring_len = (self.depth - 1) * level_len;
        if ring.len() < ring_len {
            ring.resize(ring_len, 0.0);
        }
        let ring = &mut ring[..ring_len];
        let slot = |r: isize| r.rem_euclid(3) as usize * cols;
        let src_row = |r: isize| {
            let p = r.rem_euclid(rows as isize) as usize * cols;
            &self.src[p..p + cols]
        };

        for i in (first - d + 1)..(end + d - 1) {
            for t in 1..=d {
                let r = i - t + 1;
                // Level t covers the band widened by `depth - t` ghost rows on each side.
                if r < first - d + t || r >= end + d - t {
                    continue;
                }
                // Split the ring so level t - 1 (read) and level t (written) can be borrowed
                // together: level t starts right after level t - 1.
                let (below, level) = ring.split_at_mut((t - 1) as usize * level_len);
                let inputs = if t == 1 {
                    [src_row(r - 1), src_row(r), src_row(r + 1)]
                } else {
                    let prev = &below[(t - 2) as usize * level_len..];
                    [r - 1, r, r + 1].map(|q| &prev[slot(q)..slot(q) + cols])
                };
                let target = if t == d {
                    let o = (r - first) as usize * cols;
                    &mut out[o..o + cols]
                } else {
                    &mut level[slot(r)..slot(r) + cols]
                };
                let [up, mid, down] = inputs;
                kernels.diffusion_row_as(self.lap, k, up, mid, down, target);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::scalar::{self, ScalarRows};
    use crate::problem::stress::Rng;

    /// `advance_local` on a slab with ghost rows cut from a periodic grid gives the rows of
    /// `depth` whole-grid `scalar` steps, bit for bit: slabs at the grid's top, middle and
    /// bottom (ghost rows wrapping round), a slab of one row, one column, a depth deeper than
    /// the slab and than the grid.
    #[test]
    fn advance_local_matches_scalar_steps_on_a_slab() {
        let mut rng = Rng::new(14);
        for (rows, cols) in [(11, 13), (5, 1), (1, 9), (3, 17)] {
            let params = DiffusionParams::book(rows, cols).unwrap();
            let grid: Vec<f64> = (0..rows * cols).map(|_| rng.unit() - 0.5).collect();
            for depth in 1..=6 {
                let mut want = ndarray::Array2::from_shape_vec((rows, cols), grid.clone()).unwrap();
                crate::evolve(&scalar::backend(), &params, want.view_mut(), depth as u32).unwrap();
                for first in 0..rows {
                    for len in 1..=rows - first {
                        let local: Vec<f64> = (first as isize - depth as isize
                            ..(first + len + depth) as isize)
                            .flat_map(|r| {
                                let r = r.rem_euclid(rows as isize) as usize;
                                grid[r * cols..(r + 1) * cols].iter().copied()
                            })
                            .collect();
                        let mut out = vec![f64::NAN; len * cols];
                        advance_local(&ScalarRows, params.k(), cols, depth, &local, &mut out);
                        let expected =
                            &want.as_slice().unwrap()[first * cols..(first + len) * cols];
                        assert!(
                            out.iter()
                                .zip(expected)
                                .all(|(a, b)| a.to_bits() == b.to_bits()),
                            "{rows}x{cols}, depth {depth}, rows {first}..{}",
                            first + len
                        );
                    }
                }
            }
        }
    }

    /// `scalar`'s rows, counting the rows computed.
    #[derive(Default)]
    struct CountingRows {
        rows: std::sync::atomic::AtomicUsize,
    }

    impl RowKernels for CountingRows {
        fn julia_rows(&self, params: &JuliaParams, first_row: usize, out: &mut [u32]) {
            ScalarRows.julia_rows(params, first_row, out)
        }
        fn diffusion_row(&self, k: f64, up: &[f64], mid: &[f64], down: &[f64], out: &mut [f64]) {
            self.rows.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ScalarRows.diffusion_row(k, up, mid, down, out)
        }
    }

    /// Every way of running the passes (a team, a fork-join, one thread) gives `scalar`'s grid bit
    /// for bit: band counts from one to more than the rows, depths that do and do not divide
    /// the step count, odd and even pass counts (the team copies an odd one back itself).
    #[test]
    fn every_way_of_running_the_passes_matches_scalar() {
        let mut rng = Rng::new(15);
        for (rows, cols, steps) in [(37, 29, 23), (8, 16, 12), (3, 5, 7), (64, 24, 1), (9, 9, 0)] {
            let params = DiffusionParams::book(rows, cols).unwrap();
            // Over the whole finite range, subnormals to cells whose `4 * u` overflows.
            let grid: Vec<f64> = (0..rows * cols).map(|_| rng.any_magnitude(1023)).collect();
            let mut want = ndarray::Array2::from_shape_vec((rows, cols), grid.clone()).unwrap();
            crate::evolve(&scalar::backend(), &params, want.view_mut(), steps).unwrap();
            for (band_rows, depth) in [(rows, 1), (rows.div_ceil(2), 4), (1, 3), (rows + 5, 6)] {
                let pass = Pass {
                    rows,
                    cols,
                    k: params.k(),
                    band_rows,
                    depth,
                    lap: Lap::Separate,
                    steps: steps as usize,
                };
                let mut computed = Vec::new();
                for way in ["team", "fork-join", "serial"] {
                    let (mut got, mut scratch) = (grid.clone(), vec![f64::NAN; grid.len()]);
                    let kernels = CountingRows::default();
                    match way {
                        // Retried while another test's team holds the pool.
                        "team" => {
                            while !pass.in_team(&kernels, &mut got, &mut scratch) {
                                std::thread::yield_now();
                            }
                        }
                        "fork-join" => pass.fork_join(&kernels, &mut got, &mut scratch),
                        _ => pass.serial(&kernels, &mut got, &mut scratch),
                    }
                    computed.push(kernels.rows.into_inner());
                    assert!(
                        got.iter()
                            .zip(want.as_slice().unwrap())
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{rows}x{cols} x{steps}, bands of {band_rows}, depth {depth}, {way}"
                    );
                }
                // Each band is computed once per pass, by one member: as many rows as one
                // thread computes (a band run by every member would give the same bits).
                assert!(
                    computed.iter().all(|&n| n == computed[2]),
                    "rows computed by team, fork-join, serial: {computed:?}"
                );
            }
        }
    }
}
