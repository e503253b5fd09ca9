//! The `gpu` (f64) and `gpu-f32` backends: wgpu compute shaders written in WGSL.
//!
//! - [`context`]: the device, found once per process and shared, with error capture and the
//!   adapter's limits.
//! - [`shader`]: the WGSL sources (one text per kernel, for both precisions) and the
//!   workgroup shape they are specialised for.
//! - [`spirv`]: the exact Vulkan path, naga's SPIR-V of the same WGSL with every float
//!   operation decorated `NoContraction`.
//! - [`canary`]: the few pixels and cells that show, at construction, whether the driver
//!   honours the decoration.
//! - [`julia`] and [`diffusion`]: each kernel's pipeline, its buffers (kept while the shape
//!   repeats) and its call (upload, compute, read-back, timed separately).
//!
//! The book's "A Note on GPUs" lesson is in the timings: [`Backend::last_transfer_times`]
//! reports how much of a call was spent copying data rather than computing.

pub mod canary;
pub mod context;
pub mod diffusion;
pub mod julia;
pub mod shader;
pub mod spirv;

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use ndarray::ArrayViewMut2;

use crate::backend::registry::Agreement;
use crate::backend::{Backend, DiffusionKernel, JuliaKernel, TransferTimes};
use crate::error::{Error, Result};
use crate::problem::{DiffusionParams, JuliaParams, Kernel as Problem};
use context::GpuContext;
use shader::{Real, Workgroup};

/// How the shaders reach the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShaderPath {
    /// The exact path where the adapter offers it (Vulkan with SPIR-V passthrough), WGSL
    /// elsewhere.
    #[default]
    Auto,
    /// The WGSL through wgpu, whose translation leaves the driver free to reassociate and
    /// fuse: the tolerance class.
    Wgsl,
    /// naga's SPIR-V through passthrough, decorated `NoContraction` or (to measure what the
    /// decoration changes) not. Refused where the adapter has no SPIR-V passthrough.
    Spirv { no_contraction: bool },
}

/// How a GPU backend instance runs. [`Default`] is what the registry builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuOptions {
    pub shaders: ShaderPath,
    /// Workgroup shape of the Julia kernel.
    pub julia_workgroup: Workgroup,
    /// Workgroup shape of the diffusion kernel.
    pub diffusion_workgroup: Workgroup,
    /// Diffusion steps recorded into one command buffer.
    pub steps_per_submission: u32,
    /// Run the canary ([`canary`]) at construction on the exact path. Off only to measure
    /// what it costs: without it the exact path is not claimed exact.
    pub canary: bool,
}

/// Measured on lavapipe (Mesa 22.3.6, LLVM 15) on the 2-vCPU AMD EPYC (Zen 4) development
/// machine with `examples/gpu_tuning.rs` (docs/gpu.md); no GPU was available, and a real one
/// must be measured again with that example:
/// - Julia: every shape tried (8x8 to 256x1) within the run-to-run noise of each other, so
///   the square 16x16 stays.
/// - Diffusion: 256x1 (whole row segments) the fastest at 256², 512² and 1024², by 1.07x,
///   1.41x and 1.38x over 16x16 in CPU time; on grids narrower than 256 columns it idles
///   invocations (1.73x slower than 32x8 at 128²).
/// - Steps per submission: no effect above the noise from 16 to 1024; 64 keeps one
///   submission short on a desktop GPU, whose driver resets a device after about 2 s of one
///   job (Windows).
impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            shaders: ShaderPath::Auto,
            julia_workgroup: Workgroup::new(16, 16),
            diffusion_workgroup: Workgroup::new(256, 1),
            steps_per_submission: 64,
            canary: true,
        }
    }
}

/// The agreement class of each kernel on this instance, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exactness {
    pub julia: Agreement,
    pub diffusion: Agreement,
    pub reason: String,
}

