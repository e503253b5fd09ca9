//! Instruction counts of one kernel call, the book's `perf stat` figures.
//!
//! Either way the kernel runs in a child process — this program again, given a
//! [`ChildRequest`] serialized as JSON after the hidden [`CHILD_COMMAND`] — that prepares the
//! workload, warms the backend up once, and counts one more call:
//! - **perf**: hardware counters through `perf_event_open`, opened in the child before any
//!   worker thread exists and inherited by the threads it starts, enabled around the call.
//! - **callgrind**: the child runs under `valgrind --tool=callgrind --instr-atstart=no` and
//!   switches instrumentation on and off around the call with valgrind client requests.
//!   Instrumentation is global, so rayon's worker threads are counted too (callgrind runs
//!   threads one at a time). `Ir` is the instructions executed; `--cache-sim` adds the
//!   simulated cache misses.
//!
//! A child is killed when it outlives its timeout, and (Linux) when the `compare` process
//! that started it dies, so an interrupted run leaves no valgrind behind.
//! [`plan`] decides once, before anything runs, which source this machine offers.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::problem::Kernel;
use crate::registry;
use crate::workload::Workload;

/// The hidden subcommand of the `lancehead` binary that runs a [`ChildRequest`]; its one
/// argument is the request as JSON.
pub const CHILD_COMMAND: &str = "__kernel";

/// Which counters `compare` should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CounterMode {
    /// Hardware counters where the kernel allows them, else callgrind, else none (and why).
    Auto,
    /// Hardware counters through perf_event_open; an error where they are not allowed.
    Perf,
    /// valgrind's callgrind; an error where valgrind is missing.
    Callgrind,
    /// No instruction counts.
    Off,
}

impl CounterMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CounterMode::Auto => "auto",
            CounterMode::Perf => "perf",
            CounterMode::Callgrind => "callgrind",
            CounterMode::Off => "off",
        }
    }
}

/// Where a figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Perf,
    Callgrind,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Perf => "perf",
            Source::Callgrind => "callgrind",
        }
    }
}

/// The counters this run will use, decided by [`plan`].
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Perf,
    Callgrind {
        /// `valgrind --version`.
        valgrind: String,
        cache_sim: bool,
    },
    /// No counters, and why (shown in the report).
    Off {
        reason: String,
    },
}

impl Plan {
    /// A one-line description for the report.
    pub fn describe(&self) -> String {
        match self {
            Plan::Perf => "perf_event_open hardware counters (user space), inherited by \
                           worker threads"
                .to_string(),
            Plan::Callgrind {
                valgrind,
                cache_sim,
            } => format!(
                "{valgrind} --tool=callgrind{}, instrumentation switched on around the \
                 kernel call by client requests",
                if *cache_sim { " --cache-sim=yes" } else { "" }
            ),
            Plan::Off { reason } => format!("none: {reason}"),
        }
    }

    /// The source of the figures, when there are any.
    pub fn source(&self) -> Option<Source> {
        match self {
            Plan::Perf => Some(Source::Perf),
            Plan::Callgrind { .. } => Some(Source::Callgrind),
            Plan::Off { .. } => None,
        }
    }
}

/// Decides which counters `mode` gives on this machine. A source asked for by name that is
/// not available is an error; `auto` falls back and says why.
pub fn plan(mode: CounterMode, cache_sim: bool) -> Result<Plan> {
    let callgrind = || {
        valgrind_version().map(|valgrind| Plan::Callgrind {
            valgrind,
            cache_sim,
        })
    };
    let unavailable = |reason| Error::CountersUnavailable {
        mode: mode.as_str(),
        reason,
    };
    match mode {
        CounterMode::Off => Ok(Plan::Off {
            reason: "switched off".to_string(),
        }),
        CounterMode::Perf => perf::probe().map(|()| Plan::Perf).map_err(unavailable),
        CounterMode::Callgrind => callgrind().map_err(unavailable),
        CounterMode::Auto => match perf::probe() {
            Ok(()) => Ok(Plan::Perf),
            Err(perf_reason) => callgrind().or_else(|cg_reason| {
                Ok(Plan::Off {
                    reason: format!("no hardware counters ({perf_reason}); {cg_reason}"),
                })
            }),
        },
    }
}

