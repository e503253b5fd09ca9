//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

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

/// splitmix64: deterministic pseudo-random numbers without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn grid(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || self.unit())
    }
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
