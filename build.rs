//! Builds the C and Fortran reference kernels when their features are on (SPEC §2).
//!
//! - `c-ref`: `c_ref/` is compiled once per pair of the compiler x flags matrix of the book's
//!   chapter 7 ([`COMPILERS`] x [`STRATEGIES`]: gcc and clang, `-O2` to `-O3 -march=native
//!   -ffast-math` and OpenMP), each into its own static library with its own symbol prefix
//!   (`LH_PREFIX`), so all link into one program side by side. gcc is required; a missing
//!   clang (or `LANCEHEAD_CC_SKIP=clang`) makes its pairs rows that say how to install it.
//!   Each pair is compiled once more with the compiler's vectorisation report on (kept in
//!   OUT_DIR as `<prefix>julia.vec.txt`, ...), summarised for the loops marked `[inner loop]`.
//!   The crate gets generated tables: the registry's entries (`c_matrix_registry.rs`, always)
//!   and the FFI declarations of what was built (`c_matrix_ffi.rs`).
//! - `fortran-ref`: `fortran_ref/` is compiled with gfortran, and libgfortran is linked.
//!
//! - `LANCEHEAD_SANITIZE=address,undefined` (a test configuration that scripts/test.sh runs):
//!   both references are also compiled with GCC's AddressSanitizer and UndefinedBehaviorSanitizer,
//!   and the first finding aborts the program.
//!
//! A missing compiler or runtime library stops the build with one message that names the
//! Debian package to install and the feature to turn off, instead of a wall of linker errors.
//! The exact compiler, flags and vectoriser summary of each C pair are in the generated
//! table (Fortran's in `LANCEHEAD_*` variables), so `lancehead backends` reports what was
//! built.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const C_SOURCES: [&str; 2] = ["c_ref/julia.c", "c_ref/diffusion.c"];
const C_HEADER: &str = "c_ref/lancehead_ref.h";
const FORTRAN_SOURCE: &str = "fortran_ref/lancehead_ref.f90";

/// A C compiler of the matrix (issue 16): gcc is required by `c-ref`, clang is optional.
struct Compiler {
    /// `gcc`, `clang`: the name in backend names and the program run by default.
    name: &'static str,
    /// The variable that names another program for it (`LANCEHEAD_CLANG=clang-16`).
    override_var: &'static str,
    /// The Debian package that brings it.
    package: &'static str,
    /// Flags that make it report what it vectorised, on stderr.
    vector_report: &'static [&'static str],
}

const COMPILERS: [Compiler; 2] = [
    Compiler {
        name: "gcc",
        override_var: "LANCEHEAD_GCC",
        package: "gcc",
        vector_report: &["-fopt-info-vec-optimized", "-fopt-info-vec-missed"],
    },
    Compiler {
        name: "clang",
        override_var: "LANCEHEAD_CLANG",
        package: "clang",
        vector_report: &[
            "-Rpass=loop-vectorize",
            "-Rpass-missed=loop-vectorize",
            "-Rpass-analysis=loop-vectorize",
        ],
    },
];

/// Names compilers to leave out, as if not installed (`LANCEHEAD_CC_SKIP=clang`): the test of
/// the build without clang sets it.
const SKIP_VAR: &str = "LANCEHEAD_CC_SKIP";

/// One flag strategy of the matrix (the book's chapter 7: which compiler options pay).
struct Strategy {
    /// The suffix of the backend name: `c-clang-O3-native`.
    suffix: &'static str,
    /// On top of `-std=c99`. Exact strategies keep `-ffp-contract=off`: no fused multiply-add
    /// may change a rounding. (`-std=c99` alone would switch contraction off, as ISO C mode
    /// does, so the others ask for it.)
    flags: &'static [&'static str],
    exact: bool,
    openmp: bool,
    /// What a reader learns from this row.
    why: &'static str,
}