/// A GPU backend computing in `R` (`f64`: `gpu`, `f32`: `gpu-f32`).
///
/// Pipelines and bind-group layouts are built once here and reused by every call, and each
/// kernel keeps its device buffers, bind groups and staging buffers while the problem's shape
/// repeats; the device is the process-wide [`context::shared`] one.
///
/// Calls may come from any number of threads: each kernel's buffers are behind a lock held for
/// the whole call (upload, compute, read-back), so two calls of one kernel take turns while
/// the two kernels run side by side. One set of buffers per kernel rather than a pool: the
/// device runs one queue anyway, and a pool would multiply the device memory by the number of
/// threads.
pub struct Gpu<R: Real> {
    context: &'static GpuContext,
    julia: julia::JuliaPipeline,
    diffusion: diffusion::DiffusionPipeline,
    exactness: Exactness,
    /// How the shaders were loaded, for `details()`.
    path: String,
    options: GpuOptions,
    /// The split of the most recent call.
    times: Mutex<Option<TransferTimes>>,
    real: PhantomData<R>,
}

impl<R: Real> Gpu<R> {
    /// Finds the device and compiles the shaders with [`GpuOptions::default`];
    /// [`Error::Unavailable`] when there is no adapter or it lacks what `R` needs.
    pub fn new() -> Result<Self> {
        Self::with_options(GpuOptions::default())
    }

    /// As [`new`](Self::new), with `options`.
    pub fn with_options(options: GpuOptions) -> Result<Self> {
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
        let name = R::BACKEND;
        context.check_workgroup(name, "Julia", options.julia_workgroup)?;
        context.check_workgroup(name, "diffusion", options.diffusion_workgroup)?;
        if options.steps_per_submission == 0 {
            return Err(Error::invalid(
                "steps_per_submission",
                0,
                "at least one step per submission",
            ));
        }
        let no_passthrough = context.no_spirv_passthrough();
        let form = match (options.shaders, &no_passthrough) {
            (ShaderPath::Auto, None) => ShaderForm::Spirv {
                no_contraction: true,
            },
            (ShaderPath::Auto | ShaderPath::Wgsl, _) => ShaderForm::Wgsl,
            (ShaderPath::Spirv { no_contraction }, None) => ShaderForm::Spirv { no_contraction },
            (ShaderPath::Spirv { .. }, Some(reason)) => {
                return Err(unavailable(format!("no SPIR-V path: {reason}")));
            }
        };
        let julia_source = shader::source::<R>(shader::JULIA);
        let diffusion_source = shader::source::<R>(shader::DIFFUSION);
        let build = |form: ShaderForm| -> Result<_> {
            let julia_module = form.module(name, &julia_source, options.julia_workgroup)?;
            let diffusion_module =
                form.module(name, &diffusion_source, options.diffusion_workgroup)?;
            // The decorations are audited before the exact class is claimed.
            let audits = [&julia_module, &diffusion_module].map(|m| {
                m.spirv()
                    .map(|words| spirv::audit(words).map_err(|e| gpu_error(name, e)))
            });
            let (julia, diffusion) = context.guarded(name, || {
                Ok((
                    julia::JuliaPipeline::new(context, julia_module, options.julia_workgroup),
                    diffusion::DiffusionPipeline::new(
                        context,
                        diffusion_module,
                        options.diffusion_workgroup,
                        options.steps_per_submission,
                    ),
                ))
            })?;
            Ok((julia, diffusion, audits))
        };
        // A driver that refuses the SPIR-V (or naga failing to write it) leaves the WGSL path,
        // and says so, unless SPIR-V was asked for.
        let (form, (julia, diffusion, audits), why_wgsl) = match (form, build(form)) {
            (ShaderForm::Spirv { .. }, Err(e)) if options.shaders == ShaderPath::Auto => (
                ShaderForm::Wgsl,
                build(ShaderForm::Wgsl)?,
                Some(format!("the NoContraction SPIR-V could not be used ({e})")),
            ),
            (form, built) => (form, built?, no_passthrough),
        };
        let mut gpu = Gpu {
            context,
            julia,
            diffusion,
            exactness: Exactness {
                julia: R::TOLERANCE,
                diffusion: R::TOLERANCE,
                reason: String::new(),
            },
            path: form.describe(),
            options,
            times: Mutex::new(None),
            real: PhantomData,
        };
        gpu.exactness = gpu.measure_exactness(form, why_wgsl, audits)?;
        Ok(gpu)
    }

