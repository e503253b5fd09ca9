//! The `gpu` (f64) and `gpu-f32` backends: wgpu compute shaders written in WGSL.
//!
//! - [`context`]: the device, found once per process and shared, with error capture and the
//!   adapter's limits.
//! - [`shader`]: the WGSL sources (one text per kernel, for both precisions).
//! - [`julia`] and [`diffusion`]: each kernel's pipeline and its call (upload, compute,
//!   read-back, timed separately).
//!
//! The book's "A Note on GPUs" lesson is in the timings: [`Backend::last_transfer_times`]
//! reports how much of a call was spent copying data rather than computing.

pub mod context;
pub mod diffusion;
pub mod julia;
pub mod shader;

use std::marker::PhantomData;
use std::sync::Mutex;

use ndarray::ArrayViewMut2;

use crate::backend::{Backend, DiffusionKernel, JuliaKernel, TransferTimes};
use crate::error::{Error, Result};
use crate::problem::{DiffusionParams, JuliaParams};
use context::GpuContext;
use shader::Real;

/// A GPU backend computing in `R` (`f64`: `gpu`, `f32`: `gpu-f32`).
///
/// Pipelines and bind-group layouts are built once here and reused by every call; the device
/// is the process-wide [`context::shared`] one.
pub struct Gpu<R: Real> {
    context: &'static GpuContext,
    julia: julia::JuliaPipeline,
    diffusion: diffusion::DiffusionPipeline,
    /// The split of the most recent call.
    times: Mutex<Option<TransferTimes>>,
    real: PhantomData<R>,
}

impl<R: Real> Gpu<R> {
    /// Finds the device and compiles the shaders; [`Error::Unavailable`] when there is no
    /// adapter or it lacks what `R` needs.
    pub fn new() -> Result<Self> {
        let unavailable = |reason: String| Error::Unavailable {
            name: R::BACKEND.to_string(),
            reason,
        };
        let context = context::shared().map_err(unavailable)?;
        if let Some(reason) = context.lost() {
            return Err(unavailable(format!("the GPU device was lost ({reason})")));
        }
        if !context.device.features().contains(R::FEATURES) {
            return Err(unavailable(format!(
                "adapter {} does not support {} in shaders ({:?}); `gpu-f32` can run on it",
                context.adapter(),
                R::WGSL,
                R::FEATURES
            )));
        }
        let (julia, diffusion) = context.guarded(R::BACKEND, || {
            Ok((
                julia::JuliaPipeline::new::<R>(context),
                diffusion::DiffusionPipeline::new::<R>(context),
            ))
        })?;
        Ok(Gpu {
            context,
            julia,
            diffusion,
            times: Mutex::new(None),
            real: PhantomData,
        })
    }

    fn record(&self, times: TransferTimes) {
        if let Ok(mut slot) = self.times.lock() {
            *slot = Some(times);
        }
    }
}

impl<R: Real> JuliaKernel for Gpu<R> {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = crate::backend::julia_output(params, counts)?;
        let times = self.context.guarded(R::BACKEND, || {
            self.julia.run::<R>(self.context, params, counts)
        })?;
        self.record(times);
        Ok(())
    }
}

impl<R: Real> DiffusionKernel for Gpu<R> {
    fn evolve(
        &self,
        params: &DiffusionParams,
        grid: ArrayViewMut2<'_, f64>,
        scratch: ArrayViewMut2<'_, f64>,
        steps: u32,
    ) -> Result<()> {
        // The scratch grid is checked like everywhere else but unused: the ping-pong partner
        // lives on the device.
        let (grid, _scratch) = crate::backend::diffusion_buffers(params, grid, scratch)?;
        let times = self.context.guarded(R::BACKEND, || {
            self.diffusion.run::<R>(self.context, params, grid, steps)
        })?;
        self.record(times);
        Ok(())
    }
}

impl<R: Real> Backend for Gpu<R> {
    fn name(&self) -> &'static str {
        R::BACKEND
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let limits = &self.context.limits;
        vec![
            ("adapter", self.context.adapter()),
            ("precision", R::WGSL.to_string()),
            (
                "max_storage_buffer_binding_size",
                limits.max_storage_buffer_binding_size.to_string(),
            ),
        ]
    }

    fn last_transfer_times(&self) -> Option<TransferTimes> {
        self.times.lock().ok().and_then(|t| *t)
    }
}

/// A compute pipeline whose bind group 0 is: a uniform block of parameters at binding 0, then
/// `inputs` read-only storage arrays, then one read-write storage array (the output).
struct Kernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

impl Kernel {
    fn new(context: &GpuContext, label: &str, source: &str, inputs: u32) -> Self {
        let device = &context.device;
        let buffer = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![buffer(0, wgpu::BufferBindingType::Uniform)];
        for binding in 1..=inputs {
            entries.push(buffer(
                binding,
                wgpu::BufferBindingType::Storage { read_only: true },
            ));
        }
        entries.push(buffer(
            inputs + 1,
            wgpu::BufferBindingType::Storage { read_only: false },
        ));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &entries,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Kernel { layout, pipeline }
    }

    /// The bind group of one call: `uniform`, then the storage buffers in binding order.
    fn bind(
        &self,
        context: &GpuContext,
        uniform: &wgpu::Buffer,
        storage: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<_> = std::iter::once(uniform)
            .chain(storage.iter().copied())
            .enumerate()
            .map(|(binding, buffer)| wgpu::BindGroupEntry {
                binding: binding as u32,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        context
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &self.layout,
                entries: &entries,
            })
    }
}
