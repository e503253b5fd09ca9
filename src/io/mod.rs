//! Files in and out: `.npy` arrays with standard numpy headers, PNG pictures, and atomic
//! writes so that an interrupted or failed run never leaves a half-written file.

pub mod atomic;
pub mod interrupt;
pub mod npy;
pub mod picture;