const STRATEGIES: [Strategy; 6] = [
    Strategy {
        suffix: "O2",
        flags: &["-O2", "-ffp-contract=off"],
        exact: true,
        openmp: false,
        why: "is -O2 enough?",
    },
    Strategy {
        suffix: "O3",
        flags: &["-O3", "-ffp-contract=off"],
        exact: true,
        openmp: false,
        why: "the compiler's best effort for portable code",
    },
    Strategy {
        suffix: "O3-native",
        flags: &["-O3", "-march=native", "-ffp-contract=fast"],
        exact: false,
        openmp: false,
        why: "every instruction of this CPU, fused multiply-adds allowed",
    },
    Strategy {
        suffix: "O3-native-fast",
        flags: &["-O3", "-march=native", "-ffast-math"],
        exact: false,
        openmp: false,
        why: "-ffast-math: reassociation, no NaN or infinity, fused multiply-adds",
    },
    Strategy {
        suffix: "openmp",
        flags: &["-O3", "-fopenmp", "-ffp-contract=off"],
        exact: true,
        openmp: true,
        why: "OpenMP threads, still exact",
    },
    Strategy {
        suffix: "native-openmp",
        flags: &["-O3", "-march=native", "-fopenmp", "-ffp-contract=fast"],
        exact: false,
        openmp: true,
        why: "threads and every instruction of this CPU, fused multiply-adds allowed",
    },
];

/// The backend name of a pair. The gcc members that existed before the matrix keep their
/// names (SPEC §2): `c`, `c-native`, `c-openmp`, `c-native-openmp`.
fn backend_name(compiler: &Compiler, strategy: &Strategy) -> String {
    match (compiler.name, strategy.suffix) {
        ("gcc", "O3") => "c".into(),
        ("gcc", "O3-native") => "c-native".into(),
        ("gcc", "openmp") => "c-openmp".into(),
        ("gcc", "native-openmp") => "c-native-openmp".into(),
        (c, s) => format!("c-{c}-{s}"),
    }
}

/// What the book compares each pre-matrix member with; the rest are rows of its Table 7-1.
fn book_analogue(name: &str) -> &'static str {
    match name {
        "c" => "ctypes/cffi C library (Example 7-20)",
        "c-native" => "the book's tuned C",
        "c-openmp" => "Cython + OpenMP (Example 7-12)",
        "c-native-openmp" => "the fastest C a C programmer would write",
        _ => "a row of the book's compiler comparison (Table 7-1)",
    }
}

const FORTRAN_FLAGS: [&str; 2] = ["-std=f2008", "-ffp-contract=off"];

/// The sanitizer configuration's variable, and the sanitizers it may list.
const SANITIZE_VAR: &str = "LANCEHEAD_SANITIZE";
const SANITIZERS: [&str; 2] = ["address", "undefined"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let sanitize = sanitize_flags();
    let extra = sanitize.as_deref().unwrap_or_default();
    let c = c_matrix(extra);
    let fortran = if feature("FORTRAN_REF") {
        build_fortran(extra)
    } else {
        Ok(())
    };
    for message in [sanitize.map(drop), c, fortran]
        .into_iter()
        .filter_map(Result::err)
    {
        // Cargo prints this as the build's error and fails it once the script exits.
        println!("cargo::error={message}");
    }
}

/// The compiler flags of `LANCEHEAD_SANITIZE` (none when it is unset or empty), after linking
/// the sanitizers' runtimes.
///
/// The runtimes are GCC's shared `libasan` and `libubsan` (gfortran uses the same ones). They
/// are linked before any other shared library of the crate, because ASan insists on coming
/// first in the program's initial library list. `-fno-sanitize-recover=all` makes every
/// finding fatal, so a test run under the sanitizers fails on the first one.
fn sanitize_flags() -> Result<Vec<String>, String> {
    println!("cargo::rerun-if-env-changed={SANITIZE_VAR}");
    let value = env::var(SANITIZE_VAR).unwrap_or_default();
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let accepted = || {
        format!(
            "{SANITIZE_VAR}={value}: expected a comma-separated list of {}",
            SANITIZERS.join(", ")
        )
    };
    let mut runtimes = Vec::new();
    for name in value.split(',') {
        match name {
            "address" => runtimes.push("asan"),
            "undefined" => runtimes.push("ubsan"),
            _ => return Err(accepted()),
        }
    }
    let compiler = cc::Build::new()
        .try_get_compiler()
        .map_err(|e| format!("{SANITIZE_VAR} needs a C compiler: {e}"))?;
    if compiler.is_like_clang() {
        return Err(format!(
            "{SANITIZE_VAR} links GCC's sanitizer runtimes (libasan, libubsan); `{}` is clang: \
             set CC=gcc",
            compiler.path().display()
        ));
    }
    for runtime in runtimes {
        link_runtime(compiler.path(), runtime).map_err(|e| {
            format!("{SANITIZE_VAR}: {e}; install the Debian package `gcc` (apt-get install gcc)")
        })?;
    }
    Ok(vec![
        format!("-fsanitize={value}"),
        "-fno-sanitize-recover=all".to_string(),
        "-fno-omit-frame-pointer".to_string(),
    ])
}

