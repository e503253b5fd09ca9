//! The reports of a `compare` run, the layer above [`crate::harness`]: Markdown shaped like
//! the book's tables ([`markdown`]), CSV and JSON of every measurement ([`csv`]), and the
//! speed-up and roofline plots ([`plot`]).
//!
//! [`write_all`] writes them into a reports folder **as one unit**: everything is written
//! into a hidden folder beside the target, which then replaces the target in one rename (an
//! atomic exchange where the OS has one), so a reader or an interrupted run sees the old set
//! of reports or the new one, never a mix. The folder therefore belongs to `compare`: one that
//! holds anything else is refused before anything is measured ([`check_folder`]).

pub mod csv;
pub mod markdown;
pub mod plot;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::harness::Results;
use crate::io::interrupt;

/// File names in the reports folder.
pub const MARKDOWN: &str = "compare.md";
pub const CSV: &str = "compare.csv";
pub const COUNTERS_CSV: &str = "counters.csv";
pub const JSON: &str = "compare.json";
pub const SPEEDUP_SVG: &str = "speedup.svg";
pub const SPEEDUP_PNG: &str = "speedup.png";
pub const ROOFLINE_SVG: &str = "roofline.svg";
pub const ROOFLINE_PNG: &str = "roofline.png";
pub const COMPILERS_CSV: &str = "compilers.csv";
/// Every name a reports folder may hold.
pub const FILES: [&str; 9] = [
    MARKDOWN,
    CSV,
    COUNTERS_CSV,
    JSON,
    SPEEDUP_SVG,
    SPEEDUP_PNG,
    ROOFLINE_SVG,
    ROOFLINE_PNG,
    COMPILERS_CSV,
];

/// The whole results as one JSON document (also what `compare --json` prints), with the
/// compiler-strategy table derived from them (`compiler_strategies`).
pub fn json(results: &Results) -> String {
    let mut value = serde_json::to_value(results).expect("results serialize");
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "compiler_strategies".into(),
            serde_json::to_value(crate::harness::compilers::table(results))
                .expect("the table serializes"),
        );
    }
    serde_json::to_string_pretty(&value).expect("results serialize") + "\n"
}

/// Checks, before anything is measured, that `dir` can become the reports folder: missing
/// (its nearest existing ancestor a writable folder), or a folder of earlier reports.
/// `what` names the folder in errors (the caller's argument).
pub fn check_folder(dir: &Path, what: &'static str) -> Result<()> {
    // A file where the folder or one of its parents should be.
    crate::io::atomic::check_folder(dir, what)?;
    let refuse = |message: String| Error::Io {
        arg: what,
        path: dir.to_path_buf(),
        source: std::io::Error::other(message),
    };
    match std::fs::metadata(dir) {
        Ok(_) => {
            let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
                arg: what,
                path: dir.to_path_buf(),
                source,
            })?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !FILES.contains(&name.as_str()) {
                    return Err(refuse(format!(
                        "holds `{name}`, which is not a compare report; the folder is \
                         replaced as a whole, so give a new or empty folder"
                    )));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Io {
                arg: what,
                path: dir.to_path_buf(),
                source,
            });
        }
    }
    // The staging folder goes beside `dir`: its parent (or nearest existing ancestor) must
    // be a folder this process can write.
    let mut ancestor = parent_of(dir);
    while !ancestor.exists() {
        ancestor = parent_of(&ancestor);
    }
    tempfile::tempdir_in(&ancestor)
        .map(drop)
        .map_err(|source| Error::Io {
            arg: what,
            path: ancestor,
            source,
        })
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes every report of `results` into the folder `dir` as one unit (see the module
/// documentation). `what` names the folder in errors.
pub fn write_all(results: &Results, dir: &Path, what: &'static str) -> Result<()> {
    check_folder(dir, what)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            arg: what,
            path,
            source,
        }
    };
    let parent = parent_of(dir);
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = dir
        .file_name()
        .map_or("reports".into(), |n| n.to_string_lossy().into_owned());
    // Listed for the signal handler (when the binary installed it): an interrupted run
    // removes its staged reports.
    let (staging, listed) = interrupt::ListedFolder::make(
        || {
            tempfile::Builder::new()
                .prefix(&format!(".{name}.compare-"))
                .tempdir_in(&parent)
        },
        |t| t.path().to_path_buf(),
    )
    .map_err(io(&parent))?;
    // `tempdir` makes a private (0700) folder; reports are for everyone, like any folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(io(staging.path()))?;
    }

    let mut files: Vec<(&str, Vec<u8>)> = vec![
        (MARKDOWN, markdown::markdown(results).into_bytes()),
        (CSV, csv::measurements(results)?),
        (COUNTERS_CSV, csv::counters(results)?),
        (COMPILERS_CSV, csv::compilers(results)?),
        (JSON, json(results).into_bytes()),
    ];
    for chart in [plot::Chart::Speedup, plot::Chart::Roofline] {
        if let Some(drawn) = plot::draw(chart, results) {
            let (svg, png) = drawn.map_err(|message| Error::Png {
                arg: what,
                path: dir.join(chart.png_name()),
                message,
            })?;
            files.push((chart.svg_name(), svg.into_bytes()));
            files.push((chart.png_name(), png));
        }
    }
    for (file, bytes) in &files {
        let path = staging.path().join(file);
        let mut out = std::fs::File::create(&path).map_err(io(&path))?;
        out.write_all(bytes).map_err(io(&path))?;
        out.sync_all().map_err(io(&path))?;
    }
    // Under the registry's lock, so a signal waits for the exchange to finish.
    let published = {
        let _lock = interrupt::pending();
        publish(staging, dir)
    };
    drop(listed);
    published.map_err(io(dir))
}

