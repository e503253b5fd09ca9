//! Diffusion on the GPU: both grids stay on the device for all the steps, the shader writes
//! one into the other and the two swap roles every step (ping-pong), with one upload and one
//! read-back per call.

use std::time::Instant;

use super::Kernel;
use super::context::GpuContext;
use super::shader::{self, Real};
use crate::backend::TransferTimes;
use crate::error::Result;
use crate::problem::DiffusionParams;

/// Steps recorded into one command buffer and submitted together: enough to keep submission
/// overhead negligible, few enough that one submission stays well under the time a desktop
/// driver allows a GPU job before resetting the device (about 2 s on Windows).
const STEPS_PER_SUBMISSION: u32 = 64;

pub struct DiffusionPipeline(Kernel);

impl DiffusionPipeline {
    pub fn new<R: Real>(context: &GpuContext) -> Self {
        let source = shader::source::<R>(shader::DIFFUSION);
        // Input: the grid read this step; output: the grid written.
        DiffusionPipeline(Kernel::new(context, "lancehead diffusion", &source, 1))
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
        let (groups_x, groups_y) = context.workgroups(name, "diffusion grid", cols, rows)?;
        let what = format!("diffusion grid of {rows}x{cols} {}", R::WGSL);
        let bytes = context.buffer_size(name, &what, rows * cols, std::mem::size_of::<R>())?;
        if steps == 0 {
            return Ok(TransferTimes::default());
        }

        let start = Instant::now();
        // `Params` of diffusion.wgsl: rows, cols, padding, then k.
        let mut uniform = Vec::new();
        for field in [rows as u32, cols as u32, 0, 0] {
            uniform.extend_from_slice(&field.to_ne_bytes());
        }
        uniform.extend(R::scalar_bytes(params.k()));
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let uniform = context.upload("diffusion params", &uniform, wgpu::BufferUsages::UNIFORM);
        let a = context.upload("diffusion grid a", &R::to_device(grid), storage);
        let b = context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("diffusion grid b"),
            size: bytes,
            usage: storage,
            mapped_at_creation: false,
        });
        // Even steps read a and write b; odd steps the reverse.
        let a_to_b = self.0.bind(context, &uniform, &[&a, &b]);
        let b_to_a = self.0.bind(context, &uniform, &[&b, &a]);
        context.submit_and_wait(name, None)?;
        let uploaded = Instant::now();

        let mut done = 0;
        while done < steps {
            let batch = STEPS_PER_SUBMISSION.min(steps - done);
            let mut encoder = context.device.create_command_encoder(&Default::default());
            {
                // wgpu puts a barrier between dispatches that use a buffer in conflicting
                // ways, so each step sees the whole previous one.
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&self.0.pipeline);
                for step in done..done + batch {
                    let bind_group = if step % 2 == 0 { &a_to_b } else { &b_to_a };
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

        let result = if steps.is_multiple_of(2) { &a } else { &b };
        context.read_back(name, result, bytes, |device| R::from_device(device, grid))?;
        Ok(TransferTimes {
            upload: (uploaded - start).as_secs_f64(),
            compute: (computed - uploaded).as_secs_f64(),
            read_back: computed.elapsed().as_secs_f64(),
        })
    }
}
