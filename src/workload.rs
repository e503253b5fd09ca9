//! One unit of measurable work: which kernel, on which problem, how big, for how long.
//!
//! A [`Workload`] is plain data (it serializes, so the harness hands it to its counting child
//! process as JSON). [`Workload::prepare`] allocates the buffers of one call, fallibly, and
//! returns a [`Prepared`] workload whose [`call`](Prepared::call) is the kernel call alone:
//! what every caller times or counts — `lancehead compare`, its counting child, the criterion
//! benches, the examples and the `julia`/`diffusion` subcommands — so the set-up and the call
//! are written once.

use std::fmt;
use std::path::PathBuf;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::problem::julia::{BOOK_C, BOOK_MAX_ITER, BOOK_SIZE};
use crate::problem::{DiffusionParams, JuliaParams, Kernel, Region, diffusion, julia};

/// Where a diffusion run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The book's hot square (SPEC §1).
    Book,
    /// A 2D float64 `.npy` file, whose shape must be the workload's.
    File(PathBuf),
}

/// A kernel, its problem and its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "lowercase")]
pub enum Workload {
    /// The Julia set of SPEC §1.
    Julia {
        width: usize,
        height: usize,
        /// `[x1, x2, y1, y2]`.
        region: [f64; 4],
        /// `[re, im]`.
        c: [f64; 2],
        max_iter: u32,
    },
    /// `steps` steps of 2D diffusion (SPEC §1) from `init`.
    Diffusion {
        rows: usize,
        cols: usize,
        steps: u32,
        dt: f64,
        d: f64,
        init: Init,
    },
}

impl Workload {
    /// The book's Julia problem (1000 x 1000, 300 iterations).
    pub fn julia_book() -> Workload {
        Workload::julia_book_sized(BOOK_SIZE, BOOK_SIZE, BOOK_MAX_ITER)
    }

    /// The book's region and `c` on a `width x height` image with `max_iter` iterations.
    pub fn julia_book_sized(width: usize, height: usize, max_iter: u32) -> Workload {
        let Region { x1, x2, y1, y2 } = Region::BOOK;
        Workload::Julia {
            width,
            height,
            region: [x1, x2, y1, y2],
            c: [BOOK_C.0, BOOK_C.1],
            max_iter,
        }
    }

    /// The book's diffusion set-up (coefficients and hot square) on `rows x cols`.
    pub fn diffusion_book(rows: usize, cols: usize, steps: u32) -> Workload {
        Workload::Diffusion {
            rows,
            cols,
            steps,
            dt: diffusion::BOOK_DT,
            d: diffusion::BOOK_D,
            init: Init::Book,
        }
    }

    /// `steps` steps of `params` from `init`.
    pub fn diffusion(params: &DiffusionParams, steps: u32, init: Init) -> Workload {
        Workload::Diffusion {
            rows: params.rows(),
            cols: params.cols(),
            steps,
            dt: params.dt(),
            d: params.d(),
            init,
        }
    }

    pub fn kernel(&self) -> Kernel {
        match self {
            Workload::Julia { .. } => Kernel::Julia,
            Workload::Diffusion { .. } => Kernel::Diffusion,
        }
    }

    /// `(rows, cols)` of the output: Julia `(height, width)`, diffusion the grid's shape.
    pub fn shape(&self) -> (usize, usize) {
        match *self {
            Workload::Julia { width, height, .. } => (height, width),
            Workload::Diffusion { rows, cols, .. } => (rows, cols),
        }
    }

    /// Julia: `max_iter`; diffusion: steps.
    pub fn iterations(&self) -> u32 {
        match *self {
            Workload::Julia { max_iter, .. } => max_iter,
            Workload::Diffusion { steps, .. } => steps,
        }
    }

    /// The same workload with another size and iteration count (a smaller problem to count
    /// under callgrind, a size to predict from).
    pub fn resized(&self, (rows, cols): (usize, usize), iterations: u32) -> Workload {
        let mut w = self.clone();
        match &mut w {
            Workload::Julia {
                width,
                height,
                max_iter,
                ..
            } => (*height, *width, *max_iter) = (rows, cols, iterations),
            Workload::Diffusion {
                rows: r,
                cols: c,
                steps,
                ..
            } => (*r, *c, *steps) = (rows, cols, iterations),
        }
        w
    }

    /// Cell updates of a diffusion run (`rows * cols * steps`); for Julia the number of
    /// z-updates is only known from the result ([`Prepared::updates`]).
    pub fn diffusion_updates(&self) -> Option<u64> {
        match *self {
            Workload::Julia { .. } => None,
            Workload::Diffusion {
                rows, cols, steps, ..
            } => Some(rows as u64 * cols as u64 * u64::from(steps)),
        }
    }

