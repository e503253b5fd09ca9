//! The wgpu device shared by the GPU backends: found once per process, then reused.
//!
//! Like wgpu's `repeated_compute` example, everything expensive (instance, adapter, device,
//! queue) is built once; the kernels keep their buffers between calls of the same shape. The
//! context lives in a `OnceLock`, so `lancehead backends`, the tests and the CLI share one
//! device however many backend instances they build.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use super::shader::Workgroup;
use crate::error::{Error, Result};

/// The device, its queue, and what we know about the adapter behind it.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with: all the adapter offers.
    pub limits: wgpu::Limits,
    /// Why the device was lost, once it has been.
    lost: Arc<Mutex<Option<String>>>,
}

/// The process-wide context, or why there is none.
pub fn shared() -> Result<&'static GpuContext, String> {
    static CONTEXT: OnceLock<Result<GpuContext, String>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| pollster::block_on(create()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Prefers real GPUs over software ones, then f64 support.
fn rank(adapter: &wgpu::Adapter) -> (u8, bool) {
    let kind = match adapter.get_info().device_type {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 1,
        wgpu::DeviceType::Other => 0,
    };
    (
        kind,
        adapter.features().contains(wgpu::Features::SHADER_F64),
    )
}

/// The wgpu instance: `WGPU_BACKEND` and friends still choose backends, as in every wgpu
/// program; on Vulkan it is made without window-system extensions
/// ([`vulkan_without_window_system`]).
fn instance() -> wgpu::Instance {
    let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    #[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
    if desc.backends.contains(wgpu::Backends::VULKAN)
        && let Some(instance) = vulkan_without_window_system(&desc)
    {
        return instance;
    }
    wgpu::Instance::new(desc)
}

/// A Vulkan instance without the extensions that tie it to a window system (Xlib, XCB,
/// Wayland surfaces): Lancehead computes and never presents.
///
/// Why: Mesa's device-select layer, an implicit layer installed with every Mesa Vulkan driver
/// (lavapipe included), connects to the display server of each such extension the application
/// enables, to order the GPUs; outside a desktop session libwayland then prints
/// "XDG_RUNTIME_DIR is invalid or not set" on stderr. For a C or Python host of the C ABI that
/// is the host's stderr. The layer's switch is an environment variable (`NODEVICE_SELECT`),
/// which a library cannot set soundly: other threads of the host may read the environment.
/// Without the extensions the layer has no display to probe, nothing is printed, and no
/// connection to the user's X or Wayland server is opened.
///
/// `WGPU_DEBUG`, `WGPU_VALIDATION` and the other instance flags of `desc` reach the Vulkan
/// instance; wgpu-core keeps its default flags for an instance made from wgpu-hal's.
/// `None` when wgpu-hal finds no Vulkan here (the caller falls back to `wgpu::Instance::new`).
#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
fn vulkan_without_window_system(desc: &wgpu::InstanceDescriptor) -> Option<wgpu::Instance> {
    use std::ffi::CStr;
    use wgpu::hal::{self, vulkan};

    const WINDOW_SYSTEM: [&CStr; 3] = [
        c"VK_KHR_xlib_surface",
        c"VK_KHR_xcb_surface",
        c"VK_KHR_wayland_surface",
    ];
    let hal_desc = hal::InstanceDescriptor {
        name: "lancehead",
        flags: desc.flags,
        memory_budget_thresholds: desc.memory_budget_thresholds,
        backend_options: desc.backend_options.clone(),
        telemetry: None,
        display: None,
    };
    let without_window_system: Box<vulkan::CreateInstanceCallback> =
        Box::new(|args: vulkan::CreateInstanceCallbackArgs| {
            args.extensions.retain(|e| !WINDOW_SYSTEM.contains(e));
        });
    // SAFETY: `init_with_callback` is `Instance::init`, which wgpu itself calls with the same
    // kind of descriptor, plus the callback. Its documentation asks callbacks not to remove
    // extensions, because wgpu-hal assumes an extension it found is enabled. For the three
    // removed here that assumption is never relied on in the wgpu-hal this crate pins
    // (=30.0.2, Cargo.toml): they are used only by `create_surface_from_xlib`, `_xcb` and
    // `_wayland` (vulkan/instance.rs), each of which checks the instance's enabled list first
    // and returns an error, and Lancehead creates no surface. Re-check on a wgpu upgrade.
    let hal_instance =
        unsafe { vulkan::Instance::init_with_callback(&hal_desc, Some(without_window_system)) }
            .ok()?;
    // SAFETY: a valid instance just made by wgpu-hal's Vulkan backend, handed over whole.
    Some(unsafe { wgpu::Instance::from_hal::<hal::api::Vulkan>(hal_instance) })
}

async fn create() -> Result<GpuContext, String> {
    let instance = instance();
    let adapters = instance.enumerate_adapters(wgpu::Backends::all()).await;
    let Some(adapter) = adapters.into_iter().max_by_key(rank) else {
        return Err(
            "no GPU adapter found (wgpu sees no Vulkan, Metal or DX12 device); \
                    on Debian, `apt-get install mesa-vulkan-drivers` provides lavapipe, a \
                    software Vulkan device"
                .to_string(),
        );
    };
    let info = adapter.get_info();
    // The adapter's real limits rather than WebGPU's defaults: a 4096² f64 grid is exactly
    // the default 128 MiB storage binding, and larger problems need what the adapter has.
    // The device is built once and shared, so it asks for everything up front.
    let limits = adapter.limits();
    // SPIR-V passthrough carries the exact path's `NoContraction` decorations (src/gpu/spirv.rs).
    let wanted = wgpu::Features::SHADER_F64 | wgpu::Features::PASSTHROUGH_SHADERS;
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("lancehead"),
            required_features: adapter.features() & wanted,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        })
        .await
        .map_err(|e| {
            format!(
                "adapter {} cannot open a device: {}",
                info.name,
                one_line(e)
            )
        })?;

    let lost = Arc::new(Mutex::new(None));
    let record = Arc::clone(&lost);
    device.set_device_lost_callback(move |reason, message| {
        if let Ok(mut slot) = record.lock() {
            *slot = Some(format!("{reason:?}: {message}"));
        }
    });
    // wgpu's default handler panics on an error outside an error scope. Every call runs in
    // scopes (`GpuContext::guarded`), so this only keeps a stray error from aborting.
    device.on_uncaptured_error(Arc::new(|e| {
        eprintln!("lancehead: uncaptured GPU error: {}", one_line(e))
    }));
    Ok(GpuContext {
        device,
        queue,
        info,
        limits,
        lost,
    })
}

