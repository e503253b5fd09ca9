//! Every shader in `shaders/` parses and validates with naga, in both precisions, without a
//! device: a broken shader fails here even on machines with no GPU adapter.
#![cfg(feature = "gpu")]

use lancehead::gpu::shader::{self, REAL_F64};
use wgpu::naga;

fn validate(label: &str, source: &str, capabilities: naga::valid::Capabilities) {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{label} does not parse:\n{}", e.emit_to_string(source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{label} does not validate:\n{}", e.emit_to_string(source)));
}

#[test]
fn every_shader_validates_in_f64_and_f32() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("shaders/ readable") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("shader readable");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            text.contains(REAL_F64),
            "{name} must declare its float type with `{REAL_F64}`"
        );
        validate(
            &format!("{name} (f64)"),
            &shader::source::<f64>(&text),
            naga::valid::Capabilities::FLOAT64,
        );
        // The f32 variant must not need f64 at all: validate it without that capability.
        validate(
            &format!("{name} (f32)"),
            &shader::source::<f32>(&text),
            naga::valid::Capabilities::empty(),
        );
        checked.push(name);
    }
    checked.sort();
    // The shaders the backends compile in are among those checked here.
    assert_eq!(checked, ["diffusion.wgsl", "julia.wgsl"]);
    assert_eq!(
        shader::JULIA,
        std::fs::read_to_string(dir.join("julia.wgsl")).unwrap()
    );
    assert_eq!(
        shader::DIFFUSION,
        std::fs::read_to_string(dir.join("diffusion.wgsl")).unwrap()
    );
}
