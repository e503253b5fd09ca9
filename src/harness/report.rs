//! The reports of a `compare` run: Markdown shaped like the book's tables, CSV and JSON of
//! every measurement, and the speed-up plot, all staged first and committed together, so an
//! interrupted or failed run leaves none of them half-written.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::harness::counters::CounterRecord;
use crate::harness::measure::Measurement;
use crate::harness::{Kernel, Results, plot};
use crate::io::atomic::{self, Staged};

/// File names under `--out`.
pub const MARKDOWN: &str = "compare.md";
pub const CSV: &str = "compare.csv";
pub const COUNTERS_CSV: &str = "counters.csv";
pub const JSON: &str = "compare.json";
pub const PLOT_SVG: &str = "speedup.svg";
pub const PLOT_PNG: &str = "speedup.png";

/// Writes every report under `dir`: all of them, or none.
pub fn write_all(results: &Results, dir: &Path) -> Result<()> {
    let text = |name: &str, body: String| -> Result<Staged> {
        atomic::stage(&dir.join(name), "--out", |out: &mut dyn Write| {
            out.write_all(body.as_bytes()).map_err(|source| Error::Io {
                arg: "--out",
                path: dir.join(name),
                source,
            })
        })
    };
    let mut staged = vec![
        text(MARKDOWN, markdown(results)),
        text(CSV, csv(results)),
        text(COUNTERS_CSV, counters_csv(results)),
        text(JSON, json(results)),
    ];
    if let Some(svg) = plot::svg(results) {
        staged.push(svg.and_then(|svg| text(PLOT_SVG, svg)));
    }
    if let Some(png) = plot::png(results, &dir.join(PLOT_PNG)) {
        staged.push(png);
    }
    atomic::commit_all(staged)
}

/// The whole results as one JSON document (also what `compare --json` prints).
pub fn json(results: &Results) -> String {
    serde_json::to_string_pretty(results).expect("results serialize") + "\n"
}

/// `0.0123` seconds in a width that keeps the book's tables readable.
fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0}")
    } else if s >= 1.0 {
        format!("{s:.2}")
    } else if s >= 0.01 {
        format!("{s:.3}")
    } else {
        format!("{s:.5}")
    }
}

/// `1.23e9`-style counts, short.
fn si(x: f64) -> String {
    let (v, unit) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|&(scale, _)| x.abs() >= scale)
        .map_or((x, ""), |(scale, unit)| (x / scale, unit));
    format!("{v:.3}{unit}")
}

fn bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

fn agreement_cell(m: &Measurement) -> String {
    let verdict = if m.agreement.pass { "ok" } else { "**FAIL**" };
    let class = match m.agreement.class {
        crate::registry::Agreement::Exact => "exact",
        crate::registry::Agreement::ToleranceF64 => "f64 tolerance",
        crate::registry::Agreement::ToleranceF32 => "f32 tolerance",
    };
    format!("{verdict} ({class}): {}", m.agreement.detail)
}

fn allocs_cell(m: &Measurement) -> String {
    m.allocations.map_or("n/a".to_string(), |a| {
        format!("{} / {}", a.allocations, bytes(a.bytes))
    })
}

fn transfer_cell(m: &Measurement) -> String {
    m.transfer.map_or(String::new(), |t| {
        format!(
            "upload {} / compute {} / read-back {}",
            secs(t.upload),
            secs(t.compute),
            secs(t.read_back)
        )
    })
}

/// The Markdown report: the book's tables for this machine.
pub fn markdown(r: &Results) -> String {
    let s = &r.settings;
    let mut md = String::new();
    let _ = writeln!(md, "# lancehead compare\n");
    let _ = writeln!(md, "- Machine: {}", r.machine.summary());
    let _ = writeln!(md, "- Build: {}", r.machine.lancehead);
    for (tool, version) in &r.machine.compilers {
        let _ = writeln!(md, "- `{tool}`: {version}");
    }
    for (backend, details) in &r.machine.backends {
        if !details.is_empty() {
            let d: Vec<String> = details.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(md, "- `{backend}`: {}", d.join(", "));
        }
    }
    for (backend, reason) in &s.unavailable {
        let _ = writeln!(md, "- `{backend}` not measured: {reason}");
    }
    let _ = writeln!(
        md,
        "- Timing: {} warm-up and {} timed run(s) per backend and problem; median (min–max) \
         seconds of the kernel call alone{}",
        s.warmup,
        s.repeat,
        if s.quick { "; `--quick` run" } else { "" }
    );
    let _ = writeln!(md, "- Instruction counts: {}", s.counters);
    md.push('\n');

    if s.kernels.contains(&Kernel::Julia) {
        julia_section(r, &mut md);
    }
    if s.kernels.contains(&Kernel::Diffusion) {
        diffusion_sections(r, &mut md);
    }
    counters_section(r, &mut md);
    md
}

