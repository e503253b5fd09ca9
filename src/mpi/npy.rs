//! `.npy` files read and written by every rank at once, each at its own rows' byte offset:
//! a C-order `.npy` holds its rows one after the other after the header, so a slab is one
//! contiguous byte range.

use std::fs::File;
use std::io::Seek;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ndarray_npy::WritableElement;
use ndarray_npy::npy::header::{Header, Layout};

use crate::error::{Error, Result};
use crate::io::atomic;
use crate::mpi::world::World;

/// Bytes written per call when a rank writes its rows.
const CHUNK: usize = 1 << 20;

/// What a 2D `.npy` file holds and where its data start.
#[derive(Debug, Clone)]
pub struct NpyLayout {
    pub shape: (usize, usize),
    pub fortran: bool,
    /// Byte offset of the first element.
    pub data_start: u64,
}

fn io<'a>(arg: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        arg,
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the header of the 2D float64 `.npy` at `path`, and checks that the file holds all of
/// its data: every rank finds the same answer from the same file.
pub fn read_layout(path: &Path, arg: &'static str) -> Result<NpyLayout> {
    let bad = |message: String| Error::BadNpy {
        arg,
        path: path.to_path_buf(),
        message,
    };
    let mut file = File::open(path).map_err(io(arg, path))?;
    let header = Header::from_reader(&mut file)
        .map_err(|e| bad(format!("not a 2D float64 (<f8) .npy array: {e}")))?;
    if header.type_descriptor != <f64 as WritableElement>::type_descriptor() {
        return Err(bad(format!(
            "not a 2D float64 (<f8) .npy array: dtype {}",
            header.type_descriptor
        )));
    }
    let &[rows, cols] = header.shape.as_slice() else {
        return Err(bad(format!(
            "not a 2D float64 (<f8) .npy array: shape {:?}",
            header.shape
        )));
    };
    if rows == 0 || cols == 0 {
        return Err(bad(format!(
            "shape {:?} is empty; a grid needs at least 1 row and 1 column",
            (rows, cols)
        )));
    }
    let data_start = file.stream_position().map_err(io(arg, path))?;
    let len = file.metadata().map_err(io(arg, path))?.len();
    let needed = rows as u128 * cols as u128 * 8;
    if u128::from(len) < u128::from(data_start) + needed {
        return Err(bad(format!(
            "truncated: {} data bytes for shape {:?}, {needed} needed",
            len.saturating_sub(data_start),
            (rows, cols)
        )));
    }
    Ok(NpyLayout {
        shape: (rows, cols),
        fortran: header.layout == Layout::Fortran,
        data_start,
    })
}

