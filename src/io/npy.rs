//! `.npy` input and output with standard numpy headers: Julia counts as `<u4`, grids as `<f8`.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use ndarray_npy::{ReadNpyExt, WritableElement, WriteNpyExt};

use crate::error::{Error, Result};
use crate::io::atomic::{self, Staged};

/// Reads a 2D float64 array (`<f8`, C or Fortran order) given by argument `arg`, returned in
/// row-major order. Wrong dtype or rank, a truncated file and non-finite values are errors.
pub fn read_grid(path: &Path, arg: &'static str) -> Result<Array2<f64>> {
    let bad = |message: String| Error::BadNpy {
        arg,
        path: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(|source| Error::Io {
        arg,
        path: path.to_path_buf(),
        source,
    })?;
    let grid = Array2::<f64>::read_npy(BufReader::new(file)).map_err(|e| {
        bad(format!(
            "not a 2D float64 (<f8) .npy array: {}",
            one_line(&e.to_string())
        ))
    })?;
    if grid.is_empty() {
        return Err(bad(format!(
            "shape {:?} is empty; a grid needs at least 1 row and 1 column",
            grid.dim()
        )));
    }
    if let Some(index) = grid.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(bad(format!(
            "value at {:?} is {}; every value must be finite",
            index.0, index.1
        )));
    }
    Ok(grid.as_standard_layout().into_owned())
}

/// Stages `array` as a `.npy` file at `path` (see [`atomic`]).
pub fn stage<T: WritableElement>(
    path: &Path,
    arg: &'static str,
    array: ArrayView2<'_, T>,
) -> Result<Staged> {
    atomic::stage(path, arg, |out: &mut dyn Write| {
        array.write_npy(out).map_err(|e| Error::Io {
            arg,
            path: path.to_path_buf(),
            source: std::io::Error::other(one_line(&e.to_string())),
        })
    })
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