fn feature(name: &str) -> bool {
    env::var_os(format!("CARGO_FEATURE_{name}")).is_some()
}

fn out_dir() -> PathBuf {
    PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
}

/// The reference flags are GCC's (gcc, clang and gfortran share them); MSVC has none of them.
fn check_target(feature: &str) -> Result<(), String> {
    if env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("msvc") {
        return Err(format!(
            "the `{feature}` feature builds with GCC-style compilers and flags, which MSVC \
             targets lack: build for a GNU target or without `{feature}`"
        ));
    }
    Ok(())
}

/// Where build.rs writes the generated tables: the registry's entries (always, so a build
/// without `c-ref` still names the feature) and the built libraries' FFI table (with `c-ref`).
const REGISTRY_TABLE: &str = "c_matrix_registry.rs";
const FFI_TABLE: &str = "c_matrix_ffi.rs";

/// The marker of the two kernels' inner loops in c_ref/: the vectorisation column reports
/// what the compiler said about the loop on that line.
const INNER_LOOP_MARKER: &str = "[inner loop]";

/// One pair of the matrix, built or not.
struct Pair {
    name: String,
    compiler: &'static str,
    strategy: &'static Strategy,
    /// The symbol prefix of its library (`lh_c_clang_o2_`); `c_ref/lancehead_ref.h` pastes it.
    prefix: String,
    outcome: std::result::Result<Built, String>,
}

struct Built {
    version: String,
    flags: String,
    /// What the compiler said about the inner loops of Julia and diffusion.
    vectorised: [String; 2],
}

/// Writes the registry's table of the matrix, and with `c-ref` builds every available pair.
/// `extra`: flags added to every gcc pair (the sanitizers'); with them clang is left out.
fn c_matrix(extra: &[String]) -> Result<(), String> {
    println!("cargo::rerun-if-env-changed={SKIP_VAR}");
    let with_c = feature("C_REF");
    let pairs = if with_c {
        build_c(extra)?
    } else {
        not_built_pairs()
    };
    write_registry_table(&pairs, with_c)?;
    if with_c {
        write_ffi_table(&pairs)?;
    }
    Ok(())
}

fn prefix_of(name: &str) -> String {
    format!("lh_{}_", name.replace('-', "_").to_lowercase())
}

fn not_built_pairs() -> Vec<Pair> {
    let mut pairs = Vec::new();
    for compiler in &COMPILERS {
        for strategy in &STRATEGIES {
            let name = backend_name(compiler, strategy);
            pairs.push(Pair {
                prefix: prefix_of(&name),
                name,
                compiler: compiler.name,
                strategy,
                outcome: Err("built with the `c-ref` feature".into()),
            });
        }
    }
    pairs
}