    /// The class of each kernel, from the shader path (`why_wgsl`: why the default path is
    /// WGSL here), the audit of its decorations and (on the exact path) the canary.
    fn measure_exactness(
        &self,
        form: ShaderForm,
        why_wgsl: Option<String>,
        audits: [Option<Result<spirv::Audit>>; 2],
    ) -> Result<Exactness> {
        let tolerance = |reason: String| Exactness {
            julia: R::TOLERANCE,
            diffusion: R::TOLERANCE,
            reason,
        };
        if R::TOLERANCE == Agreement::ToleranceF32 {
            return Ok(tolerance(format!(
                "tolerance: computes in f32 ({})",
                self.path
            )));
        }
        match form {
            ShaderForm::Wgsl => {
                let why = match (self.options.shaders, why_wgsl) {
                    (ShaderPath::Auto, Some(reason)) => reason,
                    _ => "the WGSL path was asked for".to_string(),
                };
                return Ok(tolerance(format!(
                    "tolerance: {why}; WGSL lets the driver reassociate and fuse float \
                     operations (lavapipe does: docs/gpu.md)"
                )));
            }
            ShaderForm::Spirv {
                no_contraction: false,
            } => {
                return Ok(tolerance(
                    "tolerance: SPIR-V without NoContraction was asked for".to_string(),
                ));
            }
            ShaderForm::Spirv {
                no_contraction: true,
            } => {}
        }
        for (kernel, audit) in ["Julia", "diffusion"].into_iter().zip(audits) {
            if let Some(audit) = audit.transpose()?
                && !audit.is_complete()
            {
                return Ok(tolerance(format!(
                    "tolerance: the {kernel} module's decorations are incomplete ({audit})"
                )));
            }
        }
        if !self.options.canary {
            return Ok(tolerance(
                "tolerance: NoContraction SPIR-V, but the canary that confirms the driver \
                 honours it was switched off"
                    .to_string(),
            ));
        }
        let start = Instant::now();
        let julia = canary::julia(self)?;
        let diffusion = canary::diffusion(self)?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        let class = |differing: usize| {
            if differing == 0 {
                Agreement::Exact
            } else {
                R::TOLERANCE
            }
        };
        let (julia_class, diffusion_class) = (class(julia.differing), class(diffusion.differing));
        let reason = if julia.differing == 0 && diffusion.differing == 0 {
            format!(
                "exact: {}; canary ({julia}, {diffusion}) bitwise equal to scalar in \
                 {elapsed:.1} ms",
                self.path
            )
        } else {
            format!(
                "the driver does not honour NoContraction: canary {julia} and {diffusion} \
                 differ from scalar, so Julia is {} and diffusion {} ({})",
                class_name(julia_class),
                class_name(diffusion_class),
                self.path
            )
        };
        Ok(Exactness {
            julia: julia_class,
            diffusion: diffusion_class,
            reason,
        })
    }

    /// The class of each kernel on this instance, and why.
    pub fn exactness(&self) -> &Exactness {
        &self.exactness
    }

    /// Device buffers and bind groups this instance has created so far (for the tests of
    /// buffer reuse: a call of a shape seen just before creates none).
    pub fn device_objects_created(&self) -> DeviceObjects {
        self.julia.created().plus(self.diffusion.created())
    }

    fn record(&self, times: TransferTimes) {
        if let Ok(mut slot) = self.times.lock() {
            *slot = Some(times);
        }
    }
}

fn class_name(class: Agreement) -> &'static str {
    match class {
        Agreement::Exact => "exact",
        Agreement::ToleranceF64 | Agreement::ToleranceF32 => "tolerance",
    }
}

fn gpu_error(name: &'static str, message: String) -> Error {
    Error::Gpu { name, message }
}

