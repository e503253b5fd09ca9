//! The C ABI of Lancehead's kernels (`capi`): every argument checked at the boundary, and the
//! two programs of the book's direction turned around — a C program linked against the
//! cdylib and a Python `ctypes` script — printing the book's checksum.
#![cfg(feature = "capi")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{CStr, c_char};
use std::path::PathBuf;
use std::process::Command;

use lancehead::ffi::capi::*;
use lancehead::problem::julia::BOOK_CHECKSUM;
use lancehead::{DiffusionParams, JuliaParams};

fn last_error() -> String {
    // SAFETY: a valid C string owned by this thread, read before the next call.
    unsafe { CStr::from_ptr(lancehead_last_error()) }
        .to_string_lossy()
        .into_owned()
}

const SCALAR: *const c_char = c"scalar".as_ptr();

thread_local! {
    /// Bytes this thread has asked the allocator for (tests run on threads of their own).
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's bytes: what one C call on this thread
/// allocates, whatever the other tests' threads do meanwhile.
struct PerThreadCount;

// SAFETY: every call is forwarded unchanged to `System`; the count is a const-initialised
// thread-local `Cell` (no allocation, no destructor).
unsafe impl GlobalAlloc for PerThreadCount {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.with(|n| n.set(n.get() + layout.size() as u64));
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.with(|n| n.set(n.get() + new_size as u64));
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PerThreadCount = PerThreadCount;

/// The bytes `f` allocates on this thread.
fn bytes_allocated(f: impl FnOnce()) -> u64 {
    let before = ALLOCATED.with(Cell::get);
    f();
    ALLOCATED.with(Cell::get) - before
}

/// `lancehead_julia` on a 7x5 problem (book region and c) with `len` elements of `counts`.
fn julia_7x5(backend: *const c_char, counts: *mut u32, len: usize) -> i32 {
    // SAFETY: the tests pass NULL or a buffer of at least `len` elements.
    unsafe {
        lancehead_julia(
            backend, 7, 5, -1.8, 1.8, -1.8, 1.8, -0.62772, -0.42193, 300, counts, len,
        )
    }
}

#[test]
fn julia_and_diffusion_give_the_library_results() {
    let mut counts = vec![0u32; 35];
    assert_eq!(julia_7x5(SCALAR, counts.as_mut_ptr(), 35), LANCEHEAD_OK);
    assert_eq!(last_error(), "");
    let params = JuliaParams::new(7, 5, lancehead::Region::BOOK, (-0.62772, -0.42193), 300);
    let expected = lancehead::julia(&*common::scalar(), &params.unwrap()).unwrap();
    assert_eq!(counts, expected.into_raw_vec_and_offset().0);
    // NULL names the reference backend.
    assert_eq!(
        julia_7x5(std::ptr::null(), counts.as_mut_ptr(), 35),
        LANCEHEAD_OK
    );

    let params = DiffusionParams::book(6, 9).unwrap();
    let mut rng = common::Rng::new(3);
    let init = rng.grid(6, 9);
    let expected = common::evolve(&*common::scalar(), &params, init.view(), 11);
    let mut grid = init.into_raw_vec_and_offset().0;
    // SAFETY: `grid` holds 54 values.
    let code =
        unsafe { lancehead_diffusion(SCALAR, 6, 9, 0.1, 1.0, 11, grid.as_mut_ptr(), grid.len()) };
    assert_eq!(code, LANCEHEAD_OK, "{}", last_error());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&grid), bits(expected.as_slice().unwrap()));
}

