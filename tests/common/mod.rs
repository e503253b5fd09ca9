//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

use lancehead::registry::{self, BackendInfo};
use lancehead::{Backend, DiffusionParams, JuliaParams};
use ndarray::{Array2, ArrayView2};
use ndarray_npy::{ReadNpyExt, ReadableElement};

/// A file under `tests/data/` (copied from the numpy reference results).
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads a 2D `.npy` array from `tests/data/`.
pub fn load<T: ReadableElement>(name: &str) -> Array2<T> {
    let file = std::fs::File::open(data(name)).expect("reference file present");
    Array2::read_npy(file).expect("reference file readable")
}

/// Every backend of this build that can run here, GPU and foreign ones included. One that
/// cannot is named on stderr with the reason (SKIPPED), except a GPU backend under
/// `LANCEHEAD_REQUIRE_GPU=1` (scripts/test.sh), which fails the test instead.
pub fn runnable_backends() -> Vec<Box<dyn Backend>> {
    let require_gpu = std::env::var("LANCEHEAD_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let mut found = Vec::new();
    for probe in lancehead::registry::probe_all() {
        match probe.backend {
            Ok(backend) => found.push(backend),
            Err(reason) if require_gpu && probe.info.feature == Some("gpu") => {
                panic!(
                    "LANCEHEAD_REQUIRE_GPU=1 but backend {} is unavailable: {reason}",
                    probe.info.name
                )
            }
            Err(reason) => eprintln!("SKIPPED ******** backend {}: {reason}", probe.info.name),
        }
    }
    found
}

pub fn scalar() -> Box<dyn Backend> {
    lancehead::registry::create("scalar").expect("scalar is always available")
}

pub fn julia(backend: &dyn Backend, params: &JuliaParams) -> Array2<u32> {
    lancehead::julia(backend, params).expect("julia runs")
}

/// `steps` steps of `backend` from `init`.
pub fn evolve(
    backend: &dyn Backend,
    params: &DiffusionParams,
    init: ArrayView2<'_, f64>,
    steps: u32,
) -> Array2<f64> {
    let mut grid = init.to_owned();
    lancehead::evolve(backend, params, grid.view_mut(), steps).expect("diffusion runs");
    grid
}

/// The library's fixed-seed generator (splitmix64), shared with the stress cases.
#[allow(unused_imports)]
pub use lancehead::problem::stress::Rng;

/// The backends to check against `scalar`: all compiled in except `scalar` itself, plus every
/// SIMD path this CPU supports. Those that cannot run here are reported loudly; with
/// `LANCEHEAD_REQUIRE_ALL=1` that is a failure, and with `LANCEHEAD_REQUIRE_GPU=1` (CI, where
/// lavapipe is installed) a GPU backend that cannot run is one.
pub fn candidates() -> Vec<(&'static BackendInfo, Box<dyn Backend>)> {
    let require_all = std::env::var("LANCEHEAD_REQUIRE_ALL").is_ok_and(|v| v == "1");
    let require_gpu = std::env::var("LANCEHEAD_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let mut found = Vec::new();
    for probe in registry::probe_all() {
        match probe.backend {
            Ok(_) if probe.info.name == "scalar" => {}
            Ok(backend) => found.push((probe.info, backend)),
            Err(reason) if require_all || (require_gpu && is_device(probe.info)) => {
                panic!("backend {} unavailable: {reason}", probe.info.name)
            }
            Err(reason) => eprintln!("SKIPPED backend {}: {reason}", probe.info.name),
        }
    }
    for info in registry::KNOWN {
        if !registry::compiled().any(|c| c.name == info.name) {
            eprintln!(
                "NOT BUILT backend {} (feature {:?})",
                info.name, info.feature
            );
        }
    }
    #[cfg(feature = "simd")]
    found.extend(simd_paths());
    found
}

/// Whether a backend computes on a device (the `gpu` feature's backends) rather than the CPU.
pub fn is_device(info: &BackendInfo) -> bool {
    info.feature == Some("gpu")
}

/// Every SIMD path this CPU supports, each as a one-thread `simd` backend forced onto it (the
/// registry's `simd` runs only the widest). Paths this CPU lacks are reported loudly.
#[cfg(feature = "simd")]
fn simd_paths() -> Vec<(&'static BackendInfo, Box<dyn Backend>)> {
    use lancehead::backend::rows::Serial;
    use lancehead::backend::simd::{SimdPath, SimdRows};
    let info = registry::info("simd").expect("simd is known");
    let mut found: Vec<(&'static BackendInfo, Box<dyn Backend>)> = Vec::new();
    for path in SimdPath::ALL {
        match SimdRows::with_path(path) {
            Ok(rows) => found.push((info, Box::new(Serial::new("simd", rows)))),
            Err(e) => eprintln!("SKIPPED simd path {}: {e}", path.name()),
        }
    }
    found
}

/// Where Cargo put this build's artefacts (`target/<profile>`): the test binary runs from its
/// `deps/` folder. Examples are under `examples/`, the cdylib is at the top.
pub fn artefact_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("test binary under target/<profile>/deps")
        .to_path_buf()
}

/// The path of example `name` of this build. `cargo test` builds every example before it runs
/// a test; a run limited with `--test` does not, so say how to get them.
pub fn example(name: &str) -> PathBuf {
    let path = artefact_dir()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "example {name} not built at {}: run the whole `cargo test` (it builds the examples) \
         or `cargo build --examples` with the same features first",
        path.display()
    );
    path
}

/// Runs the `lancehead` binary with `args`.
pub fn lancehead(args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("lancehead")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}