/// Refuses inputs that `R` cannot represent: f32 turns them into infinities on the device,
/// and the results into NaN, silently.
fn check_range<R: Real>(what: &'static str, values: &[f64], shape: (usize, usize)) -> Result<()> {
    match R::first_out_of_range(values) {
        None => Ok(()),
        Some((i, v)) => Err(Error::invalid(
            what,
            format!("{v:e} at {:?}", (i / shape.1.max(1), i % shape.1.max(1))),
            format!(
                "values within ±{:e} for backend `{}` (it computes in {}); use `gpu` or a CPU \
                 backend",
                R::MAX,
                R::BACKEND,
                R::WGSL
            ),
        )),
    }
}

impl<R: Real> JuliaKernel for Gpu<R> {
    fn julia(&self, params: &JuliaParams, counts: ArrayViewMut2<'_, u32>) -> Result<()> {
        let counts = crate::backend::julia_output(params, counts)?;
        let (cr, ci) = params.c();
        check_range::<R>("region", params.xs(), (1, params.width()))?;
        check_range::<R>("region", params.ys(), (1, params.height()))?;
        check_range::<R>("c", &[cr, ci], (1, 2))?;
        let input = julia::JuliaInput::from(params);
        let times = self.julia.run::<R>(self.context, &input, counts)?;
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
        check_range::<R>("grid", grid, params.shape())?;
        let times = self.diffusion.run::<R>(self.context, params, grid, steps)?;
        self.record(times);
        Ok(())
    }
}

impl<R: Real> Backend for Gpu<R> {
    fn name(&self) -> &'static str {
        R::BACKEND
    }

    fn agreement(&self, kernel: Problem) -> Agreement {
        match kernel {
            Problem::Julia => self.exactness.julia,
            Problem::Diffusion => self.exactness.diffusion,
        }
    }

    fn cpu_threads(&self) -> Option<usize> {
        None
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        let limits = &self.context.limits;
        vec![
            ("adapter", self.context.adapter()),
            ("precision", R::WGSL.to_string()),
            ("shaders", self.path.clone()),
            ("exactness", self.exactness.reason.clone()),
            (
                "workgroups",
                format!(
                    "julia {}, diffusion {}, {} diffusion steps per submission",
                    self.options.julia_workgroup,
                    self.options.diffusion_workgroup,
                    self.options.steps_per_submission
                ),
            ),
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

/// The form in which the shaders are handed to wgpu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShaderForm {
    Wgsl,
    Spirv { no_contraction: bool },
}

impl ShaderForm {
    fn module<'a>(
        self,
        name: &'static str,
        source: &'a str,
        workgroup: Workgroup,
    ) -> Result<ShaderModule<'a>> {
        Ok(match self {
            ShaderForm::Wgsl => ShaderModule::Wgsl(source),
            ShaderForm::Spirv { no_contraction } => ShaderModule::Spirv(
                spirv::compile(source, &workgroup.constants(), no_contraction)
                    .map_err(|e| gpu_error(name, format!("cannot compile a shader: {e}")))?,
            ),
        })
    }

    fn describe(self) -> String {
        match self {
            ShaderForm::Wgsl => "WGSL through wgpu".to_string(),
            ShaderForm::Spirv {
                no_contraction: true,
            } => "naga SPIR-V, NoContraction on every float operation, Vulkan passthrough"
                .to_string(),
            ShaderForm::Spirv {
                no_contraction: false,
            } => "naga SPIR-V without NoContraction, Vulkan passthrough".to_string(),
        }
    }
}

/// One kernel's shader, ready for a pipeline.
pub(crate) enum ShaderModule<'a> {
    Wgsl(&'a str),
    Spirv(Vec<u32>),
}

impl ShaderModule<'_> {
    fn spirv(&self) -> Option<&[u32]> {
        match self {
            ShaderModule::Spirv(words) => Some(words),
            ShaderModule::Wgsl(_) => None,
        }
    }
}

/// Device objects created, counted per kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceObjects {
    pub buffers: u64,
    pub bind_groups: u64,
}

