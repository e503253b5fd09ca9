//! Files under attack: outputs that are not regular files, symbolic links, hostile `.npy`
//! headers, signals in the middle of a write, and pictures under a memory limit.
//!
//! Device nodes are made by the test itself (`mknod` in a temporary folder, as root): a
//! regression must never be able to replace the machine's own `/dev/null`.
#![cfg(unix)]

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{data, load};
use ndarray::Array2;

fn lancehead_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("lancehead")
}

/// Runs `lancehead args` under an address-space limit of `limit` bytes (`prlimit --as`), so
/// that an allocation sized by hostile input fails instead of succeeding on a large machine.
fn lancehead_limited(limit: u64, args: &[&str]) -> Output {
    Command::new("prlimit")
        .arg(format!("--as={limit}"))
        .arg("--")
        .arg(lancehead_bin())
        .args(args)
        .output()
        .expect("prlimit (util-linux) runs")
}

/// Names in `dir`.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts a refusal: exit 1 or 2, one line on stderr naming `needle`, no panic, no abort.
fn assert_refused(out: &Output, what: &str, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "{what}: exit {:?}, stderr: {stderr}",
        out.status
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{what}: not one line: {stderr}"
    );
    assert!(stderr.starts_with("lancehead: error: "), "{what}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{what}: `{stderr}` does not name `{needle}`"
    );
}

const SMALL_JULIA: [&str; 5] = ["julia", "--width", "16", "--height", "8"];

fn julia_to(flag: &str, path: &Path) -> Output {
    let path = path.to_str().unwrap();
    common::lancehead(&[&SMALL_JULIA[..], &[flag, path]].concat())
}

/// What a path is, without following a link.
fn kind(path: &Path) -> &'static str {
    let t = std::fs::symlink_metadata(path).unwrap().file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_char_device() {
        "char device"
    } else if t.is_socket() {
        "socket"
    } else if t.is_dir() {
        "dir"
    } else {
        "file"
    }
}

/// A character device node `major:minor` at `path`, or `None` (and a loud skip) where this
/// process may not make one.
fn char_device(path: &Path, major: u32, minor: u32) -> Option<()> {
    let made = Command::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!(
            "SKIPPED: cannot mknod {} here (needs root); device targets not tested",
            path.display()
        );
    }
    made.then_some(())
}

#[test]
fn outputs_refuse_anything_but_a_regular_file_or_a_new_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let folder = d.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let socket = d.join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let link_to_fifo = d.join("link-to-fifo");
    std::os::unix::fs::symlink("fifo", &link_to_fifo).unwrap();
    let mut targets = vec![
        (fifo, "fifo", "FIFO"),
        (folder, "dir", "directory"),
        (socket, "socket", "socket"),
        (link_to_fifo, "symlink", "FIFO"),
    ];
    // /dev/null's and /dev/full's own numbers, in this test's folder.
    let null = d.join("null");
    if char_device(&null, 1, 3).is_some() {
        targets.push((null, "char device", "character device"));
        let full = d.join("full");
        char_device(&full, 1, 7).unwrap();
        targets.push((full, "char device", "character device"));
    }
    let before = entries(d);
    for (target, was, named) in &targets {
        for flag in ["--out", "--png"] {
            let what = format!("{flag} {} ({was})", target.display());
            let out = julia_to(flag, target);
            assert_refused(&out, &what, flag);
            assert_refused(&out, &what, named);
            assert!(out.stdout.is_empty(), "{what} printed a result");
            assert_eq!(kind(target), *was, "{what} was replaced");
            assert_eq!(entries(d), before, "{what} left files behind");
        }
    }
    // The folder is untouched too.
    assert!(entries(&d.join("folder")).is_empty());
}

