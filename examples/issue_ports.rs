//! Issue-port microbenchmark for the diffusion row kernel's operation mixes on AVX2 + FMA:
//! what one core issues of independent additions, multiplications and FMAs, of the exact
//! mix (5 add + 2 mul per vector), of the fused mix (`fma(-4, c, v + h)`: 4 add + 1 FMA + 1
//! mul), with an addition moved to the FMA unit as `fma(x, 1, y)`, and of whole row bodies
//! with their loads and store (from L1). The figures behind docs/performance.md's limits; each
//! loop is assembly, so no compiler schedule is measured.
//!
//! On a CPU with AVX-512F the same loops in 512-bit registers follow, with the AVX-512 row
//! kernel's own instruction mix (lane shifts for the neighbours).
//!
//! `cargo run --release --example issue_ports` (x86-64 with AVX2 and FMA; prints why not
//! elsewhere). Figures are the best of 5 runs of 20 M loops: run it on a quiet machine.

#[cfg(target_arch = "x86_64")]
mod ports {
    use std::arch::asm;
    use std::time::Instant;

    /// Times `$body` (assembly using `{p}`, `{q}`: 32 KiB buffers to load from and store to;
    /// register 15 = 0, register 14 = 1.0, in the width `$setup` broadcasts to) and prints
    /// nanoseconds per loop and per `$cells`; `$clobbers` are the vector registers' operands.
    macro_rules! bench_with {
        ($name:expr, $cells:expr, $body:expr, $setup:expr; $($clobbers:tt)*) => {{
            let buf = vec![1.0f64; 4096];
            let mut out = vec![0.0f64; 4096];
            // Both on a cache-line boundary, so that an offset says whether a load splits.
            let p = buf[buf.as_ptr().align_offset(64)..].as_ptr();
            let skew = out.as_ptr().align_offset(64);
            let q = out[skew..].as_mut_ptr();
            let mut best = f64::INFINITY;
            let loops: u64 = 20_000_000;
            for _ in 0..5 {
                let t = Instant::now();
                // SAFETY: the caller checked the instruction set; the loads and stores stay in
                // the first 1 KiB of the 32 KiB buffers; every register written is declared.
                unsafe {
                    asm!("vxorpd xmm15, xmm15, xmm15", "mov {p}, {p}", "mov {q}, {q}",
                        $setup,
                        "2:", $body, "dec {n}", "jnz 2b",
                        n = inout(reg) loops => _, p = in(reg) p, q = in(reg) q,
                        $($clobbers)*
                        options(nostack));
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            let ns = best / loops as f64 * 1e9;
            println!("{:68} {:6.3} ns/loop {:6.3} ns/unit", $name, ns, ns / $cells as f64);
        }};
    }

    /// An AVX2 loop (`ymm` registers).
    macro_rules! bench {
        ($name:expr, $cells:expr, $body:expr) => {
            bench_with!($name, $cells, $body, "vbroadcastsd ymm14, [{p}]";
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,)
        };
    }

    /// An AVX-512 loop (`zmm` registers, all but 14 and 15 starting at 1.0: a register left
    /// holding a subnormal would be timed through the microcode assist of every operation).
    macro_rules! bench512 {
        ($name:expr, $cells:expr, $body:expr) => {
            bench_with!($name, $cells, $body,
                "vbroadcastsd zmm14, [{p}]\nvmovupd zmm0, [{p}]\nvmovupd zmm1, [{p}]\nvmovupd zmm2, [{p}]\nvmovupd zmm3, [{p}]\nvmovupd zmm4, [{p}]\nvmovupd zmm5, [{p}]\nvmovupd zmm6, [{p}]\nvmovupd zmm7, [{p}]\nvmovupd zmm8, [{p}]\nvmovupd zmm9, [{p}]\nvmovupd zmm10, [{p}]\nvmovupd zmm11, [{p}]\nvmovupd zmm12, [{p}]\nvmovupd zmm13, [{p}]";
                out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
                out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
                out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
                out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,)
        };
    }

    pub fn run() {
        // The clock: 8 dependent additions (3 cycles each on Zen 1 to 4).
        bench!(
            "dep chain: 8 dependent vaddpd (latency)",
            1,
            "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm15"
        );
        bench!(
            "8 indep vaddpd",
            32,
            "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15\nvaddpd ymm3, ymm3, ymm15\nvaddpd ymm4, ymm4, ymm15\nvaddpd ymm5, ymm5, ymm15\nvaddpd ymm6, ymm6, ymm15\nvaddpd ymm7, ymm7, ymm15"
        );
        bench!(
            "8 indep vmulpd",
            32,
            "vmulpd ymm0, ymm0, ymm15\nvmulpd ymm1, ymm1, ymm15\nvmulpd ymm2, ymm2, ymm15\nvmulpd ymm3, ymm3, ymm15\nvmulpd ymm4, ymm4, ymm15\nvmulpd ymm5, ymm5, ymm15\nvmulpd ymm6, ymm6, ymm15\nvmulpd ymm7, ymm7, ymm15"
        );
        bench!(
            "8 indep vfmadd",
            32,
            "vfmadd231pd ymm0, ymm15, ymm15\nvfmadd231pd ymm1, ymm15, ymm15\nvfmadd231pd ymm2, ymm15, ymm15\nvfmadd231pd ymm3, ymm15, ymm15\nvfmadd231pd ymm4, ymm15, ymm15\nvfmadd231pd ymm5, ymm15, ymm15\nvfmadd231pd ymm6, ymm15, ymm15\nvfmadd231pd ymm7, ymm15, ymm15"
        );
        bench!(
            "4 add + 4 fma",
            32,
            "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15\nvaddpd ymm3, ymm3, ymm15\nvfmadd231pd ymm4, ymm15, ymm15\nvfmadd231pd ymm5, ymm15, ymm15\nvfmadd231pd ymm6, ymm15, ymm15\nvfmadd231pd ymm7, ymm15, ymm15"
        );
        bench!(
            "exact mix x2: 10 add + 4 mul",
            8,
            "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15\nvaddpd ymm3, ymm3, ymm15\nvaddpd ymm4, ymm4, ymm15\nvmulpd ymm5, ymm5, ymm15\nvmulpd ymm6, ymm6, ymm15\nvaddpd ymm7, ymm7, ymm15\nvaddpd ymm8, ymm8, ymm15\nvaddpd ymm9, ymm9, ymm15\nvaddpd ymm10, ymm10, ymm15\nvaddpd ymm11, ymm11, ymm15\nvmulpd ymm12, ymm12, ymm15\nvmulpd ymm13, ymm13, ymm15"
        );
        bench!(
            "fused x2: 8 add + 2 fma + 2 mul",
            8,
            "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15\nvaddpd ymm3, ymm3, ymm15\nvfmadd231pd ymm4, ymm15, ymm15\nvmulpd ymm5, ymm5, ymm15\nvaddpd ymm7, ymm7, ymm15\nvaddpd ymm8, ymm8, ymm15\nvaddpd ymm9, ymm9, ymm15\nvaddpd ymm10, ymm10, ymm15\nvfmadd231pd ymm11, ymm15, ymm15\nvmulpd ymm12, ymm12, ymm15"
        );
        bench!(
            "fused+add-as-fma x2: 6 add + 4 fma + 2 mul",
            8,
            "vaddpd ymm0, ymm0, ymm15\nvaddpd ymm1, ymm1, ymm15\nvaddpd ymm2, ymm2, ymm15\nvfmadd231pd ymm3, ymm15, ymm15\nvfmadd231pd ymm4, ymm15, ymm15\nvmulpd ymm5, ymm5, ymm15\nvaddpd ymm7, ymm7, ymm15\nvaddpd ymm8, ymm8, ymm15\nvaddpd ymm9, ymm9, ymm15\nvfmadd231pd ymm10, ymm15, ymm15\nvfmadd231pd ymm11, ymm15, ymm15\nvmulpd ymm12, ymm12, ymm15"
        );
        bench!(
            "loads: 5 vmovupd (4 cells, L1) + 1 store",
            4,
            "vmovupd ymm0, [{p}]\nvmovupd ymm1, [{p}+64]\nvmovupd ymm2, [{p}+128]\nvmovupd ymm3, [{p}+8]\nvmovupd ymm4, [{p}+200]\nvmovupd [{q}], ymm5"
        );
        bench!(
            "loads: 4 vmovupd + 1 store",
            4,
            "vmovupd ymm0, [{p}]\nvmovupd ymm1, [{p}+64]\nvmovupd ymm3, [{p}+8]\nvmovupd ymm4, [{p}+200]\nvmovupd [{q}], ymm5"
        );
        bench!(
            "exact row: 5 loads + 5 add + 2 mul + store",
            4,
            "vmovupd ymm0, [{p}]\nvmovupd ymm1, [{p}+64]\nvmovupd ymm2, [{p}+128]\nvmovupd ymm3, [{p}+8]\nvmovupd ymm4, [{p}+200]\nvaddpd ymm0, ymm0, ymm1\nvaddpd ymm3, ymm3, ymm4\nvaddpd ymm0, ymm0, ymm3\nvmulpd ymm5, ymm2, ymm15\nvsubpd ymm0, ymm0, ymm5\nvmulpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm2\nvmovupd [{q}], ymm0"
        );
        bench!(
            "fused row: 4 loads + shufpd + 4 add + fma + mul + store",
            4,
            "vmovupd ymm0, [{p}]\nvmovupd ymm1, [{p}+64]\nvmovupd ymm3, [{p}+8]\nvmovupd ymm4, [{p}+200]\nvshufpd ymm2, ymm3, ymm4, 5\nvaddpd ymm0, ymm0, ymm1\nvaddpd ymm3, ymm3, ymm4\nvaddpd ymm0, ymm0, ymm3\nvfnmadd231pd ymm0, ymm2, ymm15\nvmulpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm2\nvmovupd [{q}], ymm0"
        );
        bench!(
            "fused row: 5 loads + 4 add + fma + mul + store",
            4,
            "vmovupd ymm0, [{p}]\nvmovupd ymm1, [{p}+64]\nvmovupd ymm2, [{p}+128]\nvmovupd ymm3, [{p}+8]\nvmovupd ymm4, [{p}+200]\nvaddpd ymm0, ymm0, ymm1\nvaddpd ymm3, ymm3, ymm4\nvaddpd ymm0, ymm0, ymm3\nvfnmadd231pd ymm0, ymm2, ymm15\nvmulpd ymm0, ymm0, ymm15\nvaddpd ymm0, ymm0, ymm2\nvmovupd [{q}], ymm0"
        );
        bench!(
            "fused row 2: 4 loads+shuf, 2 add + 2 fma(x,1,y) + fnma + mul + store",
            4,
            "vmovupd ymm0, [{p}]\nvmovupd ymm1, [{p}+64]\nvmovupd ymm3, [{p}+8]\nvmovupd ymm4, [{p}+200]\nvshufpd ymm2, ymm3, ymm4, 5\nvaddpd ymm0, ymm0, ymm1\nvfmadd231pd ymm3, ymm4, ymm14\nvaddpd ymm0, ymm0, ymm3\nvfnmadd231pd ymm0, ymm2, ymm15\nvmulpd ymm0, ymm0, ymm15\nvfmadd231pd ymm0, ymm2, ymm14\nvmovupd [{q}], ymm0"
        );
    }

    /// The AVX-512 row kernel's own instruction mix (`simd`'s AVX-512 path, as its
    /// disassembly shows it): per vector of 8 cells, 3 loads (the next `mid` vector, `up`,
    /// `down`), 2 lane shifts for the left and right neighbours, 4 additions, the FMA of the
    /// fused Laplacian, 1 multiplication and the store; two independent vectors per loop.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn run_avx512() {
        bench512!(
            "zmm dep chain: 8 dependent vaddpd (latency)",
            1,
            "vaddpd zmm0, zmm0, zmm15\nvaddpd zmm0, zmm0, zmm15\nvaddpd zmm0, zmm0, zmm15\nvaddpd zmm0, zmm0, zmm15\nvaddpd zmm0, zmm0, zmm15\nvaddpd zmm0, zmm0, zmm15\nvaddpd zmm0, zmm0, zmm15\nvaddpd zmm0, zmm0, zmm15"
        );
        bench512!(
            "zmm 8 indep vaddpd",
            64,
            "vaddpd zmm0, zmm0, zmm15\nvaddpd zmm1, zmm1, zmm15\nvaddpd zmm2, zmm2, zmm15\nvaddpd zmm3, zmm3, zmm15\nvaddpd zmm4, zmm4, zmm15\nvaddpd zmm5, zmm5, zmm15\nvaddpd zmm6, zmm6, zmm15\nvaddpd zmm7, zmm7, zmm15"
        );
        bench512!(
            "zmm 8 indep vfmadd",
            64,
            "vfmadd231pd zmm0, zmm15, zmm15\nvfmadd231pd zmm1, zmm15, zmm15\nvfmadd231pd zmm2, zmm15, zmm15\nvfmadd231pd zmm3, zmm15, zmm15\nvfmadd231pd zmm4, zmm15, zmm15\nvfmadd231pd zmm5, zmm15, zmm15\nvfmadd231pd zmm6, zmm15, zmm15\nvfmadd231pd zmm7, zmm15, zmm15"
        );
        bench512!(
            "zmm 8 indep valignq",
            64,
            "valignq zmm0, zmm14, zmm15, 7\nvalignq zmm1, zmm14, zmm15, 1\nvalignq zmm2, zmm14, zmm15, 7\nvalignq zmm3, zmm14, zmm15, 1\nvalignq zmm4, zmm14, zmm15, 7\nvalignq zmm5, zmm14, zmm15, 1\nvalignq zmm6, zmm14, zmm15, 7\nvalignq zmm7, zmm14, zmm15, 1"
        );
        bench512!(
            "zmm 4 vaddpd + 4 valignq",
            32,
            "vaddpd zmm0, zmm0, zmm15\nvalignq zmm1, zmm14, zmm15, 1\nvaddpd zmm2, zmm2, zmm15\nvalignq zmm3, zmm14, zmm15, 1\nvaddpd zmm4, zmm4, zmm15\nvalignq zmm5, zmm14, zmm15, 7\nvaddpd zmm6, zmm6, zmm15\nvalignq zmm7, zmm14, zmm15, 7"
        );
        bench512!(
            "zmm exact mix x2: 10 add + 4 mul (the calibration's)",
            16,
            "vaddpd zmm0, zmm0, zmm15\nvaddpd zmm1, zmm1, zmm15\nvaddpd zmm2, zmm2, zmm15\nvaddpd zmm3, zmm3, zmm15\nvaddpd zmm4, zmm4, zmm15\nvmulpd zmm5, zmm5, zmm15\nvmulpd zmm6, zmm6, zmm15\nvaddpd zmm7, zmm7, zmm15\nvaddpd zmm8, zmm8, zmm15\nvaddpd zmm9, zmm9, zmm15\nvaddpd zmm10, zmm10, zmm15\nvaddpd zmm11, zmm11, zmm15\nvmulpd zmm12, zmm12, zmm15\nvmulpd zmm13, zmm13, zmm15"
        );
        bench512!(
            "zmm fused row x2: 3 loads + 2 valignq + 4 add + fma + mul + store",
            16,
            "vmovupd zmm2, [{p}+128]\nvalignq zmm3, zmm1, zmm0, 7\nvalignq zmm4, zmm2, zmm1, 1\nvaddpd zmm3, zmm3, zmm4\nvmovupd zmm5, [{p}+256]\nvaddpd zmm5, zmm5, [{p}+512]\nvaddpd zmm5, zmm5, zmm3\nvfmadd231pd zmm5, zmm1, zmm14\nvmulpd zmm5, zmm5, zmm14\nvaddpd zmm5, zmm5, zmm1\nvmovupd [{q}+64], zmm5\nvmovupd zmm6, [{p}+192]\nvalignq zmm7, zmm2, zmm1, 7\nvalignq zmm8, zmm6, zmm2, 1\nvaddpd zmm7, zmm7, zmm8\nvmovupd zmm9, [{p}+320]\nvaddpd zmm9, zmm9, [{p}+576]\nvaddpd zmm9, zmm9, zmm7\nvfmadd231pd zmm9, zmm2, zmm14\nvmulpd zmm9, zmm9, zmm14\nvaddpd zmm9, zmm9, zmm2\nvmovupd [{q}+128], zmm9"
        );
        bench512!(
            "zmm fused row x2, neighbours loaded: 5 loads + 4 add + fma + mul + st",
            16,
            "vmovupd zmm3, [{p}+120]\nvaddpd zmm3, zmm3, [{p}+136]\nvmovupd zmm1, [{p}+128]\nvmovupd zmm5, [{p}+256]\nvaddpd zmm5, zmm5, [{p}+512]\nvaddpd zmm5, zmm5, zmm3\nvfmadd231pd zmm5, zmm1, zmm14\nvmulpd zmm5, zmm5, zmm14\nvaddpd zmm5, zmm5, zmm1\nvmovupd [{q}+64], zmm5\nvmovupd zmm7, [{p}+184]\nvaddpd zmm7, zmm7, [{p}+200]\nvmovupd zmm2, [{p}+192]\nvmovupd zmm9, [{p}+320]\nvaddpd zmm9, zmm9, [{p}+576]\nvaddpd zmm9, zmm9, zmm7\nvfmadd231pd zmm9, zmm2, zmm14\nvmulpd zmm9, zmm9, zmm14\nvaddpd zmm9, zmm9, zmm2\nvmovupd [{q}+128], zmm9"
        );
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        ports::run();
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was just detected.
            unsafe { ports::run_avx512() };
        } else {
            println!("AVX-512 loops skipped: this CPU has no AVX-512F");
        }
        return;
    }
    println!("issue_ports: needs an x86-64 CPU with AVX2 and FMA");
}
