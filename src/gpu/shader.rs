//! The WGSL sources and the two precisions they are compiled for.
//!
//! Each shader is written once, in f64, around a `alias Real = f64;` line; the f32 variant is
//! the same text with that line replaced, so the two precisions cannot drift apart.

use std::borrow::Cow;

use crate::backend::registry::Agreement;

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

/// The shape of a compute workgroup, `x * y` invocations: the shaders' `WORKGROUP_X` and
/// `WORKGROUP_Y` override constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workgroup {
    pub x: u32,
    pub y: u32,
}

impl Workgroup {
    pub const fn new(x: u32, y: u32) -> Self {
        Workgroup { x, y }
    }

    /// Invocations in one workgroup.
    pub fn invocations(self) -> u64 {
        u64::from(self.x) * u64::from(self.y)
    }

    /// The values of the shaders' override constants (WGSL and naga take them as f64).
    pub fn constants(self) -> [(&'static str, f64); 2] {
        [
            ("WORKGROUP_X", f64::from(self.x)),
            ("WORKGROUP_Y", f64::from(self.y)),
        ]
    }
}

impl std::fmt::Display for Workgroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.x, self.y)
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
    /// The class of results computed in this type when the canonical order is not guaranteed
    /// (and always, for f32).
    const TOLERANCE: Agreement;
    /// Bytes of one value on the device.
    const SIZE: usize = std::mem::size_of::<Self>();

    /// Host values (always f64, SPEC §1) written as device values of this type into `out`
    /// (`values.len() * SIZE` bytes of a mapped staging buffer: no host copy in between).
    fn write_device(values: &[f64], out: wgpu::WriteOnly<'_, [u8]>);
    /// Device bytes of this type back into host f64 values.
    fn read_device(bytes: &[u8], out: &mut [f64]);

    /// The index and value of the first of `values` this type cannot hold (a finite f64 that
    /// would become an infinity on the device), if any.
    fn first_out_of_range(values: &[f64]) -> Option<(usize, f64)> {
        values
            .iter()
            .position(|&v| v.is_finite() && v.abs() > Self::MAX)
            .map(|i| (i, values[i]))
    }

    /// The largest finite value, as an f64.
    const MAX: f64;
}

impl Real for f64 {
    const WGSL: &'static str = "f64";
    const BACKEND: &'static str = "gpu";
    const FEATURES: wgpu::Features = wgpu::Features::SHADER_F64;
    const TOLERANCE: Agreement = Agreement::ToleranceF64;
    const MAX: f64 = f64::MAX;

    fn write_device(values: &[f64], mut out: wgpu::WriteOnly<'_, [u8]>) {
        // Byte copies both ways: a mapped range need not be 8-byte aligned.
        out.copy_from_slice(bytemuck::cast_slice(values));
    }
    fn read_device(bytes: &[u8], out: &mut [f64]) {
        bytemuck::cast_slice_mut::<f64, u8>(out).copy_from_slice(bytes);
    }
}

impl Real for f32 {
    const WGSL: &'static str = "f32";
    const BACKEND: &'static str = "gpu-f32";
    const FEATURES: wgpu::Features = wgpu::Features::empty();
    const TOLERANCE: Agreement = Agreement::ToleranceF32;
    // The largest f64 that rounds to a finite f32 is a little above f32::MAX; refusing from
    // f32::MAX on keeps the bound simple and only refuses values no f32 grid can represent.
    const MAX: f64 = f32::MAX as f64;

    fn write_device(values: &[f64], out: wgpu::WriteOnly<'_, [u8]>) {
        let (chunks, _) = out.into_chunks::<4>();
        chunks.write_iter(values.iter().map(|&x| (x as f32).to_ne_bytes()));
    }
    fn read_device(bytes: &[u8], out: &mut [f64]) {
        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f64::from(f32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        }
    }
}