/// Builds every pair whose compiler is here. gcc is required (the `c-ref` feature stands on
/// it); a missing clang makes its pairs rows that say how to install it.
fn build_c(extra: &[String]) -> Result<Vec<Pair>, String> {
    const TURN_OFF: &str = "or build without the `c-ref` feature (it is a default one: \
                            `--no-default-features --features ndarray,simd,rayon`)";
    check_target("c-ref")?;
    for file in C_SOURCES.iter().chain([&C_HEADER]) {
        println!("cargo::rerun-if-changed={file}");
    }
    let skipped = env::var(SKIP_VAR).unwrap_or_default();
    let inner_lines = C_SOURCES
        .iter()
        .map(|file| inner_loop_lines(file))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pairs = Vec::new();
    let mut openmp_linked = false;
    for compiler in &COMPILERS {
        println!("cargo::rerun-if-env-changed={}", compiler.override_var);
        let program = env::var_os(compiler.override_var)
            .map_or_else(|| PathBuf::from(compiler.name), PathBuf::from);
        let not_installed = format!(
            "not installed: apt-get install {} (or set {} to one)",
            compiler.package, compiler.override_var
        );
        let found = if skipped.split(',').any(|s| s == compiler.name) {
            Err(format!("{not_installed}; left out by {SKIP_VAR}={skipped}"))
        } else {
            version_line(&program)
                .map_err(|e| format!("{not_installed}; `{}`: {e}", program.display()))
        };
        let found = match found {
            Err(reason) if compiler.name == "gcc" => {
                return Err(format!(
                    "the `c-ref` feature needs gcc: {reason}; {TURN_OFF}"
                ));
            }
            Ok(_) if compiler.name != "gcc" && !extra.is_empty() => Err(format!(
                "not built: {SANITIZE_VAR} links GCC's sanitizer runtimes, so only gcc's \
                 members are built"
            )),
            found => found,
        };
        for strategy in &STRATEGIES {
            let name = backend_name(compiler, strategy);
            let prefix = prefix_of(&name);
            let outcome = match &found {
                Err(reason) => Err(reason.clone()),
                Ok(_) if strategy.openmp && compiler.name != "gcc" => Err(format!(
                    "not built: {}'s OpenMP runtime (libomp) cannot share a program with \
                     gcc's (libgomp), which `c-openmp` uses",
                    compiler.name
                )),
                Ok(version) => {
                    let flags: Vec<&str> = (strategy.flags.iter().copied())
                        .chain(extra.iter().map(String::as_str))
                        .collect();
                    let built = compile_pair(&program, &prefix, &flags).and_then(|()| {
                        let vectorised =
                            vector_report(&program, compiler, &prefix, &flags, &inner_lines)?;
                        Ok(Built {
                            version: version.clone(),
                            flags: format!("-std=c99 {}", flags.join(" ")),
                            vectorised,
                        })
                    });
                    match built {
                        Err(e) if compiler.name == "gcc" => {
                            return Err(format!(
                                "compiling c_ref/ for the `{name}` backend failed: {e}; {TURN_OFF}"
                            ));
                        }
                        Err(e) => Err(format!("not built: compiling c_ref/ failed: {e}")),
                        Ok(built) => Ok(built),
                    }
                }
            };
            if outcome.is_ok() && strategy.openmp && !openmp_linked {
                link_runtime(&program, "gomp").map_err(|e| {
                    format!(
                        "the `c-openmp` backend needs the OpenMP runtime: {e}; install the \
                         Debian package `gcc` {TURN_OFF}"
                    )
                })?;
                openmp_linked = true;
            }
            pairs.push(Pair {
                name,
                compiler: compiler.name,
                strategy,
                prefix,
                outcome,
            });
        }
    }
    Ok(pairs)
}

/// Compiles c_ref/ into the static library of one pair.
fn compile_pair(program: &Path, prefix: &str, flags: &[&str]) -> Result<(), String> {
    let mut build = cc::Build::new();
    build
        .compiler(program)
        .files(C_SOURCES)
        .include("c_ref")
        .define("LH_PREFIX", prefix)
        .std("c99")
        .warnings(true)
        .extra_warnings(true);
    // After cc's own `-O` (the Cargo profile's): the last one counts.
    for flag in flags {
        build.flag(flag);
    }
    build
        .try_compile(&format!("lancehead_{}", prefix.trim_end_matches('_')))
        .map_err(|e| e.to_string())
}

/// The 1-based lines of `file` that carry [`INNER_LOOP_MARKER`] (Julia marks both its loop
/// over pixels and its iteration loop: a compiler may report on either).
fn inner_loop_lines(file: &str) -> Result<Vec<usize>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
    let lines: Vec<usize> = (text.lines().enumerate())
        .filter(|(_, l)| l.contains(INNER_LOOP_MARKER))
        .map(|(i, _)| i + 1)
        .collect();
    if lines.is_empty() {
        return Err(format!("{file} has no `{INNER_LOOP_MARKER}` comment"));
    }
    Ok(lines)
}

/// Compiles each source once more with the compiler's vectorisation report on, keeps the
/// report in OUT_DIR, and summarises what it said about the marked inner loop.
fn vector_report(
    program: &Path,
    compiler: &Compiler,
    prefix: &str,
    flags: &[&str],
    inner_lines: &[Vec<usize>],
) -> Result<[String; 2], String> {
    let mut summaries = Vec::new();
    for (file, lines) in C_SOURCES.iter().zip(inner_lines) {
        let output = Command::new(program)
            .args(["-std=c99", "-Ic_ref", "-c", "-o", "/dev/null"])
            .arg(format!("-DLH_PREFIX={prefix}"))
            .args(flags)
            .args(compiler.vector_report)
            .arg(file)
            .output()
            .map_err(|e| format!("running `{}`: {e}", program.display()))?;
        let report = String::from_utf8_lossy(&output.stderr).into_owned();
        let stem = Path::new(file).file_stem().unwrap().to_string_lossy();
        let path = out_dir().join(format!("{}{stem}.vec.txt", prefix));
        std::fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
        summaries.push(summarise(&report, file, lines));
    }
    Ok([summaries[0].clone(), summaries[1].clone()])
}