    /// The validated Julia parameters.
    pub fn julia_params(&self) -> Result<Option<JuliaParams>> {
        match *self {
            Workload::Julia {
                width,
                height,
                region: [x1, x2, y1, y2],
                c: [cr, ci],
                max_iter,
            } => JuliaParams::new(width, height, Region { x1, x2, y1, y2 }, (cr, ci), max_iter)
                .map(Some),
            Workload::Diffusion { .. } => Ok(None),
        }
    }

    /// The validated diffusion parameters.
    pub fn diffusion_params(&self) -> Result<Option<DiffusionParams>> {
        match *self {
            Workload::Diffusion {
                rows, cols, dt, d, ..
            } => DiffusionParams::new(rows, cols, dt, d).map(Some),
            Workload::Julia { .. } => Ok(None),
        }
    }

    /// The initial grid of a diffusion workload, made or read afresh (the book's hot square,
    /// or the `.npy` file, whose shape must be the workload's).
    pub fn initial_grid(&self) -> Result<Option<Array2<f64>>> {
        let Some(params) = self.diffusion_params()? else {
            return Ok(None);
        };
        let Workload::Diffusion { init, .. } = self else {
            unreachable!("diffusion parameters come from a diffusion workload")
        };
        let grid = match init {
            Init::Book => params.book_initial()?,
            Init::File(path) => {
                let grid = crate::io::npy::read_grid(path, "initial grid")?;
                if grid.dim() != params.shape() {
                    return Err(Error::ShapeMismatch {
                        what: "initial grid",
                        found: grid.dim(),
                        expected: params.shape(),
                    });
                }
                grid
            }
        };
        Ok(Some(grid))
    }

    /// Allocates the buffers of one call (fallibly) and fills in the input.
    pub fn prepare(&self) -> Result<Prepared> {
        let state = match self {
            Workload::Julia { .. } => {
                let params = self.julia_params()?.expect("a Julia workload");
                let counts = params.new_counts()?;
                State::Julia { params, counts }
            }
            &Workload::Diffusion { steps, .. } => {
                let params = self.diffusion_params()?.expect("a diffusion workload");
                let init = self.initial_grid()?.expect("a diffusion workload");
                let mut grid = params.new_grid()?;
                grid.assign(&init);
                State::Diffusion {
                    params,
                    init: Some(init),
                    grid,
                    scratch: params.new_grid()?,
                    steps,
                    dirty: false,
                }
            }
        };
        Ok(Prepared {
            workload: self.clone(),
            state,
        })
    }
}

impl From<&JuliaParams> for Workload {
    fn from(p: &JuliaParams) -> Workload {
        let Region { x1, x2, y1, y2 } = p.region();
        Workload::Julia {
            width: p.width(),
            height: p.height(),
            region: [x1, x2, y1, y2],
            c: [p.c().0, p.c().1],
            max_iter: p.max_iter(),
        }
    }
}

/// How reports name a workload: `1000x1000 it300`, `512x512 x500 steps`.
impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Workload::Julia {
                width,
                height,
                max_iter,
                ..
            } => write!(f, "{width}x{height} it{max_iter}"),
            Workload::Diffusion {
                rows, cols, steps, ..
            } => write!(f, "{rows}x{cols} x{steps} steps"),
        }
    }
}

/// A workload with its buffers allocated: [`call`](Self::call) runs the kernel once.
pub struct Prepared {
    workload: Workload,
    state: State,
}

enum State {
    Julia {
        params: JuliaParams,
        counts: Array2<u32>,
    },
    Diffusion {
        params: DiffusionParams,
        /// A copy of the initial grid for [`Prepared::reset`], or `None` when the caller
        /// wanted no copy kept (a reset then makes or reads it again).
        init: Option<Array2<f64>>,
        grid: Array2<f64>,
        scratch: Array2<f64>,
        steps: u32,
        /// Whether `grid` no longer holds `init` (a call ran since the last reset).
        dirty: bool,
    },
}

/// The result of a call, borrowed from its buffers.
#[derive(Debug, Clone, Copy)]
pub enum Output<'a> {
    Counts(ArrayView2<'a, u32>),
    Grid(ArrayView2<'a, f64>),
}

impl Output<'_> {
    /// Julia's sum of counts, or diffusion's sum of the grid summed as `numpy.sum` does.
    pub fn checksum(&self) -> Checksum {
        match self {
            Output::Counts(c) => Checksum::Counts(julia::checksum(*c)),
            Output::Grid(g) => Checksum::Sum(diffusion::checksum(*g)),
        }
    }
}

/// A result's checksum: Julia's sum of counts, diffusion's sum of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Checksum {
    Counts(u64),
    Sum(f64),
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checksum::Counts(n) => write!(f, "{n}"),
            Checksum::Sum(x) => write!(f, "{x:?}"),
        }
    }
}

