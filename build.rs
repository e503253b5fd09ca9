//! Builds the C and Fortran reference kernels when their features are on (SPEC §2).
//!
//! - `c-ref`: `c_ref/` is compiled once per compiler strategy of the book's chapter 7 — `c`,
//!   `c-native`, `c-openmp` — each into its own static library with its own symbol prefix
//!   (`LH_PREFIX`), so all three link into one program side by side.
//! - `fortran-ref`: `fortran_ref/` is compiled with gfortran, and libgfortran is linked.
//!
//! - `LANCEHEAD_SANITIZE=address,undefined` (a test configuration that scripts/test.sh runs):
//!   both references are also compiled with GCC's AddressSanitizer and UndefinedBehaviorSanitizer,
//!   and the first finding aborts the program.
//!
//! A missing compiler or runtime library stops the build with one message that names the
//! Debian package to install and the feature to turn off, instead of a wall of linker errors.
//! The exact compiler and flags of each backend are handed to the crate (`LANCEHEAD_*`
//! environment variables at compile time), so `lancehead backends` reports what was built.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const C_SOURCES: [&str; 2] = ["c_ref/julia.c", "c_ref/diffusion.c"];
const C_HEADER: &str = "c_ref/lancehead_ref.h";
const FORTRAN_SOURCE: &str = "fortran_ref/lancehead_ref.f90";

/// One compiler strategy for `c_ref/`.
struct CVariant {
    /// The backend's name (SPEC §2).
    backend: &'static str,
    /// Prefix of its symbols (`lh_c_native_julia`, ...); src/ffi/c.rs declares the same.
    prefix: &'static str,
    /// What makes it this strategy, on top of `-O3 -std=c99`.
    flags: &'static [&'static str],
    openmp: bool,
}

const C_VARIANTS: [CVariant; 3] = [
    // Exact: no fused multiply-add may change a rounding.
    CVariant {
        backend: "c",
        prefix: "lh_c_",
        flags: &["-ffp-contract=off"],
        openmp: false,
    },
    // The book's tuned C: every instruction of this CPU, contraction into FMA allowed.
    // (`-std=c99` alone would switch contraction off, as ISO C mode does, so ask for it.)
    CVariant {
        backend: "c-native",
        prefix: "lh_c_native_",
        flags: &["-march=native", "-ffp-contract=fast"],
        openmp: false,
    },
    // Exact and threaded: `schedule(guided)` over rows (the pragmas in c_ref/).
    CVariant {
        backend: "c-openmp",
        prefix: "lh_c_openmp_",
        flags: &["-fopenmp", "-ffp-contract=off"],
        openmp: true,
    },
];

const FORTRAN_FLAGS: [&str; 2] = ["-std=f2008", "-ffp-contract=off"];

/// The sanitizer configuration's variable, and the sanitizers it may list.
const SANITIZE_VAR: &str = "LANCEHEAD_SANITIZE";
const SANITIZERS: [&str; 2] = ["address", "undefined"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let sanitize = sanitize_flags();
    let extra = sanitize.as_deref().unwrap_or_default();
    let c = if feature("C_REF") {
        build_c(extra)
    } else {
        Ok(())
    };
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

/// `extra`: flags added to every variant (the sanitizers').
fn build_c(extra: &[String]) -> Result<(), String> {
    const TURN_OFF: &str = "or build without the `c-ref` feature (it is a default one: \
                            `--no-default-features --features ndarray,simd,rayon`)";
    check_target("c-ref")?;
    for file in C_SOURCES.iter().chain([&C_HEADER]) {
        println!("cargo::rerun-if-changed={file}");
    }
    let compiler = cc::Build::new()
        .try_get_compiler()
        .map_err(|e| format!("the `c-ref` feature needs a C compiler: {e}; {TURN_OFF}"))?;
    let version = version_line(compiler.path()).map_err(|e| {
        format!(
            "the `c-ref` feature needs a C compiler, and `{}` cannot be run ({e}): install \
             the Debian package `gcc` (apt-get install gcc), set CC to another, {TURN_OFF}",
            compiler.path().display()
        )
    })?;
    println!("cargo::rustc-env=LANCEHEAD_C_COMPILER={version}");

    for variant in &C_VARIANTS {
        let mut build = cc::Build::new();
        build
            .files(C_SOURCES)
            .include("c_ref")
            .define("LH_PREFIX", variant.prefix)
            .std("c99")
            // -O3 whatever the Cargo profile: the point is the compiler's best effort.
            .opt_level(3)
            .warnings(true)
            .extra_warnings(true);
        let flags: Vec<&str> = (variant.flags.iter().copied())
            .chain(extra.iter().map(String::as_str))
            .collect();
        for flag in &flags {
            build.flag(flag);
        }
        let library = format!("lancehead_{}", variant.prefix.trim_end_matches('_'));
        build.try_compile(&library).map_err(|e| {
            format!(
                "compiling c_ref/ for the `{}` backend failed: {e}; {TURN_OFF}",
                variant.backend
            )
        })?;
        if variant.openmp {
            // The OpenMP runtime of this compiler: GCC's libgomp, or LLVM's libomp.
            let (runtime, package) = if compiler.is_like_clang() {
                ("omp", "libomp-dev")
            } else {
                ("gomp", "gcc")
            };
            link_runtime(compiler.path(), runtime).map_err(|e| {
                format!(
                    "the `c-openmp` backend needs the OpenMP runtime: {e}; install the Debian \
                     package `{package}` {TURN_OFF}"
                )
            })?;
        }
        let flags = format!("-O3 -std=c99 {}", flags.join(" "));
        let key = variant.backend.to_uppercase().replace('-', "_");
        println!("cargo::rustc-env=LANCEHEAD_FLAGS_{key}={flags}");
    }
    Ok(())
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
