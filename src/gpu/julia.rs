//! The Julia kernel on the GPU: one invocation per pixel, one dispatch per call, with the
//! buffers of the last shape kept for the next call.

use std::time::Instant;

use super::context::GpuContext;
use super::shader::{Real, Workgroup};
use super::{Cache, DeviceObjects, Kernel, ShaderModule, Staging};
use crate::backend::TransferTimes;
use crate::error::Result;
use crate::problem::JuliaParams;

/// What the kernel computes: the escape counts of every pixel `(xs[i], ys[j])`.
pub struct JuliaInput<'a> {
    pub xs: &'a [f64],
    pub ys: &'a [f64],
    pub c: (f64, f64),
    pub max_iter: u32,
}

impl<'a> From<&'a JuliaParams> for JuliaInput<'a> {
    fn from(params: &'a JuliaParams) -> Self {
        JuliaInput {
            xs: params.xs(),
            ys: params.ys(),
            c: params.c(),
            max_iter: params.max_iter(),
        }
    }
}

pub struct JuliaPipeline {
    kernel: Kernel,
    workgroup: Workgroup,
    buffers: Cache<JuliaBuffers>,
}

/// The device side of one image shape.
struct JuliaBuffers {
    /// `(width, height)` and the element size they were made for.
    shape: (usize, usize, usize),
    /// The uniform block (`Params` of julia.wgsl: width, height, max_iter, padding, then cr
    /// and ci), xs and ys in; counts out.
    staging: Staging,
    xs_bytes: u64,
    ys_bytes: u64,
    counts_bytes: u64,
    xs: wgpu::Buffer,
    ys: wgpu::Buffer,
    counts: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

impl JuliaPipeline {
    pub(super) fn new(
        context: &GpuContext,
        module: ShaderModule<'_>,
        workgroup: Workgroup,
    ) -> Self {
        // Inputs: xs, ys; output: counts.
        let kernel = Kernel::new(context, "lancehead julia", module, workgroup, 2);
        JuliaPipeline {
            kernel,
            workgroup,
            buffers: Cache::new(),
        }
    }

    pub(super) fn created(&self) -> DeviceObjects {
        self.kernel.created()
    }

    /// Computes `input` into `counts` (row-major `ys.len() x xs.len()`, already checked) and
    /// says how long the upload, the compute and the read-back took.
    pub fn run<R: Real>(
        &self,
        context: &GpuContext,
        input: &JuliaInput<'_>,
        counts: &mut [u32],
    ) -> Result<TransferTimes> {
        let name = R::BACKEND;
        let (width, height) = (input.xs.len(), input.ys.len());
        let (groups_x, groups_y) =
            context.workgroups(name, "Julia image", width, height, self.workgroup)?;
        let xs_bytes = context.buffer_size(name, "Julia xs", width, R::SIZE)?;
        let ys_bytes = context.buffer_size(name, "Julia ys", height, R::SIZE)?;
        let counts_bytes = context.buffer_size(name, "Julia counts", width * height, 4)?;
        let shape = (width, height, R::SIZE);

        self.buffers.with(
            context,
            name,
            |b| b.shape == shape,
            || {
                let k = &self.kernel;
                let sizes = (16 + 2 * R::SIZE as u64, xs_bytes + ys_bytes, counts_bytes);
                let staging = Staging::new(k, context, "julia", sizes);
                let input = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
                let xs = k.buffer(context, "julia xs", xs_bytes, input);
                let ys = k.buffer(context, "julia ys", ys_bytes, input);
                let output = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
                let counts = k.buffer(context, "julia counts", counts_bytes, output);
                let bind_group = k.bind(context, &staging.uniform, &[&xs, &ys, &counts]);
                JuliaBuffers {
                    shape,
                    staging,
                    xs_bytes,
                    ys_bytes,
                    counts_bytes,
                    xs,
                    ys,
                    counts,
                    bind_group,
                }
            },
            |b| self.call::<R>(context, b, input, counts, (groups_x, groups_y)),
        )
    }

    fn call<R: Real>(
        &self,
        context: &GpuContext,
        b: &JuliaBuffers,
        input: &JuliaInput<'_>,
        counts: &mut [u32],
        (groups_x, groups_y): (u32, u32),
    ) -> Result<TransferTimes> {
        let name = R::BACKEND;
        let start = Instant::now();
        let (width, height) = (input.xs.len() as u32, input.ys.len() as u32);
        let (cr, ci) = input.c;
        b.staging.upload::<R>(
            context,
            [width, height, input.max_iter, 0],
            &[cr, ci],
            |inputs| {
                let (xs, ys) = inputs.split_at(b.xs_bytes as usize);
                R::write_device(input.xs, xs);
                R::write_device(input.ys, ys);
            },
            &[(&b.xs, b.xs_bytes), (&b.ys, b.ys_bytes)],
        )?;
        let uploaded = Instant::now();

        let mut encoder = context.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.kernel.pipeline);
            pass.set_bind_group(0, &b.bind_group, &[]);
            pass.dispatch_workgroups(groups_x, groups_y, 1);
        }
        context.submit_and_wait(name, Some(encoder.finish()))?;
        let computed = Instant::now();

        b.staging
            .read_back(context, name, &b.counts, b.counts_bytes, |bytes| {
                // Byte copy: the mapped range need not be aligned for u32.
                bytemuck::cast_slice_mut::<u32, u8>(counts).copy_from_slice(bytes)
            })?;
        Ok(TransferTimes {
            upload: (uploaded - start).as_secs_f64(),
            compute: (computed - uploaded).as_secs_f64(),
            read_back: computed.elapsed().as_secs_f64(),
        })
    }
}