impl DeviceObjects {
    fn plus(self, other: DeviceObjects) -> DeviceObjects {
        DeviceObjects {
            buffers: self.buffers + other.buffers,
            bind_groups: self.bind_groups + other.bind_groups,
        }
    }
}

/// A compute pipeline whose bind group 0 is: a uniform block of parameters at binding 0, then
/// `inputs` read-only storage arrays, then one read-write storage array (the output); with
/// counters of the device objects made for it.
struct Kernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
    buffers: AtomicU64,
    bind_groups: AtomicU64,
}

impl Kernel {
    fn new(
        context: &GpuContext,
        label: &str,
        module: ShaderModule<'_>,
        workgroup: Workgroup,
        inputs: u32,
    ) -> Self {
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
        // Explicit layouts: a passthrough module carries no reflection for wgpu to derive
        // them from. wgpu's Vulkan backend maps `@group(0) @binding(n)` to set 0, binding n,
        // which is what naga wrote into the SPIR-V.
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &entries,
        });
        let constants = workgroup.constants();
        let (module, constants): (_, &[(&str, f64)]) = match module {
            ShaderModule::Wgsl(source) => (
                device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(label),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                }),
                &constants,
            ),
            // SAFETY: the words are naga's SPIR-V of a module naga parsed and validated, with
            // bounds checks written in (`spirv::compile`) and decorations inserted where
            // SPIR-V puts them (`spirv::audit` checks the layout in tests/shaders.rs); the
            // bind group layout above matches the shader's bindings.
            ShaderModule::Spirv(words) => (
                unsafe {
                    device.create_shader_module_passthrough(
                        wgpu::ShaderModuleDescriptorPassthrough {
                            label: Some(label),
                            entry_points: Cow::Owned(vec![wgpu::PassthroughShaderEntryPoint {
                                name: "main".into(),
                                workgroup_size: (workgroup.x, workgroup.y, 1),
                            }]),
                            spirv: Some(Cow::Owned(words)),
                            ..Default::default()
                        },
                    )
                },
                // Already applied by naga.
                &[],
            ),
        };
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
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                ..Default::default()
            },
            cache: None,
        });
        Kernel {
            layout,
            pipeline,
            buffers: AtomicU64::new(0),
            bind_groups: AtomicU64::new(0),
        }
    }

    /// A new device buffer, counted.
    fn buffer(
        &self,
        context: &GpuContext,
        label: &str,
        size: u64,
        usage: wgpu::BufferUsages,
    ) -> wgpu::Buffer {
        self.buffers.fetch_add(1, Relaxed);
        context.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        })
    }

    /// A bind group of `uniform`, then the storage buffers in binding order, counted.
    fn bind(
        &self,
        context: &GpuContext,
        uniform: &wgpu::Buffer,
        storage: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        self.bind_groups.fetch_add(1, Relaxed);
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

    fn created(&self) -> DeviceObjects {
        DeviceObjects {
            buffers: self.buffers.load(Relaxed),
            bind_groups: self.bind_groups.load(Relaxed),
        }
    }
}

/// Where a kernel's uniform block sits in its upload buffer: every shader's `Params` (four u32,
/// then one or two reals) fits in 32 bytes, and the inputs follow it.
const UNIFORM_SLOT: u64 = 32;

/// The host side of one kernel's buffers for one shape, with the uniform block: the block and
/// the inputs are written into one MAP_WRITE buffer in place and copied to their device
/// buffers; the output is copied into a MAP_READ buffer and read from there.
struct Staging {
    uniform: wgpu::Buffer,
    uniform_bytes: u64,
    upload: wgpu::Buffer,
    download: wgpu::Buffer,
}

