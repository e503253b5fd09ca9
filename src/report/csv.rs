//! CSV of every measurement and every count, one row each (the `csv` crate quotes fields).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::harness::Results;
use crate::harness::measure::Outcome;
use crate::harness::roofline::Bound;
use crate::report::markdown::counter_columns;

/// One row of `compare.csv`.
#[derive(Serialize)]
struct Row<'a> {
    kernel: &'static str,
    backend: &'a str,
    problem: &'a str,
    rows: usize,
    cols: usize,
    iterations: u32,
    status: &'static str,
    predicted_s: Option<f64>,
    budget_s: f64,
    runs: Option<usize>,
    warmed_up: Option<bool>,
    median_s: Option<f64>,
    min_s: Option<f64>,
    max_s: Option<f64>,
    /// Every timed run, space-separated.
    seconds: String,
    speedup_vs_scalar: Option<f64>,
    updates: Option<u64>,
    updates_per_s: Option<f64>,
    checksum: String,
    agreement_class: String,
    agreement_verdict: Option<&'static str>,
    agreement_pass: Option<bool>,
    agreement_detail: &'a str,
    allocations: Option<u64>,
    bytes_allocated: Option<u64>,
    peak_rss_bytes: Option<u64>,
    upload_s: Option<f64>,
    compute_s: Option<f64>,
    read_back_s: Option<f64>,
    cpu_threads: Option<usize>,
    cores: Option<f64>,
    compute_floor_s: Option<f64>,
    memory_floor_s: Option<f64>,
    bound: Option<&'static str>,
    fraction_of_floor: Option<f64>,
    /// Python rows: build/JIT seconds (apart from the timed runs) and versions.
    compile_s: Option<f64>,
    versions: String,
}

fn finish(writer: csv::Writer<Vec<u8>>) -> Result<Vec<u8>> {
    writer.into_inner().map_err(|e| Error::Io {
        arg: "CSV report",
        path: "compare.csv".into(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn csv_error(e: csv::Error) -> Error {
    Error::Io {
        arg: "CSV report",
        path: "compare.csv".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// `compare.csv`: one row per cell, skipped cells included.
pub fn measurements(r: &Results) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for m in &r.measurements {
        let (t, skipped) = match &m.outcome {
            Outcome::Measured(t) => (Some(&**t), None),
            Outcome::Skipped(s) => (None, Some(s)),
        };
        let roof = t.and_then(|t| t.roofline.as_ref());
        let class = t
            .and_then(|t| serde_json::to_value(t.agreement.class).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let row = Row {
            kernel: m.kernel.as_str(),
            backend: &m.backend,
            problem: &m.problem,
            rows: m.rows,
            cols: m.cols,
            iterations: m.iterations,
            status: if t.is_some() { "measured" } else { "skipped" },
            predicted_s: skipped.map(|s| s.predicted_seconds),
            budget_s: r.settings.budget.cell_seconds,
            runs: t.map(|t| t.seconds.len()),
            warmed_up: t.map(|t| t.warmed_up),
            median_s: t.map(|t| t.median),
            min_s: t.map(|t| t.min),
            max_s: t.map(|t| t.max),
            seconds: t.map_or(String::new(), |t| {
                t.seconds
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            speedup_vs_scalar: t.and_then(|t| t.speedup),
            updates: t.map(|t| t.updates),
            updates_per_s: t.map(|t| t.updates_per_second),
            checksum: t.map_or(String::new(), |t| t.checksum.to_string()),
            agreement_class: class,
            agreement_verdict: t.and_then(|t| t.agreement.verdict.map(|v| v.as_str())),
            agreement_pass: t.map(|t| t.agreement.pass),
            agreement_detail: t.map_or("", |t| &t.agreement.detail),
            allocations: t.and_then(|t| t.allocations.map(|a| a.allocations)),
            bytes_allocated: t.and_then(|t| t.allocations.map(|a| a.bytes)),
            peak_rss_bytes: t.and_then(|t| t.peak_rss_bytes),
            upload_s: t.and_then(|t| t.transfer.map(|x| x.upload)),
            compute_s: t.and_then(|t| t.transfer.map(|x| x.compute)),
            read_back_s: t.and_then(|t| t.transfer.map(|x| x.read_back)),
            cpu_threads: t.and_then(|t| t.cpu_threads),
            cores: roof.map(|r| r.cores),
            compute_floor_s: roof.map(|r| r.compute_floor_seconds),
            memory_floor_s: roof.and_then(|r| r.memory_floor_seconds),
            bound: roof.map(|r| match r.bound {
                Bound::Compute => "compute",
                Bound::Memory => "memory",
            }),
            fraction_of_floor: roof.map(|r| r.fraction),
            compile_s: t.and_then(|t| t.python.as_ref().map(|p| p.compile_seconds)),
            versions: t
                .and_then(|t| t.python.as_ref())
                .map_or(String::new(), |p| {
                    p.versions
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
        };
        w.serialize(row).map_err(csv_error)?;
    }
    finish(w)
}

/// `counters.csv`: one row per counted call, a column per event.
pub fn counters(r: &Results) -> Result<Vec<u8>> {
    let columns = counter_columns(r);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "kernel",
        "backend",
        "problem",
        "source",
        "host_side_only",
        "updates",
    ];
    header.extend(columns.iter().map(String::as_str));
    w.write_record(&header).map_err(csv_error)?;
    for c in &r.counters {
        let mut row = vec![
            c.kernel.as_str().to_string(),
            c.backend.clone(),
            c.problem.clone(),
            c.source.as_str().to_string(),
            c.host_side_only.to_string(),
            c.updates.to_string(),
        ];
        row.extend(
            columns
                .iter()
                .map(|k| c.events.get(k).map_or(String::new(), u64::to_string)),
        );
        w.write_record(&row).map_err(csv_error)?;
    }
    finish(w)
}

/// `compilers.csv`: the compiler-strategy table, one row per compiler x flags.
pub fn compilers(r: &Results) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "backend",
        "compiler",
        "flags",
        "class",
        "not_measured",
        "julia_seconds",
        "julia_speedup",
        "julia_instructions_per_update",
        "julia_difference",
        "julia_vectorised",
        "diffusion_side",
        "diffusion_seconds",
        "diffusion_speedup",
        "diffusion_instructions_per_update",
        "diffusion_difference",
        "diffusion_vectorised",
        "stress_not_identical",
    ])
    .map_err(csv_error)?;
    let Some(t) = crate::harness::compilers::table(r) else {
        return finish(w);
    };
    let opt = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
    for row in &t.rows {
        let mut record = vec![
            row.backend.clone(),
            row.compiler.clone(),
            row.flags.clone(),
            crate::report::markdown::class_name(row.class).to_string(),
            row.reason.clone().unwrap_or_default(),
        ];
        for (cell, side) in [(&row.julia, None), (&row.diffusion, Some(t.diffusion_side))] {
            if let Some(side) = side {
                record.push(side.map_or(String::new(), |n| n.to_string()));
            }
            match cell {
                Some(c) => record.extend([
                    opt(c.seconds),
                    opt(c.speedup),
                    opt(c.instructions_per_update),
                    c.difference.clone(),
                    c.vectorised.clone(),
                ]),
                None => record.extend(std::iter::repeat_n(String::new(), 5)),
            }
        }
        record.push(row.stress_not_identical.to_string());
        w.write_record(&record).map_err(csv_error)?;
    }
    finish(w)
}
