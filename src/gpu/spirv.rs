//! The exact Vulkan path: the WGSL of `shaders/` compiled to SPIR-V by naga, with every
//! floating-point operation decorated `NoContraction`.
//!
//! WGSL lets a driver rewrite float arithmetic (lavapipe reassociates `(zr*zr - zi*zi) + cr`
//! into `(zr*zr + cr) - zi*zi`, see `docs/gpu.md`), and naga's SPIR-V output says nothing
//! against it. SPIR-V's `NoContraction` decoration (GLSL's `precise`) forbids a driver to fuse
//! or reassociate the decorated operation, so a module in which every float operation carries
//! it computes SPEC's canonical order on a driver that honours the decoration. Whether a
//! driver does is measured: the backend's canary ([`super::canary`]) and the agreement tests.
//!
//! [`compile`] writes the module; [`decorate_no_contraction`] adds the decorations; [`audit`]
//! checks a module without a device: that every float operation is decorated, that the
//! module's sections are in SPIR-V's order, and that no float-valued instruction is one this
//! file does not know (an extended instruction such as `fma` would have to be classified).

use std::collections::HashSet;

use naga::back::spv;
use spirv::{Decoration, Op};

/// The float arithmetic SPIR-V has: every one is decorated `NoContraction`.
pub const FLOAT_ARITHMETIC: &[Op] = &[
    Op::FNegate,
    Op::FAdd,
    Op::FSub,
    Op::FMul,
    Op::FDiv,
    Op::FRem,
    Op::FMod,
    Op::VectorTimesScalar,
    Op::MatrixTimesScalar,
    Op::VectorTimesMatrix,
    Op::MatrixTimesVector,
    Op::MatrixTimesMatrix,
    Op::OuterProduct,
    Op::Dot,
];

/// Instructions that yield a float without computing one: loads, copies, selections,
/// conversions (an exact or a single correctly rounded operation, nothing to contract).
const FLOAT_DATA_MOVEMENT: &[Op] = &[
    Op::Undef,
    Op::FunctionParameter,
    Op::FunctionCall,
    Op::Load,
    Op::CopyObject,
    Op::Phi,
    Op::Select,
    Op::CompositeConstruct,
    Op::CompositeExtract,
    Op::CompositeInsert,
    Op::VectorShuffle,
    Op::VectorExtractDynamic,
    Op::VectorInsertDynamic,
    Op::ConvertSToF,
    Op::ConvertUToF,
    Op::FConvert,
    Op::Bitcast,
];

/// SPIR-V words of the compute entry point `main` of the WGSL `source`, with the override
/// constants `constants` (the workgroup shape) applied, decorated `NoContraction` when
/// `no_contraction`. The error is naga's message, on one line.
pub fn compile(
    source: &str,
    constants: &[(&str, f64)],
    no_contraction: bool,
) -> Result<Vec<u32>, String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| one_line(e.message()))?;
    // f64 is allowed here; the f32 variant simply does not use it (tests/shaders.rs checks).
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::FLOAT64,
    )
    .validate(&module)
    .map_err(|e| one_line(e.as_inner()))?;
    let constants: naga::back::PipelineConstants = constants
        .iter()
        .map(|&(name, value)| (name.to_string(), value))
        .collect();
    let entry_point = (naga::ShaderStage::Compute, "main");
    let (module, info) = naga::back::pipeline_constants::process_overrides(
        &module,
        &info,
        Some(entry_point),
        &constants,
    )
    .map_err(one_line)?;
    let options = spv::Options {
        // SPIR-V 1.0 runs on every Vulkan 1.0 driver; nothing here needs more.
        lang_version: (1, 0),
        // No debug information: the module's words are the arithmetic and nothing else.
        flags: spv::WriterFlags::empty(),
        // The checks wgpu applies to WGSL where the device lacks robustBufferAccess2: a
        // passthrough module gets no runtime checks from wgpu, so naga writes them (integer
        // clamps of the indices; the float arithmetic is untouched).
        bounds_check_policies: naga::proc::BoundsCheckPolicies {
            index: naga::proc::BoundsCheckPolicy::Restrict,
            buffer: naga::proc::BoundsCheckPolicy::Restrict,
            image_load: naga::proc::BoundsCheckPolicy::Restrict,
            binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
        },
        ..spv::Options::default()
    };
    let pipeline = spv::PipelineOptions {
        shader_stage: entry_point.0,
        entry_point: entry_point.1.to_string(),
    };
    let words = spv::write_vec(&module, &info, &options, Some(&pipeline)).map_err(one_line)?;
    if no_contraction {
        decorate_no_contraction(&words)
    } else {
        Ok(words)
    }
}

