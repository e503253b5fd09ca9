//! The MPI backends run distributed: `mpirun -np 1..4` (oversubscribed) of the `lancehead`
//! binary, each result compared bit for bit with `scalar` computed here; a rank's memory is
//! its slab; a bad input on one rank stops every rank with one message and no file. Every
//! `mpirun` runs under a timeout, so a hang fails the test instead of the CI job.
//!
//! Needs Open MPI's `mpirun` (apt-get install openmpi-bin; `scripts/test.sh` installs it).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use lancehead::problem::{diffusion, julia};
use lancehead::{DiffusionParams, JuliaParams, Region};
use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use serde_json::Value;

use common::Rng;

const BACKENDS: [&str; 2] = ["mpi:simd", "mpi:simd-wavefront"];
/// Longer than any run here takes on two oversubscribed cores, by far.
const TIMEOUT: Duration = Duration::from_secs(120);

/// `mpirun -np ranks lancehead args...`, as root where need be, under [`TIMEOUT`].
fn mpirun(ranks: usize, args: &[&str]) -> Output {
    let exe = assert_cmd::cargo::cargo_bin("lancehead");
    let out = assert_cmd::Command::new("mpirun")
        .args(["--oversubscribe", "-np", &ranks.to_string()])
        .arg(&exe)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        // Containers without ptrace: no cross-memory attach between ranks.
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        // PMIx's shared-memory store (gds/ds21) fails now and then with OUT-OF-RESOURCE when
        // jobs start in quick succession (Open MPI 4.1.4, PMIx 3); its hash store does not.
        .env("PMIX_MCA_gds", "hash")
        // One rank per core is MPI's habit; here ranks share two cores, so keep rayon small.
        .env("RAYON_NUM_THREADS", "2")
        .timeout(TIMEOUT)
        .output()
        .expect("mpirun runs (apt-get install openmpi-bin)");
    assert!(
        out.status.code().is_some(),
        "mpirun -np {ranks} {args:?} was killed (timeout {TIMEOUT:?}?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status,
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "only rank 0 prints, one JSON line: {text}");
    serde_json::from_str(lines[0]).expect("JSON")
}

fn write_npy(path: &Path, grid: &Array2<f64>) {
    grid.write_npy(std::fs::File::create(path).unwrap())
        .unwrap();
}

fn read_npy<T: ndarray_npy::ReadableElement>(path: &Path) -> Array2<T> {
    Array2::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

fn same_bits(a: &Array2<f64>, b: &Array2<f64>) -> Option<(usize, usize)> {
    assert_eq!(a.dim(), b.dim());
    a.indexed_iter()
        .find(|&(i, x)| x.to_bits() != b[i].to_bits())
        .map(|(i, _)| i)
}

/// Rows not divisible by the ranks, more ranks than rows (idle ranks), one row, one column,
/// slabs thinner than the halo (8 deep for these widths), step counts that are not
/// multiples of it, and the periodic wrap across ranks with 1 and 2 ranks; from random grids,
/// one of every magnitude (it overflows: infinities and NaN must match too), and from the
/// book's square generated per slab.
#[test]
fn diffusion_is_bitwise_scalar_for_1_to_4_ranks_on_awkward_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(2024);
    // (rows, cols, steps, values of every magnitude)
    let cases = [
        (1, 1, 5, false),
        (1, 9, 13, false),
        (7, 1, 9, false),
        (3, 5, 17, false),
        (5, 13, 23, false),
        (37, 29, 19, true),
        (10, 40, 8, false),
    ];
    for (rows, cols, steps, wild) in cases {
        let params = DiffusionParams::book(rows, cols).unwrap();
        let init = if wild {
            Array2::from_shape_fn((rows, cols), |_| rng.any_magnitude(1023))
        } else {
            rng.grid(rows, cols)
        };
        let init_path = dir.path().join(format!("init_{rows}x{cols}.npy"));
        write_npy(&init_path, &init);
        let want = common::evolve(&*common::scalar(), &params, init.view(), steps);
        let want_sum = diffusion::checksum(want.view());
        for ranks in 1..=4 {
            for backend in BACKENDS {
                let out = dir.path().join(format!("out_{rows}x{cols}_{ranks}.npy"));
                let report = json(&mpirun(
                    ranks,
                    &[
                        "diffusion",
                        "--backend",
                        backend,
                        "--init",
                        init_path.to_str().unwrap(),
                        "--steps",
                        &steps.to_string(),
                        "--out",
                        out.to_str().unwrap(),
                        "--json",
                    ],
                ));
                let got = read_npy::<f64>(&out);
                let case = format!("{rows}x{cols} x{steps} on {backend}, {ranks} ranks");
                assert_eq!(same_bits(&got, &want), None, "{case}: first differing cell");
                assert_eq!(report["ranks"], ranks, "{case}");
                let sum = report["checksum"].as_f64();
                // JSON has no NaN or infinity: serde_json writes null for them.
                if want_sum.is_finite() {
                    assert_eq!(sum.map(f64::to_bits), Some(want_sum.to_bits()), "{case}");
                }
            }
        }
    }
    // The book's initial square, generated by each rank for its own rows.
    let (rows, cols, steps) = (45, 31, 27);
    let params = DiffusionParams::book(rows, cols).unwrap();
    let init = params.book_initial().unwrap();
    let want = common::evolve(&*common::scalar(), &params, init.view(), steps);
    for ranks in 1..=4 {
        let out = dir.path().join(format!("book_{ranks}.npy"));
        let report = json(&mpirun(
            ranks,
            &[
                "diffusion",
                "--backend",
                "mpi:simd-wavefront",
                "--shape",
                &format!("{rows}x{cols}"),
                "--steps",
                &steps.to_string(),
                "--out",
                out.to_str().unwrap(),
                "--json",
            ],
        ));
        assert_eq!(
            same_bits(&read_npy(&out), &want),
            None,
            "book, {ranks} ranks"
        );
        assert_eq!(
            report["checksum"].as_f64().unwrap().to_bits(),
            diffusion::checksum(want.view()).to_bits()
        );
    }
}

