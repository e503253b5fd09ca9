// Julia set escape counts (SPEC §1), one invocation per pixel.
//
// This file is the one source for both precisions: it is written in f64, and the `gpu-f32`
// backend replaces the `alias Real` line below with `alias Real = f32;` (src/gpu/shader.rs).
// Every float in the kernel is a `Real` or an abstract literal that takes the `Real` type.
//
// Operation order is SPEC's canonical one, written out with explicit parentheses. WGSL gives
// no way to hold a driver to it: lavapipe was measured reassociating `(zr*zr - zi*zi) + cr`
// into `(zr*zr + cr) - zi*zi` (119 of 301x199 chaotic pixels differ, docs/gpu.md), and a driver
// may fuse multiply-adds too. On Vulkan the backend compiles this file to SPIR-V with every
// float operation decorated `NoContraction` (src/gpu/spirv.rs), which forbids both; the
// agreement tests and the backend's canary check that the driver honours it.

alias Real = f64;

struct Params {
    width: u32,
    height: u32,
    max_iter: u32,
    _pad: u32,
    cr: Real,
    ci: Real,
}

@group(0) @binding(0) var<uniform> params: Params;
// The pixel coordinates, computed once on the host in f64 (SPEC §1), never recomputed here.
@group(0) @binding(1) var<storage, read> xs: array<Real>;
@group(0) @binding(2) var<storage, read> ys: array<Real>;
// Row-major height x width counts.
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;

// The workgroup shape is the host's (src/gpu/shader.rs, `Workgroup`: measured, see
// docs/gpu.md); 2D so that each dispatch dimension stays under 65535 workgroups for large
// images.
override WORKGROUP_X: u32;
override WORKGROUP_Y: u32;

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    let j = id.y;
    // The dispatch is rounded up to whole workgroups: skip the invocations past the edges.
    if (i >= params.width || j >= params.height) {
        return;
    }
    var zr: Real = xs[i];
    var zi: Real = ys[j];
    var n: u32 = 0u;
    while (n < params.max_iter && (zr * zr + zi * zi) < 4.0) {
        let t = (zr * zr - zi * zi) + params.cr;
        zi = (2.0 * zr) * zi + params.ci;
        zr = t;
        n = n + 1u;
    }
    counts[j * params.width + i] = n;
}