/// `words` with `OpDecorate <id> NoContraction` for the result of every float arithmetic
/// instruction not yet decorated, inserted at the end of the module's annotation section.
pub fn decorate_no_contraction(words: &[u32]) -> Result<Vec<u32>, String> {
    let module = Module::parse(words)?;
    let decorated = module.no_contraction_ids();
    let ids: Vec<u32> = module
        .instructions
        .iter()
        .filter(|i| FLOAT_ARITHMETIC.contains(&i.op))
        .filter_map(|i| i.result_id())
        .filter(|id| !decorated.contains(id))
        .collect();
    // Annotations follow the debug instructions and precede the first type: insert after the
    // last instruction of the sections before the types (SPIR-V 2.4, "Logical Layout").
    let at = module
        .instructions
        .iter()
        .take_while(|i| section(i.op) < Section::Types)
        .last()
        .map_or(HEADER_WORDS, |i| i.offset + i.words.len());
    let mut out = Vec::with_capacity(words.len() + 3 * ids.len());
    out.extend_from_slice(&words[..at]);
    for id in ids {
        out.extend([
            (3 << 16) | Op::Decorate as u32,
            id,
            Decoration::NoContraction as u32,
        ]);
    }
    out.extend_from_slice(&words[at..]);
    Ok(out)
}

/// What [`audit`] found in a module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audit {
    /// Float arithmetic instructions in the module.
    pub float_arithmetic: usize,
    /// Those of them without `NoContraction` (`OpFAdd %42`).
    pub undecorated: Vec<String>,
    /// Float-valued instructions in functions that are neither arithmetic this file decorates
    /// nor data movement (an extended instruction such as GLSL.std.450 `Fma`, or a SPIR-V
    /// opcode added later): until classified, the module cannot be called exact.
    pub unclassified: Vec<String>,
    /// Module-level instructions out of SPIR-V's section order (a decoration among the types).
    pub misplaced: Vec<String>,
}

impl Audit {
    /// Whether every float operation is decorated and the module is laid out as SPIR-V wants.
    pub fn is_complete(&self) -> bool {
        self.float_arithmetic > 0
            && self.undecorated.is_empty()
            && self.unclassified.is_empty()
            && self.misplaced.is_empty()
    }
}

impl std::fmt::Display for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} float operations, {} without NoContraction",
            self.float_arithmetic,
            self.undecorated.len()
        )?;
        for (what, list) in [
            ("undecorated", &self.undecorated),
            ("unclassified float instructions", &self.unclassified),
            ("out of section order", &self.misplaced),
        ] {
            if !list.is_empty() {
                let shown: Vec<&str> = list.iter().take(8).map(String::as_str).collect();
                write!(f, "; {what}: {}", shown.join(", "))?;
                if list.len() > shown.len() {
                    write!(f, " and {} more", list.len() - shown.len())?;
                }
            }
        }
        Ok(())
    }
}

/// Checks `words` without a device: see [`Audit`].
pub fn audit(words: &[u32]) -> Result<Audit, String> {
    let module = Module::parse(words)?;
    let decorated = module.no_contraction_ids();
    let float_types = module.float_types();
    let mut audit = Audit::default();
    let mut last = Section::Capabilities;
    let mut in_function = false;
    for i in &module.instructions {
        let name = || format!("Op{:?} at word {}", i.op, i.offset);
        if !in_function {
            let s = section(i.op);
            // OpLine and OpNoLine may appear anywhere from the types on.
            if s != Section::AnyAfterTypes {
                if s < last {
                    audit.misplaced.push(name());
                }
                last = last.max(s);
            }
        }
        match i.op {
            Op::Function => in_function = true,
            Op::FunctionEnd => in_function = false,
            _ => {}
        }
        if FLOAT_ARITHMETIC.contains(&i.op) {
            audit.float_arithmetic += 1;
            match i.result_id() {
                Some(id) if decorated.contains(&id) => {}
                Some(id) => audit.undecorated.push(format!("Op{:?} %{id}", i.op)),
                None => audit.misplaced.push(format!("{} (truncated)", name())),
            }
        } else if in_function
            && i.op != Op::Function
            && i.words.get(1).is_some_and(|ty| float_types.contains(ty))
            && !FLOAT_DATA_MOVEMENT.contains(&i.op)
        {
            // Ids are unique, so a float type id in the first operand of an instruction inside
            // a function is that instruction's result type.
            audit.unclassified.push(name());
        }
    }
    if in_function {
        return Err("SPIR-V module ends inside a function (truncated?)".into());
    }
    Ok(audit)
}