/// Puts the staged folder in `dir`'s place in one step.
fn publish(staging: tempfile::TempDir, dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        exchange(staging.path(), dir)?;
        // `staging`'s path now holds the old reports: dropping it removes them.
        drop(staging);
        Ok(())
    } else {
        let path = staging.keep();
        std::fs::rename(&path, dir).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&path);
        })
    }
}

/// Swaps two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`); elsewhere, or where the
/// file system lacks it, moves the old one aside first (a brief moment without `dir`).
fn exchange(staged: &Path, dir: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|_| std::io::Error::other("a path with a NUL byte"))
        };
        let (a, b) = (c(staged)?, c(dir)?);
        // SAFETY: two valid NUL-terminated paths; the call reads nothing else.
        let done = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if done == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
            return Err(e);
        }
    }
    let aside = staged.with_extension("old");
    std::fs::rename(dir, &aside)?;
    std::fs::rename(staged, dir)?;
    std::fs::rename(&aside, staged)
}

/// `0.0123` seconds in a width that keeps the book's tables readable.
pub fn secs(s: f64) -> String {
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
pub fn si(x: f64) -> String {
    let (v, unit) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|&(scale, _)| x.abs() >= scale)
        .map_or((x, ""), |(scale, unit)| (x / scale, unit));
    format!("{v:.3}{unit}")
}

/// Bytes in B, KiB or MiB.
pub fn bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(si(1.5e9), "1.500G");
        assert_eq!(si(12.0), "12.000");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(secs(0.1234), "0.123");
    }

    #[test]
    fn a_folder_is_replaced_as_a_whole_and_foreign_files_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("results");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(MARKDOWN), "old").unwrap();
        check_folder(&dir, "--out").unwrap();

        let staged = tempfile::tempdir_in(root.path()).unwrap();
        std::fs::write(staged.path().join(JSON), "new").unwrap();
        publish(staged, &dir).unwrap();
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [JSON], "the old set is gone, the new one is whole");
        // Only the reports folder is left beside it: the old set went with the staging one.
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);

        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = check_folder(&dir, "--out").unwrap_err().to_string();
        assert!(
            e.contains("`notes.txt`, which is not a compare report"),
            "{e}"
        );
        let file = root.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let e = check_folder(&file, "--out").unwrap_err().to_string();
        assert!(e.contains("a file is in the way"), "{e}");
    }
}
