//! Measures the limits that docs/performance.md compares the kernels with: how many f64 vector
//! operations one core issues per cycle in the mixes the exact kernels need, and how many
//! bytes per second the memory delivers to one and to all threads.
//!
//! ```text
//! cargo run --release --example machine_peak
//! ```
//!
//! The clock is measured, not read from the OS (a VM's figure is often wrong): a chain of
//! dependent additions runs at one per `ADD_LATENCY` cycles. Each instruction mix is a loop of
//! independent operations written in assembly, so what is measured is the hardware's issue
//! rate, not a compiler's schedule. x86-64 only; the AVX-512 mixes run where the CPU has it.

use std::time::Instant;

use rayon::prelude::*;

/// Latency of a dependent f64 vector addition in cycles: 3 on AMD Zen 2 to 5, 4 on Intel
/// cores since Skylake (set `ADD_LATENCY=4` there).
const DEFAULT_ADD_LATENCY: f64 = 3.0;
const LOOPS: u64 = 50_000_000;

fn main() {
    let add_latency = std::env::var("ADD_LATENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ADD_LATENCY);
    #[cfg(target_arch = "x86_64")]
    issue_rates(add_latency);
    #[cfg(not(target_arch = "x86_64"))]
    println!("instruction mixes: x86-64 only; skipped (add latency {add_latency})");
    bandwidth();
}

#[cfg(target_arch = "x86_64")]
fn issue_rates(add_latency: f64) {
    use std::arch::asm;

    if !std::is_x86_feature_detected!("avx") {
        println!("instruction mixes: SKIPPED, this CPU does not have AVX");
        return;
    }

    /// Runs `$body` `LOOPS` times after `$zero` (which zeroes every register the loop reads,
    /// so no operation ever sees a NaN or a denormal) and returns nanoseconds per loop;
    /// `vzeroupper` at the end spares the code that follows the cost of dirty upper halves.
    macro_rules! time_loop {
        ($zero:literal, [$($clobbered:tt),*], $body:literal) => {{
            let start = Instant::now();
            // SAFETY: the loop only touches the registers it declares as clobbered, on a CPU
            // that has the instruction set (checked before each group of loops).
            unsafe {
                asm!(
                    $zero, "2:", $body, "dec {n}", "jnz 2b", "vzeroupper",
                    n = inout(reg) LOOPS => _,
                    $(out($clobbered) _,)*
                    options(nostack, nomem),
                );
            }
            start.elapsed().as_secs_f64() * 1e9 / LOOPS as f64
        }};
    }
    /// A loop on ymm0-15.
    macro_rules! time_loop_256 {
        ($body:literal) => {
            time_loop!(
                "vxorpd xmm0, xmm0, xmm0\nvxorpd xmm1, xmm1, xmm1\nvxorpd xmm2, xmm2, xmm2
                vxorpd xmm3, xmm3, xmm3\nvxorpd xmm4, xmm4, xmm4\nvxorpd xmm5, xmm5, xmm5
                vxorpd xmm6, xmm6, xmm6\nvxorpd xmm7, xmm7, xmm7\nvxorpd xmm8, xmm8, xmm8
                vxorpd xmm9, xmm9, xmm9\nvxorpd xmm10, xmm10, xmm10\nvxorpd xmm11, xmm11, xmm11
                vxorpd xmm12, xmm12, xmm12\nvxorpd xmm13, xmm13, xmm13
                vxorpd xmm14, xmm14, xmm14\nvxorpd xmm15, xmm15, xmm15",
                [
                    "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8",
                    "ymm9", "ymm10", "ymm11", "ymm12", "ymm13", "ymm14", "ymm15"
                ],
                $body
            )
        };
    }
    /// A loop on zmm0-9 and zmm15.
    macro_rules! time_loop_512 {
        ($body:literal) => {
            time_loop!(
                "vpxorq zmm0, zmm0, zmm0\nvpxorq zmm1, zmm1, zmm1\nvpxorq zmm2, zmm2, zmm2
                vpxorq zmm3, zmm3, zmm3\nvpxorq zmm4, zmm4, zmm4\nvpxorq zmm5, zmm5, zmm5
                vpxorq zmm6, zmm6, zmm6\nvpxorq zmm7, zmm7, zmm7\nvpxorq zmm8, zmm8, zmm8
                vpxorq zmm9, zmm9, zmm9\nvpxorq zmm15, zmm15, zmm15",
                [
                    "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9",
                    "zmm15"
                ],
                $body
            )
        };
    }

    let chain = time_loop_256!("vaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15");
    let ghz = 2.0 * add_latency / chain;
    println!("clock: {ghz:.2} GHz (dependent additions, {add_latency} cycles each)");
    let report = |what: &str, ops: f64, per: &str, ns: f64| {
        let cycles = ns * ghz;
        println!(
            "  {what:58} {cycles:5.2} cycles per {per} ({:.2} ops/cycle)",
            ops / cycles
        );
    };

    println!("AVX2 (4 x f64), one core:");
    let adds = time_loop_256!(
        "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15
        vaddpd ymm3, ymm3, ymm15\nvaddpd ymm4, ymm4, ymm15\nvaddpd ymm5, ymm5, ymm15
        vaddpd ymm6, ymm6, ymm15\nvaddpd ymm7, ymm7, ymm15"
    );
    report("8 independent additions", 8.0, "loop", adds);
    let muls = time_loop_256!(
        "vmulpd ymm0, ymm0, ymm15\nvmulpd ymm1, ymm1, ymm15\nvmulpd ymm2, ymm2, ymm15
        vmulpd ymm3, ymm3, ymm15\nvmulpd ymm4, ymm4, ymm15\nvmulpd ymm5, ymm5, ymm15
        vmulpd ymm6, ymm6, ymm15\nvmulpd ymm7, ymm7, ymm15"
    );
    report("8 independent multiplications", 8.0, "loop", muls);
    // Diffusion, 8 cells: 5 additions and 2 multiplications per 4 cells.
    let diffusion = time_loop_256!(
        "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15
        vaddpd ymm3, ymm3, ymm15\nvaddpd ymm4, ymm4, ymm15\nvaddpd ymm5, ymm5, ymm15
        vaddpd ymm6, ymm6, ymm15\nvaddpd ymm7, ymm7, ymm15\nvaddpd ymm8, ymm8, ymm15
        vaddpd ymm9, ymm9, ymm15\nvmulpd ymm10, ymm10, ymm15\nvmulpd ymm11, ymm11, ymm15
        vmulpd ymm12, ymm12, ymm15\nvmulpd ymm13, ymm13, ymm15"
    );
    report("diffusion mix: 10 add + 4 mul", 14.0, "8 cells", diffusion);

    if !std::is_x86_feature_detected!("avx512f") {
        println!("AVX-512: SKIPPED, this CPU does not have it");
        return;
    }
    println!("AVX-512 (8 x f64), one core:");
    let adds = time_loop_512!(
        "vaddpd zmm0, zmm0, zmm15\nvaddpd zmm1, zmm1, zmm15\nvaddpd zmm2, zmm2, zmm15
        vaddpd zmm3, zmm3, zmm15\nvaddpd zmm4, zmm4, zmm15\nvaddpd zmm5, zmm5, zmm15
        vaddpd zmm6, zmm6, zmm15\nvaddpd zmm7, zmm7, zmm15"
    );
    report("8 independent additions", 8.0, "loop", adds);
    let mixed = time_loop_512!(
        "vaddpd zmm0, zmm0, zmm15\nvmulpd zmm1, zmm1, zmm15\nvaddpd zmm2, zmm2, zmm15
        vmulpd zmm3, zmm3, zmm15\nvaddpd zmm4, zmm4, zmm15\nvmulpd zmm5, zmm5, zmm15
        vaddpd zmm6, zmm6, zmm15\nvmulpd zmm7, zmm7, zmm15"
    );
    report("4 add + 4 mul", 8.0, "loop", mixed);
    let diffusion = time_loop_512!(
        "vaddpd zmm0, zmm0, zmm15\nvaddpd zmm1, zmm1, zmm15\nvaddpd zmm2, zmm2, zmm15
        vaddpd zmm3, zmm3, zmm15\nvaddpd zmm4, zmm4, zmm15\nvmulpd zmm5, zmm5, zmm15
        vmulpd zmm6, zmm6, zmm15"
    );
    report("diffusion mix: 5 add + 2 mul", 7.0, "8 cells", diffusion);
    let shifted = time_loop_512!(
        "vaddpd zmm0, zmm0, zmm15\nvaddpd zmm1, zmm1, zmm15\nvaddpd zmm2, zmm2, zmm15
        vaddpd zmm3, zmm3, zmm15\nvaddpd zmm4, zmm4, zmm15\nvmulpd zmm5, zmm5, zmm15
        vmulpd zmm6, zmm6, zmm15\nvalignq zmm7, zmm15, zmm7, 7\nvalignq zmm8, zmm15, zmm8, 1"
    );
    report(
        "  + 2 valignq (neighbours shifted in)",
        9.0,
        "8 cells",
        shifted,
    );
    // Julia, one iteration of 8 lanes: zr^2, zi^2, 2zr, (2zr)zi; 4 additions and the count.
    let julia = time_loop_512!(
        "vmulpd zmm0, zmm0, zmm15\nvmulpd zmm1, zmm1, zmm15\nvmulpd zmm2, zmm2, zmm15
        vmulpd zmm3, zmm3, zmm15\nvaddpd zmm4, zmm4, zmm15\nvaddpd zmm5, zmm5, zmm15
        vaddpd zmm6, zmm6, zmm15\nvaddpd zmm7, zmm7, zmm15\nvaddpd zmm8, zmm8, zmm15"
    );
    report("Julia mix: 5 add + 4 mul", 9.0, "8 lane-iterations", julia);
}

/// Bytes per second read by one thread and by all of rayon's threads, from a buffer far
/// larger than the caches (a sum, so nothing is written back), and copied (read + write).
fn bandwidth() {
    const BYTES: usize = 1 << 30;
    let src = vec![1.0_f64; BYTES / 8];
    let mut dst = vec![0.0_f64; BYTES / 8];
    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let chunk = BYTES / 8 / 64;
    let read = |threads: bool| {
        // Integer sums of the bits: associative, so the compiler vectorises them and the loop
        // waits on memory, not on a chain of dependent f64 additions.
        let sum = |c: &[f64]| c.iter().fold(0u64, |s, x| s.wrapping_add(x.to_bits()));
        if threads {
            std::hint::black_box(
                src.par_chunks(chunk)
                    .map(sum)
                    .reduce(|| 0, u64::wrapping_add),
            );
        } else {
            std::hint::black_box(src.chunks(chunk).map(sum).fold(0, u64::wrapping_add));
        }
    };
    let gbs = |bytes: usize, seconds: f64| bytes as f64 / seconds / 1e9;
    let one = best(&mut || read(false));
    let all = best(&mut || read(true));
    let copy = best(&mut || {
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s))
    });
    let threads = rayon::current_num_threads();
    println!("memory, 1 GiB buffers (best of 5):");
    println!("  read, 1 thread        {:6.1} GB/s", gbs(BYTES, one));
    println!(
        "  read, {threads} threads       {:6.1} GB/s",
        gbs(BYTES, all)
    );
    println!(
        "  copy, {threads} threads       {:6.1} GB/s counted as 16 bytes per element moved \
         (24 with the destination's write-allocate read)",
        gbs(2 * BYTES, copy)
    );
}
