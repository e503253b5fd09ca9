//! `compare --python`: the book's Python strategies as rows, checked against `scalar` in
//! their declared class; a missing package or interpreter is a row or a note, never a
//! failure. Needs `LANCEHEAD_PYTHON` (an interpreter with numpy; scripts/test.sh makes a
//! virtualenv with every package); without one the tests say so and pass, unless
//! `LANCEHEAD_REQUIRE_PYTHON=1` (CI), where they fail. A strategy whose package is missing
//! is skipped loudly.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The interpreter the tests use, or `None` (said loudly) when there is none to use.
fn interpreter() -> Option<PathBuf> {
    match std::env::var_os("LANCEHEAD_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("LANCEHEAD_REQUIRE_PYTHON").is_some() => {
            panic!("LANCEHEAD_REQUIRE_PYTHON is set but LANCEHEAD_PYTHON is not")
        }
        None => {
            eprintln!("SKIPPED: LANCEHEAD_PYTHON is not set (scripts/test.sh sets it)");
            None
        }
    }
}

/// `compare --python --json` with `extra` arguments and environment.
fn compare(python: &Path, args: &[&str], env: &[(&str, &str)]) -> Value {
    let out_dir = tempfile::tempdir().unwrap();
    let mut cmd = assert_cmd::Command::cargo_bin("lancehead").unwrap();
    cmd.args([
        "compare",
        "--python",
        "--json",
        "--counters",
        "off",
        "--no-stress",
    ])
    .args(["--backends", "scalar", "--out"])
    .arg(out_dir.path().join("reports"))
    .args(args)
    .env("LANCEHEAD_PYTHON", python);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let md = std::fs::read_to_string(out_dir.path().join("reports/compare.md")).unwrap();
    assert!(md.contains("- Python rows: "), "{md}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rows<'a>(r: &'a Value, name: &str) -> Vec<&'a Value> {
    r["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["backend"] == name)
        .collect()
}

fn unavailable(r: &Value) -> Vec<(String, String)> {
    r["settings"]["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn python_rows_agree_with_scalar_in_their_class() {
    let Some(python) = interpreter() else { return };
    let r = compare(&python, &["--quick", "--sizes", "96"], &[]);
    let missing = unavailable(&r);
    // numpy in SPEC's order: bitwise, both kernels (Julia at the book's size, diffusion on
    // the book's grid: a changed rounding shows in the bits).
    for name in ["python:numpy", "python:numpy-inplace"] {
        let measured = rows(&r, name);
        assert!(!measured.is_empty(), "{name} missing: {missing:?}");
        for m in measured {
            assert_eq!(m["status"], "measured", "{m}");
            assert_eq!(m["agreement"]["class"], "exact", "{m}");
            assert_eq!(m["agreement"]["verdict"], "identical", "{m}");
            assert!(m["python"]["versions"]["numpy"].is_string(), "{m}");
            assert!(m["python"]["compile_seconds"].as_f64().unwrap() >= 0.0);
        }
    }
    // Every other row measured is within its declared class, or the package is named.
    for strategy in [
        "pure",
        "numexpr",
        "scipy",
        "numba",
        "numba-prange",
        "cython",
        "cython-prange",
        "pythran",
    ] {
        let name = format!("python:{strategy}");
        let measured = rows(&r, &name);
        if measured.is_empty() {
            let reason = missing.iter().find(|(n, _)| *n == name);
            let reason = reason.unwrap_or_else(|| panic!("{name}: no row, no reason"));
            eprintln!("SKIPPED {name}: {}", reason.1);
            continue;
        }
        for m in measured {
            if m["status"] == "skipped" {
                assert!(m["predicted_seconds"].as_f64().unwrap() > 3.0, "{m}");
                continue;
            }
            assert_eq!(m["agreement"]["pass"], true, "{name}: {m}");
            assert!(m["agreement"]["verdict"].is_string(), "{name}: {m}");
        }
    }
    // scipy's Laplacian sums in another order: tolerance, and it does differ.
    for m in rows(&r, "python:scipy") {
        assert_eq!(m["agreement"]["class"], "tolerance-f64", "{m}");
        assert_eq!(m["agreement"]["verdict"], "within-tolerance", "{m}");
    }
    // Pure Python on the book's Julia is far beyond a 3 s cell: skipped with its prediction.
    let pure_julia = rows(&r, "python:pure")
        .into_iter()
        .find(|m| m["kernel"] == "julia")
        .expect("a pure Julia row");
    assert_eq!(pure_julia["status"], "skipped", "{pure_julia}");
}

#[test]
fn a_missing_package_or_interpreter_is_a_row_that_says_so() {
    let Some(python) = interpreter() else { return };
    // A `numba` that cannot be imported, ahead of the real one on the path.
    let shadow = tempfile::tempdir().unwrap();
    std::fs::create_dir(shadow.path().join("numba")).unwrap();
    std::fs::write(
        shadow.path().join("numba/__init__.py"),
        "raise ImportError('not here')\n",
    )
    .unwrap();
    let small = ["--kernel", "diffusion", "--sizes", "24", "--steps", "2"];
    let r = compare(
        &python,
        &small,
        &[("PYTHONPATH", shadow.path().to_str().unwrap())],
    );
    let missing = unavailable(&r);
    for name in ["python:numba", "python:numba-prange"] {
        assert!(
            missing
                .iter()
                .any(|(n, why)| n == name && why.starts_with("not installed: pip install numba")),
            "{missing:?}"
        );
        assert!(rows(&r, name).is_empty());
    }
    assert!(!rows(&r, "python:numpy").is_empty());

    let none = PathBuf::from("/nonexistent/python3");
    let r = compare(&none, &small, &[]);
    let note = r["settings"]["python"].as_str().unwrap();
    assert!(
        note.starts_with("no usable Python at /nonexistent/python3"),
        "{note}"
    );
    assert!(note.contains("LANCEHEAD_PYTHON"), "{note}");
    assert_eq!(rows(&r, "scalar").len(), 1);
}