impl Prepared {
    /// One diffusion run of `steps` steps of `params` from `grid`, the initial grid the caller
    /// already made or read (`init` says where it came from). No copy of it is kept: a
    /// [`reset`](Self::reset) makes or reads it again. For a single call on a large grid (the
    /// `diffusion` subcommand), where a third grid in memory would cost more than a re-read.
    pub fn diffusion_from(
        params: DiffusionParams,
        grid: Array2<f64>,
        steps: u32,
        init: Init,
    ) -> Result<Self> {
        if grid.dim() != params.shape() {
            return Err(Error::ShapeMismatch {
                what: "initial grid",
                found: grid.dim(),
                expected: params.shape(),
            });
        }
        Ok(Prepared {
            workload: Workload::diffusion(&params, steps, init),
            state: State::Diffusion {
                params,
                init: None,
                grid,
                scratch: params.new_grid()?,
                steps,
                dirty: false,
            },
        })
    }

    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// Puts the input back (diffusion: the initial grid) after a call, untimed, so every
    /// call does the same work on the same values. Fails only where no copy was kept and the
    /// initial grid cannot be made or read again.
    pub fn reset(&mut self) -> Result<()> {
        if let State::Diffusion {
            init, grid, dirty, ..
        } = &mut self.state
            && *dirty
        {
            match init {
                Some(init) => grid.assign(init),
                None => *grid = self.workload.initial_grid()?.expect("a diffusion workload"),
            }
            *dirty = false;
        }
        Ok(())
    }

    /// The kernel call alone, on `backend`: what is timed and counted. Call
    /// [`reset`](Self::reset) between two calls.
    #[inline(never)]
    pub fn call(&mut self, backend: &dyn Backend) -> Result<()> {
        match &mut self.state {
            State::Julia { params, counts } => backend.julia(params, counts.view_mut()),
            State::Diffusion {
                params,
                grid,
                scratch,
                steps,
                dirty,
                ..
            } => {
                *dirty = true;
                backend.evolve(params, grid.view_mut(), scratch.view_mut(), *steps)
            }
        }
    }

    /// The output of the last call.
    pub fn output(&self) -> Output<'_> {
        match &self.state {
            State::Julia { counts, .. } => Output::Counts(counts.view()),
            State::Diffusion { grid, .. } => Output::Grid(grid.view()),
        }
    }

    /// Takes the output buffer (Julia counts), for callers that keep it.
    pub fn into_counts(self) -> Option<Array2<u32>> {
        match self.state {
            State::Julia { counts, .. } => Some(counts),
            State::Diffusion { .. } => None,
        }
    }

    /// Takes the output buffer (the diffusion grid), for callers that keep it.
    pub fn into_grid(self) -> Option<Array2<f64>> {
        match self.state {
            State::Diffusion { grid, .. } => Some(grid),
            State::Julia { .. } => None,
        }
    }

    /// The work one call does: z-updates (Julia: the sum of the counts of the last call) or
    /// cell updates (diffusion).
    pub fn updates(&self) -> u64 {
        match &self.state {
            State::Julia { counts, .. } => julia::checksum(counts.view()),
            State::Diffusion { params, steps, .. } => {
                params.rows() as u64 * params.cols() as u64 * u64::from(*steps)
            }
        }
    }

    /// The Julia problem, when this is one.
    pub fn julia_params(&self) -> Option<&JuliaParams> {
        match &self.state {
            State::Julia { params, .. } => Some(params),
            State::Diffusion { .. } => None,
        }
    }

    /// The diffusion problem, when this is one.
    pub fn diffusion_params(&self) -> Option<&DiffusionParams> {
        match &self.state {
            State::Diffusion { params, .. } => Some(params),
            State::Julia { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn a_workload_round_trips_through_json_and_runs() {
        let w = Workload::diffusion_book(16, 24, 3);
        let text = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<Workload>(&text).unwrap(), w);
        assert_eq!(w.to_string(), "16x24 x3 steps");

        let scalar = registry::create("scalar").unwrap();
        let mut run = w.prepare().unwrap();
        run.call(&*scalar).unwrap();
        let first = run.output().checksum();
        run.reset().unwrap();
        run.call(&*scalar).unwrap();
        assert_eq!(run.output().checksum(), first, "reset restores the input");
        assert_eq!(run.updates(), 16 * 24 * 3);
    }

    #[test]
    fn the_book_julia_workload_gives_the_books_checksum() {
        let w = Workload::julia_book();
        assert_eq!(w.to_string(), "1000x1000 it300");
        let mut run = w.prepare().unwrap();
        run.call(&*registry::create("scalar").unwrap()).unwrap();
        assert_eq!(run.updates(), julia::BOOK_CHECKSUM);
        let small = w.resized((120, 200), 300);
        assert_eq!(small.shape(), (120, 200));
        assert_eq!(small.to_string(), "200x120 it300");
    }
}