fn valgrind_version() -> std::result::Result<String, String> {
    if !callgrind::SUPPORTED {
        return Err(format!(
            "callgrind client requests are not implemented for {}",
            std::env::consts::ARCH
        ));
    }
    match Command::new("valgrind").arg("--version").output() {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        Ok(out) => Err(format!("`valgrind --version` failed with {}", out.status)),
        Err(e) => Err(format!(
            "valgrind not found ({e}); install it (Debian: apt-get install valgrind)"
        )),
    }
}

/// What a counting child is asked to count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildRequest {
    pub backend: String,
    pub workload: Workload,
    pub source: Source,
}

/// The counts of one kernel call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CounterRecord {
    pub kernel: Kernel,
    pub backend: String,
    /// The problem counted (callgrind runs a smaller one than the timings).
    pub problem: String,
    pub source: Source,
    /// z-updates (Julia: the sum of counts) or cell updates (diffusion) of that call.
    pub updates: u64,
    /// `instructions`, `cycles`, ... (perf) or `Ir`, `D1mr`, ... (callgrind).
    pub events: BTreeMap<String, u64>,
    /// Device backends: only the host's share of the work is counted.
    pub host_side_only: bool,
}

impl CounterRecord {
    /// Instructions executed (perf `instructions`, callgrind `Ir`).
    pub fn instructions(&self) -> Option<u64> {
        self.events
            .get("instructions")
            .or_else(|| self.events.get("Ir"))
            .copied()
    }
}

/// What the child prints (one JSON line on stdout).
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildReport {
    pub updates: u64,
    /// perf's counts; empty under callgrind (the parent reads callgrind's own file).
    pub events: BTreeMap<String, u64>,
}

/// Counts `backend` on `workload` in a child process running `exe` (this program), within
/// `timeout`.
pub fn count(
    plan: &Plan,
    backend: &str,
    workload: &Workload,
    exe: &Path,
    timeout: Duration,
    host_side_only: bool,
) -> Result<CounterRecord> {
    let failed = |message: String| Error::Counting {
        what: format!("{backend} {} ({workload})", workload.kernel().as_str()),
        message,
    };
    let Some(source) = plan.source() else {
        return Err(failed(plan.describe()));
    };
    // Listed for the signal handler: an interrupted `compare` leaves no folder behind.
    let (dir, _listed) =
        crate::io::interrupt::ListedFolder::make(tempfile::tempdir, |t| t.path().to_path_buf())
            .map_err(|e| failed(format!("temporary directory: {e}")))?;
    let out_file = dir.path().join("callgrind.out");
    let mut command = match plan {
        Plan::Callgrind { cache_sim, .. } => {
            let mut c = Command::new("valgrind");
            c.arg("--tool=callgrind")
                .arg("--instr-atstart=no")
                .arg(format!("--callgrind-out-file={}", out_file.display()))
                .arg(format!(
                    "--log-file={}",
                    dir.path().join("valgrind.log").display()
                ))
                .arg(format!(
                    "--cache-sim={}",
                    if *cache_sim { "yes" } else { "no" }
                ))
                .arg(exe);
            c
        }
        _ => Command::new(exe),
    };
    let request = ChildRequest {
        backend: backend.to_string(),
        workload: workload.clone(),
        source,
    };
    command
        .arg(CHILD_COMMAND)
        .arg(serde_json::to_string(&request).map_err(|e| failed(format!("request: {e}")))?);
    let stdout = run_with_timeout(command, timeout).map_err(|e| {
        // valgrind hides AVX-512 from CPUID, so run-time dispatch stays off it; code compiled
        // for this CPU (-march=native) uses it regardless and dies.
        if source == Source::Callgrind && e.contains("SIGILL") {
            failed(format!(
                "{e}valgrind cannot run an instruction of this backend (code compiled for \
                 this CPU, e.g. -march=native with AVX-512, which valgrind does not know)"
            ))
        } else {
            failed(e)
        }
    })?;
    let report: ChildReport = serde_json::from_str(stdout.trim())
        .map_err(|e| failed(format!("unreadable child report ({e}): {stdout}")))?;
    let events = match source {
        Source::Perf => report.events,
        Source::Callgrind => {
            let text = std::fs::read_to_string(&out_file)
                .map_err(|e| failed(format!("{}: {e}", out_file.display())))?;
            callgrind::parse_totals(&text).map_err(failed)?
        }
    };
    let record = CounterRecord {
        kernel: workload.kernel(),
        backend: backend.to_string(),
        problem: workload.to_string(),
        source,
        updates: report.updates,
        events,
        host_side_only,
    };
    match record.instructions() {
        Some(n) if n > 0 => Ok(record),
        _ => Err(failed("no instructions were counted".to_string())),
    }
}