fn julia_section(r: &Results, md: &mut String) {
    let (h, w, it) = r.settings.julia;
    let _ = writeln!(
        md,
        "## Julia set, {w}x{h}, {it} iterations (book: sum of counts 33219980)\n"
    );
    let _ = writeln!(
        md,
        "| backend | seconds | speed-up vs scalar | z-updates/s | checksum | agreement | \
         allocations / bytes in call | peak RSS | device split |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---|---:|---:|---|");
    for m in r.measurements.iter().filter(|m| m.kernel == Kernel::Julia) {
        let _ = writeln!(
            md,
            "| `{}` | {} ({}–{}) | {:.2}x | {} | {} | {} | {} | {} | {} |",
            m.backend,
            secs(m.median),
            secs(m.min),
            secs(m.max),
            m.speedup,
            si(m.updates_per_second),
            m.checksum,
            agreement_cell(m),
            allocs_cell(m),
            m.peak_rss_bytes.map_or("n/a".to_string(), bytes),
            transfer_cell(m),
        );
    }
    md.push('\n');
}

fn diffusion_sections(r: &Results, md: &mut String) {
    let s = &r.settings;
    let header = |md: &mut String| {
        let cols: Vec<String> = s.sizes.iter().map(|n| format!("{n}x{n}")).collect();
        let _ = writeln!(md, "| backend | {} |", cols.join(" | "));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(s.sizes.len()));
    };
    let table = |md: &mut String, cell: &dyn Fn(&Measurement) -> String| {
        header(md);
        for backend in &s.backends {
            let cells: Vec<String> = s
                .sizes
                .iter()
                .map(|&n| {
                    r.find(Kernel::Diffusion, backend, Some(n))
                        .map_or(String::new(), cell)
                })
                .collect();
            let _ = writeln!(md, "| `{backend}` | {} |", cells.join(" | "));
        }
        md.push('\n');
    };

    let _ = writeln!(
        md,
        "## Diffusion, {} steps: seconds per run (Table 6-1)\n",
        s.steps
    );
    table(md, &|m| secs(m.median));
    let _ = writeln!(
        md,
        "## Diffusion, {} steps: speed-up vs scalar (Table 6-2)\n",
        s.steps
    );
    table(md, &|m| format!("{:.2}x", m.speedup));
    let _ = writeln!(md, "## Diffusion: cell-updates/s\n");
    table(md, &|m| si(m.updates_per_second));

    let _ = writeln!(md, "## Diffusion: agreement, allocations, memory\n");
    let _ = writeln!(
        md,
        "| backend | grid | seconds | checksum | agreement | allocations / bytes in call | \
         peak RSS | device split |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---|---:|---:|---|");
    for m in r
        .measurements
        .iter()
        .filter(|m| m.kernel == Kernel::Diffusion)
    {
        let _ = writeln!(
            md,
            "| `{}` | {}x{} | {} ({}–{}) | {} | {} | {} | {} | {} |",
            m.backend,
            m.rows,
            m.cols,
            secs(m.median),
            secs(m.min),
            secs(m.max),
            m.checksum,
            agreement_cell(m),
            allocs_cell(m),
            m.peak_rss_bytes.map_or("n/a".to_string(), bytes),
            transfer_cell(m),
        );
    }
    md.push('\n');
}