/// SPIR-V's header: magic, version, generator, id bound, schema.
const HEADER_WORDS: usize = 5;

struct Instruction<'a> {
    op: Op,
    /// Index of the instruction's first word in the module.
    offset: usize,
    words: &'a [u32],
}

impl Instruction<'_> {
    /// The result id of an instruction laid out `<op> <result type> <result id> ...`.
    fn result_id(&self) -> Option<u32> {
        self.words.get(2).copied()
    }
}

struct Module<'a> {
    instructions: Vec<Instruction<'a>>,
}

impl<'a> Module<'a> {
    fn parse(words: &'a [u32]) -> Result<Self, String> {
        if words.len() < HEADER_WORDS || words[0] != spirv::MAGIC_NUMBER {
            return Err("not a SPIR-V module (no magic number)".into());
        }
        let mut instructions = Vec::new();
        let mut offset = HEADER_WORDS;
        while offset < words.len() {
            let count = (words[offset] >> 16) as usize;
            let opcode = words[offset] & 0xffff;
            if count == 0 || offset + count > words.len() {
                return Err(format!(
                    "SPIR-V instruction at word {offset} has a bad length"
                ));
            }
            let op = Op::from_u32(opcode)
                .ok_or_else(|| format!("unknown SPIR-V opcode {opcode} at word {offset}"))?;
            instructions.push(Instruction {
                op,
                offset,
                words: &words[offset..offset + count],
            });
            offset += count;
        }
        Ok(Module { instructions })
    }

    /// Ids decorated `NoContraction`.
    fn no_contraction_ids(&self) -> HashSet<u32> {
        self.instructions
            .iter()
            .filter(|i| i.op == Op::Decorate && i.words.len() >= 3)
            .filter(|i| i.words[2] == Decoration::NoContraction as u32)
            .map(|i| i.words[1])
            .collect()
    }

    /// Ids of float scalar, vector and matrix types.
    fn float_types(&self) -> HashSet<u32> {
        let mut types = HashSet::new();
        for i in &self.instructions {
            let float = match i.op {
                Op::TypeFloat => true,
                Op::TypeVector | Op::TypeMatrix => i
                    .words
                    .get(2)
                    .is_some_and(|component| types.contains(component)),
                _ => false,
            };
            if let (true, Some(&id)) = (float, i.words.get(1)) {
                types.insert(id);
            }
        }
        types
    }
}

/// The module-level sections of SPIR-V 2.4 ("Logical Layout of a Module"), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Capabilities,
    Extensions,
    ExtInstImports,
    MemoryModel,
    EntryPoints,
    ExecutionModes,
    DebugSources,
    DebugNames,
    ModuleProcessed,
    Annotations,
    Types,
    /// OpLine and OpNoLine: anywhere from the types on.
    AnyAfterTypes,
}

fn section(op: Op) -> Section {
    match op {
        Op::Capability => Section::Capabilities,
        Op::Extension => Section::Extensions,
        Op::ExtInstImport => Section::ExtInstImports,
        Op::MemoryModel => Section::MemoryModel,
        Op::EntryPoint => Section::EntryPoints,
        Op::ExecutionMode | Op::ExecutionModeId => Section::ExecutionModes,
        Op::String | Op::SourceExtension | Op::Source | Op::SourceContinued => {
            Section::DebugSources
        }
        Op::Name | Op::MemberName => Section::DebugNames,
        Op::ModuleProcessed => Section::ModuleProcessed,
        Op::Decorate
        | Op::MemberDecorate
        | Op::DecorationGroup
        | Op::GroupDecorate
        | Op::GroupMemberDecorate
        | Op::DecorateId
        | Op::DecorateString
        | Op::MemberDecorateString => Section::Annotations,
        Op::Line | Op::NoLine => Section::AnyAfterTypes,
        // Types, constants, global variables, then functions: their order among themselves is
        // not this check's concern.
        _ => Section::Types,
    }
}

fn one_line(e: impl std::fmt::Display) -> String {
    super::context::one_line(e)
}
