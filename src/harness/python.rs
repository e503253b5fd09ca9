//! The book's own strategies as rows of `compare` (`--python`): pure Python, numpy, numexpr,
//! scipy, Numba, Cython and Pythran, run by `python/strategies/runner.py` in a child
//! interpreter, timed there with `time.perf_counter` (the kernel call alone; JIT and build
//! time apart), their results read back as `.npy` and judged against `scalar` like every
//! backend's, within the same budget.
//!
//! The interpreter is `$LANCEHEAD_PYTHON` (a virtualenv's `bin/python`, say), else `python3`.
//! The scripts are compiled into this binary and written, once per version, into the cache
//! folder (`$LANCEHEAD_PYTHON_CACHE`, else `~/.cache/lancehead/python`), where the Cython and
//! Pythran builds and Numba's cache stay between runs. A child is killed when it outlives its
//! timeout and when `compare` dies (see [`super::counters`]).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::registry::Agreement;
use crate::harness::budget::Budget;
use crate::harness::counters::{die_with_parent, run_with_timeout};
use crate::harness::measure::{self, Measurement, Reference};
use crate::problem::Kernel;
use crate::workload::{Output, Workload};

/// The runner and the strategy modules it imports, as compiled in.
const SCRIPTS: [(&str, &str); 9] = [
    (
        "runner.py",
        include_str!("../../python/strategies/runner.py"),
    ),
    ("pure.py", include_str!("../../python/strategies/pure.py")),
    (
        "numpy_strategies.py",
        include_str!("../../python/strategies/numpy_strategies.py"),
    ),
    (
        "numexpr_strategy.py",
        include_str!("../../python/strategies/numexpr_strategy.py"),
    ),
    (
        "scipy_strategy.py",
        include_str!("../../python/strategies/scipy_strategy.py"),
    ),
    (
        "numba_strategies.py",
        include_str!("../../python/strategies/numba_strategies.py"),
    ),
    (
        "cython_kernels.pyx",
        include_str!("../../python/strategies/cython_kernels.pyx"),
    ),
    (
        "pythran_kernels.py",
        include_str!("../../python/strategies/pythran_kernels.py"),
    ),
    ("__init__.py", ""),
];
/// Rows are named `python:<strategy>`.
pub const PREFIX: &str = "python:";
/// Finding the interpreter and its packages.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);
/// Building a strategy (Cython and Pythran compile C and C++ at first use) and its probes.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// How a Python row was run, beside its timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonRun {
    /// Whose clock timed the runs.
    pub clock: String,
    /// Seconds to build (Cython, Pythran), import and JIT-compile (Numba) the strategy and
    /// run it once on a tiny problem: not part of any timed run.
    pub compile_seconds: f64,
    /// Interpreter and package versions.
    pub versions: BTreeMap<String, String>,
}

/// One strategy the runner offers.
#[derive(Debug, Clone, Deserialize)]
struct StrategyInfo {
    name: String,
    kernels: Vec<String>,
    available: bool,
    reason: Option<String>,
    parallel: bool,
    agreement: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, Deserialize)]
struct ProbeReply {
    python: String,
    numpy: String,
    strategies: Vec<StrategyInfo>,
}

/// A usable interpreter with numpy, and what it offers.
#[derive(Debug, Clone)]
pub struct Python {
    interpreter: PathBuf,
    scripts: PathBuf,
    /// `CPython 3.11.7, numpy 2.4.6, /path/to/python`.
    pub description: String,
    strategies: Vec<StrategyInfo>,
}

/// A row to measure: one strategy on one kernel.
#[derive(Debug, Clone)]
pub struct Strategy {
    /// `python:numba`.
    pub name: String,
    strategy: String,
    kernel: Kernel,
    class: Agreement,
    parallel: bool,
}

