//! The machine's own limits, measured at the start of every `compare` run (about a second):
//! what its vector units issue in the exact kernels' operation mixes, on one core and on all
//! of them, what its memory delivers, and how many cores it really has right now.
//!
//! The machines this runs on are shared virtual machines whose CPU changes between sessions
//! and whose second vCPU is at times starved by the host, so a table of seconds means little
//! on its own. Every figure of the run is set against these ceilings ([`super::roofline`]),
//! and the ceilings travel with the results (`compare.json`).
//!
//! - **Operation mixes** are loops of independent vector operations written in assembly, so
//!   what is measured is the hardware's issue rate, not a compiler's schedule. Each loop holds
//!   two independent copies of the mix, so that no chain of dependent operations (4 cycles
//!   per addition on recent Intel cores) can hide the throughput. Figures are nanoseconds per
//!   unit of work (a cell update, a lane-iteration): no clock is assumed.
//! - **Effective cores**: the same loop on one thread and on every logical CPU at once; a
//!   starved vCPU shows as, say, 1.1 effective cores of 2.
//! - **Memory**: reading and copying buffers far larger than the last-level cache, on one
//!   thread and on all.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Seconds each timed repetition of an operation-mix loop aims at.
const MIX_SECONDS: f64 = 0.015;
/// Repetitions of each timing; the fastest is kept (the machine's capability, not its noise).
const REPETITIONS: usize = 3;
/// The smallest memory buffer: well past the last-level caches of the machines seen (32 MiB);
/// larger ones are used when the last-level cache is larger (2x it).
const MIN_BUFFER_BYTES: usize = 256 << 20;

/// What one operation mix issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixRate {
    /// `diffusion` or `julia`: the kernel whose exact operation mix this is.
    pub kernel: String,
    /// What one loop does, e.g. `8 cells: 5 add + 2 mul (zmm)`.
    pub mix: String,
    /// The unit of work: `cell update` or `lane-iteration`.
    pub unit: String,
    /// f64 operations per unit of work.
    pub ops_per_unit: f64,
    /// Units of work per second on one core.
    pub one_core_per_s: f64,
    /// Units of work per second with every logical CPU running the loop at once.
    pub all_cores_per_s: f64,
}

impl MixRate {
    /// `all_cores_per_s / one_core_per_s`.
    pub fn effective_cores(&self) -> f64 {
        self.all_cores_per_s / self.one_core_per_s
    }
}

/// Memory bandwidth, bytes per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// The size of each buffer.
    pub buffer_bytes: u64,
    pub read_one_thread: f64,
    pub read_all_threads: f64,
    /// Copy rates count 16 bytes per element moved (read + write), as a one-pass stencil
    /// step moves them; the destination's write-allocate read is not counted.
    pub copy_one_thread: f64,
    pub copy_all_threads: f64,
}

/// The machine's limits during this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The vector instruction set the mixes ran on: the widest this CPU has (the one the
    /// `simd` backend picks), or `none` where no mix is implemented.
    pub vector_isa: String,
    /// Threads of the all-cores figures: the logical CPUs this process may use.
    pub threads: usize,
    /// One entry per kernel (diffusion first), empty where no mix is implemented.
    pub mixes: Vec<MixRate>,
    /// Effective cores of the all-cores run of the first mix (diffusion's): the best of
    /// [`effective_cores_samples`](Self::effective_cores_samples).
    pub effective_cores: Option<f64>,
    /// Effective cores each time the machine was measured (a run measures at its start and
    /// its end): a second vCPU starved for part of the run shows here.
    pub effective_cores_samples: Vec<f64>,
    pub memory: Memory,
    /// The last-level cache (bytes), when the OS says.
    pub last_level_cache_bytes: Option<u64>,
    /// How long the calibration took.
    pub seconds: f64,
}

impl Calibration {
    /// Measures this machine (about a second).
    pub fn measure() -> Calibration {
        let start = Instant::now();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (vector_isa, mixes) = mixes::measure(threads);
        let last_level_cache_bytes = last_level_cache();
        let memory = memory(threads, last_level_cache_bytes);
        let effective_cores = mixes.first().map(MixRate::effective_cores);
        Calibration {
            vector_isa,
            threads,
            effective_cores,
            effective_cores_samples: effective_cores.into_iter().collect(),
            mixes,
            memory,
            last_level_cache_bytes,
            seconds: start.elapsed().as_secs_f64(),
        }
    }

