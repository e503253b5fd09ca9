//! PNG pictures: the book's two renderings of the Julia set and a heat map of a grid.

use std::io::Write;
use std::path::Path;

use ndarray::ArrayView2;

use crate::error::{Error, Result};
use crate::io::atomic::{self, Staged};

/// How Julia counts become pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum JuliaPalette {
    /// Figure 2-1: counts scaled to 0..=255, then spread over the RGB bytes with the book's
    /// `(o + 256 o + 256² o) * 16` trick, which bands the image to show detail.
    FalseGray,
    /// Figure 2-3: counts scaled linearly to 0..=255; black is quick, white is expensive.
    Linear,
}

/// Stages a picture of Julia `counts` at `path` in the given palette.
pub fn stage_julia(
    path: &Path,
    arg: &'static str,
    counts: ArrayView2<'_, u32>,
    palette: JuliaPalette,
) -> Result<Staged> {
    // The book scales by the largest count present (`max(output_raw)`), not by max_iter.
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let level = |n: u32| (n as f64 / max * 255.0) as u32;
    let rows = counts.rows();
    match palette {
        JuliaPalette::Linear => stage_png(
            path,
            arg,
            counts.dim(),
            png::ColorType::Grayscale,
            rows.into_iter().map(|row| {
                move |pixels: &mut [u8]| {
                    for (p, &n) in pixels.iter_mut().zip(row) {
                        *p = level(n) as u8;
                    }
                }
            }),
        ),
        JuliaPalette::FalseGray => stage_png(
            path,
            arg,
            counts.dim(),
            png::ColorType::Rgb,
            rows.into_iter().map(|row| {
                move |pixels: &mut [u8]| {
                    for (rgb, &n) in pixels.chunks_exact_mut(3).zip(row) {
                        let o = level(n);
                        let [r, g, b, _] = ((o + 256 * o + 256 * 256 * o) * 16).to_le_bytes();
                        rgb.copy_from_slice(&[r, g, b]);
                    }
                }
            }),
        ),
    }
}

/// Stages a heat map of `grid` at `path`: colour scale "inferno" from the grid's smallest
/// finite value (black) to its largest (yellow). Non-finite cells, which an overflowing grid
/// has: `+inf` is drawn as the top of the scale, `-inf` and NaN as the bottom.
pub fn stage_heat_map(path: &Path, arg: &'static str, grid: ArrayView2<'_, f64>) -> Result<Staged> {
    let (lo, hi) = grid
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    // In halves: `hi - lo` overflows when the range spans most of f64, `hi/2 - lo/2` cannot.
    let span = if hi > lo { hi / 2.0 - lo / 2.0 } else { 1.0 };
    let scale = move |v: f64| {
        let t = match v {
            f64::INFINITY => 1.0,
            v if v.is_finite() => (v / 2.0 - lo / 2.0) / span,
            _ => 0.0,
        };
        colorous::INFERNO.eval_continuous(t).as_array()
    };
    stage_png(
        path,
        arg,
        grid.dim(),
        png::ColorType::Rgb,
        grid.rows().into_iter().map(|row| {
            move |pixels: &mut [u8]| {
                for (rgb, &v) in pixels.chunks_exact_mut(3).zip(row) {
                    rgb.copy_from_slice(&scale(v));
                }
            }
        }),
    )
}

/// Stages an 8-bit RGB picture (`width * height * 3` bytes, row-major), such as a rendered plot.
pub fn stage_rgb(
    path: &Path,
    arg: &'static str,
    (width, height): (usize, usize),
    data: Vec<u8>,
) -> Result<Staged> {
    let row_len = width * 3;
    if data.len() != row_len * height {
        return Err(Error::Png {
            arg,
            path: path.to_path_buf(),
            message: format!(
                "{} bytes of RGB data for a {width}x{height} picture, expected {}",
                data.len(),
                row_len * height
            ),
        });
    }
    stage_png(
        path,
        arg,
        (height, width),
        png::ColorType::Rgb,
        data.chunks_exact(row_len.max(1))
            .map(|source| move |pixels: &mut [u8]| pixels.copy_from_slice(source)),
    )
}

/// Stages a `height x width` picture whose rows, top first, are drawn by `rows` into a
/// buffer of one row of 8-bit pixels. The picture is encoded row by row: no buffer holds it
/// whole, so a picture as big as its counts costs one row of memory more, not three bytes a
/// pixel.
fn stage_png<F: FnOnce(&mut [u8])>(
    path: &Path,
    arg: &'static str,
    (height, width): (usize, usize),
    color: png::ColorType,
    rows: impl Iterator<Item = F>,
) -> Result<Staged> {
    let png_error = |message: String| Error::Png {
        arg,
        path: path.to_path_buf(),
        message,
    };
    let dim = |n: usize| {
        u32::try_from(n)
            .ok()
            .filter(|&n| n <= i32::MAX as u32)
            .ok_or_else(|| png_error(format!("{n} pixels is wider or taller than PNG allows")))
    };
    let (png_width, png_height) = (dim(width)?, dim(height)?);
    let channels = match color {
        png::ColorType::Grayscale => 1,
        _ => 3,
    };
    let row_len = width * channels;
    let too_big = || {
        png_error(format!(
            "a row of {width} pixels needs {} bytes, more than can be allocated here",
            row_len * 4
        ))
    };
    // The encoder keeps three rows of its own (previous, current, filtered), allocated with
    // `vec!`, which aborts when memory is short. Ask for them first, with this one row, so
    // that a picture too wide for this machine is an error instead.
    Vec::<u8>::new()
        .try_reserve_exact(row_len.checked_mul(4).ok_or_else(too_big)?)
        .map_err(|_| too_big())?;
    let mut row = Vec::new();
    row.try_reserve_exact(row_len).map_err(|_| too_big())?;
    row.resize(row_len, 0u8);
    let encoding = |e: png::EncodingError| png_error(e.to_string());
    atomic::stage(path, arg, |out: &mut dyn Write| {
        let mut encoder = png::Encoder::new(out, png_width, png_height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(encoding)?;
        let mut stream = writer
            .stream_writer_with_size(STREAM_CHUNK)
            .map_err(encoding)?;
        for draw in rows {
            draw(&mut row);
            stream
                .write_all(&row)
                .map_err(|e| png_error(e.to_string()))?;
        }
        stream.finish().map_err(encoding)?;
        writer.finish().map_err(encoding)
    })
}

/// The size of the PNG's data chunks (IDAT): large enough that their 12 bytes of framing
/// do not matter.
const STREAM_CHUNK: usize = 1 << 20;
