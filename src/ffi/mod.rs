//! Foreign-function interfaces, both ways (the book's chapter 7: ctypes, cffi, f2py).
//!
//! - Rust calling C and Fortran: the reference kernels of `c_ref/` and `fortran_ref/`, built
//!   by build.rs, become the backends `c`, `c-native`, `c-openmp` ([`c`]) and `fortran`
//!   ([`fortran`]). They all share one C signature and one safe wrapper ([`Foreign`]), which
//!   checks every length and shape before a pointer crosses, so no caller can cause
//!   undefined behaviour.
//! - C and Python calling Rust: [`capi`] exports Lancehead's own kernels with a C ABI
//!   (`include/lancehead.h`), in the crate's cdylib.

#[cfg(feature = "c-ref")]
pub mod c;
#[cfg(feature = "capi")]
pub mod capi;
#[cfg(any(feature = "c-ref", feature = "fortran-ref"))]
mod foreign;
#[cfg(feature = "fortran-ref")]
pub mod fortran;

#[cfg(any(feature = "c-ref", feature = "fortran-ref"))]
pub use foreign::Foreign;