    /// The machine's capability over two measurements (the start and the end of a run):
    /// each rate the higher of the two, and every effective-core figure kept.
    pub fn combine(&self, later: &Calibration) -> Calibration {
        let mixes = self
            .mixes
            .iter()
            .map(|m| match later.mix(&m.kernel) {
                Some(l) => MixRate {
                    one_core_per_s: m.one_core_per_s.max(l.one_core_per_s),
                    all_cores_per_s: m.all_cores_per_s.max(l.all_cores_per_s),
                    ..m.clone()
                },
                None => m.clone(),
            })
            .collect();
        let (a, b) = (&self.memory, &later.memory);
        let mut samples = self.effective_cores_samples.clone();
        samples.extend(&later.effective_cores_samples);
        Calibration {
            effective_cores: samples.iter().copied().reduce(f64::max),
            effective_cores_samples: samples,
            mixes,
            memory: Memory {
                buffer_bytes: a.buffer_bytes,
                read_one_thread: a.read_one_thread.max(b.read_one_thread),
                read_all_threads: a.read_all_threads.max(b.read_all_threads),
                copy_one_thread: a.copy_one_thread.max(b.copy_one_thread),
                copy_all_threads: a.copy_all_threads.max(b.copy_all_threads),
            },
            seconds: self.seconds + later.seconds,
            ..self.clone()
        }
    }

    /// The mix of `kernel` (`"diffusion"`, `"julia"`), when measured.
    pub fn mix(&self, kernel: &str) -> Option<&MixRate> {
        self.mixes.iter().find(|m| m.kernel == kernel)
    }

    /// Cores a backend running `threads` threads really gets: all of them scaled by the
    /// measured effective cores when it uses every logical CPU, one for one thread.
    pub fn cores_for(&self, threads: usize) -> f64 {
        let threads = threads.clamp(1, self.threads);
        if threads == 1 {
            return 1.0;
        }
        let effective = self.effective_cores.unwrap_or(self.threads as f64);
        threads as f64 * effective / self.threads as f64
    }
}

/// The best (shortest) of [`REPETITIONS`] runs of `f`, in seconds.
fn best_of(mut f: impl FnMut()) -> f64 {
    (0..REPETITIONS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Runs `work(thread)` on `threads` threads started together and returns each thread's
/// seconds.
fn on_threads(threads: usize, work: impl Fn(usize) + Sync) -> Vec<f64> {
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, work) = (&barrier, &work);
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    work(t);
                    start.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a calibration thread does not panic"))
            .collect()
    })
}

/// Units per second on one thread and on `threads` threads of a loop `run(loops)` that does
/// `units_per_loop` units per loop.
fn rates(threads: usize, units_per_loop: f64, run: impl Fn(u64) + Sync) -> (f64, f64) {
    // Size the loop count to about MIX_SECONDS on this machine.
    let probe = 1u64 << 16;
    let t = best_of(|| run(probe)).max(1e-7);
    let loops = ((probe as f64 * MIX_SECONDS / t) as u64).max(probe);
    let mut one = loops as f64 * units_per_loop / best_of(|| run(loops));
    // All threads at once: the sum of each thread's rate over the same amount of work.
    let mut all = 0.0f64;
    for _ in 0..REPETITIONS {
        let per_thread: Vec<f64> = on_threads(threads, |_| run(loops))
            .iter()
            .map(|&s| loops as f64 * units_per_loop / s)
            .collect();
        // A thread of the group that ran faster than the lone thread shows that the lone one
        // was held back: one core can do at least that.
        one = per_thread.iter().copied().fold(one, f64::max);
        all = all.max(per_thread.iter().sum());
    }
    (one, all)
}

/// The size of the last-level cache from sysfs (Linux), in bytes.
fn last_level_cache() -> Option<u64> {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut best = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let read = |name: &str| std::fs::read_to_string(entry.path().join(name)).ok();
        let (Some(level), Some(size)) = (read("level"), read("size")) else {
            continue;
        };
        let level: u32 = level.trim().parse().ok()?;
        let size = size.trim();
        let bytes = match size.strip_suffix('K') {
            Some(k) => k.parse::<u64>().ok()? << 10,
            None => match size.strip_suffix('M') {
                Some(m) => m.parse::<u64>().ok()? << 20,
                None => size.parse().ok()?,
            },
        };
        if best.is_none_or(|(l, _)| level > l) {
            best = Some((level, bytes));
        }
    }
    best.map(|(_, bytes)| bytes)
}

