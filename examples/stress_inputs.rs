//! Writes the initial grids of the diffusion stress cases (`lancehead::problem::stress`) as
//! `.npy` files, for `scripts/make_reference.py` to compute numpy's results from. The grids
//! are made by the library's fixed-seed generator; `tests/reference.rs` checks that the
//! committed files are still what it makes.
//!
//! `cargo run --example stress_inputs [-- DIR]` (default: `tests/data`)

use std::path::PathBuf;

use lancehead::problem::stress;

fn main() -> lancehead::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data"));
    for case in stress::diffusion_cases() {
        let path = dir.join(case.init_file());
        lancehead::io::npy::stage(&path, "DIR", case.init.view())?.commit()?;
        println!(
            "{}: {}x{}, {} steps",
            path.display(),
            case.init.nrows(),
            case.init.ncols(),
            case.steps
        );
    }
    Ok(())
}
