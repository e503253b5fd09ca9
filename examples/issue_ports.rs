//! Issue-port microbenchmark for the diffusion row kernel's operation mixes on AVX2 + FMA:
//! what one core issues of independent additions, multiplications and FMAs, of the exact
//! mix (5 add + 2 mul per vector), of the fused mix (`fma(-4, c, v + h)`: 4 add + 1 FMA + 1
//! mul), with an addition moved to the FMA unit as `fma(x, 1, y)`, and of whole row bodies
//! with their loads and store (from L1). The figures behind docs/performance.md's limits; each
//! loop is assembly, so no compiler schedule is measured.
//!
//! `cargo run --release --example issue_ports` (x86-64 with AVX2 and FMA; prints why not
//! elsewhere). Figures are the best of 5 runs of 20 M loops: run it on a quiet machine.

#[cfg(target_arch = "x86_64")]
mod ports {
    use std::arch::asm;
    use std::time::Instant;

    /// Times `$body` (AVX2 assembly using `{p}`, `{q}`: 32 KiB buffers to load from and store
    /// to; ymm15 = 0, ymm14 = 1.0) and prints nanoseconds per loop and per `$cells`.
    macro_rules! bench {
        ($name:expr, $cells:expr, $body:expr) => {{
            let buf = vec![1.0f64; 4096];
            let mut out = vec![0.0f64; 4096];
            let (p, q) = (buf.as_ptr(), out.as_mut_ptr());
            let mut best = f64::INFINITY;
            let loops: u64 = 20_000_000;
            for _ in 0..5 {
                let t = Instant::now();
                // SAFETY: the caller checked AVX2 and FMA; the loads and stores stay in the
                // first 264 bytes of the 32 KiB buffers; every register written is declared.
                unsafe {
                    asm!("vxorpd xmm15, xmm15, xmm15", "mov {p}, {p}", "mov {q}, {q}",
                        "vbroadcastsd ymm14, [{p}]",
                        "2:", $body, "dec {n}", "jnz 2b",
                        n = inout(reg) loops => _, p = in(reg) p, q = in(reg) q,
                        out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                        out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                        out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                        out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                        options(nostack));
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            let ns = best / loops as f64 * 1e9;
            println!("{:68} {:6.3} ns/loop {:6.3} ns/unit", $name, ns, ns / $cells as f64);
        }};
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
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        ports::run();
        return;
    }
    println!("issue_ports: needs an x86-64 CPU with AVX2 and FMA");
}
