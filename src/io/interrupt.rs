//! Temporary files that a signal must not leave behind.
//!
//! Every temporary file of [`atomic`](crate::io::atomic) is listed in one process-wide
//! registry from the moment it exists until it is renamed into place or deleted, and the list
//! is only changed under its lock. [`remove_temporary_files_on_signals`] starts a thread that
//! waits for SIGINT, SIGTERM or SIGHUP; on one, it takes the lock (so a file being created or
//! renamed finishes first, and a group of renames by
//! [`commit_all`](crate::io::atomic::commit_all) completes as a whole), deletes every listed
//! file and ends the process with the shell's convention, 128 + the signal's number (130 for
//! SIGINT, 143 for SIGTERM).
//!
//! A library must not take a process's signals unasked, so the binary calls it; a program that
//! uses the library without it gets the operating system's default (the temporary file stays).

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The registry of temporary files that exist now, locked.
pub(crate) fn pending() -> MutexGuard<'static, Vec<PathBuf>> {
    // A panic while the lock was held leaves a list that is still a list of paths.
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary folder listed in the registry while this value lives (dropping it unlists
/// the folder; deleting it stays the owner's job, a `tempfile::TempDir` for example).
pub struct ListedFolder(PathBuf);

impl ListedFolder {
    /// Makes a temporary folder with `make` and lists it, under the registry's lock, so no
    /// signal can come between the two.
    pub fn make<T>(
        make: impl FnOnce() -> std::io::Result<T>,
        path_of: impl Fn(&T) -> PathBuf,
    ) -> std::io::Result<(T, ListedFolder)> {
        let mut pending = pending();
        let made = make()?;
        let path = path_of(&made);
        pending.push(path.clone());
        Ok((made, ListedFolder(path)))
    }
}

impl Drop for ListedFolder {
    fn drop(&mut self) {
        pending().retain(|p| *p != self.0);
    }
}

/// Starts the thread that deletes the pending temporary files on SIGINT, SIGTERM or SIGHUP
/// and then exits with 128 + the signal's number. A signal that the process inherited as
/// ignored (`nohup`, a background job of a non-interactive shell) stays ignored.
#[cfg(unix)]
pub fn remove_temporary_files_on_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

    let caught: Vec<i32> = [SIGINT, SIGTERM, SIGHUP]
        .into_iter()
        .filter(|&signal| !ignored(signal))
        .collect();
    let mut signals = signal_hook::iterator::Signals::new(&caught)?;
    std::thread::Builder::new()
        .name("lancehead-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let pending = pending();
                for path in pending.iter() {
                    // A temporary file, or a temporary folder (`compare`'s staged reports,
                    // a counting child's output).
                    if std::fs::remove_file(path).is_err() {
                        let _ = std::fs::remove_dir_all(path);
                    }
                }
                // `_exit`, not `exit`: the other threads are still running (a kernel, a GPU
                // driver's workers), and C `atexit` handlers run under them could deadlock or
                // crash. The lock stays held, so no new temporary file can appear meanwhile.
                // SAFETY: `_exit` takes an int and never returns; it touches no Rust state.
                unsafe { libc::_exit(128 + signal) };
            }
        })?;
    Ok(())
}

/// Does nothing where there are no Unix signals.
#[cfg(not(unix))]
pub fn remove_temporary_files_on_signals() -> std::io::Result<()> {
    Ok(())
}

/// Whether `signal` is ignored now (inherited as `SIG_IGN`).
#[cfg(unix)]
fn ignored(signal: i32) -> bool {
    // SAFETY: a null new action only reads the current one into `old`, a plain C struct that
    // the call fills in.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}
