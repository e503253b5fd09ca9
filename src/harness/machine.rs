//! What the measurements ran on: CPU, cores, memory, OS, compilers, and each backend's own
//! details (the SIMD path it chose, its thread count, its GPU adapter), plus peak RSS.

use std::collections::BTreeMap;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;

/// A description of this machine and build, saved with every report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo with its family and model (or the architecture when
    /// unknown).
    pub cpu: String,
    /// The x86 vector extensions the CPU reports (`avx512f avx2 sse2`), and `hypervisor`
    /// when it runs in a virtual machine.
    pub cpu_flags: String,
    /// Threads this process may run at once.
    pub logical_cpus: usize,
    pub memory_bytes: Option<u64>,
    /// `linux x86_64 6.1.0-...`.
    pub os: String,
    /// `lancehead 0.1.0 (release build)`.
    pub lancehead: String,
    /// Compilers found on PATH (`rustc`, `cc`, `gfortran`), first line of `--version`.
    pub compilers: BTreeMap<String, String>,
    /// `details()` of every available backend: SIMD path, threads, GPU adapter, ...
    pub backends: BTreeMap<String, BTreeMap<String, String>>,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
}

impl Machine {
    /// Describes this machine and the given backends.
    pub fn describe<'a>(backends: impl IntoIterator<Item = &'a dyn Backend>) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = match (
            field(&cpuinfo, "model name"),
            field(&cpuinfo, "cpu family"),
            field(&cpuinfo, "model"),
        ) {
            (Some(name), Some(family), Some(model)) => {
                format!("{name} (family {family}, model {model})")
            }
            (Some(name), ..) => name,
            _ => std::env::consts::ARCH.to_string(),
        };
        let flags = field(&cpuinfo, "flags").unwrap_or_default();
        let flags: Vec<&str> = flags.split_whitespace().collect();
        let cpu_flags = ["avx512f", "avx2", "fma", "sse2", "hypervisor"]
            .into_iter()
            .filter(|f| flags.contains(f))
            .collect::<Vec<_>>()
            .join(" ");
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| field(&m, "MemTotal"))
            .and_then(|kb| kb.trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024);
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let os = format!(
            "{} {} {}",
            std::env::consts::OS,
            std::env::consts::ARCH,
            release.trim()
        )
        .trim()
        .to_string();
        let profile = if cfg!(debug_assertions) {
            "debug build: timings are not representative"
        } else {
            "release build"
        };
        let compilers = ["rustc", "cc", "gfortran"]
            .into_iter()
            .filter_map(|tool| Some((tool.to_string(), version_of(tool)?)))
            .collect();
        let backends = backends
            .into_iter()
            .map(|b| {
                let details = b
                    .details()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                (b.name().to_string(), details)
            })
            .collect();
        Machine {
            cpu,
            cpu_flags,
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
            os,
            lancehead: format!("lancehead {} ({profile})", env!("CARGO_PKG_VERSION")),
            compilers,
            backends,
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// One line for report headers: `AMD EPYC ..., 2 logical CPUs, 23.4 GiB, linux x86_64 ...`.
    pub fn summary(&self) -> String {
        let memory = self
            .memory_bytes
            .map(|b| format!(", {:.1} GiB", b as f64 / (1u64 << 30) as f64))
            .unwrap_or_default();
        let flags = if self.cpu_flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.cpu_flags)
        };
        format!(
            "{}{flags}, {} logical CPUs{memory}, {}",
            self.cpu, self.logical_cpus, self.os
        )
    }
}

/// The value of the first `key : value` line of a /proc file.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// The first line of `tool --version`, if the tool runs.
fn version_of(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next()?.trim().to_string())
}

/// Peak resident set size of this process so far (`VmHWM`), in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = field(&status, "VmHWM")?;
    Some(kb.trim_end_matches("kB").trim().parse::<u64>().ok()? * 1024)
}

/// Resets the peak RSS to the current RSS (Linux `clear_refs` 5), so that the next
/// [`peak_rss`] covers only what runs in between. Returns whether the reset worked; when it
/// did not, the peak is the process's since it started.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