impl Staging {
    fn new(
        kernel: &Kernel,
        context: &GpuContext,
        label: &str,
        (uniform_bytes, inputs_bytes, output_bytes): (u64, u64, u64),
    ) -> Self {
        use wgpu::BufferUsages as Usage;
        let uniform = Usage::UNIFORM | Usage::COPY_DST;
        let upload = Usage::MAP_WRITE | Usage::COPY_SRC;
        let download = Usage::MAP_READ | Usage::COPY_DST;
        Staging {
            uniform: kernel.buffer(context, &format!("{label} params"), uniform_bytes, uniform),
            uniform_bytes,
            upload: kernel.buffer(
                context,
                &format!("{label} upload"),
                UNIFORM_SLOT + inputs_bytes,
                upload,
            ),
            download: kernel.buffer(
                context,
                &format!("{label} read-back"),
                output_bytes,
                download,
            ),
        }
    }

    /// Writes the uniform block (`header`, then `reals` as `R`) and the inputs (`write_inputs`
    /// fills the bytes after the block), then copies the block to its buffer and the inputs,
    /// in order, to `inputs` (each a buffer and its size), and waits.
    fn upload<R: Real>(
        &self,
        context: &GpuContext,
        header: [u32; 4],
        reals: &[f64],
        write_inputs: impl FnOnce(wgpu::WriteOnly<'_, [u8]>),
        inputs: &[(&wgpu::Buffer, u64)],
    ) -> Result<()> {
        let name = R::BACKEND;
        context.write_mapped(name, &self.upload, |staging| {
            let (uniform, rest) = staging.split_at(UNIFORM_SLOT as usize);
            let (ints, values) = uniform.split_at(16);
            ints.into_chunks::<4>()
                .0
                .write_iter(header.map(u32::to_ne_bytes));
            R::write_device(reals, values.into_slice(..reals.len() * R::SIZE));
            write_inputs(rest);
        })?;
        let mut encoder = context.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.upload, 0, &self.uniform, 0, self.uniform_bytes);
        let mut at = UNIFORM_SLOT;
        for &(buffer, bytes) in inputs {
            encoder.copy_buffer_to_buffer(&self.upload, at, buffer, 0, bytes);
            at += bytes;
        }
        context.submit_and_wait(name, Some(encoder.finish()))
    }

    /// Copies `bytes` of `source` into the read-back buffer and hands them to `read`.
    fn read_back(
        &self,
        context: &GpuContext,
        name: &'static str,
        source: &wgpu::Buffer,
        bytes: u64,
        read: impl FnOnce(&[u8]),
    ) -> Result<()> {
        let mut encoder = context.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(source, 0, &self.download, 0, bytes);
        // The mapping waits for the copy.
        context.queue.submit(Some(encoder.finish()));
        context.read_mapped(name, &self.download, read)
    }
}

/// The buffers of one kernel for one problem shape, kept between calls.
///
/// `take` hands out the buffers for `shape` (building them, inside their own error scope, when
/// the cached ones are for another shape or there are none); the call gives them back with
/// `keep` only when it succeeded, so a failed call never leaves half-usable buffers behind.
struct Cache<B> {
    slot: Mutex<Option<B>>,
}

impl<B> Cache<B> {
    fn new() -> Self {
        Cache {
            slot: Mutex::new(None),
        }
    }

    /// Runs `call` with the cached buffers matching `fits`, or ones made by `build`, holding
    /// the lock for the whole call.
    fn with<T>(
        &self,
        context: &GpuContext,
        name: &'static str,
        fits: impl Fn(&B) -> bool,
        build: impl FnOnce() -> B,
        call: impl FnOnce(&B) -> Result<T>,
    ) -> Result<T> {
        // A panic in another call cannot leave the buffers inconsistent in a way that matters:
        // they are rebuilt below.
        let mut slot = self.slot.lock().unwrap_or_else(|p| {
            let mut guard = p.into_inner();
            *guard = None;
            guard
        });
        if !slot.as_ref().is_some_and(&fits) {
            // Free the old shape's memory before asking for the new one's.
            *slot = None;
            *slot = Some(context.guarded(name, || Ok(build()))?);
        }
        let buffers = slot.as_ref().expect("filled above");
        let result = context.guarded(name, || call(buffers));
        if result.is_err() {
            *slot = None;
        }
        result
    }
}
