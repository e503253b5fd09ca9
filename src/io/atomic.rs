//! Atomic file output: write into a temporary file beside the target, then rename.
//!
//! Commands that write several files stage them all first and commit them only when every
//! one was written, so a failure leaves none of them behind.
//!
//! What an output path may name, checked before anything is written and again just before
//! the rename:
//! - **a new name** in an existing folder: the file is created;
//! - **a regular file**: it is replaced by the rename, atomically (a reader sees the old file
//!   or the new one, never a mix). The new file keeps the old one's permission bits
//!   (`rwxrwxrwx`, not its owner); other hard links to the old file keep the old contents;
//! - **a symbolic link**: followed, up to 40 links deep, as a shell's `>` would: the file at
//!   the end of the chain is replaced (or created, for a dangling link) as above, and the
//!   links themselves are kept;
//! - **anything else** (a folder, a device such as `/dev/null` or `/dev/full`, a FIFO, a
//!   socket): refused with [`Error::NotAFile`]. A rename onto a device would replace the
//!   device node itself with a regular file, so writing "through" it is never attempted.
//!
//! The temporary file is `.NAME.XXXXXX.tmp` in the folder of the final file (the link's target,
//! for a link), so the rename never crosses file systems. It is deleted when staging fails,
//! when a [`Staged`] file is dropped, and when SIGINT, SIGTERM or SIGHUP ends the process
//! (see [`interrupt`](crate::io::interrupt)).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::{Error, Result, echo};
use crate::io::interrupt;

/// How many symbolic links a path may go through (Linux's own limit, `ELOOP`).
const MAX_LINKS: usize = 40;

/// A file fully written under a temporary name, waiting for [`commit`](Staged::commit).
/// Dropping it deletes the temporary file.
pub struct Staged {
    temp: Temporary,
    /// Where the rename puts it: absolute, links resolved (see [`destination`]).
    destination: PathBuf,
    /// The path as the user gave it (what messages name).
    path: PathBuf,
    arg: &'static str,
}

/// Where an output given as `path` by argument `arg` will be written: the absolute path of the
/// regular file (or new name) it names, with symbolic links followed. Refuses everything else
/// with one line naming `arg` (see the module's documentation).
pub fn destination(path: &Path, arg: &'static str) -> Result<PathBuf> {
    let io = |source| Error::Io {
        arg,
        path: path.to_path_buf(),
        source,
    };
    let not_a_file = |kind| Error::NotAFile {
        arg,
        path: path.to_path_buf(),
        kind,
    };
    if path.as_os_str().is_empty() || path.to_string_lossy().ends_with('/') {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        )));
    }
    // What the path finally names, links followed by the kernel: this also sees through
    // links that cannot be walked by name, such as /dev/stdout -> /proc/self/fd/1 -> a pipe.
    if let Ok(meta) = fs::metadata(path)
        && !meta.is_file()
    {
        return Err(not_a_file(kind_of(&meta.file_type())));
    }
    let mut current = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current).map_err(io)?;
                // A relative target is relative to the link's folder; `join` keeps an
                // absolute one as it is.
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Ok(meta) if meta.is_file() => return absolute(&current).map_err(io),
            Ok(meta) => return Err(not_a_file(kind_of(&meta.file_type()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return absolute(&current).map_err(io);
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other(format!(
        "more than {MAX_LINKS} levels of symbolic links"
    ))))
}

/// `path` with its folder made absolute and free of links, `.` and `..`: two spellings of one
/// file give one answer. The folder must exist.
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match fs::canonicalize(dir) {
        Ok(dir) => Ok(dir.join(name)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(std::io::Error::new(
            e.kind(),
            format!(
                "its folder {} does not exist",
                echo(&dir.display().to_string())
            ),
        )),
        Err(e) => Err(e),
    }
}