/// Julia rows dealt round-robin to 1..4 ranks give scalar's counts, written in parallel into
/// one `.npy`, and the exact sum.
#[test]
fn julia_counts_are_scalar_for_1_to_4_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let region = Region {
        x1: -2.0,
        x2: 1.0,
        y1: -1.25,
        y2: 1.5,
    };
    let params = JuliaParams::new(37, 23, region, (0.285, 0.01), 1000).unwrap();
    let want = common::julia(&*common::scalar(), &params);
    for ranks in 1..=4 {
        for backend in BACKENDS {
            let out = dir.path().join(format!("julia_{ranks}.npy"));
            let report = json(&mpirun(
                ranks,
                &[
                    "julia",
                    "--backend",
                    backend,
                    "--width=37",
                    "--height=23",
                    "--region=-2,1,-1.25,1.5",
                    "--c=0.285,0.01",
                    "--max-iter=1000",
                    "--out",
                    out.to_str().unwrap(),
                    "--json",
                ],
            ));
            assert_eq!(read_npy::<u32>(&out), want, "{backend}, {ranks} ranks");
            assert_eq!(report["checksum"], julia::checksum(want.view()));
        }
    }
}

/// Each rank allocates its slab plus halos, not the grid: its peak RSS falls as ranks are
/// added. A 4000 x 1000 grid is 32 MB; one rank's two slab buffers are 64 MB, four ranks'
/// 16 MB each.
#[test]
fn a_rank_holds_its_slab_not_the_grid() {
    let peak = |ranks: usize| -> u64 {
        let report = json(&mpirun(
            ranks,
            &[
                "diffusion",
                "--backend",
                "mpi:simd",
                "--shape",
                "4000x1000",
                "--steps",
                "2",
                "--json",
            ],
        ));
        let per_rank = report["per_rank"].as_array().unwrap();
        assert_eq!(per_rank.len(), ranks);
        per_rank
            .iter()
            .map(|r| r["peak_rss_bytes"].as_u64().expect("peak RSS read"))
            .max()
            .unwrap()
    };
    let (one, four) = (peak(1), peak(4));
    let mib = |b: u64| b as f64 / 1048576.0;
    eprintln!(
        "largest peak RSS of a rank: 1 rank {:.1} MiB, 4 ranks {:.1} MiB",
        mib(one),
        mib(four)
    );
    // The slabs differ by 48 MB; allow half of it for everything else.
    assert!(
        four + 24_000_000 < one,
        "peak RSS of a rank: 1 rank {one} B, 4 ranks {four} B: a rank holds more than its slab"
    );
}

/// A non-finite value in the last rank's rows: every rank exits non-zero, one message (from
/// rank 0, naming the rank and the cell in the whole grid), no output file or temporary left.
/// Then an output directory that does not exist: the same, found by rank 0 alone.
#[test]
fn a_bad_input_on_one_rank_stops_every_rank_with_one_message_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut grid = Array2::from_elem((9, 4), 0.5);
    grid[[8, 2]] = f64::NAN;
    let init = dir.path().join("bad.npy");
    write_npy(&init, &grid);
    let out = dir.path().join("out.npy");
    let run = mpirun(
        3,
        &[
            "diffusion",
            "--backend",
            "mpi:simd",
            "--init",
            init.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("lancehead: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one message: {stderr}");
    assert!(
        errors[0].contains("rank 2 of 3") && errors[0].contains("value at (8, 2) is NaN"),
        "{}",
        errors[0]
    );
    assert!(!out.exists());
    assert_eq!(
        files_in(dir.path()),
        vec![init.clone()],
        "no partial or temporary file"
    );

    let missing = dir.path().join("no/such/dir/out.npy");
    let run = mpirun(
        2,
        &[
            "diffusion",
            "--backend",
            "mpi:simd-wavefront",
            "--shape",
            "6x6",
            "--out",
            missing.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("lancehead: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one message: {stderr}");
    assert!(errors[0].contains("--out"), "{}", errors[0]);
    assert_eq!(files_in(dir.path()), vec![init]);
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Outside an MPI launcher an MPI backend runs as one rank and says so, once.
#[test]
fn outside_mpirun_an_mpi_backend_is_one_rank_and_says_so() {
    let out = common::lancehead(&[
        "diffusion",
        "--backend",
        "mpi:simd",
        "--shape",
        "8x8",
        "--steps",
        "3",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("runs as 1 rank").count(), 1, "{stderr}");
    assert_eq!(json(&out)["ranks"], 1);
}
