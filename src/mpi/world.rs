//! The MPI environment: initialised once per process, on first use, and finalised by the
//! binary before it exits.
//!
//! With Open MPI a communicator handle is neither `Send` nor `Sync`, so none is stored: the
//! [`Universe`] lives in a process-wide [`OnceLock`] and each call takes the world
//! communicator from it. Initialisation costs about 0.3 s (Open MPI), so it happens only when
//! a distributed run asks for it, never when a backend is merely built or listed.

use std::sync::OnceLock;
use std::thread::ThreadId;

use mpi::Threading;
use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Color, Communicator, SimpleCommunicator};

use crate::error::{Error, Result};

/// Environment variables by which MPI launchers tell a process its rank: Open MPI's `mpirun`,
/// PMIx (Open MPI 4+, Slurm's `srun --mpi=pmix`), PMI (MPICH's Hydra, `srun --mpi=pmi2`).
const LAUNCHER_RANK: [&str; 3] = ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"];

struct Environment {
    universe: Universe,
    /// The thread that initialised MPI: the only one that may call it (`MPI_THREAD_FUNNELED`;
    /// rayon's threads compute, they never communicate).
    thread: ThreadId,
}

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// Whether an MPI launcher (`mpirun`, `mpiexec`, `srun`) started this process. Outside one,
/// MPI still initialises (as a world of one rank), and the MPI backends say so.
pub fn launched() -> bool {
    // Read once, before MPI is initialised: Open MPI's singleton start sets these variables
    // in the process itself.
    static LAUNCHED: OnceLock<bool> = OnceLock::new();
    *LAUNCHED.get_or_init(|| LAUNCHER_RANK.iter().any(|v| std::env::var_os(v).is_some()))
}

/// This process's rank as its launcher announced it, before MPI is initialised (`None` outside
/// a launcher): lets a rank other than 0 keep quiet about an error every rank finds alike.
pub fn launcher_rank() -> Option<usize> {
    LAUNCHER_RANK
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
}

/// The world of this process's MPI job, initialising MPI on first use.
///
/// Calls that communicate must come from the thread that made the first call (MPI is
/// initialised `MPI_THREAD_FUNNELED`); the distributed runs check it and return an error
/// rather than break that rule.
pub fn world() -> Result<World> {
    launched();
    let env = ENVIRONMENT.get_or_init(|| {
        let (universe, _provided) = mpi::initialize_with_threading(Threading::Funneled)
            .expect("MPI is initialised only here, once");
        Environment {
            universe,
            thread: std::thread::current().id(),
        }
    });
    if std::thread::current().id() != env.thread {
        return Err(Error::Unavailable {
            name: "mpi".into(),
            reason: "MPI calls must come from the thread that initialised MPI".into(),
        });
    }
    let comm = env.universe.world();
    Ok(World {
        rank: comm.rank() as usize,
        size: comm.size() as usize,
        comm,
    })
}

/// Finalises MPI if this process initialised it (`MPI_Finalize`). Every rank must do so
/// before it exits, or `mpirun` reports the job as failed; the binary calls this last.
/// No MPI call may follow.
pub fn finalize() {
    if ENVIRONMENT.get().is_some() && !mpi::environment::is_finalized() {
        // SAFETY: MPI was initialised (ENVIRONMENT holds its universe) and is not finalised;
        // the universe in the static is never dropped, so nothing finalises it twice.
        unsafe {
            mpi::ffi::MPI_Finalize();
        }
    }
}

/// The ranks of a distributed run, seen from one of them.
pub struct World {
    pub(crate) comm: SimpleCommunicator,
    rank: usize,
    size: usize,
}

impl World {
    /// This process's rank, `0..size`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether this is rank 0, the one that prints and writes file headers.
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// Makes every rank see the same outcome: when `local` failed on any rank, every rank
    /// returns the error of the lowest such rank (that rank its own error, the others an
    /// [`Error::OnRank`] with its message). Called after each step that can fail on some
    /// ranks only, before the next communication, so a failure never leaves a rank waiting.
    pub fn agree<T>(&self, local: Result<T>) -> Result<T> {
        let mine = if local.is_err() { self.rank } else { self.size } as u64;
        let mut first = 0u64;
        self.comm
            .all_reduce_into(&mine, &mut first, SystemOperation::min());
        if first == self.size as u64 {
            return local;
        }
        let first = first as usize;
        let mut text = match &local {
            Err(e) if self.rank == first => e.to_string().into_bytes(),
            _ => Vec::new(),
        };
        self.broadcast_bytes(first, &mut text);
        match local {
            Err(e) if self.rank == first => Err(e),
            _ => Err(Error::OnRank {
                rank: first,
                ranks: self.size,
                message: String::from_utf8_lossy(&text).into_owned(),
            }),
        }
    }

    /// Broadcasts `bytes` from rank `root`: on return every rank holds root's bytes.
    pub(crate) fn broadcast_bytes(&self, root: usize, bytes: &mut Vec<u8>) {
        let process = self.comm.process_at_rank(root as i32);
        let mut len = bytes.len() as u64;
        process.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        process.broadcast_into(&mut bytes[..]);
    }

    /// Gathers one serialisable record per rank on rank 0, in rank order (`None` elsewhere):
    /// per-rank statistics for reports.
    pub fn gather<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        value: &T,
    ) -> Option<Vec<T>> {
        let bytes = serde_json::to_vec(value).expect("a report record serialises");
        let pieces = self.gather_bytes(&bytes)?;
        Some(
            pieces
                .iter()
                .map(|p| serde_json::from_slice(p).expect("a record deserialises"))
                .collect(),
        )
    }

    /// Gathers a byte string per rank on rank 0, in rank order.
    pub(crate) fn gather_bytes(&self, bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
        self.gather_varcount(bytes)
    }

    /// Gathers a vector per rank on rank 0, in rank order (`None` on the other ranks).
    pub(crate) fn gather_varcount<T>(&self, values: &[T]) -> Option<Vec<Vec<T>>>
    where
        T: mpi::datatype::Equivalence + Default + Clone,
    {
        let root = self.comm.process_at_rank(0);
        let count = values.len() as i32;
        if !self.is_root() {
            root.gather_into(&count);
            root.gather_varcount_into(values);
            return None;
        }
        let mut counts = vec![0i32; self.size];
        root.gather_into_root(&count, &mut counts[..]);
        let displs: Vec<i32> = counts
            .iter()
            .scan(0, |at, &c| {
                let d = *at;
                *at += c;
                Some(d)
            })
            .collect();
        let total = counts.iter().map(|&c| c as usize).sum();
        let mut all = vec![T::default(); total];
        {
            let mut partition =
                mpi::datatype::PartitionMut::new(&mut all[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(values, &mut partition);
        }
        Some(
            counts
                .iter()
                .zip(&displs)
                .map(|(&c, &d)| all[d as usize..(d + c) as usize].to_vec())
                .collect(),
        )
    }

    /// The world of the first `ranks` ranks, on those ranks (`None` on the others):
    /// `lancehead scaling` runs on 1, 2, ... of the job's ranks. Collective.
    pub fn first(&self, ranks: usize) -> Option<World> {
        let color = if self.rank < ranks {
            Color::with_value(0)
        } else {
            Color::undefined()
        };
        let comm = self.comm.split_by_color(color)?;
        Some(World {
            rank: comm.rank() as usize,
            size: comm.size() as usize,
            comm,
        })
    }

    /// Waits until every rank gets here.
    pub fn barrier(&self) {
        self.comm.barrier();
    }
}
