//! The GPU backends beyond agreement (tests/agreement.rs covers that): the book's checksum
//! from the CLI, transfer timings, ping-pong over several submissions, the adapter's limits,
//! and a clear error rather than a panic when there is no adapter.
//!
//! Without a usable adapter these tests print a SKIPPED line with the reason and pass, except
//! under `LANCEHEAD_REQUIRE_GPU=1` (scripts/test.sh), where they fail.
#![cfg(feature = "gpu")]

mod common;

use assert_cmd::Command;
use common::{Rng, evolve, scalar};
use lancehead::agreement::GridDiff;
use lancehead::backend::registry::{self, Agreement};
use lancehead::{Backend, DiffusionParams, Error, JuliaParams, Region};

/// Backend `name`, or `None` after a loud SKIPPED line when it cannot run here.
fn gpu(name: &str) -> Option<Box<dyn Backend>> {
    match registry::create(name) {
        Ok(backend) => Some(backend),
        Err(e) if std::env::var("LANCEHEAD_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("LANCEHEAD_REQUIRE_GPU=1 but {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED ******** {e} (set LANCEHEAD_REQUIRE_GPU=1 to fail instead)");
            None
        }
    }
}

#[test]
fn julia_json_prints_the_books_checksum_on_gpu() {
    if gpu("gpu").is_none() {
        return;
    }
    let out = Command::cargo_bin("lancehead")
        .unwrap()
        .args(["julia", "--backend", "gpu", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "gpu");
    assert_eq!(v["checksum"], 33_219_980);
}

#[test]
fn calls_report_upload_compute_and_read_back_times() {
    for name in ["gpu", "gpu-f32"] {
        let Some(backend) = gpu(name) else { return };
        assert_eq!(
            backend.last_transfer_times(),
            None,
            "{name} before any call"
        );

        let params = JuliaParams::new(64, 48, Region::BOOK, (-0.8, 0.156), 300).unwrap();
        lancehead::julia(&*backend, &params).unwrap();
        let julia = backend.last_transfer_times().expect("times after julia");

        let params = DiffusionParams::book(96, 80).unwrap();
        evolve(&*backend, &params, Rng::new(3).grid(96, 80).view(), 20);
        let diffusion = backend
            .last_transfer_times()
            .expect("times after diffusion");
        for t in [julia, diffusion] {
            for part in [t.upload, t.compute, t.read_back] {
                assert!(part.is_finite() && part >= 0.0, "{name}: {t:?}");
            }
            assert!(t.compute > 0.0, "{name}: {t:?}");
        }
        eprintln!("{name}: julia 64x48 {julia:?}; diffusion 96x80 x 20 {diffusion:?}");
    }
}

/// Odd and even step counts across several submissions leave the result in the right buffer;
/// one instance serves problems of different shapes; and splitting a run in two calls gives
/// the same bits as one call (same device, same arithmetic; f32 values survive the round trip
/// through the host's f64 unchanged).
#[test]
fn ping_pong_across_submissions_and_calls() {
    for name in ["gpu", "gpu-f32"] {
        let Some(backend) = gpu(name) else { return };
        let class = backend.agreement(lancehead::problem::Kernel::Diffusion);
        for (rows, cols, steps) in [(33, 70, 129), (70, 33, 128), (16, 16, 65), (5, 200, 1)] {
            let params = DiffusionParams::new(rows, cols, 0.2, 1.1).unwrap();
            let init = Rng::new(rows as u64).grid(rows, cols);
            let expected = evolve(&*scalar(), &params, init.view(), steps);
            let once = evolve(&*backend, &params, init.view(), steps);
            let diff = GridDiff::new(expected.view(), once.view());
            assert!(diff.within(class), "{name} {rows}x{cols} x {steps}: {diff}");

            let half = evolve(&*backend, &params, init.view(), steps / 2);
            let twice = evolve(&*backend, &params, half.view(), steps - steps / 2);
            assert_eq!(
                once, twice,
                "{name} {rows}x{cols}: {steps} steps in two calls"
            );
        }
    }
}

/// The largest f64 grid WebGPU's default 128 MiB storage binding holds (4096²) runs, and one
/// row more than the adapter's limit is refused with the limit named, before any allocation
/// on the device.
#[test]
fn buffer_limits_are_the_adapters_and_named_when_exceeded() {
    let Some(backend) = gpu("gpu") else { return };
    let limits = &lancehead::gpu::context::shared().unwrap().limits;
    let binding = limits.max_storage_buffer_binding_size;
    assert!(
        binding >= 128 << 20,
        "the device has at least WebGPU's default limits"
    );

    let params = DiffusionParams::book(4096, 4096).unwrap();
    let mut grid = params.book_initial().unwrap();
    let expected = evolve(&*scalar(), &params, grid.view(), 1);
    lancehead::evolve(&*backend, &params, grid.view_mut(), 1).unwrap();
    let diff = GridDiff::new(expected.view(), grid.view());
    assert!(diff.within(Agreement::ToleranceF64), "4096² x 1: {diff}");

    // A grid over the limit costs its size in host memory: only try where that is modest.
    let cols = 4096u64;
    let rows = binding / (8 * cols) + 1;
    if rows * cols * 8 > 1 << 31 {
        eprintln!("not testing a grid over a {binding}-byte binding limit (too large here)");
        return;
    }
    let params = DiffusionParams::book(rows as usize, cols as usize).unwrap();
    let mut grid = params.new_grid().unwrap();
    let e = lancehead::evolve(&*backend, &params, grid.view_mut(), 1).unwrap_err();
    assert!(matches!(e, Error::GpuLimit { .. }), "{e}");
    assert!(
        e.to_string().contains("max_storage_buffer_binding_size"),
        "{e}"
    );
}

/// An image wider than 16 x max_compute_workgroups_per_dimension is refused with that limit
/// named; one exactly that wide runs (2D dispatch keeps each dimension under the limit).
#[test]
fn workgroup_limits_are_named_when_exceeded() {
    let Some(backend) = gpu("gpu-f32") else {
        return;
    };
    let per_dimension = lancehead::gpu::context::shared()
        .unwrap()
        .limits
        .max_compute_workgroups_per_dimension as usize;
    let widest = per_dimension * 16;
    if widest > 1 << 24 {
        eprintln!("not testing an image wider than {widest} pixels (too large here)");
        return;
    }
    let region = Region::BOOK;
    let params = JuliaParams::new(widest, 1, region, (-0.8, 0.156), 10).unwrap();
    let counts = lancehead::julia(&*backend, &params).unwrap();
    assert_eq!(counts, lancehead::julia(&*scalar(), &params).unwrap());

    let params = JuliaParams::new(widest + 1, 1, region, (-0.8, 0.156), 10).unwrap();
    let e = lancehead::julia(&*backend, &params).unwrap_err();
    assert!(matches!(e, Error::GpuLimit { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("max_compute_workgroups_per_dimension"),
        "{e}"
    );
}

/// With no adapter (here: only a backend this platform lacks), the GPU backends are listed as
/// unavailable with the reason, the others still run, and asking for `gpu` is a one-line
/// error, not a panic.
#[test]
fn no_adapter_is_a_clear_error_and_the_registry_still_works() {
    let absent = if cfg!(windows) { "metal" } else { "dx12" };
    let run = |args: &[&str]| {
        Command::cargo_bin("lancehead")
            .unwrap()
            .env("WGPU_BACKEND", absent)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["backends", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    for b in &listed {
        let name = b["name"].as_str().unwrap();
        if name.starts_with("gpu") {
            assert_eq!(b["available"], false, "{b}");
            assert!(
                b["reason"].as_str().unwrap().contains("no GPU adapter"),
                "{b}"
            );
        } else if name == "scalar" {
            assert_eq!(b["available"], true, "{b}");
        }
    }

    let out = run(&["julia", "--backend", "gpu", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<_> = stderr
        .lines()
        .filter(|l| l.starts_with("lancehead"))
        .collect();
    assert_eq!(ours.len(), 1, "{stderr}");
    assert!(
        ours[0].contains("`gpu` is unavailable: no GPU adapter"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A wgpu validation error inside a call (here: a buffer over the device's size limit) comes
/// back as `Error::Gpu` with wgpu's message, not as wgpu's default panic.
#[test]
fn validation_errors_are_errors_not_panics() {
    if gpu("gpu-f32").is_none() {
        return;
    }
    let context = lancehead::gpu::context::shared().unwrap();
    let e = context
        .guarded("gpu-f32", || {
            let _over_the_limit = context.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("too large"),
                size: context.limits.max_buffer_size + 4,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Gpu {
                name: "gpu-f32",
                ..
            }
        ),
        "{e}"
    );
    assert!(!e.to_string().contains('\n'), "one line: {e}");
    eprintln!("{e}");

    // The device is still usable afterwards.
    let backend = gpu("gpu-f32").unwrap();
    let params = JuliaParams::new(20, 10, Region::BOOK, (-0.8, 0.156), 50).unwrap();
    assert_eq!(
        lancehead::julia(&*backend, &params).unwrap(),
        lancehead::julia(&*scalar(), &params).unwrap()
    );
}
