//! Fuzzing the command line on stable Rust: random argument vectors of the real subcommands,
//! each flag absent, valid, hostile (negative, zero, huge, non-finite, empty, very long,
//! another flag), given as `--flag value` or `--flag=value`, or left without its value; plus
//! the argument vectors of `fuzz/corpus/cli`, replayed here one by one.
//!
//! Every run must exit 0, 1 or 2 — never 101 (a panic), never a signal (an abort, a stack
//! overflow) — within a minute and under a 2 GiB address-space limit; a failure prints one
//! line on stderr (`lancehead: error: ...`, under 1000 bytes), a success at most warnings; and
//! no run may leave a temporary file or replace the FIFO and device of its folder.
//!
//! Each run has a fresh working folder with `grid.npy` (a valid 8 x 8 grid), `hostile.npy`
//! (the 96-byte file whose header claims 80 GB), `fifo`, a `null` device when this process
//! may make one, `folder/` and `link` (to `o.npy`). `compare` always gets a `--backends`
//! list that names an unknown backend, so that it is refused before it measures anything.
//! `PROPTEST_CASES=N` sets the number of runs (default 200).
#![cfg(unix)]

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;

/// One flag of a subcommand and the values it may get.
struct Flag {
    name: &'static str,
    /// Values the flag accepts and that keep the run short.
    valid: &'static [&'static str],
    /// Values to try it with; most must be refused.
    hostile: &'static [&'static str],
}

const fn flag(
    name: &'static str,
    valid: &'static [&'static str],
    hostile: &'static [&'static str],
) -> Flag {
    Flag {
        name,
        valid,
        hostile,
    }
}

const SIZES: &[&str] = &["1", "7", "8", "13"];
const BAD_INTEGERS: &[&str] = &[
    "0",
    "-1",
    "-3",
    "4000000000",
    "18446744073709551616",
    "1e3",
    "0x10",
    " 8",
    "８",
    "",
    "--json",
    "-",
    "nan",
    "99999999999999999999999999999999999999999999999999",
];
const BAD_COUNTS: &[&str] = &["-1", "4294967296", "1.5", "inf", "", "--json", "٣", "+-1"];
const BAD_FLOATS: &[&str] = &[
    "0", "-0.1", "-0", "nan", "-nan", "inf", "-inf", "1e308", "1e-320", "0.26", "", "abc",
    "--json", "1e999", "0x1p-3",
];
const BAD_PAIRS: &[&str] = &[
    "1",
    "1,2,3",
    "nan,0",
    "inf,1",
    ",",
    "",
    "1e400,0",
    "--json",
    "-",
    "1,,2",
    "-1e308,-1e308",
];
const BAD_REGIONS: &[&str] = &[
    "1,0,-1,1",
    "-1e308,1e308,-1,1",
    "0,0,0,0",
    "1,2,3",
    "a,b,c,d",
    "-inf,1,-1,1",
    "-1,1,1,-1",
    "",
    "-5e-324,5e-324,-5e-324,5e-324",
];
const BAD_SHAPES: &[&str] = &[
    "0x5",
    "5by5",
    "x",
    "-4x4",
    "4x",
    "99999999999x99999999999",
    "8x8x8",
    "",
    "8X8",
];
const BACKENDS: &[&str] = &["scalar", "simd", "rayon", "ndarray", "ndarray-alloc"];
const BAD_BACKENDS: &[&str] = &[
    "numba",
    "",
    "SCALAR",
    "scalar\n",
    "mpi:scalar",
    "../scalar",
    "\u{202e}scalar",
];
const OUTPUTS: &[&str] = &["o.npy", "p.png", "same"];
const BAD_OUTPUTS: &[&str] = &[
    "same",
    "fifo",
    "null",
    "folder",
    "folder/",
    "missing/x.npy",
    ".",
    "",
    "link",
    "grid.npy",
    "/dev/stdout",
];

const JULIA: &[Flag] = &[
    flag("--backend", BACKENDS, BAD_BACKENDS),
    flag("--width", SIZES, BAD_INTEGERS),
    flag("--height", SIZES, BAD_INTEGERS),
    flag("--max-iter", &["0", "1", "30"], BAD_COUNTS),
    flag("--c", &["-0.8,0.156", "0.285,0.01", "0,0"], BAD_PAIRS),
    flag(
        "--region",
        &["-1.8,1.8,-1.8,1.8", "-2,1,-1.25,1.5"],
        BAD_REGIONS,
    ),
    flag("--out", OUTPUTS, BAD_OUTPUTS),
    flag("--png", OUTPUTS, BAD_OUTPUTS),
    flag(
        "--palette",
        &["false-gray", "linear"],
        &["sepia", "", "LINEAR"],
    ),
    flag("--json", &[], &["true"]),
];