#[test]
fn bad_arguments_get_codes_and_messages() {
    let mut counts = vec![0u32; 36];
    let ptr = counts.as_mut_ptr();

    assert_eq!(
        julia_7x5(SCALAR, std::ptr::null_mut(), 35),
        LANCEHEAD_ERR_NULL_POINTER
    );
    assert_eq!(last_error(), "counts is NULL");

    assert_eq!(julia_7x5(SCALAR, ptr, 34), LANCEHEAD_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error(), "counts_len is 34, expected 5 * 7 elements");
    assert_eq!(julia_7x5(SCALAR, ptr, 36), LANCEHEAD_ERR_INVALID_ARGUMENT);

    // One byte off: a u32 buffer at an odd address.
    let misaligned = (ptr as *mut u8).wrapping_add(1) as *mut u32;
    assert_eq!(
        julia_7x5(SCALAR, misaligned, 35),
        LANCEHEAD_ERR_INVALID_ARGUMENT
    );
    assert_eq!(last_error(), "counts is not aligned to 4 bytes");

    assert_eq!(julia_7x5(c"nope".as_ptr(), ptr, 35), LANCEHEAD_ERR_BACKEND);
    assert!(
        last_error().starts_with("unknown backend `nope`"),
        "{}",
        last_error()
    );
    let not_utf8 = c"\xff".as_ptr();
    assert_eq!(julia_7x5(not_utf8, ptr, 35), LANCEHEAD_ERR_INVALID_ARGUMENT);

    // SAFETY: `counts` holds 36 values; these calls are refused before it is touched.
    let code =
        unsafe { lancehead_julia(SCALAR, 7, 5, 1.0, -1.0, -1.8, 1.8, 0.0, 0.0, 300, ptr, 35) };
    assert_eq!(code, LANCEHEAD_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().starts_with("invalid region = 1,-1,-1.8,1.8"),
        "{}",
        last_error()
    );
    let code = unsafe {
        lancehead_julia(
            SCALAR,
            0,
            5,
            -1.8,
            1.8,
            -1.8,
            1.8,
            f64::NAN,
            0.0,
            300,
            ptr,
            0,
        )
    };
    assert_eq!(code, LANCEHEAD_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error(), "invalid width = 0: expected an integer >= 1");

    let mut grid = vec![0.0f64; 4];
    // SAFETY: `grid` holds 4 values.
    let code = unsafe { lancehead_diffusion(SCALAR, 2, 2, 0.3, 1.0, 1, grid.as_mut_ptr(), 4) };
    assert_eq!(code, LANCEHEAD_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().starts_with("unstable diffusion"),
        "{}",
        last_error()
    );
    let code =
        unsafe { lancehead_diffusion(SCALAR, usize::MAX, 3, 0.1, 1.0, 1, grid.as_mut_ptr(), 4) };
    assert_eq!(code, LANCEHEAD_ERR_INVALID_ARGUMENT, "{}", last_error());
    let code = unsafe { lancehead_diffusion(SCALAR, 2, 2, 0.1, 1.0, 1, std::ptr::null_mut(), 4) };
    assert_eq!(code, LANCEHEAD_ERR_NULL_POINTER);
    assert_eq!(last_error(), "grid is NULL");
}

/// Defect 9: a bad `counts` buffer is refused before anything is computed or allocated for
/// the problem (the coordinate arrays of a 10^6 x 10^6 problem are 16 MB).
#[test]
fn julia_checks_the_callers_buffer_before_allocating() {
    let julia = |width: usize, height: usize, counts: *mut u32, len: usize| {
        // SAFETY: `counts` is NULL or holds `len` values.
        unsafe {
            lancehead_julia(
                SCALAR, width, height, -1.8, 1.8, -1.8, 1.8, -0.62772, -0.42193, 300, counts, len,
            )
        }
    };
    let mut one = [0u32; 1];
    let side = 1_000_000;
    for (counts, len, code, message) in [
        (
            std::ptr::null_mut(),
            side * side,
            LANCEHEAD_ERR_NULL_POINTER,
            "counts is NULL".to_string(),
        ),
        (
            one.as_mut_ptr(),
            1,
            LANCEHEAD_ERR_INVALID_ARGUMENT,
            format!("counts_len is 1, expected {side} * {side} elements"),
        ),
    ] {
        let mut got = 0;
        let bytes = bytes_allocated(|| got = julia(side, side, counts, len));
        assert_eq!((got, last_error()), (code, message));
        // The error message and its C copy: a few dozen bytes, not the coordinates.
        assert!(bytes < 1024, "a refused call allocated {bytes} bytes");
    }

    // The order shows too: coordinates that could not even be allocated are not reached.
    let huge = 1usize << 59;
    let code = julia(huge, 1, std::ptr::null_mut(), huge);
    assert_eq!(
        (code, last_error()),
        (LANCEHEAD_ERR_NULL_POINTER, "counts is NULL".to_string())
    );
    // A length no buffer can have is refused before a slice of it is made.
    let code = julia(1 << 62, 1, one.as_mut_ptr(), 1 << 62);
    assert_eq!(code, LANCEHEAD_ERR_INVALID_ARGUMENT);
    assert_eq!(
        last_error(),
        "counts_len is 4611686018427387904: larger than any buffer can be (4 bytes per element)"
    );
}

/// Defect 9: the C ABI refuses NaN and infinite grids as the CLI refuses such an `--init`
/// file, with the same words, and leaves the grid untouched.
#[test]
fn diffusion_refuses_non_finite_grids_like_the_cli() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut grid = vec![0.25f64; 6 * 9];
        grid[9 + 2] = bad;
        let before: Vec<u64> = grid.iter().map(|x| x.to_bits()).collect();
        // SAFETY: `grid` holds 54 values.
        let code = unsafe {
            lancehead_diffusion(SCALAR, 6, 9, 0.1, 1.0, 3, grid.as_mut_ptr(), grid.len())
        };
        assert_eq!(
            code,
            LANCEHEAD_ERR_INVALID_ARGUMENT,
            "{bad}: {}",
            last_error()
        );
        assert_eq!(
            last_error(),
            format!("grid: value at (1, 2) is {bad}; every value must be finite")
        );
        let after: Vec<u64> = grid.iter().map(|x| x.to_bits()).collect();
        assert_eq!(after, before, "a refused grid was changed");
    }

    // The CLI says the same of an `--init` file holding such a value.
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("nan.npy");
    let mut grid = ndarray::Array2::<f64>::from_elem((6, 9), 0.25);
    grid[(1, 2)] = f64::NAN;
    ndarray_npy::write_npy(&init, &grid).unwrap();
    let out = common::lancehead(&["diffusion", "--init", init.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("value at (1, 2) is NaN; every value must be finite"),
        "{stderr}"
    );
}