/// Runs `command`, returns its stdout; kills it after `timeout`, and (Linux) when this
/// process dies first.
pub(crate) fn run_with_timeout(
    mut command: Command,
    timeout: Duration,
) -> std::result::Result<String, String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    // The child's output is a line or two, well within a pipe's buffer, so reading after
    // it exits cannot dead-lock.
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut stdout);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut stderr);
    }
    if status.success() {
        Ok(stdout)
    } else {
        let last = stderr.lines().last().unwrap_or("").trim().to_string();
        Err(format!("child exited with {status}: {last}"))
    }
}

/// Asks the kernel to kill the child when the thread that started it dies (Linux's parent
/// death signal). The thread waits for the child, so it only dies first with the process.
#[cfg(target_os = "linux")]
pub(crate) fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only makes one
    // async-signal-safe system call.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn die_with_parent(_command: &mut Command) {}

/// The child's side: counts one call of `request` and returns what to print.
pub fn child(request: &ChildRequest) -> Result<ChildReport> {
    // Open the counters before anything can start a thread, so worker threads inherit them.
    let mut perf = match request.source {
        Source::Perf => {
            Some(
                perf::Counters::open().map_err(|reason| Error::CountersUnavailable {
                    mode: "perf",
                    reason,
                })?,
            )
        }
        Source::Callgrind => None,
    };
    let backend = registry::create(&request.backend)?;
    let mut run = request.workload.prepare()?;
    // Warm-up: thread pools, run-time dispatch and device set-up are not the kernel.
    run.call(&*backend)?;
    run.reset()?;
    let mut counting = |on: bool| match (perf.as_mut(), on) {
        (Some(p), true) => p.enable(),
        (Some(p), false) => p.disable(),
        (None, true) => callgrind::start_instrumentation(),
        (None, false) => callgrind::stop_instrumentation(),
    };
    counting(true);
    let result = run.call(&*backend);
    counting(false);
    result?;
    let events = perf.as_mut().map(|p| p.read()).unwrap_or_default();
    Ok(ChildReport {
        updates: run.updates(),
        events,
    })
}

/// Hardware counters through `perf_event_open`.
mod perf {
    use std::collections::BTreeMap;

    #[cfg(target_os = "linux")]
    use perf_event::events::{Event, Hardware, Software};
    #[cfg(target_os = "linux")]
    use perf_event::{Builder, Counter};