const DIFFUSION: &[Flag] = &[
    flag("--backend", BACKENDS, BAD_BACKENDS),
    flag("--size", SIZES, BAD_INTEGERS),
    flag("--shape", &["8x8", "3x5", "1x1"], BAD_SHAPES),
    flag("--steps", &["0", "1", "7"], BAD_COUNTS),
    flag("--dt", &["0.1", "0.25", "1e-3"], BAD_FLOATS),
    flag("--d", &["1", "0.5", "2.5"], BAD_FLOATS),
    flag(
        "--init",
        &["book", "grid.npy"],
        &[
            "hostile.npy",
            "missing.npy",
            "",
            "folder",
            "/dev/zero",
            "null",
            "o.npy",
        ],
    ),
    flag("--out", OUTPUTS, BAD_OUTPUTS),
    flag("--png", OUTPUTS, BAD_OUTPUTS),
    flag("--json", &[], &["1"]),
];

const COMPARE: &[Flag] = &[
    flag("--kernel", &["julia", "diffusion", "all"], &["both", ""]),
    flag(
        "--sizes",
        &["8", "8,16"],
        &["0", "-256", "256,-512", ",", "", "8,,8"],
    ),
    flag("--steps", &["1", "5"], BAD_COUNTS),
    flag("--repeat", &["1", "2"], &["0", "-2", "", "x"]),
    flag("--counters", &["off", "auto"], &["pmu", "", "PERF"]),
    flag("--cache-sim", &[], &["yes"]),
    flag(
        "--out",
        &["results", "folder"],
        &["grid.npy", "grid.npy/sub", "fifo", "", "null"],
    ),
    flag("--quick", &[], &["1"]),
    flag("--json", &[], &["x"]),
];

const BACKENDS_FLAGS: &[Flag] = &[flag("--json", &[], &["yes"])];

/// Tokens that may turn up anywhere.
const STRAY: &[&str] = &[
    "--bogus",
    "-x",
    "positional",
    "--",
    "--help",
    "-h",
    "--version",
    "-V",
    "=",
    "--=1",
    "--json=",
    "ünïcödé",
    "--width=",
    "-1",
    "julia",
];

/// How one flag is given.
#[derive(Debug, Clone)]
enum Given {
    Absent,
    Valid(usize),
    Hostile(usize),
    /// `--flag=value` with a valid or hostile value.
    Equals(bool, usize),
    /// The flag with no value after it.
    Bare,
    Twice(usize),
}

fn given() -> impl Strategy<Value = Given> {
    prop_oneof![
        6 => Just(Given::Absent),
        5 => any::<usize>().prop_map(Given::Valid),
        3 => any::<usize>().prop_map(Given::Hostile),
        2 => (any::<bool>(), any::<usize>()).prop_map(|(h, i)| Given::Equals(h, i)),
        1 => Just(Given::Bare),
        1 => any::<usize>().prop_map(Given::Twice),
    ]
}

/// A long value now and then: 200 KiB would exceed Linux's 128 KiB per argument.
fn long_value(i: usize) -> Option<String> {
    i.is_multiple_of(23).then(|| "9".repeat(100 << 10))
}

fn pick(pool: &[&str], i: usize) -> Option<String> {
    long_value(i).or_else(|| (!pool.is_empty()).then(|| pool[i % pool.len()].to_string()))
}

/// The argument vector for subcommand `which` (4: none, 5: a stray token first).
fn argv(which: usize, flags: &[Given], stray: &[(usize, usize)]) -> Vec<String> {
    let (name, table) = match which {
        0 => ("backends", BACKENDS_FLAGS),
        1 => ("julia", JULIA),
        2 => ("diffusion", DIFFUSION),
        3 => ("compare", COMPARE),
        _ => ("", &[][..]),
    };
    let mut args: Vec<String> = Vec::new();
    if which == 5 {
        args.push(STRAY[stray.first().map_or(0, |s| s.1) % STRAY.len()].to_string());
    }
    if !name.is_empty() {
        args.push(name.into());
    }
    for (flag, how) in table.iter().zip(flags) {
        let value = |hostile: bool, i: usize| {
            if hostile {
                pick(flag.hostile, i)
            } else {
                pick(flag.valid, i)
            }
        };
        match *how {
            Given::Absent => {}
            Given::Valid(i) | Given::Hostile(i) => {
                args.push(flag.name.into());
                if let Some(v) = value(matches!(how, Given::Hostile(_)), i) {
                    args.push(v);
                }
            }
            Given::Equals(hostile, i) => match value(hostile, i) {
                Some(v) => args.push(format!("{}={v}", flag.name)),
                None => args.push(flag.name.into()),
            },
            Given::Bare => args.push(flag.name.into()),
            Given::Twice(i) => {
                for _ in 0..2 {
                    args.push(flag.name.into());
                    if let Some(v) = value(false, i) {
                        args.push(v);
                    }
                }
            }
        }
    }
    // A Julia set or a diffusion run at the book's size takes seconds; keep runs short.
    let has = |args: &[String], f: &str| {
        args.iter()
            .any(|a| a == f || a.starts_with(&format!("{f}=")))
    };
    if which == 1 && !has(&args, "--width") && !has(&args, "--height") {
        args.extend(["--width".into(), "32".into()]);
    }
    if which == 2
        && !["--size", "--shape", "--init"]
            .iter()
            .any(|f| has(&args, f))
    {
        args.extend(["--size".into(), "16".into()]);
    }
    if which == 3 {
        // Refused before anything is measured.
        args.extend(["--backends".into(), "scalar,fuzz-no-such-backend".into()]);
    }
    for &(at, token) in stray.iter().skip(usize::from(which == 5)) {
        let at = at % (args.len() + 1);
        args.insert(at, STRAY[token % STRAY.len()].to_string());
    }
    args
}

