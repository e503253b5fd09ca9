//! `.npy` input and output with standard numpy headers: Julia counts as `<u4`, grids as `<f8`.
//!
//! Writing uses ndarray-npy. Reading uses ndarray-npy only to parse the header's dictionary:
//! its `read_npy` allocates the whole array that the header claims before it reads a byte of
//! data (a 96-byte file claiming 100000 x 100000 aborts the process with "memory allocation
//! of 80000000000 bytes failed"), and its `Header::from_reader` allocates the header length
//! that the file claims, up to 4 GiB in versions 2 and 3, and neither can be told the file's
//! length. So [`read_grid`] reads the fixed prefix itself, checks the header length against
//! numpy's own limit and the file's length, hands the bounded header to ndarray-npy, checks
//! the claimed shape against the bytes the file holds, and only then allocates, fallibly, and
//! decodes the data. No allocation is sized by a header: only by bytes that exist.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use ndarray::{Array2, ArrayView2, ShapeBuilder};
use ndarray_npy::npy::header::Header;
use ndarray_npy::{WritableElement, WriteNpyExt};

use crate::error::{Error, Result, echo};
use crate::io::atomic::{self, Staged};

/// The longest header accepted, in bytes: numpy's own limit (`numpy.lib.format`'s
/// `_MAX_HEADER_SIZE`, which `numpy.load` enforces unless told otherwise). A 2D array's header
/// is about 120 bytes.
pub const MAX_HEADER_LEN: usize = 10_000;

/// The deepest nesting of brackets a header may have. The dictionary of a plain array nests
/// two deep (`{'shape': (2, 3)}`); a structured dtype (which a grid is not) nests deeper.
/// ndarray-npy's parser (pest) backtracks: its time grows about 3x with each level of `{`,
/// balanced or not (measured: 11 unclosed `{` in a 128-byte header, 3.1 s; AFL++ found such
/// headers that ran for more than 10 minutes), and a 6 KB header of 3000 `(` made it allocate
/// 512 KiB at once (found by tests/fuzz_npy.rs). Four levels cost it under a millisecond.
const MAX_NESTING: usize = 4;

/// Bytes of data read and decoded at a time: a fixed buffer, whatever the header claims.
const CHUNK: usize = 64 << 10;

/// The magic string that starts every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// What a grid's header says, once checked.
struct GridHeader {
    rows: usize,
    cols: usize,
    big_endian: bool,
    fortran_order: bool,
    /// Where the data starts.
    offset: u64,
}

/// Reads a 2D float64 array (`<f8` or `>f8`, C or Fortran order, format version 1, 2 or 3)
/// given by argument `arg`, returned in row-major order. Wrong dtype or rank, a truncated file,
/// bytes beyond the data, an oversized header and non-finite values are errors.
pub fn read_grid(path: &Path, arg: &'static str) -> Result<Array2<f64>> {
    let source = Source { path, arg };
    let file = File::open(path).map_err(|e| source.io(e))?;
    let meta = file.metadata().map_err(|e| source.io(e))?;
    if meta.is_dir() {
        return Err(source.bad("is a directory, not a .npy file".into()));
    }
    // A regular file's length bounds every allocation and is checked before any; a pipe's data
    // is taken as it comes, never allocating more than it delivered.
    let length = meta.is_file().then_some(meta.len());
    read_grid_from(BufReader::new(file), length, path, arg)
}

/// What the reader's messages name: the file, and the argument that gave it.
#[derive(Clone, Copy)]
struct Source<'a> {
    path: &'a Path,
    arg: &'static str,
}

impl Source<'_> {
    fn bad(self, message: String) -> Error {
        Error::BadNpy {
            arg: self.arg,
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn io(self, source: std::io::Error) -> Error {
        Error::Io {
            arg: self.arg,
            path: self.path.to_path_buf(),
            source,
        }
    }
}

/// [`read_grid`] from `reader`, which holds `length` bytes when that is known (a regular
/// file; `None` for a pipe). `path` and `arg` are what messages name.
pub fn read_grid_from(
    mut reader: impl Read,
    length: Option<u64>,
    path: &Path,
    arg: &'static str,
) -> Result<Array2<f64>> {
    let source = Source { path, arg };
    let bad = |message: String| source.bad(message);
    let io = |e: std::io::Error| source.io(e);
    let header = read_header(&mut reader, length).map_err(bad)?;
    let GridHeader { rows, cols, .. } = header;

    let count = rows
        .checked_mul(cols)
        .filter(|n| n.checked_mul(8).is_some());
    let Some(count) = count else {
        return Err(bad(format!(
            "the header's shape {rows}x{cols} needs more bytes than can be addressed here"
        )));
    };
    let bytes = count * 8;
    if let Some(length) = length {
        let holds = length.saturating_sub(header.offset);
        if holds < bytes as u64 {
            return Err(bad(format!(
                "truncated: the header's shape {rows}x{cols} needs {bytes} bytes of data, \
                 the file holds {holds}"
            )));
        }
        if holds > bytes as u64 {
            return Err(bad(format!(
                "{} bytes follow the {bytes} bytes of data that the header's shape \
                 {rows}x{cols} describes",
                holds - bytes as u64
            )));
        }
    }
    if count == 0 {
        return Err(bad(format!(
            "shape ({rows}, {cols}) is empty; a grid needs at least 1 row and 1 column"
        )));
    }
    let too_big = || {
        bad(format!(
            "the {rows}x{cols} grid needs {bytes} bytes, more than can be allocated here"
        ))
    };
    let mut data: Vec<f64> = Vec::new();
    if length.is_some() {
        data.try_reserve_exact(count).map_err(|_| too_big())?;
    }
    let mut chunk = vec![0u8; CHUNK.min(bytes)];
    let mut remaining = bytes;
    while remaining > 0 {
        let n = remaining.min(CHUNK);
        reader.read_exact(&mut chunk[..n]).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad(format!(
                    "truncated: the header's shape {rows}x{cols} needs {bytes} bytes of data, \
                     the file ended before"
                ))
            } else {
                io(e)
            }
        })?;
        data.try_reserve(n / 8).map_err(|_| too_big())?;
        let decode = if header.big_endian {
            f64::from_be_bytes
        } else {
            f64::from_le_bytes
        };
        data.extend(
            chunk[..n]
                .chunks_exact(8)
                .map(|b| decode(b.try_into().expect("chunks of 8 bytes"))),
        );
        remaining -= n;
    }
    // A file that grew since its length was taken, or a pipe with more to say.
    if reader.read(&mut [0u8; 1]).map_err(io)? > 0 {
        return Err(bad(format!(
            "more bytes follow the {bytes} bytes of data that the header's shape {rows}x{cols} \
             describes"
        )));
    }

    let grid = if header.fortran_order {
        // Column-major data: copy it into row-major order, fallibly like the first buffer.
        let columns = Array2::from_shape_vec((rows, cols).f(), data).expect("count = rows * cols");
        let mut row_major = Vec::new();
        row_major.try_reserve_exact(count).map_err(|_| too_big())?;
        row_major.extend(columns.iter().copied());
        Array2::from_shape_vec((rows, cols), row_major)
    } else {
        Array2::from_shape_vec((rows, cols), data)
    }
    .expect("count = rows * cols");
    // The one rule for initial grids, shared with the C ABI.
    crate::problem::diffusion::check_finite_grid(grid.view()).map_err(|e| bad(e.to_string()))?;
    Ok(grid)
}

