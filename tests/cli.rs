//! The `lancehead` command line: book results, files in and out, and every bad input refused
//! with one line, a non-zero exit and no file left behind.

mod common;

use std::path::Path;

use assert_cmd::Command;
use common::{data, lancehead, load};
use ndarray::Array2;
use serde_json::Value;

fn json_of(args: &[&str]) -> Value {
    let out = lancehead(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn julia_json_prints_the_books_checksum() {
    let v = json_of(&["julia", "--json"]);
    assert_eq!(v["checksum"], 33_219_980);
    assert_eq!(v["backend"], "scalar");
    assert_eq!(v["width"], 1000);
    assert_eq!(v["height"], 1000);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn diffusion_json_matches_the_spec_reference() {
    let v = json_of(&["diffusion", "--size", "256", "--steps", "500", "--json"]);
    assert_eq!(v["checksum"].as_f64(), Some(3.3800000000000003));
    assert_eq!(v["max"].as_f64(), Some(0.0032486906758164903));
    assert_eq!(v["shape"], serde_json::json!([256, 256]));
}

#[test]
fn julia_out_writes_the_counts_as_u4_npy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("counts.npy");
    let o = out.to_str().unwrap();
    json_of(&[
        "julia", "--width", "200", "--height", "120", "--out", o, "--json",
    ]);
    let bytes = std::fs::read(&out).unwrap();
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("'descr': '<u4'"));
    let counts: Array2<u32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(counts, load::<u32>("julia_200x120_it300.npy"));
}

#[test]
fn julia_negative_numbers_are_given_with_equals() {
    let v = json_of(&[
        "julia",
        "--width",
        "37",
        "--height",
        "23",
        "--max-iter",
        "1000",
        "--c=0.285,0.01",
        "--region=-2,1,-1.25,1.5",
        "--json",
    ]);
    assert_eq!(v["checksum"], 12_129);
}

#[test]
fn diffusion_init_from_npy_and_out_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.npy");
    let init = data("diffusion_random_48x64_init.npy");
    let v = json_of(&[
        "diffusion",
        "--init",
        init.to_str().unwrap(),
        "--steps",
        "100",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["shape"], serde_json::json!([48, 64]));
    assert_eq!(v["checksum"].as_f64(), Some(1536.1846748794185));
    let grid: Array2<f64> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(grid, load::<f64>("diffusion_random_48x64_100steps.npy"));
    // A --shape that agrees with the file is accepted.
    json_of(&[
        "diffusion",
        "--init",
        init.to_str().unwrap(),
        "--shape",
        "48x64",
        "--steps",
        "1",
        "--json",
    ]);
}

fn png_size(path: &Path) -> (u32, u32, png::ColorType) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (info.width, info.height, info.color_type)
}

#[test]
fn pictures_are_written_as_png() {
    let dir = tempfile::tempdir().unwrap();
    let false_gray = dir.path().join("julia.png");
    let linear = dir.path().join("julia-linear.png");
    let heat = dir.path().join("heat.png");
    let small = [
        "julia", "--width", "64", "--height", "48", "--json", "--png",
    ];
    json_of(&[&small[..], &[false_gray.to_str().unwrap()]].concat());
    json_of(
        &[
            &small[..],
            &[linear.to_str().unwrap(), "--palette", "linear"],
        ]
        .concat(),
    );
    json_of(&[
        "diffusion",
        "--shape",
        "30x40",
        "--steps",
        "10",
        "--json",
        "--png",
        heat.to_str().unwrap(),
    ]);
    assert_eq!(png_size(&false_gray), (64, 48, png::ColorType::Rgb));
    assert_eq!(png_size(&linear), (64, 48, png::ColorType::Grayscale));
    assert_eq!(png_size(&heat), (40, 30, png::ColorType::Rgb));
}

#[test]
fn backends_json_lists_every_compiled_backend() {
    let v = json_of(&["backends", "--json"]);
    let list = v.as_array().expect("a JSON array");
    let names: Vec<_> = list.iter().map(|b| b["name"].as_str().unwrap()).collect();
    let compiled: Vec<_> = lancehead::registry::compiled().map(|b| b.name).collect();
    assert_eq!(names, compiled);
    for b in list {
        assert!(b["available"].is_boolean());
        assert!(b.get("reason").is_some() && b.get("feature").is_some());
        assert_eq!(
            b["available"].as_bool().unwrap(),
            b["reason"].is_null(),
            "{b}"
        );
    }
    assert_eq!(list[0]["name"], "scalar");
    assert_eq!(list[0]["available"], true);
}

/// Runs a command that must fail: non-zero exit, one line on stderr naming `needle`, no panic,
/// and no file left in `dir` (the output paths all point into it).
fn refused(args: &[&str], needle: &str, dir: &Path) {
    let out = lancehead(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {stderr}"
    );
    assert!(
        stderr.starts_with("lancehead: error: "),
        "{args:?}: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: `{stderr}` does not name `{needle}`"
    );
    assert!(out.stdout.is_empty(), "{args:?} printed a result");
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{args:?} left files behind: {left:?}");
}