fn argvs() -> impl Strategy<Value = Vec<String>> {
    (
        prop_oneof![3 => Just(1usize), 3 => Just(2usize), 1 => Just(0usize), 1 => Just(3usize),
                    1 => Just(4usize), 1 => Just(5usize)],
        prop::collection::vec(given(), 10),
        prop::collection::vec((any::<usize>(), any::<usize>()), 0..3),
    )
        .prop_map(|(which, flags, stray)| argv(which, &flags, &stray))
}

/// The 96-byte `.npy` whose header claims 100000 x 100000 float64.
fn hostile_npy() -> Vec<u8> {
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(86u16.to_le_bytes());
    bytes.extend(dict.as_bytes());
    bytes.resize(95, b' ');
    bytes.push(b'\n');
    bytes
}

/// A working folder with the fixtures named at the top; whether it has a `null` device.
fn fixtures(dir: &Path) -> bool {
    let grid = ndarray::Array2::<f64>::from_shape_fn((8, 8), |(i, j)| (i * 8 + j) as f64 / 64.0);
    ndarray_npy::write_npy(dir.join("grid.npy"), &grid).unwrap();
    std::fs::write(dir.join("hostile.npy"), hostile_npy()).unwrap();
    std::fs::create_dir(dir.join("folder")).unwrap();
    std::os::unix::fs::symlink("o.npy", dir.join("link")).unwrap();
    let made = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(made("mkfifo", &["fifo"]));
    made("mknod", &["null", "c", "1", "3"])
}

/// Runs `args` in a fresh folder and checks every rule of the module's documentation.
fn check(args: &[String]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let has_null = fixtures(dir.path());
    let mut child = Command::new("prlimit")
        .arg(format!("--as={}", 2u64 << 30))
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("lancehead"))
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            return Err(TestCaseError::fail(format!(
                "{args:?}: still running after 60 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let shown =
        |a: &[String]| -> Vec<String> { a.iter().map(|s| s.chars().take(60).collect()).collect() };
    let what = format!("{:?} -> {status:?}, stderr: {stderr}", shown(args));
    prop_assert!(matches!(status.code(), Some(0..=2)), "{}", what);
    let lines: Vec<&str> = stderr.lines().collect();
    if status.success() {
        prop_assert!(
            lines.len() <= 1 && lines.iter().all(|l| l.starts_with("lancehead: warning: ")),
            "{}",
            what
        );
    } else {
        prop_assert_eq!(lines.len(), 1, "{}", what);
        prop_assert!(lines[0].starts_with("lancehead: error: "), "{}", what);
        prop_assert!(lines[0].len() < 1000, "{} bytes: {}", lines[0].len(), what);
    }
    for entry in walk(dir.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        prop_assert!(!name.ends_with(".tmp"), "{} left {}", what, entry.display());
    }
    let kind = |name: &str| {
        std::fs::symlink_metadata(dir.path().join(name))
            .unwrap()
            .file_type()
    };
    prop_assert!(kind("fifo").is_fifo(), "{} replaced the FIFO", what);
    prop_assert!(kind("link").is_symlink(), "{} replaced the link", what);
    if has_null {
        prop_assert!(
            kind("null").is_char_device(),
            "{} replaced the device",
            what
        );
    }
    Ok(())
}

/// Every path under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn the_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/cli");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{} argument vectors", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let args: Vec<String> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        check(&args).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    ProptestConfig {
        cases,
        // Each case is a process: shrinking a failure to its simplest form is worth it, but
        // not forever.
        max_shrink_iters: 200,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "fuzz/corpus/proptest-regressions/fuzz_cli.txt",
            ),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_argument_vectors(args in argvs()) {
        check(&args)?;
    }
}
