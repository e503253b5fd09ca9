// One explicit-Euler step of 2D diffusion with periodic boundaries (SPEC §1), one invocation
// per cell, reading `src` and writing `dst`; the host ping-pongs the two buffers.
//
// This file is the one source for both precisions: it is written in f64, and the `gpu-f32`
// backend replaces the `alias Real` line below with `alias Real = f32;` (src/gpu/shader.rs).
//
// Operation order is SPEC's canonical one. WGSL cannot forbid a driver from reassociating
// the sums or fusing `u + k * lap` into one multiply-add; on Vulkan the backend compiles this
// file to SPIR-V with every float operation decorated `NoContraction` (src/gpu/spirv.rs),
// which forbids both, and `gpu` is exact where that path runs and the canary confirms it.

alias Real = f64;

struct Params {
    rows: u32,
    cols: u32,
    _pad0: u32,
    _pad1: u32,
    // k = d * dt, computed once on the host (in f64, then rounded for f32).
    k: Real,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<Real>;
@group(0) @binding(2) var<storage, read_write> dst: array<Real>;

// The workgroup shape is the host's (src/gpu/shader.rs, `Workgroup`: measured, see
// docs/gpu.md); 2D so that each dispatch dimension stays under 65535 workgroups for large
// grids.
override WORKGROUP_X: u32;
override WORKGROUP_Y: u32;

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    let i = id.y;
    let rows = params.rows;
    let cols = params.cols;
    // The dispatch is rounded up to whole workgroups: skip the invocations past the edges.
    if (i >= rows || j >= cols) {
        return;
    }
    // Periodic neighbours: -1 wraps to the last index and rows (cols) wraps to 0. `select`
    // rather than `%` keeps the wrap branch-free and exact for a single row or column.
    let up = select(i - 1u, rows - 1u, i == 0u);
    let down = select(i + 1u, 0u, i + 1u == rows);
    let left = select(j - 1u, cols - 1u, j == 0u);
    let right = select(j + 1u, 0u, j + 1u == cols);

    let u = src[i * cols + j];
    let v = src[up * cols + j] + src[down * cols + j];
    let h = src[i * cols + left] + src[i * cols + right];
    let lap = (v + h) - 4.0 * u;
    dst[i * cols + j] = u + params.k * lap;
}