impl Python {
    /// Finds the interpreter and asks it which strategies it can run; `Err` says why there are
    /// no Python rows (no interpreter, no numpy).
    pub fn find() -> Result<Python, String> {
        let interpreter = std::env::var_os("LANCEHEAD_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("python3"));
        let scripts = install_scripts()?;
        let mut command = Command::new(&interpreter);
        command
            .arg(scripts.join("runner.py"))
            .arg("probe")
            .arg(scripts.join("build"));
        let shown = interpreter.display();
        let stdout = run_with_timeout(command, PROBE_TIMEOUT).map_err(|e| {
            format!(
                "no usable Python at {shown} ({e}); set LANCEHEAD_PYTHON to an interpreter \
                 with numpy (pip install numpy)"
            )
        })?;
        let reply: ProbeReply = serde_json::from_str(stdout.trim())
            .map_err(|e| format!("{shown} answered the probe with something else ({e})"))?;
        Ok(Python {
            description: format!("{}, numpy {}, {shown}", reply.python, reply.numpy),
            interpreter,
            scripts,
            strategies: reply.strategies,
        })
    }

    /// The rows for `kernels`, and the strategies that cannot run here with the reason
    /// (`not installed: pip install numba`).
    pub fn rows(&self, kernels: &[Kernel]) -> (Vec<Strategy>, Vec<(String, String)>) {
        let mut rows = Vec::new();
        let mut unavailable = Vec::new();
        for s in &self.strategies {
            let name = format!("{PREFIX}{}", s.name);
            if !s.available {
                let reason = s.reason.clone().unwrap_or_else(|| "unavailable".into());
                unavailable.push((name, reason));
                continue;
            }
            for &kernel in kernels {
                if !s.kernels.iter().any(|k| k == kernel.as_str()) {
                    continue;
                }
                let class = match s.agreement.get(kernel.as_str()).cloned().flatten() {
                    Some(c) if c == "exact" => Agreement::Exact,
                    _ => Agreement::ToleranceF64,
                };
                rows.push(Strategy {
                    name: name.clone(),
                    strategy: s.name.clone(),
                    kernel,
                    class,
                    parallel: s.parallel,
                });
            }
        }
        (rows, unavailable)
    }

    /// Measures `strategy` on `workload` within `budget`. `smaller` is the prediction from
    /// the strategy's smaller workloads (the budget's rule for every backend); without one,
    /// the runner's two probe runs give it. `Err` is a failure of the row, in words.
    pub fn measure(
        &self,
        strategy: &Strategy,
        workload: &Workload,
        budget: &Budget,
        reference: Option<&Reference>,
        smaller: Option<f64>,
    ) -> Result<Measurement, String> {
        let work = tempfile::Builder::new()
            .prefix("lancehead-python-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        let out = work.path().join("out.npy");
        let request = request(strategy, workload, work.path(), &out)?;
        let mut child = Runner::start(self, &work.path().join("stderr.txt"))?;
        child.send(&request.to_string())?;
        let ready = child.answer(READY_TIMEOUT)?;
        let predicted = smaller.or_else(|| probe_prediction(&ready, workload, reference));
        if budget.skips(predicted) {
            return Ok(Measurement::skipped(
                &strategy.name,
                workload,
                measure::Skipped {
                    predicted_seconds: predicted.unwrap_or_default(),
                    budget_seconds: budget.cell_seconds,
                },
            ));
        }
        // The budget's timeout for one call: the whole cell's time, with room for a slow host.
        let call_timeout = Duration::from_secs_f64((budget.cell_seconds * 3.0).max(60.0));
        let mut call = || -> Result<f64, String> {
            child.send("call")?;
            let reply = child.answer(call_timeout)?;
            reply["seconds"]
                .as_f64()
                .ok_or_else(|| format!("the runner answered a call with {reply}"))
        };
        let first = call()?;
        let sampling = budget.plan(first);
        let mut seconds = Vec::new();
        if sampling.first_is_timed {
            seconds.push(first);
        }
        for _ in 0..sampling.more_runs {
            seconds.push(call()?);
        }
        child.send("save")?;
        child.answer(call_timeout)?;
        child.finish();
        let run = PythonRun {
            clock: "time.perf_counter in the Python runner (the kernel call alone)".into(),
            compile_seconds: ready["compile_seconds"].as_f64().unwrap_or(f64::NAN),
            versions: serde_json::from_value(ready["versions"].clone()).unwrap_or_default(),
        };
        let threads = if strategy.parallel {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            1
        };
        let external = measure::External {
            seconds,
            warmed_up: !sampling.first_is_timed,
            class: strategy.class,
            cpu_threads: threads,
            python: run,
        };
        let bad = |e: ndarray_npy::ReadNpyError| format!("cannot read the runner's result: {e}");
        Ok(match workload.kernel() {
            Kernel::Julia => {
                let counts: Array2<u32> = ndarray_npy::read_npy(&out).map_err(bad)?;
                check_shape(counts.dim(), workload)?;
                measure::external_cell(
                    &strategy.name,
                    workload,
                    external,
                    Output::Counts(counts.view()),
                    reference,
                )
            }
            Kernel::Diffusion => {
                let grid: Array2<f64> = ndarray_npy::read_npy(&out).map_err(bad)?;
                check_shape(grid.dim(), workload)?;
                measure::external_cell(
                    &strategy.name,
                    workload,
                    external,
                    Output::Grid(grid.view()),
                    reference,
                )
            }
        })
    }
}

impl Strategy {
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }
}

fn check_shape(found: (usize, usize), workload: &Workload) -> Result<(), String> {
    let expected = workload.shape();
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "the runner's result has shape {found:?}, expected {expected:?}"
        ))
    }
}

