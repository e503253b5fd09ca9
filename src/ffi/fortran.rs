//! `fortran`: the Fortran 2008 reference of `fortran_ref/`, compiled by gfortran and called
//! through its `bind(C)` interface (the book's f2py example, 7-24, without the wrapper
//! generator). Its arrays are declared with reversed dimensions, so it reads Rust's row-major
//! memory in place.

use crate::ffi::foreign::{Foreign, foreign_kernels};

foreign_kernels! {
    lh_fortran_julia, lh_fortran_diffusion;
}

/// `fortran`: gfortran -O3 -ffp-contract=off. Exact.
pub fn backend() -> Foreign {
    // SAFETY: fortran_ref/ keeps the header's contract; Fortran has no unsigned integers, so
    // its max_iter, steps and counts are int32 and the count limit is i32::MAX.
    unsafe {
        Foreign::new(
            "fortran",
            lh_fortran_julia,
            lh_fortran_diffusion,
            i32::MAX as u32,
            || {
                vec![
                    ("compiler", env!("LANCEHEAD_FORTRAN_COMPILER").to_string()),
                    ("flags", env!("LANCEHEAD_FLAGS_FORTRAN").to_string()),
                ]
            },
        )
    }
}