impl GpuContext {
    /// Whether the device can run f64 shaders.
    pub fn has_f64(&self) -> bool {
        self.device.features().contains(wgpu::Features::SHADER_F64)
    }

    /// Why SPIR-V cannot be handed to this device as it is, or `None` when it can: the Vulkan
    /// backend with wgpu's `PASSTHROUGH_SHADERS` (Metal and DX12 take MSL and DXIL there).
    pub fn no_spirv_passthrough(&self) -> Option<String> {
        if self.info.backend != wgpu::Backend::Vulkan {
            Some(format!(
                "adapter {} runs on {:?}, where SPIR-V (the only form that carries NoContraction) \
                 cannot be passed through",
                self.info.name, self.info.backend
            ))
        } else if !self
            .device
            .features()
            .contains(wgpu::Features::PASSTHROUGH_SHADERS)
        {
            Some(format!(
                "adapter {} does not offer wgpu's PASSTHROUGH_SHADERS",
                self.info.name
            ))
        } else {
            None
        }
    }

    /// A short description of the adapter for `lancehead backends`.
    pub fn adapter(&self) -> String {
        format!(
            "{} ({:?}, {:?}, {} {})",
            self.info.name,
            self.info.backend,
            self.info.device_type,
            self.info.driver,
            self.info.driver_info
        )
    }

    /// Runs `f` with wgpu's validation, out-of-memory and internal errors captured, and turns
    /// any of them (or a lost device) into [`Error::Gpu`] instead of a panic.
    pub fn guarded<T>(&self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.check_lost(name)?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let result = f();
        // Scopes pop in reverse order of their pushes.
        let errors = [
            pollster::block_on(internal.pop()),
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
        ];
        self.check_lost(name)?;
        // A captured error explains a failed result better than the failure it caused.
        if let Some(e) = errors.into_iter().flatten().next() {
            return Err(Error::Gpu {
                name,
                message: one_line(e),
            });
        }
        result
    }

    /// Why the device was lost, if it has been (it is then useless for the process).
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn check_lost(&self, name: &'static str) -> Result<()> {
        match self.lost() {
            Some(reason) => Err(Error::Gpu {
                name,
                message: format!("device lost ({reason})"),
            }),
            None => Ok(()),
        }
    }

    /// The size in bytes of a buffer of `elements` values of `element_size` bytes, or
    /// [`Error::GpuLimit`] when one storage binding or buffer on this device cannot hold it.
    pub fn buffer_size(
        &self,
        name: &'static str,
        what: &str,
        elements: usize,
        element_size: usize,
    ) -> Result<u64> {
        let limit = |needed: u64, unit, limit, allowed| Error::GpuLimit {
            name,
            what: what.to_string(),
            needed,
            unit,
            limit,
            allowed,
        };
        // The shaders index with u32.
        if elements as u64 > u64::from(u32::MAX) {
            let max = u64::from(u32::MAX);
            return Err(limit(elements as u64, "elements", "u32 shader index", max));
        }
        let bytes = elements as u64 * element_size as u64;
        for (name, allowed) in [
            (
                "max_storage_buffer_binding_size",
                self.limits.max_storage_buffer_binding_size,
            ),
            ("max_buffer_size", self.limits.max_buffer_size),
        ] {
            if bytes > allowed {
                return Err(limit(bytes, "bytes", name, allowed));
            }
        }
        Ok(bytes)
    }