/// A file type in words, for [`Error::NotAFile`].
fn kind_of(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_char_device() {
            return "character device";
        }
        if file_type.is_block_device() {
            return "block device";
        }
    }
    if file_type.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// Checks the outputs of one run before anything is computed: each must be something
/// [`destination`] accepts, and no two may land on the same file (`--out p --png ./p`).
pub fn check_outputs(outputs: &[(&'static str, &Path)]) -> Result<()> {
    let resolved = outputs
        .iter()
        .map(|&(arg, path)| Ok((arg, path, destination(path, arg)?)))
        .collect::<Result<Vec<_>>>()?;
    distinct(
        resolved
            .iter()
            .map(|(arg, path, dest)| (*arg, *path, dest.as_path())),
    )
}

/// Refuses two outputs `(arg, path as given, destination)` with one destination.
fn distinct<'a>(outputs: impl Iterator<Item = (&'static str, &'a Path, &'a Path)>) -> Result<()> {
    let mut seen: Vec<(&'static str, &Path, &Path)> = Vec::new();
    for (arg, path, dest) in outputs {
        if let Some(&(other, other_path, _)) = seen.iter().find(|(_, _, d)| *d == dest) {
            return Err(Error::SameOutput {
                arg,
                path: path.to_path_buf(),
                other,
                other_path: other_path.to_path_buf(),
            });
        }
        seen.push((arg, path, dest));
    }
    Ok(())
}

/// Checks that `path` (given by argument `arg`) can be a folder: it is one, or it and any
/// missing folders above it can be created because nothing else is in the way.
pub fn check_folder(path: &Path, arg: &'static str) -> Result<()> {
    for ancestor in path.ancestors().filter(|a| !a.as_os_str().is_empty()) {
        match fs::metadata(ancestor) {
            Ok(meta) if meta.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(Error::NotAFolder {
                    arg,
                    path: path.to_path_buf(),
                    in_the_way: ancestor.to_path_buf(),
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                // Missing, or below a file: the file itself comes up as an ancestor.
                continue;
            }
            Err(source) => {
                return Err(Error::Io {
                    arg,
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Writes `path` (given by argument `arg`) under a temporary name beside its destination.
pub fn stage(
    path: &Path,
    arg: &'static str,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<Staged> {
    let staged = stage_empty(path, arg)?;
    let io = |source| Error::Io {
        arg,
        path: path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::new(staged.temp.file());
    write(&mut out)?;
    out.flush().map_err(io)?;
    drop(out);
    staged.temp.file().sync_all().map_err(io)?;
    Ok(staged)
}

/// An empty temporary file beside `path`'s destination (checked as for [`stage`]), for a
/// writer that fills it in its own way — the MPI backends' ranks write their rows into one
/// file together — before [`Staged::commit`] renames it into place.
pub(crate) fn stage_empty(path: &Path, arg: &'static str) -> Result<Staged> {
    let io = |source| Error::Io {
        arg,
        path: path.to_path_buf(),
        source,
    };
    let destination = destination(path, arg)?;
    let (dir, name) = match (destination.parent(), destination.file_name()) {
        (Some(dir), Some(name)) => (dir, name),
        _ => unreachable!("destination() returns a folder joined with a file name"),
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // A temporary file is private (0600) by default; the file it becomes should be created
    // like any other output, 0666 less the umask.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temp = Temporary::create(&builder, dir).map_err(io)?;
    #[cfg(unix)]
    if let Ok(old) = fs::metadata(&destination) {
        use std::os::unix::fs::PermissionsExt;
        let bits = old.permissions().mode() & 0o777;
        temp.file()
            .set_permissions(fs::Permissions::from_mode(bits))
            .map_err(io)?;
    }
    Ok(Staged {
        temp,
        destination,
        path: path.to_path_buf(),
        arg,
    })
}

impl Staged {
    /// The temporary file, open for writing (by every rank of a parallel write).
    #[cfg(feature = "mpi")]
    pub(crate) fn file(&self) -> &fs::File {
        self.temp.file()
    }

    /// Where the temporary file is (other processes may open it by this name).
    #[cfg(feature = "mpi")]
    pub(crate) fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Renames the temporary file onto its destination.
    pub fn commit(self) -> Result<()> {
        self.commit_with(&mut interrupt::pending())
    }

    /// [`commit`](Self::commit) with the registry of pending temporary files held by the caller.
    fn commit_with(self, pending: &mut Vec<PathBuf>) -> Result<()> {
        let Staged {
            temp,
            destination: checked,
            path,
            arg,
        } = self;
        // The path was checked when staging began; what it names may have changed since (a
        // FIFO made in its place, a link moved). Check again just before the rename.
        let now = match destination(&path, arg) {
            Ok(now) => now,
            Err(e) => {
                temp.discard(pending);
                return Err(e);
            }
        };
        if now != checked {
            temp.discard(pending);
            return Err(Error::Io {
                arg,
                path,
                source: std::io::Error::other("the path changed while the file was written"),
            });
        }
        temp.persist(&checked, pending)
            .map_err(|source| Error::Io { arg, path, source })?;
        // Make the rename itself durable; a file system that cannot sync a folder loses
        // nothing that the rename did not already risk.
        if let Some(dir) = checked.parent()
            && let Ok(dir) = fs::File::open(dir)
        {
            let _ = dir.sync_all();
        }
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

/// Commits staged files, all of them or, when one fails to stage, none. Two of them with one
/// destination are refused. A signal that arrives during the renames waits until they are all
/// done, so an interrupted run shows all of its outputs or none.
pub fn commit_all(staged: impl IntoIterator<Item = Result<Staged>>) -> Result<()> {
    let staged = staged.into_iter().collect::<Result<Vec<_>>>()?;
    distinct(
        staged
            .iter()
            .map(|s| (s.arg, s.path.as_path(), s.destination.as_path())),
    )?;
    let mut pending = interrupt::pending();
    let mut result = Ok(());
    for file in staged {
        if result.is_ok() {
            result = file.commit_with(&mut pending);
        } else {
            file.temp.discard(&mut pending);
        }
    }
    result
}

/// A temporary file listed in [`interrupt::pending`] for as long as it exists, so that a
/// signal can delete it.
struct Temporary {
    file: Option<NamedTempFile>,
}

impl Temporary {
    /// Creates the file and lists it, under the registry's lock: a signal sees every
    /// temporary file that exists.
    fn create(builder: &tempfile::Builder<'_, '_>, dir: &Path) -> std::io::Result<Self> {
        let mut pending = interrupt::pending();
        let file = builder.tempfile_in(dir)?;
        pending.push(file.path().to_path_buf());
        Ok(Temporary { file: Some(file) })
    }

    fn file(&self) -> &fs::File {
        self.file
            .as_ref()
            .expect("present until persisted or discarded")
            .as_file()
    }

    #[cfg(feature = "mpi")]
    fn path(&self) -> &Path {
        self.file
            .as_ref()
            .expect("present until persisted or discarded")
            .path()
    }

    /// Renames the file onto `destination` and unlists it (`pending` is the locked registry).
    fn persist(mut self, destination: &Path, pending: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let file = self.file.take().expect("present until persisted");
        let temp_path = file.path().to_path_buf();
        // A failed rename hands the file back; dropping it deletes it.
        let result = file.persist(destination).map(drop).map_err(|e| e.error);
        pending.retain(|p| *p != temp_path);
        result
    }

    /// Deletes the file and unlists it (`pending` is the locked registry).
    fn discard(mut self, pending: &mut Vec<PathBuf>) {
        if let Some(file) = self.file.take() {
            pending.retain(|p| p != file.path());
            drop(file);
        }
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let mut pending = interrupt::pending();
            pending.retain(|p| p != file.path());
            // Deleted while the registry is locked: no signal can come between the two.
            drop(file);
        }
    }
}
