//! Each measurement set against the machine's limits measured in the same run (a roofline):
//! the least time its work could take on the cores it used, and which limit that is.
//!
//! - **Compute floor**: the updates of the call at the calibrated issue rate of the kernel's
//!   exact operation mix ([`Calibration::mix`]), on as many cores as the backend used
//!   (scaled by the effective cores when it used all of them).
//! - **Memory floor** (diffusion): a sweep reads one grid and writes the other, 16 bytes per
//!   cell update, at the calibrated copy bandwidth; a temporally blocked backend moves that
//!   once per pass of several steps ([`Backend::steps_per_pass`](crate::Backend::steps_per_pass)).
//!   It applies only when the two grids do not fit in the last-level cache.
//!
//! The floor is the larger of the two; `fraction = floor / measured` says how close the
//! backend came (1.0 would be the machine's limit). Device backends compute elsewhere and
//! get no CPU roofline.

use serde::{Deserialize, Serialize};

use crate::harness::calibration::Calibration;
use crate::problem::Kernel;

/// Bytes a one-pass diffusion step moves per cell: one f64 read, one written.
pub const SWEEP_BYTES_PER_UPDATE: f64 = 16.0;

/// Which limit bounds a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Compute,
    Memory,
}

/// One measurement against the machine's limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roofline {
    /// Cores the ceilings assume (the backend's threads, scaled by the effective cores).
    pub cores: f64,
    /// The updates at the calibrated issue rate of the exact mix on those cores.
    pub compute_floor_seconds: f64,
    /// The bytes moved at the calibrated bandwidth; `None` when the problem fits in the
    /// last-level cache or moves no grid (Julia).
    pub memory_floor_seconds: Option<f64>,
    pub bound: Bound,
    /// `max(compute, memory)`.
    pub floor_seconds: f64,
    /// `floor_seconds / measured median`.
    pub fraction: f64,
    /// f64 operations per second the backend achieved (exact mix's operations per update).
    pub ops_per_second: f64,
    /// f64 operations per byte of memory traffic; `None` when no traffic is modelled.
    pub arithmetic_intensity: Option<f64>,
}

/// What the roofline needs to know about one call.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub kernel: Kernel,
    /// Output shape (diffusion: the grid).
    pub shape: (usize, usize),
    pub updates: u64,
    pub seconds: f64,
    pub cpu_threads: usize,
    /// Diffusion steps per pass over memory (1 for a sweep per step).
    pub steps_per_pass: u32,
}

/// The roofline of `call`, or `None` when the calibration has no mix for its kernel.
pub fn of(calibration: &Calibration, call: &Call) -> Option<Roofline> {
    let mix = calibration.mix(call.kernel.as_str())?;
    let cores = calibration.cores_for(call.cpu_threads);
    let updates = call.updates as f64;
    let compute_floor_seconds = updates / (mix.one_core_per_s * cores);
    let (memory_floor_seconds, arithmetic_intensity) = match call.kernel {
        Kernel::Julia => (None, None),
        Kernel::Diffusion => {
            let bytes_per_update = SWEEP_BYTES_PER_UPDATE / f64::from(call.steps_per_pass.max(1));
            let working_set = 2.0 * 8.0 * call.shape.0 as f64 * call.shape.1 as f64;
            let in_cache = calibration
                .last_level_cache_bytes
                .is_some_and(|llc| working_set <= llc as f64);
            let bandwidth = if call.cpu_threads > 1 {
                calibration.memory.copy_all_threads
            } else {
                calibration.memory.copy_one_thread
            };
            let memory = (!in_cache).then(|| updates * bytes_per_update / bandwidth);
            (
                memory,
                (!in_cache).then(|| mix.ops_per_unit / bytes_per_update),
            )
        }
    };
    let (bound, floor_seconds) = match memory_floor_seconds {
        Some(m) if m > compute_floor_seconds => (Bound::Memory, m),
        _ => (Bound::Compute, compute_floor_seconds),
    };
    Some(Roofline {
        cores,
        compute_floor_seconds,
        memory_floor_seconds,
        bound,
        floor_seconds,
        fraction: floor_seconds / call.seconds,
        ops_per_second: updates * mix.ops_per_unit / call.seconds,
        arithmetic_intensity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::calibration::{Memory, MixRate};

    fn machine() -> Calibration {
        let mix = |kernel: &str, ops| MixRate {
            kernel: kernel.into(),
            mix: String::new(),
            unit: String::new(),
            ops_per_unit: ops,
            one_core_per_s: 1e9,
            all_cores_per_s: 1.5e9,
        };
        Calibration {
            vector_isa: "test".into(),
            threads: 2,
            mixes: vec![mix("diffusion", 7.0), mix("julia", 10.0)],
            effective_cores: Some(1.5),
            effective_cores_samples: vec![1.5],
            memory: Memory {
                buffer_bytes: 1,
                read_one_thread: 1.0,
                read_all_threads: 1.0,
                copy_one_thread: 8e9,
                copy_all_threads: 16e9,
            },
            last_level_cache_bytes: Some(1 << 20),
            seconds: 0.0,
        }
    }

    #[test]
    fn a_big_sweep_is_bound_by_memory_and_blocking_moves_it_to_compute() {
        let c = machine();
        // 1024² grids (16 MiB for two) do not fit the 1 MiB cache.
        let sweep = Call {
            kernel: Kernel::Diffusion,
            shape: (1024, 1024),
            updates: 1 << 30,
            seconds: 4.0,
            cpu_threads: 2,
            steps_per_pass: 1,
        };
        let r = of(&c, &sweep).unwrap();
        assert_eq!(r.cores, 1.5);
        // 2^30 updates x 16 B at 16 GB/s = 1.07 s; compute 2^30 / 1.5e9 = 0.72 s.
        assert_eq!(r.bound, Bound::Memory);
        assert!((r.floor_seconds - 1.073741824).abs() < 1e-9, "{r:?}");
        assert!((r.fraction - 1.073741824 / 4.0).abs() < 1e-9);
        assert_eq!(r.arithmetic_intensity, Some(7.0 / 16.0));

        let blocked = of(
            &c,
            &Call {
                steps_per_pass: 8,
                ..sweep
            },
        )
        .unwrap();
        assert_eq!(blocked.bound, Bound::Compute);
        assert_eq!(blocked.arithmetic_intensity, Some(7.0 / 2.0));
    }

    #[test]
    fn in_cache_grids_and_julia_have_no_memory_floor() {
        let c = machine();
        let small = Call {
            kernel: Kernel::Diffusion,
            shape: (64, 64),
            updates: 1 << 20,
            seconds: 1e-3,
            cpu_threads: 1,
            steps_per_pass: 1,
        };
        let r = of(&c, &small).unwrap();
        assert_eq!((r.memory_floor_seconds, r.bound), (None, Bound::Compute));
        assert_eq!(r.cores, 1.0);
        let julia = of(
            &c,
            &Call {
                kernel: Kernel::Julia,
                ..small
            },
        )
        .unwrap();
        assert_eq!(julia.memory_floor_seconds, None);
        assert!((julia.ops_per_second - 10.0 * (1 << 20) as f64 / 1e-3).abs() < 1.0);
    }
}
