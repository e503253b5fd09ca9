//! The Julia kernel on the GPU: one invocation per pixel, one dispatch per call.

use std::time::Instant;

use super::Kernel;
use super::context::GpuContext;
use super::shader::{self, Real};
use crate::backend::TransferTimes;
use crate::error::Result;
use crate::problem::JuliaParams;

pub struct JuliaPipeline(Kernel);

impl JuliaPipeline {
    pub fn new<R: Real>(context: &GpuContext) -> Self {
        let source = shader::source::<R>(shader::JULIA);
        // Inputs: xs, ys; output: counts.
        JuliaPipeline(Kernel::new(context, "lancehead julia", &source, 2))
    }

    /// Computes `params` into `counts` (row-major, already checked) and says how long the
    /// upload, the compute and the read-back took.
    pub fn run<R: Real>(
        &self,
        context: &GpuContext,
        params: &JuliaParams,
        counts: &mut [u32],
    ) -> Result<TransferTimes> {
        let name = R::BACKEND;
        let (width, height) = (params.width(), params.height());
        let (groups_x, groups_y) = context.workgroups(name, "Julia image", width, height)?;
        let size = std::mem::size_of::<R>();
        context.buffer_size(name, "Julia xs", width, size)?;
        context.buffer_size(name, "Julia ys", height, size)?;
        let counts_bytes = context.buffer_size(name, "Julia counts", width * height, 4)?;

        let start = Instant::now();
        // `Params` of julia.wgsl: width, height, max_iter, padding, then cr and ci.
        let (cr, ci) = params.c();
        let mut uniform = Vec::new();
        for field in [width as u32, height as u32, params.max_iter(), 0] {
            uniform.extend_from_slice(&field.to_ne_bytes());
        }
        uniform.extend(R::scalar_bytes(cr));
        uniform.extend(R::scalar_bytes(ci));
        let storage = wgpu::BufferUsages::STORAGE;
        let uniform = context.upload("julia params", &uniform, wgpu::BufferUsages::UNIFORM);
        let xs = context.upload("julia xs", &R::to_device(params.xs()), storage);
        let ys = context.upload("julia ys", &R::to_device(params.ys()), storage);
        let output = context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("julia counts"),
            size: counts_bytes,
            usage: storage | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let bind_group = self.0.bind(context, &uniform, &[&xs, &ys, &output]);
        context.submit_and_wait(name, None)?;
        let uploaded = Instant::now();

        let mut encoder = context.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.0.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups_x, groups_y, 1);
        }
        context.submit_and_wait(name, Some(encoder.finish()))?;
        let computed = Instant::now();

        context.read_back(name, &output, counts_bytes, |bytes| {
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