/// The workload for the runner: the harness's own coordinates and initial grid as `.npy`
/// files (nothing is recomputed in Python), `k = d*dt` as computed here.
fn request(
    strategy: &Strategy,
    workload: &Workload,
    dir: &Path,
    out: &Path,
) -> Result<Value, String> {
    let npy = |name: &str, a: &Array2<f64>| -> Result<String, String> {
        let path = dir.join(name);
        ndarray_npy::write_npy(&path, a).map_err(|e| format!("cannot write {name}: {e}"))?;
        Ok(path.display().to_string())
    };
    let text = |e: crate::Error| e.to_string();
    let mut r = serde_json::json!({
        "strategy": strategy.strategy,
        "kernel": strategy.kernel.as_str(),
        "out": out.display().to_string(),
    });
    if let Some(p) = workload.julia_params().map_err(text)? {
        let row = |v: &[f64]| Array2::from_shape_vec((1, v.len()), v.to_vec());
        let xs = row(p.xs()).map_err(|e| e.to_string())?;
        let ys = row(p.ys()).map_err(|e| e.to_string())?;
        r["xs"] = npy("xs.npy", &xs)?.into();
        r["ys"] = npy("ys.npy", &ys)?.into();
        r["cr"] = p.c().0.into();
        r["ci"] = p.c().1.into();
        r["max_iter"] = p.max_iter().into();
    }
    if let Some(p) = workload.diffusion_params().map_err(text)? {
        let init = workload
            .initial_grid()
            .map_err(text)?
            .ok_or("a diffusion workload has an initial grid")?;
        r["init"] = npy("init.npy", &init)?.into();
        r["steps"] = workload.iterations().into();
        r["k"] = p.k().into();
    }
    Ok(r)
}

