//! `lancehead._lancehead`: Lancehead's kernels as a Python extension module (PyO3), every
//! backend of the build, numpy arrays in and out. The package's `__init__.py` re-exports it.
//!
//! Every check is the library's: parameters are validated by `JuliaParams`/`DiffusionParams`,
//! backends are built by the registry, so a bad argument raises the same one-line message the
//! CLI prints (as `ValueError`, or `TypeError` for a wrong type or dtype). The kernel runs with
//! the GIL released.

use lancehead::problem::diffusion::check_finite_grid;
use lancehead::{DiffusionParams, Error, JuliaParams, Region, registry};
use numpy::{
    IntoPyArray, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The backend used when none is named: exact (bitwise equal to `scalar`) and the fastest CPU
/// one of a default build.
const DEFAULT_BACKEND: &str = "simd-rayon";

/// A library error as the Python exception that fits it, with the CLI's message.
fn raise(e: Error) -> PyErr {
    match e {
        Error::OutOfMemory { .. } => PyMemoryError::new_err(e.to_string()),
        Error::Unavailable { .. } => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// An integer argument in `lo..=hi`, refused with the library's message otherwise (PyO3's own
/// conversion would raise `OverflowError` for a negative count).
fn bounded(name: &'static str, value: i64, lo: i64, hi: i64, accepted: &str) -> PyResult<i64> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(raise(Error::invalid(name, value, accepted)))
    }
}

/// The Julia set: iteration counts, `height x width`, row 0 the top edge (SPEC §1).
#[pyfunction]
#[pyo3(signature = (width=1000, height=None, *, max_iter=300, c=(-0.62772, -0.42193),
                    region=(-1.8, 1.8, -1.8, 1.8), backend=DEFAULT_BACKEND))]
fn julia<'py>(
    py: Python<'py>,
    width: i64,
    height: Option<i64>,
    max_iter: i64,
    c: (f64, f64),
    region: (f64, f64, f64, f64),
    backend: &str,
) -> PyResult<Bound<'py, PyArray2<u32>>> {
    let width = bounded("width", width, 1, i64::MAX, "an integer >= 1")?;
    let height = bounded(
        "height",
        height.unwrap_or(width),
        1,
        i64::MAX,
        "an integer >= 1",
    )?;
    let max_iter = bounded(
        "max_iter",
        max_iter,
        0,
        u32::MAX.into(),
        "an integer in 0..=4294967295",
    )?;
    let (x1, x2, y1, y2) = region;
    let params = JuliaParams::new(
        width as usize,
        height as usize,
        Region { x1, x2, y1, y2 },
        c,
        max_iter as u32,
    )
    .map_err(raise)?;
    let backend = registry::create(backend).map_err(raise)?;
    let mut counts = params.new_counts().map_err(raise)?;
    py.detach(|| backend.julia(&params, counts.view_mut()))
        .map_err(raise)?;
    Ok(counts.into_pyarray(py))
}

/// Diffusion: `steps` explicit Euler steps of the periodic heat equation on a float64 grid.
/// Returns a new array, or `grid` itself, evolved, with `in_place=True`.
#[pyfunction]
#[pyo3(signature = (grid, steps=500, *, dt=0.1, d=1.0, backend=DEFAULT_BACKEND, in_place=false))]
fn evolve<'py>(
    py: Python<'py>,
    grid: &Bound<'py, PyAny>,
    steps: i64,
    dt: f64,
    d: f64,
    backend: &str,
    in_place: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let steps = bounded(
        "steps",
        steps,
        0,
        u32::MAX.into(),
        "an integer in 0..=4294967295",
    )? as u32;
    let array = grid.cast::<PyUntypedArray>().map_err(|_| {
        let found = grid
            .get_type()
            .name()
            .map_or_else(|_| "?".to_string(), |n| n.to_string());
        PyTypeError::new_err(format!(
            "grid must be a numpy.ndarray of float64, got {found}"
        ))
    })?;
    if array.ndim() != 2 {
        return Err(PyValueError::new_err(format!(
            "grid has {} dimension(s), shape {:?}; a grid has 2",
            array.ndim(),
            array.shape()
        )));
    }
    let dtype = array.dtype();
    if !dtype.is_equiv_to(&numpy::dtype::<f64>(py)) {
        return Err(PyTypeError::new_err(format!(
            "grid: dtype {} is not float64 (<f8)",
            // numpy's type string (`<f4`), as the CLI prints a .npy header's `descr`.
            dtype
                .getattr("str")
                .map_or_else(|_| "?".to_string(), |s| s.to_string())
        )));
    }
    if !array.is_c_contiguous() {
        let layout = if array.is_fortran_contiguous() {
            " (this one is in Fortran order; numpy.ascontiguousarray(grid) copies it to C order)"
        } else {
            " (this one is a strided view; numpy.ascontiguousarray(grid) copies it)"
        };
        let e = Error::NotContiguous { what: "grid" };
        return Err(PyValueError::new_err(format!("{e}{layout}")));
    }
    let typed = array
        .cast::<PyArray2<f64>>()
        .map_err(|e| PyTypeError::new_err(e.to_string()))?;
    let (rows, cols) = {
        let s = typed.shape();
        (s[0], s[1])
    };
    let params = DiffusionParams::new(rows, cols, dt, d).map_err(raise)?;
    let backend = registry::create(backend).map_err(raise)?;
    let mut scratch = params.new_grid().map_err(raise)?;
    if in_place {
        let mut writable = typed.try_readwrite().map_err(|e| {
            PyValueError::new_err(format!(
                "grid cannot be written in place ({e}); pass a writeable array or in_place=False"
            ))
        })?;
        let mut view = writable.as_array_mut();
        check_finite_grid(view.view()).map_err(|e| PyValueError::new_err(format!("grid: {e}")))?;
        py.detach(|| backend.evolve(&params, view.view_mut(), scratch.view_mut(), steps))
            .map_err(raise)?;
        Ok(grid.clone())
    } else {
        let mut owned = typed.try_readonly()?.as_array().to_owned();
        check_finite_grid(owned.view()).map_err(|e| PyValueError::new_err(format!("grid: {e}")))?;
        py.detach(|| backend.evolve(&params, owned.view_mut(), scratch.view_mut(), steps))
            .map_err(raise)?;
        Ok(owned.into_pyarray(py).into_any())
    }
}

/// The backends of this build: one dict each with `name`, `available`, `reason` (why not,
/// `None` when available), `feature`, `strategy` and `agreement`.
#[pyfunction]
fn backends(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    registry::probe_all()
        .into_iter()
        .map(|probe| {
            let d = PyDict::new(py);
            d.set_item("name", probe.info.name)?;
            d.set_item("available", probe.backend.is_ok())?;
            d.set_item("reason", probe.backend.as_ref().err())?;
            d.set_item("feature", probe.info.feature)?;
            d.set_item("strategy", probe.info.strategy)?;
            d.set_item(
                "agreement",
                format!("{:?}", probe.info.agreement(lancehead::Kernel::Diffusion)),
            )?;
            Ok(d)
        })
        .collect()
}

#[pymodule]
fn _lancehead(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(julia, m)?)?;
    m.add_function(wrap_pyfunction!(evolve, m)?)?;
    m.add_function(wrap_pyfunction!(backends, m)?)?;
    m.add("DEFAULT_BACKEND", DEFAULT_BACKEND)?;
    Ok(())
}