/// `vectorised (4 x f64)` or `not vectorised: <reason>`, from gcc's `-fopt-info-vec` or
/// clang's `-Rpass*=loop-vectorize` lines about the marked lines of `file`.
fn summarise(report: &str, file: &str, marked: &[usize]) -> String {
    let at: Vec<String> = marked.iter().map(|n| format!("{file}:{n}:")).collect();
    let lines: Vec<&str> = report.lines().collect();
    let about: Vec<(usize, &str)> = (lines.iter().enumerate())
        .filter(|(_, l)| at.iter().any(|a| l.starts_with(a)))
        .map(|(i, l)| (i, *l))
        .collect();
    for (_, l) in &about {
        // gcc: "optimized: loop vectorized using 64 byte vectors"
        if let Some(rest) = l.split("loop vectorized using ").nth(1) {
            let bytes: usize = rest
                .split(' ')
                .next()
                .and_then(|b| b.parse().ok())
                .unwrap_or(0);
            return format!("vectorised ({} x f64)", bytes / 8);
        }
        // clang: "remark: vectorized loop (vectorization width: 4, interleaved count: 2)"
        if let Some(rest) = l.split("vectorized loop (vectorization width: ").nth(1) {
            let width = rest.split(',').next().unwrap_or("?");
            let interleave = rest
                .split("interleaved count: ")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .filter(|n| *n != "1")
                .map_or(String::new(), |n| format!(", interleaved x{n}"));
            return format!("vectorised ({width} x f64{interleave})");
        }
    }
    // The reason: the first "not vectorized: ..." about the line, or right after gcc's
    // "couldn't vectorize loop" about it (gcc places the reason where it found it).
    let reason = about.iter().find_map(|(i, l)| {
        lines[*i..(*i + 3).min(lines.len())]
            .iter()
            .find_map(|m| m.split("not vectorized: ").nth(1))
            .filter(|_| l.contains("not vectorized") || l.contains("couldn't vectorize"))
    });
    match (reason, about.is_empty()) {
        (Some(r), _) => format!(
            "not vectorised: {}",
            r.split(" [-R").next().unwrap_or(r).trim_end_matches('.')
        ),
        (None, false) => "not vectorised".into(),
        (None, true) => "not vectorised (the compiler reported nothing on the loop)".into(),
    }
}

