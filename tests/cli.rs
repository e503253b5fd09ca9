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

/// Negative numbers may be given with `=` or as the next argument.
#[test]
fn julia_negative_numbers_are_given_with_equals_or_after_the_flag() {
    let small = [
        "julia",
        "--width",
        "37",
        "--height",
        "23",
        "--max-iter",
        "1000",
    ];
    let with_equals = ["--c=0.285,0.01", "--region=-2,1,-1.25,1.5", "--json"];
    let after = ["--c", "0.285,0.01", "--region", "-2,1,-1.25,1.5", "--json"];
    for form in [&with_equals[..], &after[..]] {
        let v = json_of(&[&small[..], form].concat());
        assert_eq!(v["checksum"], 12_129, "{form:?}");
    }
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

// ---- defects of the red-team pass (issue 11) ----------------------------------------------

/// Runs `lancehead args` with its stdout a pipe whose reading end is closed before the program
/// writes: every write gets EPIPE, as under `lancehead ... | head -c 1`.
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("lancehead"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let cases: &[&[&str]] = &[
        &["backends"],
        &["backends", "--json"],
        &["julia", "--width", "8", "--height", "8"],
        &["julia", "--width", "8", "--height", "8", "--json"],
        &["diffusion", "--size", "8", "--steps", "1"],
        &["diffusion", "--size", "8", "--steps", "1", "--json"],
        &["--help"],
        &["julia", "--help"],
        &["--version"],
    ];
    for args in cases {
        let out = with_closed_stdout(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// Asserts a refusal with exit `code` and one line on stderr containing every needle.
fn refused_with(args: &[&str], code: i32, needles: &[&str]) -> String {
    let out = lancehead(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(
        stderr.starts_with("lancehead: error: "),
        "{args:?}: {stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: `{stderr}` lacks `{needle}`"
        );
    }
    assert!(out.stdout.is_empty(), "{args:?} printed a result");
    stderr
}

#[test]
fn no_subcommand_says_one_is_needed() {
    refused_with(
        &[],
        2,
        &["subcommand", "backends", "julia", "diffusion", "compare"],
    );
}

#[test]
fn a_negative_number_is_refused_by_the_flag_it_was_given_to() {
    let cases: &[(&[&str], &str)] = &[
        (&["julia", "--width", "-3"], "--width"),
        (&["julia", "--height", "-1"], "--height"),
        (&["julia", "--max-iter", "-1"], "--max-iter"),
        (&["diffusion", "--size", "-4"], "--size"),
        (&["diffusion", "--shape", "-4x4"], "--shape"),
        (&["diffusion", "--steps", "-1"], "--steps"),
        (&["diffusion", "--dt", "-0.1"], "--dt"),
        (&["diffusion", "--d", "-1"], "--d"),
        (&["diffusion", "--d", "-1e-300"], "--d"),
        (&["compare", "--sizes", "-256"], "--sizes"),
        (&["compare", "--sizes", "256,-512"], "--sizes"),
        (&["compare", "--steps", "-5"], "--steps"),
        (&["compare", "--repeat", "-2"], "--repeat"),
    ];
    for (args, flag) in cases {
        // The flag is named, with what it accepts ("expected ...").
        refused_with(args, 2, &[flag, "expected"]);
    }
}

#[test]
fn compare_out_must_be_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results");
    std::fs::write(&file, b"a file").unwrap();
    let f = file.to_str().unwrap();
    refused_with(&["compare", "--quick", "--out", f], 1, &["--out", "folder"]);
    let below = file.join("sub");
    refused_with(
        &["compare", "--quick", "--out", below.to_str().unwrap()],
        1,
        &["--out", "folder"],
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"a file");
}

#[test]
fn two_outputs_on_one_path_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = d.join("p");
    let same = d.join(".").join("p");
    let via_parent = d.join("sub").join("..").join("p");
    std::fs::create_dir(d.join("sub")).unwrap();
    let link = d.join("link");
    #[cfg(unix)]
    std::os::unix::fs::symlink("p", &link).unwrap();
    let mut pairs = vec![
        (p.clone(), p.clone()),
        (p.clone(), same),
        (p.clone(), via_parent),
    ];
    if cfg!(unix) {
        pairs.push((p.clone(), link.clone()));
    }
    for (out, png) in pairs {
        for kernel in [
            &["julia", "--width", "8", "--height", "8"][..],
            &["diffusion", "--size", "8"],
        ] {
            let args = [
                kernel,
                &[
                    "--out",
                    out.to_str().unwrap(),
                    "--png",
                    png.to_str().unwrap(),
                ],
            ]
            .concat();
            refused_with(&args, 2, &["--out", "--png"]);
            assert!(!p.exists(), "{args:?} wrote a file");
        }
    }
}

#[test]
fn echoed_numbers_are_short_and_echoed_text_is_bounded() {
    let line = refused_with(&["diffusion", "--dt", "1e308"], 1, &["1e308"]);
    assert!(line.len() < 300, "{line}");
    let line = refused_with(
        &["julia", "--region=-1e308,1e308,-1,1"],
        1,
        &["-1e308,1e308"],
    );
    assert!(line.len() < 300, "{line}");
    let line = refused_with(
        &["diffusion", "--dt", "0.2", "--d", "1e300"],
        1,
        &["1e300*0.2 = 2e299"],
    );
    assert!(line.len() < 300, "{line}");

    // 100 KiB of backend name (one argument can hold 128 KiB at most on Linux).
    let name = "x".repeat(100 << 10);
    let line = refused_with(&["julia", "--backend", &name], 1, &["unknown backend", "…"]);
    assert!(line.len() < 1000, "{} bytes", line.len());
    let line = refused_with(&["julia", "--width", &name], 2, &["--width", "…"]);
    assert!(line.len() < 1000, "{} bytes", line.len());
    let line = refused_with(&["julia", &name], 2, &["…"]);
    assert!(line.len() < 1000, "{} bytes", line.len());
    // A 1 MiB name through the library.
    let e = lancehead::registry::create(&"y".repeat(1 << 20))
        .err()
        .unwrap();
    assert!(e.to_string().len() < 1000, "{} bytes", e.to_string().len());

    // A hostile .npy header: a 9000-character dtype.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.npy");
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': (2, 2), }}",
        "z".repeat(9000)
    );
    let mut header = dict.into_bytes();
    while !(12 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend((header.len() as u32).to_le_bytes());
    bytes.extend(header);
    bytes.extend([0u8; 32]);
    std::fs::write(&path, bytes).unwrap();
    let line = refused_with(
        &["diffusion", "--init", path.to_str().unwrap()],
        1,
        &["--init"],
    );
    assert!(line.len() < 1000, "{} bytes: {line}", line.len());
}

/// A 16 x 16 grid, zero but for one cell: `4*u` of that cell overflows at the first step.
fn overflowing_grid(dir: &Path, value: f64) -> std::path::PathBuf {
    let mut grid = Array2::<f64>::zeros((16, 16));
    grid[[5, 7]] = value;
    let path = dir.join("overflow.npy");
    ndarray_npy::write_npy(&path, &grid).unwrap();
    path
}

#[test]
fn an_overflowing_grid_is_reported_honestly() {
    let dir = tempfile::tempdir().unwrap();
    let init = overflowing_grid(dir.path(), 1e308);
    let init = init.to_str().unwrap();
    let run = |extra: &[&str]| {
        let args = [&["diffusion", "--init", init, "--steps", "5"][..], extra].concat();
        let out = lancehead(&args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, stderr) = run(&[]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("overflowed") && stderr.contains("step 1"),
        "{stderr}"
    );
    // numpy's answers for this grid: np.sum and np.max are both NaN.
    assert!(stdout.contains("sum NaN, max NaN"), "{stdout}");

    let (stdout, stderr) = run(&["--json"]);
    assert!(stderr.contains("step 1"), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["checksum"], "NaN", "{v}");
    assert_eq!(v["max"], "NaN", "{v}");
    assert_eq!(v["first_nonfinite_step"], 1, "{v}");
    assert!(v["nonfinite_cells"].as_u64().unwrap() > 0, "{v}");

    // Every cell finite, but their sum beyond f64::MAX: the grid did not overflow.
    let grid = Array2::<f64>::from_elem((16, 16), 4e307);
    let path = dir.path().join("big.npy");
    ndarray_npy::write_npy(&path, &grid).unwrap();
    let out = lancehead(&[
        "diffusion",
        "--init",
        path.to_str().unwrap(),
        "--steps",
        "3",
        "--json",
    ]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sum") && !stderr.contains("step"),
        "{stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["checksum"], "inf", "{v}");
    assert_eq!(v["max"], 4e307, "{v}");
    assert_eq!(v["nonfinite_cells"], 0, "{v}");
    assert_eq!(v["first_nonfinite_step"], Value::Null, "{v}");

    // A finite run says nothing on stderr and reports finite numbers.
    let out = lancehead(&["diffusion", "--size", "16", "--steps", "3", "--json"]);
    assert!(out.stderr.is_empty());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["checksum"].is_f64() && v["nonfinite_cells"] == 0, "{v}");
}