#[test]
fn bad_julia_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("counts.npy");
    let out = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--width", "0"], "--width"),
        (&["--width=-3"], "--width"),
        (&["--height", "0"], "--height"),
        (&["--height", "many"], "--height"),
        (&["--max-iter=-1"], "--max-iter"),
        (&["--max-iter", "5000000000"], "--max-iter"),
        (&["--c=nan,0"], "--c"),
        (&["--c=1"], "--c"),
        (&["--c=1,2,3"], "--c"),
        (&["--region=1,0,-1,1"], "region"),
        (&["--region=-1,1,1,-1"], "region"),
        (&["--region=-1,1,1"], "--region"),
        (&["--region=-inf,1,-1,1"], "--region"),
        (&["--region=-1e308,1e308,-1,1"], "region"),
        (&["--backend", "numba"], "numba"),
        (&["--palette", "sepia"], "false-gray, linear"),
        (
            &["--width", "4000000000", "--height", "4000000000"],
            "height x width",
        ),
        (&["--bogus"], "--bogus"),
    ];
    for (extra, needle) in cases {
        let args = [&["julia", "--out", out][..], extra].concat();
        refused(&args, needle, dir.path());
    }
}

#[test]
fn bad_diffusion_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.npy");
    let out = out.to_str().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let truncated = inputs.path().join("truncated.npy");
    let bytes = std::fs::read(data("diffusion_random_48x64_init.npy")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let rank1 = inputs.path().join("rank1.npy");
    ndarray_npy::write_npy(&rank1, &ndarray::arr1(&[1.0f64, 2.0, 3.0])).unwrap();
    let with_nan = inputs.path().join("nan.npy");
    ndarray_npy::write_npy(&with_nan, &ndarray::arr2(&[[1.0f64, f64::NAN]])).unwrap();
    let empty = inputs.path().join("empty.npy");
    ndarray_npy::write_npy(&empty, &Array2::<f64>::zeros((0, 4))).unwrap();
    let counts = data("julia_37x23_c0.285_0.01_it1000.npy");
    let init = data("diffusion_random_48x64_init.npy");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let (truncated, rank1, with_nan, empty, counts, init) = (
        p(&truncated),
        p(&rank1),
        p(&with_nan),
        p(&empty),
        p(&counts),
        p(&init),
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--size", "0"], "--size"),
        (vec!["--size=-4"], "--size"),
        (vec!["--shape", "0x5"], "--shape"),
        (vec!["--shape", "5by5"], "--shape"),
        (vec!["--size", "4", "--shape", "4x4"], "--size"),
        (vec!["--steps=-1"], "--steps"),
        (vec!["--dt", "0"], "dt"),
        (vec!["--dt=-0.1"], "dt"),
        (vec!["--dt", "nan"], "--dt"),
        (vec!["--d", "inf"], "--d"),
        (vec!["--dt", "0.3"], "0.25"),
        (vec!["--d", "2.6"], "0.25"),
        (vec!["--backend", "numba"], "numba"),
        (vec!["--size", "100000000"], "100000000x100000000"),
        (vec!["--init", "no-such-file.npy"], "--init"),
        (vec!["--init", &truncated], "--init"),
        (vec!["--init", &rank1], "--init"),
        (vec!["--init", &counts], "--init"),
        (vec!["--init", &with_nan], "finite"),
        (vec!["--init", &empty], "empty"),
        (vec!["--init", &init, "--shape", "64x48"], "--shape"),
        (vec!["--init", &init, "--size", "48"], "--size"),
    ];
    for (extra, needle) in cases {
        let args = [&["diffusion", "--steps", "1", "--out", out][..], &extra].concat();
        refused(&args, needle, dir.path());
    }
}

#[test]
fn a_failing_output_leaves_no_other_output_behind() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("counts.npy");
    let bad = dir.path().join("missing-dir").join("julia.png");
    let args = [
        "julia",
        "--width",
        "8",
        "--height",
        "8",
        "--out",
        good.to_str().unwrap(),
        "--png",
        bad.to_str().unwrap(),
    ];
    refused(&args, "--png", dir.path());
}

/// `LANCEHEAD_SIMD_PATH` forces the SIMD path that `backends` reports and the kernels use; a
/// value it does not know is refused with one line naming it.
#[cfg(feature = "simd")]
#[test]
fn simd_path_can_be_forced() {
    let run = |path: &str, args: &[&str]| {
        Command::cargo_bin("lancehead")
            .unwrap()
            .env("LANCEHEAD_SIMD_PATH", path)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run("sse2", &["backends", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let simd = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "simd")
        .expect("simd listed");
    assert_eq!(simd["details"]["path"], "sse2 (4 x f64)", "{simd}");

    let out = run("sse2", &["julia", "--backend", "simd", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checksum"], 33_219_980);

    let out = run("neon", &["julia", "--backend", "simd"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("LANCEHEAD_SIMD_PATH"), "{stderr}");
}
