//! `lancehead compare`: a small real run writes every report and they parse; bad input is
//! refused with one line, a non-zero exit and no report left behind.

mod common;

use std::path::Path;

use common::lancehead;
use lancehead::harness::counters::{self, CounterMode};
use serde_json::Value;

/// Asserts a refusal: exit `code`, one line on stderr naming `needle`, nothing on stdout.
fn refused(args: &[&str], code: i32, needle: &str) {
    let out = lancehead(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
}

/// The number of fields of one CSV line (commas inside double quotes do not separate).
fn csv_fields(line: &str) -> usize {
    let mut quoted = false;
    1 + line
        .chars()
        .filter(|&c| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .count()
}

fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn bad_arguments_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let o = out.to_str().unwrap();
    refused(
        &["compare", "--backends", "scalar,nope", "--out", o],
        1,
        "unknown backend `nope`",
    );
    refused(&["compare", "--sizes", "256,0", "--out", o], 2, "--sizes");
    refused(&["compare", "--repeat", "0", "--out", o], 2, "--repeat");
    refused(&["compare", "--steps", "0", "--out", o], 2, "--steps");
    refused(
        &["compare", "--counters", "pmu", "--out", o],
        2,
        "--counters",
    );
    refused(
        &["compare", "--kernel", "mandelbrot", "--out", o],
        2,
        "--kernel",
    );
    assert!(!out.exists(), "nothing created for refused arguments");

    // An --out that cannot be a folder (a file is in the way).
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let inside = file.join("results");
    refused(
        &[
            "compare",
            "--kernel",
            "julia",
            "--out",
            inside.to_str().unwrap(),
        ],
        1,
        "--out",
    );
}

#[test]
fn perf_counters_asked_for_by_name_work_or_say_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().to_str().unwrap();
    let args = [
        "compare",
        "--kernel",
        "diffusion",
        "--backends",
        "scalar",
        "--sizes",
        "16",
        "--steps",
        "2",
        "--repeat",
        "1",
        "--counters",
        "perf",
        "--out",
        o,
    ];
    match counters::plan(CounterMode::Perf, false) {
        Err(_) => {
            refused(&args, 1, "--counters perf: unavailable here");
            assert!(files_in(dir.path()).is_empty());
        }
        Ok(_) => {
            let out = lancehead(&args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn help_does_not_show_the_counting_child() {
    let out = lancehead(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("compare"), "{text}");
    assert!(!text.contains("__kernel"), "{text}");
}

/// A real, small run with callgrind counts: every report is written and parses, results
/// agree, and the instruction counts are plausible.
#[test]
fn a_small_compare_writes_every_report() {
    if counters::plan(CounterMode::Callgrind, false).is_err() {
        panic!("valgrind is needed for this test (scripts/test.sh installs it)");
    }
    // scalar and, when compiled in, rayon: enough to compare, quick in a test build.
    let mut backends = vec!["scalar"];
    if lancehead::registry::compiled().any(|b| b.name == "rayon") {
        backends.push("rayon");
    }
    let list = backends.join(",");
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("out");
    let out = lancehead(&[
        "compare",
        "--backends",
        &list,
        "--sizes",
        "32,48",
        "--steps",
        "5",
        "--repeat",
        "1",
        "--counters",
        "callgrind",
        "--out",
        o.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");

    let mut names = files_in(&o);
    names.sort();
    assert_eq!(
        names,
        [
            "compare.csv",
            "compare.json",
            "compare.md",
            "compilers.csv",
            "counters.csv",
            "roofline.png",
            "roofline.svg",
            "speedup.png",
            "speedup.svg"
        ]
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(o.join("compare.json")).unwrap()).unwrap();
    assert_eq!(saved, printed);

    // Julia once and diffusion at two sizes, per backend; all agree with scalar.
    let measurements = saved["measurements"].as_array().unwrap();
    assert_eq!(measurements.len(), 3 * backends.len());
    for m in measurements {
        assert_eq!(m["agreement"]["pass"], true, "{m}");
        assert!(m["median"].as_f64().unwrap() > 0.0);
        if m["kernel"] == "julia" {
            assert_eq!(m["checksum"], 33_219_980);
        }
    }
    let scalar_julia = &measurements[0];
    assert_eq!(scalar_julia["backend"], "scalar");
    assert_eq!(scalar_julia["speedup"], 1.0);
    // The binary's counting allocator sees the calls: scalar allocates nothing.
    assert_eq!(scalar_julia["allocations"]["allocations"], 0);
    assert!(saved["machine"]["cpu"].as_str().is_some());

    // CSV: a header and one row per measurement, every row as wide as the header.
    let csv = std::fs::read_to_string(o.join("compare.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + measurements.len());
    assert!(lines[0].starts_with("kernel,backend,problem,"));
    let width = csv_fields(lines[0]);
    for line in &lines[1..] {
        assert_eq!(csv_fields(line), width, "{line}");
    }

    // Counts: every backend and kernel, from callgrind, and plausible: the scalar Julia
    // inner loop is a dozen or two instructions per z-update; the threads of rayon do the
    // same work, so it executes about as many instructions as scalar.
    let counters = saved["counters"].as_array().unwrap();
    assert_eq!(counters.len(), 2 * backends.len(), "{counters:?}");
    let ir_per_update = |kernel: &str, backend: &str| {
        let c = counters
            .iter()
            .find(|c| c["kernel"] == kernel && c["backend"] == backend)
            .unwrap();
        assert_eq!(c["source"], "callgrind");
        c["events"]["Ir"].as_f64().unwrap() / c["updates"].as_f64().unwrap()
    };
    let scalar_ir = ir_per_update("julia", "scalar");
    assert!(
        (5.0..100.0).contains(&scalar_ir),
        "{scalar_ir} Ir per z-update"
    );
    let diffusion_ir = ir_per_update("diffusion", "scalar");
    assert!(
        (3.0..200.0).contains(&diffusion_ir),
        "{diffusion_ir} Ir per cell update"
    );
    if backends.contains(&"rayon") {
        let rayon_ir = ir_per_update("julia", "rayon");
        assert!(
            (0.8 * scalar_ir..1.5 * scalar_ir).contains(&rayon_ir),
            "rayon {rayon_ir} vs scalar {scalar_ir} Ir per z-update"
        );
    }
    let md = std::fs::read_to_string(o.join("compare.md")).unwrap();
    assert!(md.contains("speed-up vs scalar (Table 6-2)"), "{md}");
    // Callgrind counts the smallest grid measured, for at most the steps measured.
    assert!(
        md.contains("| diffusion | `scalar` | 32x32 x5 steps | callgrind |"),
        "{md}"
    );

    // The plot, both ways.
    let svg = std::fs::read_to_string(o.join("speedup.svg")).unwrap();
    assert!(svg.trim_start().starts_with("<svg"), "{svg:.100}");
    assert!(svg.contains("speed-up vs scalar"));
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(o.join("speedup.png")).unwrap(),
    ));
    let reader = decoder.read_info().expect("a PNG");
    let info = reader.info();
    assert_eq!((info.width, info.height), (1100, 640));
}

/// A backend's first problem has no smaller one to scale from: it is predicted from probes
/// (the same shape, fewer iterations), so a first cell far over the budget is skipped too.
/// Julia: `ndarray-alloc`, seconds a call; diffusion: `scalar` on the only size given.
#[test]
fn a_first_problem_is_predicted_by_probes_and_skipped_when_over_budget() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("out");
    let base = [
        "--counters",
        "off",
        "--no-stress",
        "--out",
        o.to_str().unwrap(),
    ];
    let julia = [
        "compare",
        "--kernel",
        "julia",
        "--backends",
        "ndarray-alloc",
        "--budget",
        "0.01",
    ];
    let diffusion = [
        "compare",
        "--kernel",
        "diffusion",
        "--sizes",
        "1024",
        "--steps",
        "200",
        "--backends",
        "scalar",
        "--budget",
        "0.001",
    ];
    for (args, skipped) in [
        (
            &julia[..],
            "ndarray-alloc julia 1000x1000 it300: skipped (predicted",
        ),
        (
            &diffusion[..],
            "scalar diffusion 1024x1024 x200 steps: skipped (predicted",
        ),
    ] {
        let out = lancehead(&[args, &base[..]].concat());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(skipped), "{stdout}");
    }
}

/// The time budget: a cell predicted to overrun it is skipped, and every report says so
/// with the prediction; the calibration travels with the results, every figure positive.
#[test]
fn the_budget_skips_a_cell_and_says_why_and_the_calibration_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("out");
    // scalar on 32² x 200 steps takes about a millisecond here; 1024² is 1024 times the work,
    // predicted well past a 0.05 s budget.
    let out = lancehead(&[
        "compare",
        "--kernel",
        "diffusion",
        "--backends",
        "scalar",
        "--sizes",
        "32,1024",
        "--steps",
        "200",
        "--budget",
        "0.05",
        "--counters",
        "off",
        "--out",
        o.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("scalar diffusion 1024x1024 x200 steps: skipped (predicted")
            && stdout.contains("> budget 0.050 s; --budget "),
        "{stdout}"
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(o.join("compare.json")).unwrap()).unwrap();
    let m = saved["measurements"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["status"], "measured");
    assert_eq!(m[1]["status"], "skipped");
    assert!(m[1]["predicted_seconds"].as_f64().unwrap() > 0.05);
    assert_eq!(m[1]["budget_seconds"], 0.05);
    let md = std::fs::read_to_string(o.join("compare.md")).unwrap();
    assert!(md.contains("skipped (predicted "), "{md}");

    // The calibration: effective cores, compute and bandwidth ceilings, all positive, and
    // each measurement's fraction of its floor.
    let c = &saved["calibration"];
    let positive = |v: &Value| v.as_f64().is_some_and(|x| x > 0.0);
    assert!(positive(&c["effective_cores"]), "{c}");
    for key in [
        "read_one_thread",
        "read_all_threads",
        "copy_one_thread",
        "copy_all_threads",
    ] {
        assert!(positive(&c["memory"][key]), "{key}: {c}");
    }
    for mix in c["mixes"].as_array().unwrap() {
        assert!(positive(&mix["one_core_per_s"]) && positive(&mix["all_cores_per_s"]));
    }
    let roofline = &m[0]["roofline"];
    assert!(positive(&roofline["fraction"]), "{roofline}");
    assert!(positive(&roofline["floor_seconds"]), "{roofline}");
    assert_eq!(roofline["bound"], "compute", "a 32² grid is in cache");
}