/// The seconds of the real call, from the runner's two probe runs (a small problem and one
/// about four times larger): a fixed cost (per step for diffusion) plus a cost per update,
/// fitted through the two, so numpy's per-call overhead does not count as work. Julia's
/// updates are `scalar`'s sum of counts when known, else the probes' scaled by pixels.
fn probe_prediction(
    ready: &Value,
    workload: &Workload,
    reference: Option<&Reference>,
) -> Option<f64> {
    let probes = ready["probes"].as_array()?;
    let pair = |i: usize| -> Option<(f64, f64, f64)> {
        let p = probes.get(i)?;
        Some((
            p["seconds"].as_f64()?,
            p["updates"].as_f64()?,
            p["pixels"].as_f64()?,
        ))
    };
    let (t0, u0, px0) = pair(0)?;
    let (t1, u1, _) = pair(1)?;
    let per_update = if u1 > u0 && t1 > t0 {
        (t1 - t0) / (u1 - u0)
    } else {
        t1 / u1.max(1.0)
    };
    let fixed = (t0 - per_update * u0).max(0.0);
    let (rows, cols) = workload.shape();
    let (updates, fixed) = match workload.kernel() {
        Kernel::Diffusion => {
            let probe_steps = ready["probe_steps"].as_f64().unwrap_or(1.0).max(1.0);
            let steps = f64::from(workload.iterations());
            (
                workload.diffusion_updates()? as f64,
                fixed * steps / probe_steps,
            )
        }
        Kernel::Julia => {
            let updates = reference
                .and_then(Reference::julia_updates)
                .map(|u| u as f64)
                .unwrap_or(u0 * (rows * cols) as f64 / px0.max(1.0));
            (updates, fixed)
        }
    };
    // The fit extrapolates the small probe's fixed cost far (500 steps from 4): noise in it
    // would grow with that, so the prediction is never above plain scaling of the larger
    // probe by updates (which over-states by at most the overhead's share of that probe).
    let plain = t1 / u1.max(1.0) * updates;
    Some((fixed + per_update * updates).min(plain))
}

/// Writes the scripts into the cache folder, in a subfolder named after their contents so a
/// new build never runs old scripts; returns that folder.
fn install_scripts() -> Result<PathBuf, String> {
    let root = std::env::var_os("LANCEHEAD_PYTHON_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("lancehead").join("python"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("lancehead-python"));
    // FNV-1a over the scripts: a content tag, not a security measure.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, text) in SCRIPTS {
        for b in name.bytes().chain(text.bytes()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let dir = root.join(format!("scripts-{hash:016x}"));
    if dir.join("runner.py").is_file() {
        return Ok(dir);
    }
    let cannot = |e: std::io::Error| {
        format!(
            "cannot write the Python runner into {} ({e}); set LANCEHEAD_PYTHON_CACHE to a \
             writable folder",
            root.display()
        )
    };
    std::fs::create_dir_all(&root).map_err(cannot)?;
    // Written in a staging folder and renamed into place: two runs at once never see half
    // a script.
    let staging = tempfile::Builder::new()
        .prefix(".scripts-")
        .tempdir_in(&root)
        .map_err(cannot)?;
    for (name, text) in SCRIPTS {
        std::fs::write(staging.path().join(name), text).map_err(cannot)?;
    }
    let staged = staging.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        // Another run put the same scripts there first.
        let _ = std::fs::remove_dir_all(&staged);
    }
    Ok(dir)
}

/// A serving runner: requests on its stdin, one JSON answer a line on its stdout.
struct Runner {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr: PathBuf,
}

impl Runner {
    fn start(python: &Python, stderr: &Path) -> Result<Runner, String> {
        let log = std::fs::File::create(stderr).map_err(|e| e.to_string())?;
        let mut command = Command::new(&python.interpreter);
        command
            .arg(python.scripts.join("runner.py"))
            .arg("serve")
            .arg(python.scripts.join("build"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log);
        die_with_parent(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.interpreter.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Runner {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: stderr.to_path_buf(),
        })
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the runner's input is closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("the runner stopped reading ({e}){}", self.last_error()))
    }

    /// The next answer; an `{"error": ...}` answer, an exit or a timeout is an `Err`.
    fn answer(&mut self, timeout: Duration) -> Result<Value, String> {
        let line = match self.lines.recv_timeout(timeout) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(format!("cannot read the runner ({e})")),
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "the runner did not answer within {} s",
                    timeout.as_secs()
                ));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(format!("the runner exited ({status}){}", self.last_error()));
            }
        };
        let value: Value = serde_json::from_str(&line)
            .map_err(|e| format!("the runner printed {line:?} ({e})"))?;
        match value.get("error").and_then(Value::as_str) {
            Some(e) => Err(e.to_string()),
            None => Ok(value),
        }
    }

    fn last_error(&self) -> String {
        std::fs::read_to_string(&self.stderr)
            .ok()
            .and_then(|s| s.lines().last().map(|l| format!(": {}", l.trim())))
            .unwrap_or_default()
    }

    /// Closes its input; it exits.
    fn finish(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