/// Read and copy bandwidth over buffers twice the last-level cache (at least 256 MiB).
fn memory(threads: usize, llc: Option<u64>) -> Memory {
    let bytes = llc
        .map_or(MIN_BUFFER_BYTES, |c| (2 * c as usize).max(MIN_BUFFER_BYTES))
        .next_multiple_of(8 * 64 * threads);
    let len = bytes / 8;
    // Written before timing, so the pages exist and no page fault is measured.
    let src: Vec<u64> = (0..len as u64).collect();
    let mut dst = vec![0u64; len];
    // An integer sum is associative, so the loop vectorises and waits on memory rather than
    // on a chain of dependent additions.
    let sum = |s: &[u64]| s.iter().fold(0u64, |a, &x| a.wrapping_add(x));
    let chunk = len / threads;
    let read_one = best_of(|| {
        std::hint::black_box(sum(&src));
    });
    let read_all = best_of(|| {
        std::thread::scope(|scope| {
            for part in src.chunks(chunk) {
                scope.spawn(move || std::hint::black_box(sum(part)));
            }
        })
    });
    let copy_one = best_of(|| dst.copy_from_slice(&src));
    let copy_all = best_of(|| {
        std::thread::scope(|scope| {
            for (d, s) in dst.chunks_mut(chunk).zip(src.chunks(chunk)) {
                scope.spawn(move || d.copy_from_slice(s));
            }
        })
    });
    std::hint::black_box(&dst);
    let b = bytes as f64;
    Memory {
        buffer_bytes: bytes as u64,
        read_one_thread: b / read_one,
        read_all_threads: b / read_all,
        copy_one_thread: 2.0 * b / copy_one,
        copy_all_threads: 2.0 * b / copy_all,
    }
}

/// The operation-mix loops, in assembly, for each vector instruction set.
mod mixes {
    use super::{MixRate, rates};

