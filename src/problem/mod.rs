//! The two problems, independent of any backend: validated parameters, the book's defaults,
//! initial conditions and checksums.

pub mod diffusion;
pub mod julia;
pub mod stress;

use ndarray::Array2;

use crate::error::{Echo, Error, Result};

pub use diffusion::DiffusionParams;
pub use julia::{JuliaParams, Region};

/// The two kernels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    Julia,
    Diffusion,
}

impl Kernel {
    pub fn as_str(self) -> &'static str {
        match self {
            Kernel::Julia => "julia",
            Kernel::Diffusion => "diffusion",
        }
    }
}

/// Refuses NaN and infinities for parameter `name` (`text` is the value as the user gave it).
fn check_finite(name: &'static str, v: f64, text: impl Echo, accepted: &str) -> Result<()> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(name, text, accepted))
    }
}

/// A zeroed `rows x cols` array whose allocation failure is an [`Error::OutOfMemory`], not an
/// abort: user-chosen sizes reach this.
pub fn try_zeros<T: Clone + Default>(
    (rows, cols): (usize, usize),
    what: &'static str,
) -> Result<Array2<T>> {
    let elements = rows as u128 * cols as u128;
    let bytes = elements * std::mem::size_of::<T>() as u128;
    let too_big = || Error::OutOfMemory {
        what,
        shape: (rows, cols),
        bytes,
    };
    if bytes > isize::MAX as u128 {
        return Err(too_big());
    }
    let len = elements as usize;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| too_big())?;
    data.resize(len, T::default());
    Array2::from_shape_vec((rows, cols), data).map_err(|_| too_big())
}
