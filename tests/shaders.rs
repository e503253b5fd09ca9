//! Every shader in `shaders/` parses and validates with naga, in both precisions, and every
//! SPIR-V module of the exact path carries `NoContraction` on each float operation, without a
//! device: a broken shader fails here even on machines with no GPU adapter.
#![cfg(feature = "gpu")]

use lancehead::gpu::shader::{self, REAL_F64, Workgroup};
use lancehead::gpu::spirv;
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

/// Every SPIR-V module the backends can emit: each shader, in both precisions, for the
/// default workgroup shapes and a few others the tuning example sweeps.
fn emitted_modules(no_contraction: bool) -> Vec<(String, Vec<u32>)> {
    let mut modules = Vec::new();
    for (name, text) in [("julia", shader::JULIA), ("diffusion", shader::DIFFUSION)] {
        for (precision, source) in [
            ("f64", shader::source::<f64>(text)),
            ("f32", shader::source::<f32>(text)),
        ] {
            for shape in [
                Workgroup::new(16, 16),
                Workgroup::new(64, 1),
                Workgroup::new(8, 8),
            ] {
                let label = format!("{name} ({precision}, {shape})");
                let words = spirv::compile(&source, &shape.constants(), no_contraction)
                    .unwrap_or_else(|e| panic!("{label} does not compile to SPIR-V: {e}"));
                modules.push((label, words));
            }
        }
    }
    modules
}

#[test]
fn every_float_operation_of_every_emitted_module_is_decorated_no_contraction() {
    for (label, words) in emitted_modules(true) {
        let audit = spirv::audit(&words).unwrap();
        assert!(audit.is_complete(), "{label}: {audit}");
        // Julia: 4 multiplies and 2 additions in the loop, 2 + 2 in the escape test; diffusion:
        // 4 additions, 1 subtraction, 2 multiplies. Fewer would mean a shader lost arithmetic
        // the audit never saw.
        let expected = if label.starts_with("julia") { 10 } else { 7 };
        assert_eq!(audit.float_arithmetic, expected, "{label}: {audit}");
        // Decorating again adds nothing.
        assert_eq!(
            spirv::decorate_no_contraction(&words).unwrap(),
            words,
            "{label}"
        );
        eprintln!("{label}: {audit}");
    }
}

/// The audit can fail: a module without the decorations, with one of them removed, with one
/// moved among the types, or with a float instruction it does not know, is reported.
#[test]
fn a_module_without_every_decoration_is_detected() {
    for ((label, plain), (_, decorated)) in emitted_modules(false)
        .into_iter()
        .zip(emitted_modules(true))
    {
        let audit = spirv::audit(&plain).unwrap();
        assert!(!audit.is_complete(), "{label} undecorated passed: {audit}");
        assert_eq!(
            audit.undecorated.len(),
            audit.float_arithmetic,
            "{label}: {audit}"
        );

        // Remove the last `OpDecorate %id NoContraction`.
        let decoration = |w: &[u32]| w == [(3 << 16) | 71, w[1], 42];
        let at = (5..decorated.len() - 2)
            .rev()
            .find(|&i| decoration(&decorated[i..i + 3]))
            .expect("a NoContraction decoration");
        let mut one_less = decorated.clone();
        let removed = one_less.drain(at..at + 3).collect::<Vec<_>>();
        let audit = spirv::audit(&one_less).unwrap();
        assert_eq!(audit.undecorated.len(), 1, "{label} one removed: {audit}");
        assert!(
            audit.undecorated[0].ends_with(&format!("%{}", removed[1])),
            "{audit}"
        );

        // Put it back after the first type declaration (OpTypeVoid, opcode 19): misplaced.
        let first_type = (5..one_less.len())
            .find(|&i| one_less[i] == (2 << 16) | 19)
            .expect("OpTypeVoid");
        let mut misplaced = one_less.clone();
        misplaced.splice(first_type + 2..first_type + 2, removed);
        let audit = spirv::audit(&misplaced).unwrap();
        assert_eq!(audit.undecorated.len(), 0, "{label}: {audit}");
        assert_eq!(
            audit.misplaced.len(),
            1,
            "{label} decoration among the types: {audit}"
        );
        assert!(!audit.is_complete());
    }

    // A shader calling `fma` gets an extended instruction the audit does not classify.
    let fused = "@group(0) @binding(0) var<storage, read_write> x: array<f32>;
        @compute @workgroup_size(1) fn main() { x[0] = fma(x[0], x[1], x[2]); }";
    let words = spirv::compile(fused, &[], true).unwrap();
    let audit = spirv::audit(&words).unwrap();
    assert_eq!(audit.unclassified.len(), 1, "{audit}");
    assert!(audit.unclassified[0].starts_with("OpExtInst"), "{audit}");
    assert!(!audit.is_complete());

    assert!(
        spirv::audit(&[0xdead_beef, 0, 0, 0, 0]).is_err(),
        "not SPIR-V"
    );
    assert!(
        spirv::audit(&words[..words.len() - 1]).is_err(),
        "truncated"
    );
    let mut too_long = words.clone();
    too_long[5] |= 0xffff << 16;
    assert!(spirv::audit(&too_long).is_err(), "instruction past the end");
}

/// `spirv-val` (Debian `spirv-tools`) accepts every emitted module, decorated or not, for
/// Vulkan 1.0. The audit above is the check that always runs; this one runs where the tool is.
#[test]
fn spirv_val_accepts_every_emitted_module() {
    let dir = tempfile::tempdir().unwrap();
    let probe = std::process::Command::new("spirv-val")
        .arg("--version")
        .output();
    if probe.is_err() {
        eprintln!(
            "SKIPPED ******** spirv-val not installed (apt-get install spirv-tools): the \
             emitted modules were checked by the audit only"
        );
        return;
    }
    for no_contraction in [false, true] {
        for (label, words) in emitted_modules(no_contraction) {
            let path = dir.path().join("module.spv");
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            std::fs::write(&path, bytes).unwrap();
            let out = std::process::Command::new("spirv-val")
                .args(["--target-env", "vulkan1.0"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{label} (NoContraction: {no_contraction}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