/// The counter columns present in `records`, in the book's `perf stat` order.
fn counter_columns(records: &[CounterRecord]) -> Vec<String> {
    const ORDER: [&str; 16] = [
        "instructions",
        "Ir",
        "cycles",
        "cache-references",
        "cache-misses",
        "branches",
        "branch-misses",
        "page-faults",
        "Dr",
        "Dw",
        "I1mr",
        "D1mr",
        "D1mw",
        "ILmr",
        "DLmr",
        "DLmw",
    ];
    let mut columns: Vec<String> = ORDER
        .iter()
        .filter(|c| records.iter().any(|r| r.events.contains_key(**c)))
        .map(|c| c.to_string())
        .collect();
    for r in records {
        for k in r.events.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    columns
}

fn counters_section(r: &Results, md: &mut String) {
    let _ = writeln!(md, "## Instruction counts\n");
    let _ = writeln!(md, "Source: {}\n", r.settings.counters);
    if !r.counters.is_empty() {
        let columns = counter_columns(&r.counters);
        let _ = writeln!(
            md,
            "| kernel | backend | problem counted | source | instructions per update | {} |",
            columns.join(" | ")
        );
        let _ = writeln!(
            md,
            "|---|---|---|---|---:|{}",
            "---:|".repeat(columns.len())
        );
        for c in &r.counters {
            let per_update = c
                .instructions()
                .filter(|_| c.updates > 0)
                .map_or(String::new(), |n| {
                    format!("{:.2}", n as f64 / c.updates as f64)
                });
            let cells: Vec<String> = columns
                .iter()
                .map(|k| c.events.get(k).map_or(String::new(), |&v| v.to_string()))
                .collect();
            let source = if c.host_side_only {
                format!("{} (host side only)", c.source.as_str())
            } else {
                c.source.as_str().to_string()
            };
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {source} | {per_update} | {} |",
                c.kernel.as_str(),
                c.backend,
                c.problem,
                cells.join(" | ")
            );
        }
        md.push('\n');
    }
    for f in &r.counter_failures {
        let _ = writeln!(md, "- not counted: {f}");
    }
    if !r.counter_failures.is_empty() {
        md.push('\n');
    }
}

/// Quotes a CSV field when it needs it (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// One row per measurement.
pub fn csv(r: &Results) -> String {
    let mut out = String::from(
        "kernel,backend,problem,rows,cols,iterations,warmup,repeat,median_s,min_s,max_s,\
         seconds,speedup_vs_scalar,updates,updates_per_s,checksum,agreement_class,\
         agreement_pass,agreement_detail,allocations,bytes_allocated,peak_rss_bytes,\
         upload_s,compute_s,read_back_s\n",
    );
    for m in &r.measurements {
        let seconds: Vec<String> = m.seconds.iter().map(|s| s.to_string()).collect();
        let class = serde_json::to_value(m.agreement.class)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let row = [
            m.kernel.as_str().to_string(),
            m.backend.clone(),
            m.problem.clone(),
            m.rows.to_string(),
            m.cols.to_string(),
            m.iterations.to_string(),
            r.settings.warmup.to_string(),
            r.settings.repeat.to_string(),
            m.median.to_string(),
            m.min.to_string(),
            m.max.to_string(),
            seconds.join(" "),
            m.speedup.to_string(),
            m.updates.to_string(),
            m.updates_per_second.to_string(),
            m.checksum.to_string(),
            class,
            m.agreement.pass.to_string(),
            m.agreement.detail.clone(),
            opt(m.allocations.map(|a| a.allocations)),
            opt(m.allocations.map(|a| a.bytes)),
            opt(m.peak_rss_bytes),
            opt(m.transfer.map(|t| t.upload)),
            opt(m.transfer.map(|t| t.compute)),
            opt(m.transfer.map(|t| t.read_back)),
        ];
        let row: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// One row per counted kernel call.
pub fn counters_csv(r: &Results) -> String {
    let columns = counter_columns(&r.counters);
    let mut out = format!(
        "kernel,backend,problem,source,host_side_only,updates,{}\n",
        columns.join(",")
    );
    for c in &r.counters {
        let mut row = vec![
            c.kernel.as_str().to_string(),
            c.backend.clone(),
            c.problem.clone(),
            c.source.as_str().to_string(),
            c.host_side_only.to_string(),
            c.updates.to_string(),
        ];
        row.extend(columns.iter().map(|k| opt(c.events.get(k))));
        let row: Vec<String> = row.iter().map(|f| field(f)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(field("x, \"y\""), "\"x, \"\"y\"\"\"");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(si(1.5e9), "1.500G");
        assert_eq!(si(12.0), "12.000");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(secs(0.1234), "0.123");
    }
}