#[test]
fn a_symbolic_link_is_followed_its_target_replaced_and_the_link_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let real_dir = d.join("real");
    let link_dir = d.join("links");
    std::fs::create_dir(&real_dir).unwrap();
    std::fs::create_dir(&link_dir).unwrap();
    let target = real_dir.join("counts.npy");
    std::fs::write(&target, b"old contents").unwrap();
    // A relative link into another folder, and a link to that link.
    let link = link_dir.join("counts.npy");
    std::os::unix::fs::symlink("../real/counts.npy", &link).unwrap();
    let link2 = link_dir.join("again.npy");
    std::os::unix::fs::symlink("counts.npy", &link2).unwrap();

    for path in [&link, &link2] {
        std::fs::write(&target, b"old contents").unwrap();
        let out = julia_to("--out", path);
        assert!(out.status.success(), "{:?}", out);
        assert_eq!(kind(path), "symlink", "{} replaced", path.display());
        assert_eq!(kind(&target), "file");
        let counts: Array2<u32> = ndarray_npy::read_npy(&target).unwrap();
        assert_eq!(counts.dim(), (8, 16));
    }
    assert_eq!(entries(&real_dir), ["counts.npy"]);
    assert_eq!(entries(&link_dir), ["again.npy", "counts.npy"]);

    // A dangling link gets its target created, the link kept.
    let dangling = link_dir.join("new.png");
    std::os::unix::fs::symlink("../real/new.png", &dangling).unwrap();
    let out = julia_to("--png", &dangling);
    assert!(out.status.success(), "{:?}", out);
    assert_eq!(kind(&dangling), "symlink");
    assert_eq!(kind(&real_dir.join("new.png")), "file");

    // A loop of links is refused with one line.
    let a = d.join("a.npy");
    std::os::unix::fs::symlink("b.npy", &a).unwrap();
    std::os::unix::fs::symlink("a.npy", d.join("b.npy")).unwrap();
    assert_refused(&julia_to("--out", &a), "a loop of links", "--out");
}

#[test]
fn replacing_a_file_keeps_its_permission_bits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.npy");
    std::fs::write(&path, b"old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = julia_to("--out", &path);
    assert!(out.status.success(), "{out:?}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
}

// ---- hostile .npy headers (defect 2) ------------------------------------------------------

/// A `.npy` file of `version` with header `dict` (padded to a multiple of 64 as numpy does)
/// followed by `data`; `header_len`, when given, replaces the true header length.
fn npy_bytes(version: u8, dict: &str, data: &[u8], header_len: Option<u32>) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut header = dict.as_bytes().to_vec();
    while !(prefix + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend([version, 0]);
    let len = header_len.unwrap_or(header.len() as u32);
    if version == 1 {
        bytes.extend((len as u16).to_le_bytes());
    } else {
        bytes.extend(len.to_le_bytes());
    }
    bytes.extend(header);
    bytes.extend(data);
    bytes
}

fn grid_header(shape: &str) -> String {
    format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}")
}

/// The 96-byte file of the red-team report: a header that claims 100000 x 100000 float64.
fn claims_80_gb() -> Vec<u8> {
    let dict = grid_header("(100000, 100000)");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let len = 96 - 10;
    bytes.extend((len as u16).to_le_bytes());
    bytes.extend(dict.as_bytes());
    bytes.resize(95, b' ');
    bytes.push(b'\n');
    assert_eq!(bytes.len(), 96);
    bytes
}

/// 1 GiB of address space: enough for the binary, far too little for what a hostile header
/// claims, so an allocation sized by the header would abort here on any machine.
const ONE_GIB: u64 = 1 << 30;

#[test]
fn hostile_npy_headers_are_refused_without_allocating_what_they_claim() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.npy");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("96 bytes claiming 100000x100000", claims_80_gb(), "bytes"),
        (
            "version 2, header length 4 GiB",
            npy_bytes(2, &grid_header("(2, 2)"), &[0; 32], Some(u32::MAX - 16)),
            "header",
        ),
        (
            "version 3, header length 4 GiB",
            npy_bytes(3, &grid_header("(2, 2)"), &[0; 32], Some(u32::MAX - 16)),
            "header",
        ),
        (
            "version 2, header longer than the file",
            npy_bytes(2, &grid_header("(2, 2)"), &[0; 32], Some(5000)),
            "header",
        ),
        (
            "version 3 claiming 2^62 elements",
            npy_bytes(3, &grid_header("(2147483648, 2147483648)"), &[0; 64], None),
            "bytes",
        ),
        (
            "shape overflowing usize",
            npy_bytes(1, &grid_header("(18446744073709551615, 3)"), &[], None),
            "--init",
        ),
        (
            "a truncated grid",
            npy_bytes(1, &grid_header("(4, 4)"), &[0; 120], None),
            "bytes",
        ),
        (
            "data beyond the shape",
            npy_bytes(1, &grid_header("(2, 2)"), &[0; 40], None),
            "bytes",
        ),
        (
            "deeply nested header",
            npy_bytes(
                1,
                &format!(
                    "{{'descr': '<f8', 'fortran_order': False, 'shape': {}2{}, }}",
                    "(".repeat(3000),
                    ")".repeat(3000)
                ),
                &[],
                None,
            ),
            "--init",
        ),
        (
            "a bad magic string",
            b"\x93NUMPZ\x01\x00".to_vec(),
            "--init",
        ),
        ("an empty file", Vec::new(), "--init"),
    ];
    for (what, bytes, needle) in cases {
        let path = dir.path().join("hostile.npy");
        std::fs::write(&path, &bytes).unwrap();
        let start = Instant::now();
        let result = lancehead_limited(
            ONE_GIB,
            &[
                "diffusion",
                "--init",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_refused(&result, what, "--init");
        assert_refused(&result, what, needle);
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: took {:?}",
            start.elapsed()
        );
        assert!(!out.exists(), "{what} wrote an output");
    }
}