/// Reads and checks the header of a 2D float64 `.npy` file of `length` bytes (when known).
/// Errors are the message for [`Error::BadNpy`].
fn read_header(
    reader: &mut impl Read,
    length: Option<u64>,
) -> std::result::Result<GridHeader, String> {
    let mut prefix = [0u8; 12];
    reader
        .read_exact(&mut prefix[..8])
        .map_err(|_| "too short for a .npy file (no magic string and version)".to_string())?;
    if &prefix[..6] != MAGIC {
        return Err("not a .npy file (it does not start with \\x93NUMPY)".into());
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(format!(
                "format version {major}.{minor} is unknown; numpy writes 1.0, 2.0 and 3.0"
            ));
        }
    };
    let prefix = &mut prefix[..8 + len_bytes];
    reader
        .read_exact(&mut prefix[8..])
        .map_err(|_| "truncated in the header length".to_string())?;
    let header_len = prefix[8..]
        .iter()
        .rev()
        .fold(0usize, |n, &b| n << 8 | usize::from(b));
    if header_len > MAX_HEADER_LEN {
        return Err(format!(
            "header length {header_len} bytes exceeds numpy's limit of {MAX_HEADER_LEN}"
        ));
    }
    let offset = (prefix.len() + header_len) as u64;
    if let Some(length) = length
        && offset > length
    {
        return Err(format!(
            "the header length, {header_len} bytes, runs past the end of the file ({length} \
             bytes)"
        ));
    }
    let mut header = prefix.to_vec();
    reader
        .take(header_len as u64)
        .read_to_end(&mut header)
        .map_err(|e| format!("cannot read the header: {e}"))?;
    if header.len() != prefix.len() + header_len {
        return Err("truncated in the header".into());
    }
    let nesting = max_nesting(&header[prefix.len()..]);
    if nesting > MAX_NESTING {
        return Err(format!(
            "the header nests {nesting} brackets deep; a plain array's header nests 2 deep"
        ));
    }
    let parsed = Header::from_reader(&mut &header[..])
        .map_err(|e| format!("unreadable header: {}", echo(&e.to_string())))?;
    let big_endian = match parsed.type_descriptor.as_string().map(String::as_str) {
        Some("<f8") => false,
        Some(">f8") => true,
        _ => {
            return Err(format!(
                "dtype {} is not float64 (<f8)",
                echo(&parsed.type_descriptor.to_string())
            ));
        }
    };
    let &[rows, cols] = parsed.shape.as_slice() else {
        return Err(format!(
            "has {} dimension(s), shape {}; a grid has 2",
            parsed.shape.len(),
            echo(&format!("{:?}", parsed.shape))
        ));
    };
    Ok(GridHeader {
        rows,
        cols,
        big_endian,
        fortran_order: parsed.layout.is_fortran(),
        offset,
    })
}

/// The deepest nesting of `(`, `[` and `{` in a header's text, outside quoted strings.
fn max_nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<u8> = None;
    let mut escaped = false;
    for &b in text {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                }
            }
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

/// Stages `array` as a `.npy` file at `path` (see [`atomic`]).
pub fn stage<T: WritableElement>(
    path: &Path,
    arg: &'static str,
    array: ArrayView2<'_, T>,
) -> Result<Staged> {
    atomic::stage(path, arg, |out: &mut dyn Write| {
        array.write_npy(out).map_err(|e| Error::Io {
            arg,
            path: path.to_path_buf(),
            source: std::io::Error::other(echo(&e.to_string())),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert_eq!(
            max_nesting(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"),
            2
        );
        assert_eq!(max_nesting(b"{'descr': '((((', 'x': \"[[\\\"[\"}"), 1);
        assert_eq!(max_nesting(b"((((()))))"), 5);
    }
}
