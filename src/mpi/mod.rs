//! `mpi:simd` and `mpi:simd-wavefront`: diffusion and Julia over MPI (rsmpi), each rank
//! holding a slab of rows with deep halos, bitwise equal to `scalar` for any rank count.
//!
//! There are two ways in, and they differ:
//!
//! - **Through the [`Backend`] trait** (the harness, `compare`, the in-process tests) a call
//!   hands over a whole grid, so an MPI backend there is a *one-rank* strategy: the grid is
//!   copied into one slab with halos and advanced by the same passes as a distributed run,
//!   the halos filled by copies within the slab ([`halo::Loopback`]). Under `mpirun` every
//!   rank does the same whole computation on its replicated input; no message is sent, MPI
//!   is not even initialised. `details()` says so.
//! - **The distributed runs**, [`diffusion::run`] and [`julia::run`], are what the CLI calls
//!   when an `mpi:` backend is asked for (under `mpirun`, `srun`, or alone as a world of one):
//!   each rank allocates only its slab plus halos, generates the book's initial rows or reads
//!   its rows of `--init FILE.npy` at their byte offset, exchanges halos of depth `d` every
//!   `d` steps ([`halo::MpiHalos`], non-blocking, overlapped with the slab's interior), writes
//!   its rows of `--out` into one standard `.npy` at their offset, and the checksum is
//!   numpy's pairwise sum of the whole grid, to the bit, whatever the rank count
//!   ([`checksum`]).
//!
//! Every pass of either way is built on [`advance_local`](crate::backend::simd_wavefront), the
//! temporal blocking of `simd-wavefront`, so both give `scalar`'s bits: each row is computed
//! by the same row kernel from the same inputs as in a one-step sweep.

pub mod checksum;
pub mod diffusion;
pub mod halo;
pub mod julia;
mod npy;
pub mod slab;
pub mod world;

use std::sync::Mutex;

use ndarray::ArrayViewMut2;

use crate::backend::rayon::Parallel;
use crate::backend::rows::{RowKernels, Serial};
use crate::backend::simd::SimdRows;
use crate::backend::{Backend, DiffusionKernel, JuliaKernel, diffusion_buffers};
use crate::error::Result;
use crate::problem::{DiffusionParams, JuliaParams};
use halo::{HaloPlan, Loopback};
use slab::{PassTimes, Slab, Slabs, Threads};

pub use world::{World, finalize, launched, launcher_rank, world};

/// An MPI backend: SIMD row kernels, one thread or a pool per rank.
pub struct Mpi {
    name: &'static str,
    kernels: SimdRows,
    threads: Threads,
    /// The one-rank slab of trait calls, kept so that a repeated call allocates nothing.
    slab: Mutex<Option<Slab>>,
}

impl Mpi {
    /// `mpi:simd` (one thread per rank) or `mpi:simd-wavefront` (rayon's pool per rank).
    /// With a pool, fails as the rayon backends do when the environment asks for a thread
    /// count that cannot start: the pool is started here, checked, before anything asks rayon
    /// for it (rayon would otherwise start it unchecked on first use).
    pub fn new(name: &'static str, threads: Threads) -> Result<Self> {
        if threads == Threads::Pool {
            crate::backend::rayon::global_pool()?;
        }
        Ok(Mpi {
            name,
            kernels: SimdRows::new()?,
            threads,
            slab: Mutex::new(None),
        })
    }

    pub fn threads(&self) -> Threads {
        self.threads
    }

    pub(crate) fn kernels(&self) -> &SimdRows {
        &self.kernels
    }

    /// The inner backend, a rank's strategy on one machine (`simd` or `simd-wavefront`): what
    /// `lancehead scaling` sets the distributed runs against.
    pub fn inner_name(&self) -> &'static str {
        match self.threads {
            Threads::One => "simd",
            Threads::Pool => "simd-wavefront",
        }
    }

    /// How many threads one rank computes with.
    pub fn rank_threads(&self) -> usize {
        match self.threads {
            Threads::One => 1,
            Threads::Pool => rayon::current_num_threads(),
        }
    }
}

impl Backend for Mpi {
    fn name(&self) -> &'static str {
        self.name
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let mut details = self.kernels.details();
        details.push(("threads per rank", self.rank_threads().to_string()));
        let ranks = if launched() {
            format!(
                "through the Backend trait each rank of this MPI job computes the whole grid \
                 (rank {} as the launcher says); `lancehead diffusion|julia --backend {}` \
                 distributes it",
                launcher_rank().unwrap_or(0),
                self.name
            )
        } else {
            "1: not started by an MPI launcher (mpirun, srun); runs as one rank".to_string()
        };
        details.push(("ranks", ranks));
        details
    }

    fn cpu_threads(&self) -> Option<usize> {
        Some(self.rank_threads())
    }

    fn steps_per_pass(&self, params: &DiffusionParams) -> u32 {
        slab::halo_depth(params, None).unwrap_or(1) as u32
    }
}

impl JuliaKernel for Mpi {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        match self.threads {
            Threads::One => Serial::new(self.name, self.kernels).julia(params, counts),
            Threads::Pool => Parallel::new(self.name, self.kernels)?.julia(params, counts),
        }
    }
}

impl DiffusionKernel for Mpi {
    /// One rank: the grid as one slab, its halos copies of its own far rows.
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        let (grid, _) = diffusion_buffers(params, grid, scratch)?;
        let (rows, cols) = params.shape();
        let halo = slab::halo_depth(params, None)?;
        let mut kept = self.slab.lock().unwrap_or_else(|p| p.into_inner());
        if kept
            .as_ref()
            .is_none_or(|s| (s.rows, s.cols, s.halo) != (rows, cols, halo))
        {
            *kept = None;
            *kept = Some(Slab::new(rows, cols, halo)?);
        }
        let slab = kept.as_mut().expect("just made");
        slab.rows_mut().copy_from_slice(grid);
        let slabs = Slabs::new(rows, 1);
        let mut times = PassTimes::default();
        evolve_slab(self, params, slab, slabs, 0, steps, &Loopback, &mut times);
        grid.copy_from_slice(slab.rows());
        Ok(())
    }
}

/// `steps` steps of rank `rank`'s slab, in passes of the slab's halo depth (the last one
/// shorter when the depth does not divide `steps`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn evolve_slab(
    backend: &Mpi,
    params: &DiffusionParams,
    slab: &mut Slab,
    slabs: Slabs,
    rank: usize,
    steps: u32,
    halos: &dyn halo::Halos,
    times: &mut PassTimes,
) {
    let halo = slab.halo;
    let steps = steps as usize;
    let plan_full = HaloPlan::new(slabs, rank, halo, halo);
    let rest = steps % halo;
    let plan_rest = (rest > 0).then(|| HaloPlan::new(slabs, rank, halo, rest));
    let mut done = 0;
    while done < steps {
        let depth = halo.min(steps - done);
        let plan = if depth == halo {
            &plan_full
        } else {
            plan_rest.as_ref().expect("the last, shorter pass")
        };
        slab.pass(
            backend.kernels(),
            backend.threads,
            params.k(),
            depth,
            plan,
            halos,
            times,
        );
        done += depth;
    }
}
