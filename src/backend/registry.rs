//! Which backends exist, which this build contains, and which can run here.
//!
//! [`KNOWN`] is the one table of backends (SPEC §2): each entry's name, the Cargo feature that
//! brings it, its strategy, its agreement classes and its constructor, written once. An entry
//! whose feature this build leaves out keeps everything but the constructor, so a request for
//! it can name the feature. [`create`] builds an instance; building one is also its run-time
//! availability check (a GPU backend that finds no adapter answers [`Error::Unavailable`]
//! with the reason).

#[cfg(feature = "ndarray")]
use crate::backend::ndarray as ndarray_backends;
#[cfg(feature = "rayon")]
use crate::backend::rayon::Parallel;
#[cfg(all(feature = "simd", feature = "rayon"))]
use crate::backend::simd_wavefront::Wavefront;
use crate::backend::{Backend, scalar};
#[cfg(feature = "simd")]
use crate::backend::{rows::Serial, simd};
use crate::error::{Error, Result};
#[cfg(feature = "c-ref")]
use crate::ffi::c;
#[cfg(feature = "fortran-ref")]
use crate::ffi::fortran;
use crate::problem::Kernel;

/// How a backend's results must agree with `scalar` on the same input (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agreement {
    /// Julia counts identical; diffusion grids bitwise identical.
    Exact,
    /// f64 arithmetic in another order (fused multiply-adds, another compiler): Julia within
    /// 0.01 % differing pixels; diffusion within `max(1e-12 |x|, 1e-300)`.
    ToleranceF64,
    /// f32 arithmetic: Julia within 0.5 % differing pixels; diffusion within `1e-5`.
    ToleranceF32,
}

/// Builds an instance; fails with [`Error::Unavailable`] when it cannot run here.
pub type Constructor = fn() -> Result<Box<dyn Backend>>;

/// What Lancehead knows about a backend, whether or not this build contains it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct BackendInfo {
    /// The stable name (CLI, harness, benches, tests).
    pub name: &'static str,
    /// The Cargo feature that compiles it in (`None`: always compiled).
    pub feature: Option<&'static str>,
    /// How it computes.
    pub strategy: &'static str,
    /// What the book does the same way.
    pub book_analogue: &'static str,
    /// Agreement class of its Julia counts.
    pub julia: Agreement,
    /// Agreement class of its diffusion grids.
    pub diffusion: Agreement,
    /// Builds an instance; `None` when this build leaves the backend out.
    #[serde(skip)]
    pub constructor: Option<Constructor>,
}

impl BackendInfo {
    /// The class of `kernel`'s results (an instance may refine it: [`Backend::agreement`]).
    pub fn agreement(&self, kernel: Kernel) -> Agreement {
        match kernel {
            Kernel::Julia => self.julia,
            Kernel::Diffusion => self.diffusion,
        }
    }
}

/// `Some(constructor)` when this build has `cfg`, else `None`: the constructor's code only
/// exists in builds that have its feature.
macro_rules! built_with {
    ($cfg:meta, $constructor:expr) => {{
        #[cfg($cfg)]
        const CONSTRUCTOR: Option<Constructor> = Some($constructor);
        #[cfg(not($cfg))]
        const CONSTRUCTOR: Option<Constructor> = None;
        CONSTRUCTOR
    }};
}

