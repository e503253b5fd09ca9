//! Atomic file output: write into a temporary file beside the target, then rename.
//!
//! Commands that write several files stage them all first and commit them only when every
//! one was written, so a failure leaves none of them behind.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result};

/// A file fully written under a temporary name, waiting for [`commit`](Staged::commit).
/// Dropping it deletes the temporary file.
pub struct Staged {
    temp: NamedTempFile,
    path: PathBuf,
    arg: &'static str,
}

/// Writes `path` (given by argument `arg`) under a temporary name in the same directory.
pub fn stage(
    path: &Path,
    arg: &'static str,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<Staged> {
    let io = |source| Error::Io {
        arg,
        path: path.to_path_buf(),
        source,
    };
    let temp = temp_beside(path, arg)?;
    let mut out = BufWriter::new(temp.as_file());
    write(&mut out)?;
    out.flush().map_err(io)?;
    drop(out);
    temp.as_file().sync_all().map_err(io)?;
    Ok(Staged {
        temp,
        path: path.to_path_buf(),
        arg,
    })
}

/// An empty temporary file in `path`'s directory, named after it (`.NAME.XXXX.tmp`), deleted
/// when dropped unless persisted onto `path`. (The MPI backends' ranks write into one
/// together.)
pub(crate) fn temp_beside(path: &Path, arg: &'static str) -> Result<NamedTempFile> {
    let io = |source| Error::Io {
        arg,
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        ))
    })?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A temporary file is private (0600) by default; the file it becomes should be created
    // like any other output, 0666 less the umask.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(dir).map_err(io)
}

impl Staged {
    /// Renames the temporary file onto its target.
    pub fn commit(self) -> Result<()> {
        let Staged { temp, path, arg } = self;
        temp.persist(&path).map_err(|e| Error::Io {
            arg,
            path,
            source: e.error,
        })?;
        Ok(())
    }
}

/// Stages and commits one file.
pub fn write(
    path: &Path,
    arg: &'static str,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    stage(path, arg, write)?.commit()
}

/// Commits staged files, all of them or, when one fails to stage, none.
pub fn commit_all(staged: impl IntoIterator<Item = Result<Staged>>) -> Result<()> {
    let staged = staged.into_iter().collect::<Result<Vec<_>>>()?;
    staged.into_iter().try_for_each(Staged::commit)
}
