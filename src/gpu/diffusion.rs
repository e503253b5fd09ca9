//! Diffusion on the GPU: both grids stay on the device for all the steps, the shader writes
//! one into the other and the two swap roles every step (ping-pong), with one upload and one
//! read-back per call. The buffers of the last grid shape are kept for the next call.

use std::time::Instant;

use super::context::GpuContext;
use super::shader::{Real, Workgroup};
use super::{Cache, DeviceObjects, Kernel, ShaderModule, Staging};
use crate::backend::TransferTimes;
use crate::error::Result;
use crate::problem::DiffusionParams;

pub struct DiffusionPipeline {
    kernel: Kernel,
    workgroup: Workgroup,
    /// Steps recorded into one command buffer and submitted together (`GpuOptions`).
    steps_per_submission: u32,
    buffers: Cache<DiffusionBuffers>,
}

/// The device side of one grid shape.
struct DiffusionBuffers {
    /// `(rows, cols)` and the element size they were made for.
    shape: (usize, usize, usize),
    /// The uniform block (`Params` of diffusion.wgsl: rows, cols, padding, then k) and the
    /// grid in, the result out.
    staging: Staging,
    grid_bytes: u64,
    a: wgpu::Buffer,
    b: wgpu::Buffer,
    /// Even steps read a and write b; odd steps the reverse.
    a_to_b: wgpu::BindGroup,
    b_to_a: wgpu::BindGroup,
}

impl DiffusionPipeline {
    pub(super) fn new(
        context: &GpuContext,
        module: ShaderModule<'_>,
        workgroup: Workgroup,
        steps_per_submission: u32,
    ) -> Self {
        // Input: the grid read this step; output: the grid written.
        let kernel = Kernel::new(context, "lancehead diffusion", module, workgroup, 1);
        DiffusionPipeline {
            kernel,
            workgroup,
            steps_per_submission,
            buffers: Cache::new(),
        }
    }

    pub(super) fn created(&self) -> DeviceObjects {
        self.kernel.created()
    }

    /// Advances `grid` (row-major, already checked) by `steps` and says how long the upload,
    /// the compute and the read-back took.
    pub fn run<R: Real>(
        &self,
        context: &GpuContext,
        params: &DiffusionParams,
        grid: &mut [f64],
        steps: u32,
    ) -> Result<TransferTimes> {
        let name = R::BACKEND;
        let (rows, cols) = params.shape();
        let groups = context.workgroups(name, "diffusion grid", cols, rows, self.workgroup)?;
        let what = format!("diffusion grid of {rows}x{cols} {}", R::WGSL);
        let grid_bytes = context.buffer_size(name, &what, rows * cols, R::SIZE)?;
        if steps == 0 {
            return Ok(TransferTimes::default());
        }
        let shape = (rows, cols, R::SIZE);
        self.buffers.with(
            context,
            name,
            |b| b.shape == shape,
            || {
                let k = &self.kernel;
                let sizes = (16 + R::SIZE as u64, grid_bytes, grid_bytes);
                let staging = Staging::new(k, context, "diffusion", sizes);
                let storage = wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST;
                let a = k.buffer(context, "diffusion grid a", grid_bytes, storage);
                let b = k.buffer(context, "diffusion grid b", grid_bytes, storage);
                let a_to_b = k.bind(context, &staging.uniform, &[&a, &b]);
                let b_to_a = k.bind(context, &staging.uniform, &[&b, &a]);
                DiffusionBuffers {
                    shape,
                    staging,
                    grid_bytes,
                    a,
                    b,
                    a_to_b,
                    b_to_a,
                }
            },
            |b| self.call::<R>(context, b, params, grid, steps, groups),
        )
    }

    fn call<R: Real>(
        &self,
        context: &GpuContext,
        b: &DiffusionBuffers,
        params: &DiffusionParams,
        grid: &mut [f64],
        steps: u32,
        (groups_x, groups_y): (u32, u32),
    ) -> Result<TransferTimes> {
        let name = R::BACKEND;
        let start = Instant::now();
        let (rows, cols) = params.shape();
        let header = [rows as u32, cols as u32, 0, 0];
        let write = |values: wgpu::WriteOnly<'_, [u8]>| R::write_device(grid, values);
        let inputs = [(&b.a, b.grid_bytes)];
        b.staging
            .upload::<R>(context, header, &[params.k()], write, &inputs)?;
        let uploaded = Instant::now();

        let mut done = 0;
        while done < steps {
            let batch = self.steps_per_submission.min(steps - done);
            let mut encoder = context.device.create_command_encoder(&Default::default());
            {
                // wgpu puts a barrier between dispatches that use a buffer in conflicting
                // ways, so each step sees the whole previous one.
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&self.kernel.pipeline);
                for step in done..done + batch {
                    let bind_group = if step % 2 == 0 { &b.a_to_b } else { &b.b_to_a };
                    pass.set_bind_group(0, bind_group, &[]);
                    pass.dispatch_workgroups(groups_x, groups_y, 1);
                }
            }
            // Queue the next batch while this one runs; wait only after the last.
            let commands = encoder.finish();
            done += batch;
            if done < steps {
                context.queue.submit(Some(commands));
            } else {
                context.submit_and_wait(name, Some(commands))?;
            }
        }
        let computed = Instant::now();

        let result = if steps.is_multiple_of(2) { &b.a } else { &b.b };
        b.staging
            .read_back(context, name, result, b.grid_bytes, |device| {
                R::read_device(device, grid)
            })?;
        Ok(TransferTimes {
            upload: (uploaded - start).as_secs_f64(),
            compute: (computed - uploaded).as_secs_f64(),
            read_back: computed.elapsed().as_secs_f64(),
        })
    }
}