    /// Whether this process may count instructions (VMs and locked-down kernels refuse).
    #[cfg(target_os = "linux")]
    pub fn probe() -> Result<(), String> {
        Builder::new(Hardware::INSTRUCTIONS)
            .build()
            .map(drop)
            .map_err(|e| {
                let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                    .map(|p| format!(", perf_event_paranoid = {}", p.trim()))
                    .unwrap_or_default();
                format!("perf_event_open refused instructions: {e}{paranoid}")
            })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn probe() -> Result<(), String> {
        Err("perf_event_open exists on Linux only".to_string())
    }

    /// The book's `perf stat` set, each counter inherited by threads started later.
    #[cfg(target_os = "linux")]
    pub struct Counters(Vec<(&'static str, Counter)>);

    #[cfg(target_os = "linux")]
    impl Counters {
        pub fn open() -> Result<Self, String> {
            fn open_one(
                name: &'static str,
                event: impl Event,
            ) -> Result<(&'static str, Counter), String> {
                Builder::new(event)
                    .inherit(true)
                    .build()
                    .map(|c| (name, c))
                    .map_err(|e| format!("perf_event_open {name}: {e}"))
            }
            Ok(Counters(vec![
                open_one("instructions", Hardware::INSTRUCTIONS)?,
                open_one("cycles", Hardware::CPU_CYCLES)?,
                open_one("cache-references", Hardware::CACHE_REFERENCES)?,
                open_one("cache-misses", Hardware::CACHE_MISSES)?,
                open_one("branches", Hardware::BRANCH_INSTRUCTIONS)?,
                open_one("branch-misses", Hardware::BRANCH_MISSES)?,
                open_one("page-faults", Software::PAGE_FAULTS)?,
            ]))
        }

        pub fn enable(&mut self) {
            for (_, c) in &mut self.0 {
                let _ = c.enable();
            }
        }

        pub fn disable(&mut self) {
            for (_, c) in &mut self.0 {
                let _ = c.disable();
            }
        }

        /// Reads every counter (scaled when the PMU multiplexed them).
        pub fn read(&mut self) -> BTreeMap<String, u64> {
            self.0
                .iter_mut()
                .filter_map(|(name, c)| {
                    let data = c.read_full().ok()?;
                    let count = match (data.time_enabled(), data.time_running()) {
                        (Some(enabled), Some(running))
                            if !running.is_zero() && running < enabled =>
                        {
                            (data.count() as f64 * enabled.as_secs_f64() / running.as_secs_f64())
                                as u64
                        }
                        _ => data.count(),
                    };
                    Some((name.to_string(), count))
                })
                .collect()
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub struct Counters;

    #[cfg(not(target_os = "linux"))]
    impl Counters {
        pub fn open() -> Result<Self, String> {
            Err("perf_event_open exists on Linux only".to_string())
        }
        pub fn enable(&mut self) {}
        pub fn disable(&mut self) {}
        pub fn read(&mut self) -> BTreeMap<String, u64> {
            BTreeMap::new()
        }
    }
}

/// valgrind client requests (callgrind.h) and callgrind's output file.
mod callgrind {
    use std::collections::BTreeMap;

    /// `VG_USERREQ_TOOL_BASE('C', 'T')`, the first callgrind request.
    const BASE: u64 = ((b'C' as u64) << 24) | ((b'T' as u64) << 16);
    const START_INSTRUMENTATION: u64 = BASE + 4;
    const STOP_INSTRUMENTATION: u64 = BASE + 5;

    /// Whether client requests are implemented for this architecture.
    pub const SUPPORTED: bool = cfg!(target_arch = "x86_64");

    /// valgrind's "special instruction sequence" (valgrind.h, amd64): rotations of rdi that
    /// add up to 128 bits (a no-op on a real CPU), then `xchg rbx, rbx`. Under valgrind it
    /// performs the request whose arguments `rax` points to; natively it returns `default`.
    #[cfg(target_arch = "x86_64")]
    fn client_request(request: u64) -> u64 {
        let args: [u64; 6] = [request, 0, 0, 0, 0, 0];
        let result: u64;
        // SAFETY: the sequence changes no register but rdx (declared) and rdi (restored by
        // its own rotations, declared clobbered anyway); it reads `args`, which outlives it.
        unsafe {
            std::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                inout("rdx") 0u64 => result,
                in("rax") args.as_ptr(),
                out("rdi") _,
                options(nostack, preserves_flags),
            );
        }
        result
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn client_request(_request: u64) -> u64 {
        0
    }

    /// Starts counting (a no-op outside valgrind).
    pub fn start_instrumentation() {
        client_request(START_INSTRUMENTATION);
    }

    /// Stops counting (a no-op outside valgrind, and when already stopped).
    pub fn stop_instrumentation() {
        client_request(STOP_INSTRUMENTATION);
    }

    /// The event totals of a callgrind output file: its `events:` line names the columns of
    /// its `totals:` (or, failing that, `summary:`) line.
    pub fn parse_totals(text: &str) -> Result<BTreeMap<String, u64>, String> {
        let line = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key).map(str::trim))
        };
        let names = line("events:").ok_or("no `events:` line in callgrind output")?;
        let values = line("totals:")
            .or_else(|| line("summary:"))
            .ok_or("no `totals:` or `summary:` line in callgrind output")?;
        let values: Vec<u64> = values
            .split_whitespace()
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|e| format!("callgrind total `{v}`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        // Trailing zero columns may be left out.
        Ok(names
            .split_whitespace()
            .enumerate()
            .map(|(i, name)| (name.to_string(), values.get(i).copied().unwrap_or(0)))
            .collect())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn totals_follow_the_events_line() {
            let text = "version: 1\ncmd: x\nevents: Ir Dr D1mr\nfn=(1) f\n3 4 5\nsummary: 120 7\ntotals: 123 8\n";
            let t = parse_totals(text).unwrap();
            assert_eq!(t["Ir"], 123);
            assert_eq!(t["Dr"], 8);
            assert_eq!(t["D1mr"], 0);
            assert!(parse_totals("events: Ir\n").is_err());
        }

        #[test]
        fn client_requests_are_harmless_outside_valgrind() {
            start_instrumentation();
            stop_instrumentation();
        }
    }
}
