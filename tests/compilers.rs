//! The compiler x flags matrix of the C reference (issue 16), as `lancehead backends` lists
//! it: every pair is a row, built or not; a built pair names its compiler, flags and what
//! was vectorised; a pair whose compiler is missing says how to install it.
//!
//! scripts/test.sh runs this file twice: with clang installed, and once more with
//! `LANCEHEAD_CC_SKIP=clang`, which makes build.rs treat clang as not installed (the build
//! without clang must succeed, its rows skipped). Agreement with `scalar` of every pair, the
//! exact ones bit for bit on the stress cases, is tests/agreement.rs's (it covers every
//! backend of the registry).

use assert_cmd::Command;
use serde_json::Value;

const CLANG_PAIRS: [&str; 6] = [
    "c-clang-O2",
    "c-clang-O3",
    "c-clang-O3-native",
    "c-clang-O3-native-fast",
    "c-clang-openmp",
    "c-clang-native-openmp",
];
const GCC_PAIRS: [&str; 6] = [
    "c-gcc-O2",
    "c",
    "c-native",
    "c-gcc-O3-native-fast",
    "c-openmp",
    "c-native-openmp",
];

fn backends() -> Vec<Value> {
    let out = Command::cargo_bin("lancehead")
        .unwrap()
        .args(["backends", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn find<'a>(all: &'a [Value], name: &str) -> &'a Value {
    all.iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("`lancehead backends` does not list {name}"))
}

/// What build.rs saw: the same variable, read when this test was compiled by the same cargo
/// run.
fn clang_skipped() -> bool {
    option_env!("LANCEHEAD_CC_SKIP").is_some_and(|v| v.split(',').any(|c| c == "clang"))
}

fn clang_installed() -> bool {
    std::process::Command::new("clang")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_gcc_pair_is_built_with_its_version_flags_and_vectoriser_report() {
    let all = backends();
    for name in GCC_PAIRS {
        let b = find(&all, name);
        assert_eq!(b["available"], true, "{name}: {}", b["reason"]);
        let details = &b["details"];
        assert!(
            details["compiler"].as_str().unwrap().contains("gcc"),
            "{name}: {details}"
        );
        let flags = details["flags"].as_str().unwrap();
        // Exact strategies keep contraction off; the others say they allow it.
        let exact = b["agreement"]["diffusion"] == "exact";
        assert_eq!(
            flags.contains("-ffp-contract=off"),
            exact,
            "{name}: {flags}"
        );
        for kernel in ["julia", "diffusion"] {
            let v = details[format!("vectorised {kernel}")].as_str().unwrap();
            assert!(
                v.starts_with("vectorised (") || v.starts_with("not vectorised"),
                "{name} {kernel}: {v}"
            );
        }
    }
    // gcc at -O3 vectorises the diffusion row on every x86-64 (SSE2 at least).
    let c = find(&all, "c");
    assert!(
        c["details"]["vectorised diffusion"]
            .as_str()
            .unwrap()
            .starts_with("vectorised ("),
        "{c}"
    );
}

#[test]
fn clang_pairs_are_built_or_say_how_to_get_them() {
    let all = backends();
    for name in CLANG_PAIRS {
        let b = find(&all, name);
        let reason = b["reason"].as_str().unwrap_or("");
        if clang_skipped() || !clang_installed() {
            assert_eq!(b["available"], false, "{name}");
            assert!(
                reason.starts_with("not installed: apt-get install clang"),
                "{name}: {reason}"
            );
        } else if name.contains("openmp") {
            // One program holds one OpenMP runtime: gcc's.
            assert_eq!(b["available"], false, "{name}");
            assert!(reason.contains("libomp"), "{name}: {reason}");
        } else {
            assert_eq!(b["available"], true, "{name}: {reason}");
            let compiler = b["details"]["compiler"].as_str().unwrap();
            assert!(compiler.contains("clang"), "{name}: {compiler}");
        }
    }
}

/// Every backend on a tiny problem: the compiler table lists every pair, and without clang
/// the comparison still runs and lists the clang rows as not measured.
#[test]
fn compare_lists_the_matrix_rows_and_the_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("lancehead")
        .unwrap()
        .args([
            "compare",
            "--sizes",
            "32",
            "--steps",
            "5",
            "--kernel",
            "diffusion",
            "--counters",
            "off",
            "--no-stress",
            "--repeat",
            "1",
            "--out",
        ])
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Compiler strategies"), "{stdout}");
    for row in ["c-gcc-O2", "scalar-autovec"] {
        assert!(stdout.contains(row), "{row} missing:\n{stdout}");
    }
    let csv = std::fs::read_to_string(dir.path().join("r/compilers.csv")).unwrap();
    let clang = csv
        .lines()
        .find(|l| l.starts_with("c-clang-O3,"))
        .unwrap_or_else(|| {
            panic!("no c-clang-O3 row in compilers.csv:\n{csv}");
        });
    if clang_skipped() || !clang_installed() {
        assert!(
            clang.contains("not installed: apt-get install clang"),
            "{clang}"
        );
        assert!(stdout.contains("c-clang-O3: not installed"), "{stdout}");
    } else {
        assert!(clang.contains("clang version"), "{clang}");
    }
}