#[test]
fn npy_reader_accepts_every_header_version_byte_order_and_layout() {
    let grid = load::<f64>("diffusion_random_48x64_init.npy");
    let dir = tempfile::tempdir().unwrap();
    let le: Vec<u8> = grid.iter().flat_map(|v| v.to_le_bytes()).collect();
    let be: Vec<u8> = grid.iter().flat_map(|v| v.to_be_bytes()).collect();
    let fortran: Vec<u8> = grid.t().iter().flat_map(|v| v.to_le_bytes()).collect();
    let cases = [
        (1, "'<f8'", "False", &le),
        (2, "'<f8'", "False", &le),
        (3, "'<f8'", "False", &le),
        (1, "'>f8'", "False", &be),
        (1, "'<f8'", "True", &fortran),
    ];
    for (version, descr, fortran_order, bytes) in cases {
        let dict =
            format!("{{'descr': {descr}, 'fortran_order': {fortran_order}, 'shape': (48, 64), }}");
        let path = dir.path().join("grid.npy");
        std::fs::write(&path, npy_bytes(version, &dict, bytes, None)).unwrap();
        let read = lancehead::io::npy::read_grid(&path, "--init")
            .unwrap_or_else(|e| panic!("v{version} {descr} {fortran_order}: {e}"));
        assert_eq!(
            read, grid,
            "v{version} {descr} fortran_order={fortran_order}"
        );
    }
    // And the reference file itself, as numpy wrote it.
    let read = lancehead::io::npy::read_grid(&data("diffusion_random_48x64_init.npy"), "--init");
    assert_eq!(read.unwrap(), grid);
}

// ---- signals (defect 3) -------------------------------------------------------------------

/// SIGINT and SIGTERM during a long write: the run ends with 128 + the signal's number and
/// leaves neither its outputs nor their temporary files.
#[test]
fn a_signal_during_a_write_leaves_no_temporary_file() {
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let npy = dir.path().join("grid.npy");
        let png = dir.path().join("grid.png");
        // 3000^2 cells: a 72 MB .npy, then a heat map whose encoding takes a while.
        let mut child = Command::new(lancehead_bin())
            .args(["diffusion", "--size", "3000", "--steps", "0", "--out"])
            .arg(&npy)
            .arg("--png")
            .arg(&png)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let temporary = |names: &[String]| names.iter().any(|n| n.ends_with(".tmp"));
        while !temporary(&entries(dir.path())) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "SIG{signal}: the run ended before it wrote a temporary file"
            );
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no temporary file"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let killed = Command::new("kill")
            .args(["-s", signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "SIG{signal}: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            entries(dir.path()),
            Vec::<String>::new(),
            "SIG{signal} left files"
        );
    }
}

// ---- pictures under a memory limit (defect 7) ---------------------------------------------

/// A 12000 x 12000 Julia set under an 800 MB address-space limit: its counts (576 MB) fit, so
/// `--out` succeeds; `--png` must too (the picture is encoded row by row) or, where even that
/// cannot be had, say so in one line. An RGB buffer of the whole picture (432 MB more) would
/// not fit.
#[test]
fn a_big_picture_under_a_memory_limit_is_written_or_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 800_000_000;
    let big = [
        "julia",
        "--width",
        "12000",
        "--height",
        "12000",
        "--max-iter",
        "1",
    ];
    let npy = dir.path().join("counts.npy");
    let out = lancehead_limited(
        limit,
        &[&big[..], &["--out", npy.to_str().unwrap()]].concat(),
    );
    assert!(
        out.status.success(),
        "--out under the limit (the test's calibration): {out:?}"
    );
    std::fs::remove_file(&npy).unwrap();
    let png = dir.path().join("julia.png");
    let out = lancehead_limited(
        limit,
        &[&big[..], &["--png", png.to_str().unwrap()]].concat(),
    );
    assert!(
        out.status.success(),
        "--png under the limit: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (12000, 12000));

    // Under a limit that cannot hold the counts, each output is a one-line error.
    for flag in ["--out", "--png"] {
        let out = lancehead_limited(
            400_000_000,
            &[&big[..], &[flag, dir.path().join("x").to_str().unwrap()]].concat(),
        );
        assert_refused(&out, flag, "bytes");
    }
    assert_eq!(entries(dir.path()), ["julia.png"]);
}