    /// The widest instruction set this CPU has that a mix is written for, and its rates.
    pub fn measure(threads: usize) -> (String, Vec<MixRate>) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return ("avx512".into(), x86::avx512(threads));
            }
            if std::is_x86_feature_detected!("avx2") {
                return ("avx2".into(), x86::avx2(threads));
            }
            ("sse2".into(), x86::sse2(threads))
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = threads;
            ("none".into(), Vec::new())
        }
    }

    /// One mix: `copies` independent vectors of `lanes` f64 lanes per loop, each vector doing
    /// `adds`, `muls` and `cmps` operations per unit of work.
    fn mix(
        kernel: &str,
        (register, lanes, copies): (&str, usize, u32),
        (adds, muls, cmps): (u32, u32, u32),
        threads: usize,
        run: impl Fn(u64) + Sync,
    ) -> MixRate {
        let units_per_loop = f64::from(copies) * lanes as f64;
        let (one, all) = rates(threads, units_per_loop, run);
        let (unit, what) = match kernel {
            "diffusion" => ("cell update", "cells"),
            _ => ("lane-iteration", "lane-iterations"),
        };
        let cmp = if cmps > 0 {
            format!(" + {} cmp", copies * cmps)
        } else {
            String::new()
        };
        MixRate {
            kernel: kernel.to_string(),
            mix: format!(
                "{} {what}: {} add + {} mul{cmp} ({register})",
                copies as usize * lanes,
                copies * adds,
                copies * muls
            ),
            unit: unit.to_string(),
            // Each vector operation does one operation of every lane's unit of work.
            ops_per_unit: f64::from(adds + muls + cmps),
            one_core_per_s: one,
            all_cores_per_s: all,
        }
    }

    /// SPEC's diffusion step per cell: `up+down`, `left+right`, `v+h`, `-4c`, `c+k*lap` (5
    /// additions) and `4*c`, `k*lap` (2 multiplications).
    const DIFFUSION: (u32, u32, u32) = (5, 2, 0);
    /// SPEC's Julia iteration per lane: `zr*zr`, `zi*zi`, `2*zr`, `(2zr)*zi` (4
    /// multiplications), `zr²+zi²`, `zr²-zi²`, `+cr`, `+ci` and the count (5 additions), and
    /// the escape test (1 comparison).
    const JULIA: (u32, u32, u32) = (5, 4, 1);

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::asm;

        use super::{DIFFUSION, JULIA, MixRate, mix};

        /// A loop of `$body` run `loops` times. Every register the body reads is zeroed first
        /// (no NaN or subnormal is ever computed), and `vzeroupper` ends it so the code after
        /// pays no penalty for dirty upper halves.
        macro_rules! timed_loop {
            ($loops:expr, $zero:literal, $body:literal, [$($reg:tt),*]) => {
                // SAFETY: the loop touches only the registers it declares clobbered, and the
                // caller checked that this CPU has the instruction set.
                unsafe {
                    asm!(
                        $zero, "2:", $body, "dec {n}", "jnz 2b", "vzeroupper",
                        n = inout(reg) $loops => _,
                        $(out($reg) _,)*
                        options(nostack, nomem),
                    )
                }
            };
        }

        #[target_feature(enable = "avx512f")]
        fn diffusion_avx512(loops: u64) {
            timed_loop!(
                loops,
                "vpxorq zmm0, zmm0, zmm0\nvpxorq zmm1, zmm1, zmm1\nvpxorq zmm2, zmm2, zmm2
                vpxorq zmm3, zmm3, zmm3\nvpxorq zmm4, zmm4, zmm4\nvpxorq zmm5, zmm5, zmm5
                vpxorq zmm6, zmm6, zmm6\nvpxorq zmm7, zmm7, zmm7\nvpxorq zmm8, zmm8, zmm8
                vpxorq zmm9, zmm9, zmm9\nvpxorq zmm10, zmm10, zmm10\nvpxorq zmm11, zmm11, zmm11
                vpxorq zmm12, zmm12, zmm12\nvpxorq zmm13, zmm13, zmm13\nvpxorq zmm31, zmm31, zmm31",
                "vaddpd zmm0, zmm0, zmm31\nvaddpd zmm1, zmm1, zmm31\nvaddpd zmm2, zmm2, zmm31
                vaddpd zmm3, zmm3, zmm31\nvaddpd zmm4, zmm4, zmm31\nvmulpd zmm5, zmm5, zmm31
                vmulpd zmm6, zmm6, zmm31
                vaddpd zmm7, zmm7, zmm31\nvaddpd zmm8, zmm8, zmm31\nvaddpd zmm9, zmm9, zmm31
                vaddpd zmm10, zmm10, zmm31\nvaddpd zmm11, zmm11, zmm31\nvmulpd zmm12, zmm12, zmm31
                vmulpd zmm13, zmm13, zmm31",
                [
                    "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9",
                    "zmm10", "zmm11", "zmm12", "zmm13", "zmm31"
                ]
            )
        }

        #[target_feature(enable = "avx512f")]
        fn julia_avx512(loops: u64) {
            timed_loop!(
                loops,
                "vpxorq zmm0, zmm0, zmm0\nvpxorq zmm1, zmm1, zmm1\nvpxorq zmm2, zmm2, zmm2
                vpxorq zmm3, zmm3, zmm3\nvpxorq zmm4, zmm4, zmm4\nvpxorq zmm5, zmm5, zmm5
                vpxorq zmm6, zmm6, zmm6\nvpxorq zmm7, zmm7, zmm7\nvpxorq zmm8, zmm8, zmm8
                vpxorq zmm10, zmm10, zmm10\nvpxorq zmm11, zmm11, zmm11\nvpxorq zmm12, zmm12, zmm12
                vpxorq zmm13, zmm13, zmm13\nvpxorq zmm14, zmm14, zmm14\nvpxorq zmm15, zmm15, zmm15
                vpxorq zmm16, zmm16, zmm16\nvpxorq zmm17, zmm17, zmm17\nvpxorq zmm18, zmm18, zmm18
                vpxorq zmm31, zmm31, zmm31",
                "vmulpd zmm0, zmm0, zmm31\nvmulpd zmm1, zmm1, zmm31\nvmulpd zmm2, zmm2, zmm31
                vmulpd zmm3, zmm3, zmm31\nvaddpd zmm4, zmm4, zmm31\nvaddpd zmm5, zmm5, zmm31
                vaddpd zmm6, zmm6, zmm31\nvaddpd zmm7, zmm7, zmm31\nvaddpd zmm8, zmm8, zmm31
                vcmppd k1, zmm4, zmm31, 1
                vmulpd zmm10, zmm10, zmm31\nvmulpd zmm11, zmm11, zmm31\nvmulpd zmm12, zmm12, zmm31
                vmulpd zmm13, zmm13, zmm31\nvaddpd zmm14, zmm14, zmm31\nvaddpd zmm15, zmm15, zmm31
                vaddpd zmm16, zmm16, zmm31\nvaddpd zmm17, zmm17, zmm31\nvaddpd zmm18, zmm18, zmm31
                vcmppd k2, zmm14, zmm31, 1",
                [
                    "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8",
                    "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17",
                    "zmm18", "zmm31", "k1", "k2"
                ]
            )
        }

        #[target_feature(enable = "avx2")]
        fn diffusion_avx2(loops: u64) {
            timed_loop!(
                loops,
                "vxorpd xmm0, xmm0, xmm0\nvxorpd xmm1, xmm1, xmm1\nvxorpd xmm2, xmm2, xmm2
                vxorpd xmm3, xmm3, xmm3\nvxorpd xmm4, xmm4, xmm4\nvxorpd xmm5, xmm5, xmm5
                vxorpd xmm6, xmm6, xmm6\nvxorpd xmm7, xmm7, xmm7\nvxorpd xmm8, xmm8, xmm8
                vxorpd xmm9, xmm9, xmm9\nvxorpd xmm10, xmm10, xmm10\nvxorpd xmm11, xmm11, xmm11
                vxorpd xmm12, xmm12, xmm12\nvxorpd xmm13, xmm13, xmm13\nvxorpd xmm15, xmm15, xmm15",
                "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15
                vaddpd ymm3, ymm3, ymm15\nvaddpd ymm4, ymm4, ymm15\nvmulpd ymm5, ymm5, ymm15
                vmulpd ymm6, ymm6, ymm15
                vaddpd ymm7, ymm7, ymm15\nvaddpd ymm8, ymm8, ymm15\nvaddpd ymm9, ymm9, ymm15
                vaddpd ymm10, ymm10, ymm15\nvaddpd ymm11, ymm11, ymm15\nvmulpd ymm12, ymm12, ymm15
                vmulpd ymm13, ymm13, ymm15",
                [
                    "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9",
                    "ymm10", "ymm11", "ymm12", "ymm13", "ymm15"
                ]
            )
        }

        /// One copy of the mix: the 16 ymm registers cannot hold two.
        #[target_feature(enable = "avx2")]
        fn julia_avx2(loops: u64) {
            timed_loop!(
                loops,
                "vxorpd xmm0, xmm0, xmm0\nvxorpd xmm1, xmm1, xmm1\nvxorpd xmm2, xmm2, xmm2
                vxorpd xmm3, xmm3, xmm3\nvxorpd xmm4, xmm4, xmm4\nvxorpd xmm5, xmm5, xmm5
                vxorpd xmm6, xmm6, xmm6\nvxorpd xmm7, xmm7, xmm7\nvxorpd xmm8, xmm8, xmm8
                vxorpd xmm9, xmm9, xmm9\nvxorpd xmm15, xmm15, xmm15",
                "vmulpd ymm0, ymm0, ymm15\nvmulpd ymm1, ymm1, ymm15\nvmulpd ymm2, ymm2, ymm15
                vmulpd ymm3, ymm3, ymm15\nvaddpd ymm4, ymm4, ymm15\nvaddpd ymm5, ymm5, ymm15
                vaddpd ymm6, ymm6, ymm15\nvaddpd ymm7, ymm7, ymm15\nvaddpd ymm8, ymm8, ymm15
                vcmppd ymm9, ymm4, ymm15, 1",
                [
                    "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9",
                    "ymm15"
                ]
            )
        }

        fn diffusion_sse2(loops: u64) {
            timed_loop!(
                loops,
                "xorpd xmm0, xmm0\nxorpd xmm1, xmm1\nxorpd xmm2, xmm2\nxorpd xmm3, xmm3
                xorpd xmm4, xmm4\nxorpd xmm5, xmm5\nxorpd xmm6, xmm6\nxorpd xmm7, xmm7
                xorpd xmm8, xmm8\nxorpd xmm9, xmm9\nxorpd xmm10, xmm10\nxorpd xmm11, xmm11
                xorpd xmm12, xmm12\nxorpd xmm13, xmm13\nxorpd xmm15, xmm15",
                "addpd xmm0, xmm15\naddpd xmm1, xmm15\naddpd xmm2, xmm15\naddpd xmm3, xmm15
                addpd xmm4, xmm15\nmulpd xmm5, xmm15\nmulpd xmm6, xmm15
                addpd xmm7, xmm15\naddpd xmm8, xmm15\naddpd xmm9, xmm15\naddpd xmm10, xmm15
                addpd xmm11, xmm15\nmulpd xmm12, xmm15\nmulpd xmm13, xmm15",
                [
                    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                    "xmm10", "xmm11", "xmm12", "xmm13", "xmm15"
                ]
            )
        }

        /// One copy of the mix, as on AVX2.
        fn julia_sse2(loops: u64) {
            timed_loop!(
                loops,
                "xorpd xmm0, xmm0\nxorpd xmm1, xmm1\nxorpd xmm2, xmm2\nxorpd xmm3, xmm3
                xorpd xmm4, xmm4\nxorpd xmm5, xmm5\nxorpd xmm6, xmm6\nxorpd xmm7, xmm7
                xorpd xmm8, xmm8\nxorpd xmm9, xmm9\nxorpd xmm15, xmm15",
                "mulpd xmm0, xmm15\nmulpd xmm1, xmm15\nmulpd xmm2, xmm15\nmulpd xmm3, xmm15
                addpd xmm4, xmm15\naddpd xmm5, xmm15\naddpd xmm6, xmm15\naddpd xmm7, xmm15
                addpd xmm8, xmm15\ncmpltpd xmm9, xmm15",
                [
                    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                    "xmm15"
                ]
            )
        }

        pub fn avx512(threads: usize) -> Vec<MixRate> {
            // SAFETY (both closures): the caller checked avx512f.
            vec![
                mix("diffusion", ("zmm", 8, 2), DIFFUSION, threads, |n| unsafe {
                    diffusion_avx512(n)
                }),
                mix("julia", ("zmm", 8, 2), JULIA, threads, |n| unsafe {
                    julia_avx512(n)
                }),
            ]
        }

        pub fn avx2(threads: usize) -> Vec<MixRate> {
            // SAFETY (both closures): the caller checked avx2.
            vec![
                mix("diffusion", ("ymm", 4, 2), DIFFUSION, threads, |n| unsafe {
                    diffusion_avx2(n)
                }),
                mix("julia", ("ymm", 4, 1), JULIA, threads, |n| unsafe {
                    julia_avx2(n)
                }),
            ]
        }

        pub fn sse2(threads: usize) -> Vec<MixRate> {
            vec![
                mix(
                    "diffusion",
                    ("xmm", 2, 2),
                    DIFFUSION,
                    threads,
                    diffusion_sse2,
                ),
                mix("julia", ("xmm", 2, 1), JULIA, threads, julia_sse2),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_is_positive_and_the_cores_add_up() {
        let c = Calibration::measure();
        eprintln!("{c:#?}");
        assert!(c.threads >= 1);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(c.mixes.len(), 2, "{c:?}");
        for m in &c.mixes {
            assert!(m.one_core_per_s > 0.0 && m.all_cores_per_s > 0.0, "{m:?}");
            // No more cores than threads: a lone thread held back by the machine is replaced
            // by the fastest thread of the group.
            assert!(
                m.effective_cores() <= c.threads as f64 * (1.0 + 1e-9),
                "{m:?}"
            );
        }
        let mem = &c.memory;
        for rate in [
            mem.read_one_thread,
            mem.read_all_threads,
            mem.copy_one_thread,
            mem.copy_all_threads,
        ] {
            assert!(rate > 1e8, "{mem:?}");
        }
        assert_eq!(c.cores_for(1), 1.0);
        let both = c.combine(&c);
        assert_eq!(both.effective_cores_samples.len(), 2);
        assert_eq!(both.mixes, c.mixes);
    }
}