/// The cdylib this test run built (`crate-type` includes `cdylib`). Cargo writes it beside
/// the test binary in `deps/`; the copy one level up is only refreshed by `cargo build`.
fn cdylib() -> PathBuf {
    let path = common::artefact_dir().join("deps").join(format!(
        "{}lancehead{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(path.is_file(), "cdylib not found at {}", path.display());
    path
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn stdout_of(command: &mut Command) -> String {
    let out = command.output().expect("program runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{command:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{stdout}");
    stdout
}

/// `examples/c/<name>.c`, compiled now with the system C compiler (`CC`, or `cc`) against
/// include/lancehead.h and linked with the cdylib, in a temporary folder (kept while the
/// returned guard lives).
fn c_program(name: &str, flags: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let lib = cdylib();
    let lib_dir = lib.parent().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join(name);
    let source = repo(&format!("examples/c/{name}.c"));
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&compiler)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror"])
        .args(flags)
        .arg("-I")
        .arg(repo("include"))
        .arg(&source)
        .arg("-L")
        .arg(lib_dir)
        .arg("-llancehead")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        // An old-style RPATH, searched before LD_LIBRARY_PATH: `cargo test` puts the folder
        // above in that path, whose copy of the library only `cargo build` refreshes, and a
        // RUNPATH would lose to it, so the program would test a stale library.
        .args(cfg!(target_os = "linux").then_some("-Wl,--disable-new-dtags"))
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{compiler}`: {e}"));
    assert!(status.success(), "compiling {} failed", source.display());
    (dir, exe)
}

/// examples/c/book_checksum.c: the book's problems through the C ABI.
#[test]
fn c_program_prints_the_books_checksum() {
    let (_dir, exe) = c_program("book_checksum", &[]);
    let out = stdout_of(&mut Command::new(&exe));
    assert!(out.contains(&format!(
        "backend scalar: julia 1000x1000 checksum {BOOK_CHECKSUM}\n"
    )));
    assert!(out.contains("short buffer: status 2: counts_len is 999999, expected 1000 * 1000"));
    // numpy's u[128][128] for this run (SPEC §1); the sum is conserved (summed naively in C).
    assert!(
        out.contains(
            "diffusion 256x256 x 500 sum 3.380000000000, u[128][128] 0.0011329283766858286\n"
        ),
        "{out}"
    );
    // C calling Rust calling C: the OpenMP build of c_ref/ through the C ABI.
    if cfg!(feature = "c-ref") {
        let out = stdout_of(Command::new(&exe).arg("c-openmp"));
        assert!(out.contains(&format!(
            "backend c-openmp: julia 1000x1000 checksum {BOOK_CHECKSUM}\n"
        )));
    }
}

/// examples/python/book_checksum.py: ctypes, standard library only.
#[test]
fn python_ctypes_prints_the_books_checksum() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED python_ctypes_prints_the_books_checksum: python3 is not installed \
             (apt-get install python3)"
        );
        return;
    }
    let out = stdout_of(
        Command::new("python3")
            .arg(repo("examples/python/book_checksum.py"))
            .arg(cdylib()),
    );
    assert!(out.contains(&format!(
        "backend scalar: julia 1000x1000 checksum {BOOK_CHECKSUM}\n"
    )));
    assert!(out.contains("zero width: status 2: invalid width = 0: expected an integer >= 1"));
}

/// The names of every backend of this build that can run here (see
/// `common::runnable_backends` for what is skipped, and how loudly).
fn runnable_names() -> Vec<&'static str> {
    common::runnable_backends()
        .iter()
        .map(|b| b.name())
        .collect()
}

/// examples/c/hammer.c: 8 pthreads calling both kernels on every backend of the build at
/// once, each result against the serial one, and `lancehead_last_error` per thread.
#[test]
fn c_threads_hammering_every_backend_get_the_serial_results() {
    let (_dir, exe) = c_program("hammer", &["-pthread"]);
    let names = runnable_names();
    let out = Command::new(&exe).args(&names).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    print!("{stdout}");
    assert!(out.status.success(), "hammer {names:?}: {stdout}{stderr}");
    let summary = format!(
        "hammer: 8 threads, {} calls on {} backends: 0 differ from the serial results; 0 of ",
        8 * 2 * 10 * names.len(),
        names.len()
    );
    assert!(stdout.starts_with(&summary), "{stdout}");
}

/// Defect 6 through the C ABI: a thread count the environment asks for and that cannot be
/// had is an error code and one message naming the variable, never a panic or a crash of
/// the host program; the other backends keep working.
#[test]
fn bad_thread_counts_are_error_codes_for_a_c_host() {
    let mut variables = Vec::new();
    if cfg!(feature = "rayon") {
        variables.push(("RAYON_NUM_THREADS", "rayon"));
    }
    if cfg!(feature = "c-ref") {
        variables.push(("OMP_NUM_THREADS", "c-openmp"));
    }
    let (_dir, exe) = c_program("book_checksum", &[]);
    for (variable, backend) in variables {
        for bad in ["0", "100000", "abc", ""] {
            let out = Command::new(&exe)
                .arg(backend)
                .env(variable, bad)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let context = format!("{variable}={bad:?}: {:?}: {stderr}", out.status);
            // book_checksum prints the failed call's code and message, and exits with 1.
            assert_eq!(out.status.code(), Some(1), "{context}");
            let expected = format!(
                "lancehead_julia failed ({LANCEHEAD_ERR_BACKEND}): backend `{backend}` is \
                 unavailable: invalid {variable} = {bad}: expected an integer from 1 to "
            );
            assert!(
                stderr.lines().any(|line| line.starts_with(&expected)),
                "{context}"
            );
            let scalar = Command::new(&exe).env(variable, bad).output().unwrap();
            assert!(scalar.status.success(), "scalar with {variable}={bad:?}");
        }
    }
}

/// Defect 9: Mesa's Vulkan device-select layer printed "XDG_RUNTIME_DIR is invalid or not
/// set" on the host program's stderr (twice) when a C program used a GPU backend outside a
/// desktop session. The host's stderr is the host's: it stays empty.
#[cfg(feature = "gpu")]
#[test]
fn c_host_stderr_stays_clean_on_the_gpu_backends() {
    let names: Vec<&str> = runnable_names()
        .into_iter()
        .filter(|name| name.starts_with("gpu"))
        .collect();
    if names.is_empty() {
        return; // runnable_names said why, or failed under LANCEHEAD_REQUIRE_GPU=1.
    }
    let (_dir, exe) = c_program("book_checksum", &[]);
    for name in names {
        let out = Command::new(&exe)
            .arg(name)
            // As in a service, a container or CI: no desktop session.
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("NODEVICE_SELECT")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "{name} wrote to the host program's stderr"
        );
    }
}

/// The OpenMP runtime reads OMP_NUM_THREADS once, when it is loaded: a host that changes the
/// variable afterwards cannot slip the count it was loaded with past the check, which asks
/// the runtime what it will start.
#[cfg(feature = "c-ref")]
#[test]
fn the_openmp_check_asks_the_runtime_not_only_the_environment() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED ******** the OpenMP runtime check: python3 is not installed");
        return;
    }
    // Loaded with 100000 (libgomp parses it at load time), then set to 2.
    let script = r#"
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1])
os.environ["OMP_NUM_THREADS"] = "2"
lib.lancehead_last_error.restype = ctypes.c_char_p
counts = (ctypes.c_uint32 * 4)()
args = [b"c-openmp", 2, 2] + [ctypes.c_double(v) for v in (-1.8, 1.8, -1.8, 1.8, 0.0, 0.0)]
status = lib.lancehead_julia(*args, 10, counts, ctypes.c_size_t(4))
print(status, lib.lancehead_last_error().decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(cdylib())
        .env("OMP_NUM_THREADS", "100000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "{LANCEHEAD_ERR_BACKEND} backend `c-openmp` is unavailable: the OpenMP runtime \
             would start 100000 threads, more than the "
        )),
        "{stdout}"
    );
}

/// The instance without window-system extensions (src/gpu/context.rs) is sound by a reading
/// of wgpu-hal 30.0.2, where nothing relies on those extensions but surface creation. A
/// wgpu upgrade must read it again: this fails until the note there is updated with this.
#[cfg(feature = "gpu")]
#[test]
fn the_window_system_note_matches_the_locked_wgpu_hal() {
    let lock = std::fs::read_to_string(repo("Cargo.lock")).unwrap();
    let locked = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wgpu-hal\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .unwrap();
    let context = std::fs::read_to_string(repo("src/gpu/context.rs")).unwrap();
    let noted = format!("(={}, Cargo.toml)", locked.trim_matches('"'));
    assert!(
        context.contains(&noted),
        "wgpu-hal is now {locked}: re-read its Vulkan surface code and update {noted:?} in \
         src/gpu/context.rs"
    );
}
