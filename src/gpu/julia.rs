//! The Julia kernel on the GPU: one invocation per pixel, one dispatch per call, with the
//! buffers of the last shape kept for the next call.

use std::time::Instant;

use super::context::GpuContext;
use super::shader::{Real, Workgroup};
use super::{Cache, DeviceObjects, Kernel, ShaderModule};
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

/// `Params` of julia.wgsl: width, height, max_iter, padding, then cr and ci. 32 bytes in f64,
/// 24 in f32; the staging layout gives it 32 either way.
const UNIFORM_SLOT: u64 = 32;

/// The device side of one image shape.
struct JuliaBuffers {
    /// `(width, height)` and the element size they were made for.
    shape: (usize, usize, usize),
    uniform_bytes: u64,
    xs_bytes: u64,
    ys_bytes: u64,
    counts_bytes: u64,
    uniform: wgpu::Buffer,
    xs: wgpu::Buffer,
    ys: wgpu::Buffer,
    counts: wgpu::Buffer,
    /// Host-visible: the uniform block, xs and ys, copied to the three buffers above.
    upload: wgpu::Buffer,
    /// Host-visible: the counts, copied from `counts`.
    download: wgpu::Buffer,
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
                let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
                let uniform_bytes = 16 + 2 * R::SIZE as u64;
                let k = &self.kernel;
                let uniform = k.buffer(
                    context,
                    "julia params",
                    uniform_bytes,
                    wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                );
                let xs = k.buffer(context, "julia xs", xs_bytes, storage);
                let ys = k.buffer(context, "julia ys", ys_bytes, storage);
                let out = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
                let output = k.buffer(context, "julia counts", counts_bytes, out);
                let upload = k.buffer(
                    context,
                    "julia upload",
                    UNIFORM_SLOT + xs_bytes + ys_bytes,
                    wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                );
                let download = k.buffer(
                    context,
                    "julia read-back",
                    counts_bytes,
                    wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                );
                let bind_group = k.bind(context, &uniform, &[&xs, &ys, &output]);
                JuliaBuffers {
                    shape,
                    uniform_bytes,
                    xs_bytes,
                    ys_bytes,
                    counts_bytes,
                    uniform,
                    xs,
                    ys,
                    counts: output,
                    upload,
                    download,
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
        let (cr, ci) = input.c;
        context.write_mapped(name, &b.upload, |staging| {
            let (uniform, rest) = staging.split_at(UNIFORM_SLOT as usize);
            let (xs, ys) = rest.split_at(b.xs_bytes as usize);
            let (header, c) = uniform.split_at(16);
            let (width, height) = (input.xs.len() as u32, input.ys.len() as u32);
            let (header, _) = header.into_chunks::<4>();
            header.write_iter([width, height, input.max_iter, 0].map(u32::to_ne_bytes));
            R::write_device(&[cr, ci], c.into_slice(..2 * R::SIZE));
            R::write_device(input.xs, xs);
            R::write_device(input.ys, ys);
        })?;
        let mut encoder = context.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&b.upload, 0, &b.uniform, 0, b.uniform_bytes);
        encoder.copy_buffer_to_buffer(&b.upload, UNIFORM_SLOT, &b.xs, 0, b.xs_bytes);
        let ys_at = UNIFORM_SLOT + b.xs_bytes;
        encoder.copy_buffer_to_buffer(&b.upload, ys_at, &b.ys, 0, b.ys_bytes);
        context.submit_and_wait(name, Some(encoder.finish()))?;
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

        let mut encoder = context.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&b.counts, 0, &b.download, 0, b.counts_bytes);
        // The mapping waits for the copy.
        context.queue.submit(Some(encoder.finish()));
        context.read_mapped(name, &b.download, |bytes| {
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