    /// Workgroups of `shape` covering `cols x rows` (2D, so each dimension has its own limit).
    pub fn workgroups(
        &self,
        name: &'static str,
        what: &str,
        cols: usize,
        rows: usize,
        shape: Workgroup,
    ) -> Result<(u32, u32)> {
        let allowed = self.limits.max_compute_workgroups_per_dimension;
        let mut counts = [0u32; 2];
        for ((count, extent), side) in counts.iter_mut().zip([cols, rows]).zip([shape.x, shape.y]) {
            let needed = extent.div_ceil(side as usize) as u64;
            if needed > u64::from(allowed) {
                return Err(Error::GpuLimit {
                    name,
                    what: format!("{what} ({extent} wide in one dimension, workgroups of {shape})"),
                    needed,
                    unit: "workgroups",
                    limit: "max_compute_workgroups_per_dimension",
                    allowed: u64::from(allowed),
                });
            }
            *count = needed as u32;
        }
        Ok((counts[0], counts[1]))
    }

    /// Refuses a workgroup shape this device cannot run, naming the limit.
    pub fn check_workgroup(&self, name: &'static str, what: &str, shape: Workgroup) -> Result<()> {
        if shape.x == 0 || shape.y == 0 {
            return Err(Error::invalid(
                "workgroup",
                shape.to_string(),
                "at least one invocation in each dimension",
            ));
        }
        let limits = &self.limits;
        for (needed, limit, allowed) in [
            (
                u64::from(shape.x),
                "max_compute_workgroup_size_x",
                limits.max_compute_workgroup_size_x,
            ),
            (
                u64::from(shape.y),
                "max_compute_workgroup_size_y",
                limits.max_compute_workgroup_size_y,
            ),
            (
                shape.invocations(),
                "max_compute_invocations_per_workgroup",
                limits.max_compute_invocations_per_workgroup,
            ),
        ] {
            if needed > u64::from(allowed) {
                return Err(Error::GpuLimit {
                    name,
                    what: format!("{what} workgroup {shape}"),
                    needed,
                    unit: "invocations",
                    limit,
                    allowed: u64::from(allowed),
                });
            }
        }
        Ok(())
    }

    /// Submits `commands` (none: just flush pending queue writes) and waits until the device
    /// has finished them.
    pub fn submit_and_wait(
        &self,
        name: &'static str,
        commands: Option<wgpu::CommandBuffer>,
    ) -> Result<()> {
        let index = self.queue.submit(commands);
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| Error::Gpu {
                name,
                message: one_line(e),
            })
    }

    /// Maps the whole of the MAP_WRITE `buffer` and hands it to `write`.
    pub fn write_mapped(
        &self,
        name: &'static str,
        buffer: &wgpu::Buffer,
        write: impl FnOnce(wgpu::WriteOnly<'_, [u8]>),
    ) -> Result<()> {
        self.map(name, buffer, wgpu::MapMode::Write)?;
        {
            let mut view = buffer
                .get_mapped_range_mut(..)
                .map_err(|e| mapping_error(name, "write", e))?;
            write(view.slice(..));
        }
        buffer.unmap();
        Ok(())
    }

    /// Maps the whole of the MAP_READ `buffer` and hands its bytes to `read`.
    pub fn read_mapped(
        &self,
        name: &'static str,
        buffer: &wgpu::Buffer,
        read: impl FnOnce(&[u8]),
    ) -> Result<()> {
        self.map(name, buffer, wgpu::MapMode::Read)?;
        {
            let view = buffer
                .get_mapped_range(..)
                .map_err(|e| mapping_error(name, "read", e))?;
            read(&view);
        }
        buffer.unmap();
        Ok(())
    }

    /// Maps `buffer` for `mode` once the queue is idle.
    fn map(&self, name: &'static str, buffer: &wgpu::Buffer, mode: wgpu::MapMode) -> Result<()> {
        let (sender, receiver) = mpsc::channel();
        buffer.slice(..).map_async(mode, move |r| {
            // The receiver waits below; a send can only fail once it has given up.
            let _ = sender.send(r);
        });
        // Another thread's poll may run the callback: `recv` waits for it either way.
        self.submit_and_wait(name, None)?;
        receiver
            .recv()
            .map_err(|_| mapping_error(name, "map", "the mapping was never answered"))?
            .map_err(|e| mapping_error(name, "map", e))
    }
}

fn mapping_error(name: &'static str, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Gpu {
        name,
        message: format!("cannot {what} a staging buffer: {}", one_line(e)),
    }
}

/// A wgpu message on one line, as every Lancehead message is.
pub fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