/// Every backend Lancehead implements, in the order reports list them.
pub const KNOWN: &[BackendInfo] = &[
    BackendInfo {
        name: "scalar",
        feature: None,
        strategy: "plain loops, one thread",
        book_analogue: "compiled pure Python (Cython, typed)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: Some(|| Ok(Box::new(scalar::backend()))),
    },
    BackendInfo {
        name: "ndarray-alloc",
        feature: Some("ndarray"),
        strategy: "whole-array expressions, new arrays every step",
        book_analogue: "numpy with np.roll (Example 6-9)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "ndarray", || Ok(Box::new(
            ndarray_backends::NdarrayAlloc
        ))),
    },
    BackendInfo {
        name: "ndarray",
        feature: Some("ndarray"),
        strategy: "preallocated in-place slice arithmetic",
        book_analogue: "numpy in place with roll_add (Example 6-17)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "ndarray", || Ok(Box::new(
            ndarray_backends::NdarrayInPlace
        ))),
    },
    BackendInfo {
        name: "simd",
        feature: Some("simd"),
        strategy: "wide vectors, one thread, run-time SSE2/AVX2/AVX-512 dispatch",
        book_analogue: "numpy vectorization",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "simd", || Ok(Box::new(Serial::new(
            "simd",
            simd::SimdRows::new()?
        )))),
    },
    BackendInfo {
        name: "rayon",
        feature: Some("rayon"),
        strategy: "scalar rows on a work-stealing thread pool",
        book_analogue: "OpenMP prange (Example 7-12)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "rayon", || Ok(Box::new(Parallel::new(
            "rayon",
            scalar::ScalarRows
        )?))),
    },
    BackendInfo {
        name: "simd-rayon",
        feature: Some("simd,rayon"),
        strategy: "SIMD rows on a work-stealing thread pool",
        book_analogue: "vectorized OpenMP",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(all(feature = "simd", feature = "rayon"), || Ok(Box::new(
            Parallel::new("simd-rayon", simd::SimdRows::new()?)?
        ))),
    },
    BackendInfo {
        name: "simd-wavefront",
        feature: Some("simd,rayon"),
        strategy: "simd-rayon, diffusion temporally blocked: several steps per pass over memory",
        book_analogue: "beyond the book: cache blocking in time (chapter 6's memory lesson)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(all(feature = "simd", feature = "rayon"), || Ok(Box::new(
            Wavefront::new("simd-wavefront", simd::SimdRows::new()?)?
        ))),
    },
    BackendInfo {
        name: "c",
        feature: Some("c-ref"),
        strategy: "c_ref/, gcc -O3 -ffp-contract=off, one thread",
        book_analogue: "ctypes/cffi C library (Example 7-20)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "c-ref", || Ok(Box::new(c::c()))),
    },
    BackendInfo {
        name: "c-native",
        feature: Some("c-ref"),
        strategy: "c_ref/, gcc -O3 -march=native, fused multiply-adds allowed",
        book_analogue: "the book's tuned C",
        julia: Agreement::ToleranceF64,
        diffusion: Agreement::ToleranceF64,
        constructor: built_with!(feature = "c-ref", || Ok(Box::new(c::native()))),
    },
    BackendInfo {
        name: "c-openmp",
        feature: Some("c-ref"),
        strategy: "c_ref/, gcc -O3 -fopenmp -ffp-contract=off, rows in schedule(guided)",
        book_analogue: "Cython + OpenMP (Example 7-12)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "c-ref", || Ok(Box::new(c::openmp()?))),
    },
    BackendInfo {
        name: "fortran",
        feature: Some("fortran-ref"),
        strategy: "fortran_ref/, gfortran -O3 -ffp-contract=off, bind(C)",
        book_analogue: "f2py (Example 7-24)",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "fortran-ref", || Ok(Box::new(fortran::backend()))),
    },
    BackendInfo {
        name: "gpu",
        feature: Some("gpu"),
        strategy: "wgpu compute shader (WGSL; NoContraction SPIR-V on Vulkan), f64",
        book_analogue: "A Note on GPUs",
        // The fallback: an instance is exact where its NoContraction SPIR-V path runs and its
        // canary confirms it (`Gpu::exactness`).
        julia: Agreement::ToleranceF64,
        diffusion: Agreement::ToleranceF64,
        constructor: built_with!(feature = "gpu", || Ok(Box::new(
            crate::gpu::Gpu::<f64>::new()?
        ))),
    },
    BackendInfo {
        name: "gpu-f32",
        feature: Some("gpu"),
        strategy: "wgpu compute shader (WGSL), f32",
        book_analogue: "the f32 anecdote (p. 164)",
        julia: Agreement::ToleranceF32,
        diffusion: Agreement::ToleranceF32,
        constructor: built_with!(feature = "gpu", || Ok(Box::new(
            crate::gpu::Gpu::<f32>::new()?
        ))),
    },
    BackendInfo {
        name: "mpi:simd",
        feature: Some("mpi"),
        strategy: "MPI ranks, each a slab of rows with deep halos, SIMD rows on one thread per rank",
        book_analogue: "beyond the book: clusters (chapter 10) for stencils",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "mpi", || Ok(Box::new(crate::mpi::Mpi::new(
            "mpi:simd",
            crate::mpi::slab::Threads::One
        )?))),
    },
    BackendInfo {
        name: "mpi:simd-wavefront",
        feature: Some("mpi"),
        strategy: "MPI ranks, each a slab of rows with deep halos, simd-wavefront per rank",
        book_analogue: "beyond the book: clusters (chapter 10) with threads on each node",
        julia: Agreement::Exact,
        diffusion: Agreement::Exact,
        constructor: built_with!(feature = "mpi", || Ok(Box::new(crate::mpi::Mpi::new(
            "mpi:simd-wavefront",
            crate::mpi::slab::Threads::Pool
        )?))),
    },
];