/// Reads rows `rows` of the grid at `path` into `out` (row-major), refusing non-finite
/// values with the message of a whole-grid read, the position given in the whole grid.
pub fn read_rows(
    path: &Path,
    arg: &'static str,
    layout: &NpyLayout,
    rows: Range<usize>,
    out: &mut [f64],
) -> Result<()> {
    let (total_rows, cols) = layout.shape;
    let file = File::open(path).map_err(io(arg, path))?;
    let mut bytes = vec![0u8; out.len() * 8];
    if layout.fortran {
        // Column-major: the slab is a run of each column.
        let n = rows.len();
        for c in 0..cols {
            let at = layout.data_start + ((c * total_rows + rows.start) * 8) as u64;
            file.read_exact_at(&mut bytes[c * n * 8..(c + 1) * n * 8], at)
                .map_err(io(arg, path))?;
        }
        for (c, column) in bytes.chunks_exact(n * 8).enumerate() {
            for (r, b) in column.chunks_exact(8).enumerate() {
                out[r * cols + c] = f64::from_le_bytes(b.try_into().expect("8 bytes"));
            }
        }
    } else {
        let at = layout.data_start + (rows.start * cols * 8) as u64;
        file.read_exact_at(&mut bytes, at).map_err(io(arg, path))?;
        for (v, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            *v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
    }
    if let Some(i) = out.iter().position(|v| !v.is_finite()) {
        return Err(Error::BadNpy {
            arg,
            path: path.to_path_buf(),
            message: format!(
                "value at {:?} is {}; every value must be finite",
                (rows.start + i / cols, i % cols),
                out[i]
            ),
        });
    }
    Ok(())
}

/// A `.npy` file that every rank writes its rows into, under a temporary name beside `path`
/// until [`commit`](Self::commit) renames it: rank 0 creates it (header and full length),
/// every rank writes its rows at their offset, and only when every rank succeeded does rank
/// 0 rename it. On any failure the temporary file is deleted, so no partial file remains.
pub struct ParallelNpy {
    path: PathBuf,
    arg: &'static str,
    /// The temporary file's name, on every rank.
    temp_path: PathBuf,
    /// Rank 0's handle: deletes the file when dropped uncommitted.
    temp: Option<atomic::Staged>,
    data_start: u64,
    row_bytes: u64,
}

impl ParallelNpy {
    /// Creates the file for a `rows x cols` array of `T` (collective).
    pub fn create<T: Element>(
        world: &World,
        path: &Path,
        arg: &'static str,
        (rows, cols): (usize, usize),
    ) -> Result<Self> {
        let header = Header {
            type_descriptor: T::type_descriptor(),
            layout: Layout::Standard,
            shape: vec![rows, cols],
        };
        let made = if world.is_root() {
            (|| {
                let bytes = header
                    .to_bytes()
                    .map_err(|e| io(arg, path)(std::io::Error::other(e.to_string())))?;
                let temp = atomic::stage_empty(path, arg)?;
                let file = temp.file();
                file.write_all_at(&bytes, 0).map_err(io(arg, path))?;
                let size = std::mem::size_of::<T>() as u64;
                file.set_len(bytes.len() as u64 + rows as u64 * cols as u64 * size)
                    .map_err(io(arg, path))?;
                Ok(Some((temp, bytes.len() as u64)))
            })()
        } else {
            Ok(None)
        };
        let made = world.agree(made)?;
        // Rank 0 tells the others the temporary name and where the data start.
        let mut message = match &made {
            Some((temp, start)) => {
                let mut m = start.to_le_bytes().to_vec();
                m.extend_from_slice(temp.temp_path().as_os_str().as_encoded_bytes());
                m
            }
            None => Vec::new(),
        };
        world.broadcast_bytes(0, &mut message);
        let data_start = u64::from_le_bytes(message[..8].try_into().expect("8 bytes"));
        // SAFETY (from_encoded_bytes_unchecked): the bytes are rank 0's `as_encoded_bytes` of
        // an OsStr, on the same platform (every rank runs this binary).
        let temp_path =
            PathBuf::from(unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(&message[8..]) });
        Ok(ParallelNpy {
            path: path.to_path_buf(),
            arg,
            temp_path,
            temp: made.map(|(temp, _)| temp),
            data_start,
            row_bytes: (cols * std::mem::size_of::<T>()) as u64,
        })
    }

    /// Writes this rank's rows from `first_row` on (`values`: whole rows, row-major) at
    /// their offset, and flushes them to the file. Not collective; [`commit`](Self::commit)
    /// is, and must follow on every rank whatever this returned.
    pub fn write_rows<T: Element>(&self, first_row: usize, values: &[T]) -> Result<()> {
        let (arg, path) = (self.arg, self.path.as_path());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.temp_path)
            .map_err(io(arg, path))?;
        let mut at = self.data_start + first_row as u64 * self.row_bytes;
        let mut buffer = Vec::with_capacity(CHUNK);
        for chunk in values.chunks(CHUNK / T::SIZE) {
            buffer.clear();
            for &v in chunk {
                v.put(&mut buffer);
            }
            file.write_all_at(&buffer, at).map_err(io(arg, path))?;
            at += buffer.len() as u64;
        }
        file.sync_data().map_err(io(arg, path))
    }

    /// Renames the file into place when every rank's `written` succeeded; otherwise deletes
    /// it. Every rank returns the same outcome (collective).
    pub fn commit(self, world: &World, written: Result<()>) -> Result<()> {
        world.agree(written)?;
        let renamed = match self.temp {
            Some(temp) => temp.commit(),
            None => Ok(()),
        };
        world.agree(renamed)
    }
}

/// An element of a `.npy` file written by ranks: its little-endian bytes.
pub trait Element: WritableElement + Copy {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
}

impl Element for f64 {
    const SIZE: usize = 8;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for u32 {
    const SIZE: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
