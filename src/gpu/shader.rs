//! The WGSL sources and the two precisions they are compiled for.
//!
//! Each shader is written once, in f64, around a `alias Real = f64;` line; the f32 variant is
//! the same text with that line replaced, so the two precisions cannot drift apart.

use std::borrow::Cow;

/// The Julia kernel (f64 source).
pub const JULIA: &str = include_str!("../../shaders/julia.wgsl");
/// One diffusion step (f64 source).
pub const DIFFUSION: &str = include_str!("../../shaders/diffusion.wgsl");

/// The line every shader declares its float type with.
pub const REAL_F64: &str = "alias Real = f64;";

/// The source of `shader` for precision `R` (the f64 text itself for f64). `tests/shaders.rs`
/// checks that every shader has the `alias Real = f64;` line this replaces.
pub fn source<R: Real>(shader: &str) -> Cow<'_, str> {
    if R::WGSL == "f64" {
        Cow::Borrowed(shader)
    } else {
        Cow::Owned(shader.replace(REAL_F64, &format!("alias Real = {};", R::WGSL)))
    }
}

/// A float type the shaders can compute in.
pub trait Real: bytemuck::Pod + Send + Sync + 'static {
    /// The WGSL type name.
    const WGSL: &'static str;
    /// The backend that computes in this type (SPEC §2).
    const BACKEND: &'static str;
    /// Device features the shaders need in this type.
    const FEATURES: wgpu::Features;

    /// Host values (always f64, SPEC §1) as device bytes of this type.
    fn to_device(values: &[f64]) -> Cow<'_, [u8]>;
    /// Device bytes of this type back into host f64 values.
    fn from_device(bytes: &[u8], out: &mut [f64]);
    /// One host value as device bytes (uniform fields).
    fn scalar_bytes(value: f64) -> Vec<u8>;
}

impl Real for f64 {
    const WGSL: &'static str = "f64";
    const BACKEND: &'static str = "gpu";
    const FEATURES: wgpu::Features = wgpu::Features::SHADER_F64;

    fn to_device(values: &[f64]) -> Cow<'_, [u8]> {
        // Same type: hand wgpu the caller's memory, no conversion copy.
        Cow::Borrowed(bytemuck::cast_slice(values))
    }
    fn from_device(bytes: &[u8], out: &mut [f64]) {
        // Copy bytes into the f64 slice: the mapped range need not be 8-byte aligned.
        bytemuck::cast_slice_mut::<f64, u8>(out).copy_from_slice(bytes);
    }
    fn scalar_bytes(value: f64) -> Vec<u8> {
        value.to_ne_bytes().to_vec()
    }
}

impl Real for f32 {
    const WGSL: &'static str = "f32";
    const BACKEND: &'static str = "gpu-f32";
    const FEATURES: wgpu::Features = wgpu::Features::empty();

    fn to_device(values: &[f64]) -> Cow<'_, [u8]> {
        Cow::Owned(
            values
                .iter()
                .flat_map(|&x| (x as f32).to_ne_bytes())
                .collect(),
        )
    }
    fn from_device(bytes: &[u8], out: &mut [f64]) {
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f64::from(f32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        }
    }
    fn scalar_bytes(value: f64) -> Vec<u8> {
        (value as f32).to_ne_bytes().to_vec()
    }
}