fn write_generated(file: &str, code: &str) -> Result<(), String> {
    let path = out_dir().join(file);
    std::fs::write(&path, code).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The registry's entries for the matrix, one per pair whether built or not.
fn write_registry_table(pairs: &[Pair], with_c: bool) -> Result<(), String> {
    let mut code = String::from(
        "// Generated by build.rs from its compiler x flags table.\n\
         pub(crate) const C_MATRIX: [BackendInfo; ",
    );
    code.push_str(&format!("{}] = [\n", pairs.len()));
    for pair in pairs {
        let class = if pair.strategy.exact {
            "Agreement::Exact"
        } else {
            "Agreement::ToleranceF64"
        };
        let threads = if pair.strategy.openmp {
            ", rows in schedule(guided)"
        } else {
            ", one thread"
        };
        let strategy = format!(
            "c_ref/, {} {}{threads}: {}",
            pair.compiler,
            pair.strategy.flags.join(" "),
            pair.strategy.why
        );
        let constructor = if with_c {
            format!(
                "Some(|| Ok(Box::new(crate::ffi::c::backend({:?})?)))",
                pair.name
            )
        } else {
            "None".into()
        };
        code.push_str(&format!(
            "    BackendInfo {{\n        name: {:?},\n        feature: Some(\"c-ref\"),\n        \
             strategy: {strategy:?},\n        book_analogue: {:?},\n        julia: {class},\n        \
             diffusion: {class},\n        constructor: {constructor},\n    }},\n",
            pair.name,
            book_analogue(&pair.name),
        ));
    }
    code.push_str("];\n");
    write_generated(REGISTRY_TABLE, &code)
}

/// The FFI declarations of the built libraries, and the table `crate::ffi::c` builds its
/// backends from.
fn write_ffi_table(pairs: &[Pair]) -> Result<(), String> {
    let mut code = String::from(
        "// Generated by build.rs from its compiler x flags table.\nforeign_kernels! {\n",
    );
    for pair in pairs.iter().filter(|p| p.outcome.is_ok()) {
        code.push_str(&format!("    {0}julia, {0}diffusion;\n", pair.prefix));
    }
    code.push_str("}\n\npub(crate) const PAIRS: &[Pair] = &[\n");
    for pair in pairs {
        let outcome = match &pair.outcome {
            Ok(b) => format!(
                "Ok(Built {{\n            version: {:?},\n            flags: {:?},\n            \
                 vectorised: [{:?}, {:?}],\n            julia: {p}julia,\n            \
                 diffusion: {p}diffusion,\n        }})",
                b.version,
                b.flags,
                b.vectorised[0],
                b.vectorised[1],
                p = pair.prefix
            ),
            Err(reason) => format!("Err({reason:?})"),
        };
        code.push_str(&format!(
            "    Pair {{\n        name: {:?},\n        compiler: {:?},\n        openmp: {},\n        \
             fast_math: {},\n        outcome: {outcome},\n    }},\n",
            pair.name,
            pair.compiler,
            pair.strategy.openmp,
            pair.strategy.flags.contains(&"-ffast-math")
        ));
    }
    code.push_str("];\n");
    write_generated(FFI_TABLE, &code)
}

/// `extra`: flags added to the build (the sanitizers').
fn build_fortran(extra: &[String]) -> Result<(), String> {
    const TURN_OFF: &str = "or build without the `fortran-ref` feature (it comes with \
                            `full` and `--all-features`)";
    check_target("fortran-ref")?;
    println!("cargo::rerun-if-changed={FORTRAN_SOURCE}");
    println!("cargo::rerun-if-env-changed=FC");
    let fc = env::var_os("FC").map_or_else(|| PathBuf::from("gfortran"), PathBuf::from);
    let version = version_line(&fc).map_err(|e| {
        format!(
            "the `fortran-ref` feature needs a Fortran compiler, and `{}` cannot be run \
             ({e}): install the Debian package `gfortran` (apt-get install gfortran), set FC \
             to another, {TURN_OFF}",
            fc.display()
        )
    })?;
    println!("cargo::rustc-env=LANCEHEAD_FORTRAN_COMPILER={version}");

    let mut build = cc::Build::new();
    build
        .compiler(&fc)
        .file(FORTRAN_SOURCE)
        .opt_level(3)
        .warnings(true)
        .extra_warnings(true)
        // The module file (.mod) goes to OUT_DIR, not into the source tree.
        .flag(format!("-J{}", out_dir().display()));
    let flags: Vec<&str> = (FORTRAN_FLAGS.iter().copied())
        .chain(extra.iter().map(String::as_str))
        .collect();
    for flag in &flags {
        build.flag(flag);
    }
    build
        .try_compile("lancehead_fortran")
        .map_err(|e| format!("compiling fortran_ref/ failed: {e}; {TURN_OFF}"))?;
    link_runtime(&fc, "gfortran").map_err(|e| {
        format!(
            "the `fortran` backend needs libgfortran: {e}; install the Debian package \
             `gfortran` {TURN_OFF}"
        )
    })?;
    println!(
        "cargo::rustc-env=LANCEHEAD_FLAGS_FORTRAN=-O3 {}",
        flags.join(" ")
    );
    Ok(())
}

/// The first line of `compiler --version` (e.g. `gcc (Debian 12.2.0-14) 12.2.0`).
fn version_line(compiler: &Path) -> Result<String, String> {
    let output = Command::new(compiler)
        .arg("--version")
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(format!("`--version` exited with {}", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// Links the shared runtime library `lib<name>` that `compiler` ships, found where that
/// compiler keeps it (which need not be where the linker looks, e.g. a gfortran beside clang).
fn link_runtime(compiler: &Path, name: &str) -> Result<(), String> {
    let suffix = match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("macos" | "ios") => "dylib",
        _ => "so",
    };
    let file = format!("lib{name}.{suffix}");
    let output = Command::new(compiler)
        .arg(format!("-print-file-name={file}"))
        .output()
        .map_err(|e| e.to_string())?;
    let found = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    // The compiler answers the bare name when it has no such file; clang does so for libomp
    // even when it is installed in the linker's default path, so only GCC's answer is final.
    match found.parent().filter(|_| found.is_absolute()) {
        Some(dir) => println!("cargo::rustc-link-search=native={}", dir.display()),
        None if name == "omp" => {}
        None => return Err(format!("`{}` does not know {file}", compiler.display())),
    }
    println!("cargo::rustc-link-lib=dylib={name}");
    Ok(())
}