/// Why `compare` leaves backend `info` out unless it is asked for by name, if it does.
pub fn outside_default_comparison(info: &BackendInfo) -> Option<&'static str> {
    // Through the trait an MPI backend is one rank doing what its inner backend does; its
    // distributed runs are measured by `lancehead scaling` under an MPI launcher.
    (info.feature == Some("mpi")).then_some(
        "not in the default comparison: outside an MPI launcher it runs as one rank, its \
         inner backend; `mpirun -np N lancehead scaling` measures it distributed",
    )
}

/// The description of backend `name`, if Lancehead knows it.
pub fn info(name: &str) -> Option<&'static BackendInfo> {
    KNOWN.iter().find(|b| b.name == name)
}

/// The backends this build contains, available here or not.
pub fn compiled() -> impl Iterator<Item = &'static BackendInfo> {
    KNOWN.iter().filter(|b| b.constructor.is_some())
}

/// Builds backend `name`, or says why it cannot: unknown (listing the known names), not
/// compiled in (naming the feature), or unavailable here (with the reason).
pub fn create(name: &str) -> Result<Box<dyn Backend>> {
    let Some(info) = info(name) else {
        return Err(Error::UnknownBackend {
            name: name.to_string(),
            known: names(KNOWN.iter()),
        });
    };
    match info.constructor {
        // Composite backends are built from parts (`simd-rayon` from the `simd` row kernels), and
        // a part that cannot run here names itself: say which backend was asked for.
        Some(construct) => construct().map_err(|e| match e {
            Error::Unavailable { reason, .. } => Error::Unavailable {
                name: name.to_string(),
                reason,
            },
            other => other,
        }),
        None => Err(Error::NotCompiled {
            name: name.to_string(),
            feature: info.feature.unwrap_or("default"),
            compiled: names(compiled()),
        }),
    }
}

/// A backend of this build and whether it can run here.
pub struct Probe {
    pub info: &'static BackendInfo,
    /// The instance, or why there is none.
    pub backend: Result<Box<dyn Backend>, String>,
}

/// Tries every backend of this build (the `lancehead backends` listing).
pub fn probe_all() -> Vec<Probe> {
    compiled()
        .map(|info| Probe {
            info,
            backend: create(info.name).map_err(|e| match e {
                Error::Unavailable { reason, .. } => reason,
                other => other.to_string(),
            }),
        })
        .collect()
}

fn names<'a>(infos: impl Iterator<Item = &'a BackendInfo>) -> String {
    infos.map(|b| b.name).collect::<Vec<_>>().join(", ")
}
