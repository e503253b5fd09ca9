//! PNG pictures: the book's two renderings of the Julia set and a heat map of a grid.

use std::io::Write;
use std::path::Path;

use ndarray::ArrayView2;

use crate::error::{Error, Result};
use crate::io::atomic::{self, Staged};

/// How Julia counts become pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JuliaPalette {
    /// Figure 2-1: counts scaled to 0..=255, then spread over the RGB bytes with the book's
    /// `(o + 256 o + 256² o) * 16` trick, which bands the image to show detail.
    FalseGray,
    /// Figure 2-3: counts scaled linearly to 0..=255; black is quick, white is expensive.
    Linear,
}

/// An 8-bit image ready to encode.
struct Image {
    width: usize,
    height: usize,
    color: png::ColorType,
    data: Vec<u8>,
}

/// Stages a picture of Julia `counts` at `path` in the given palette.
pub fn stage_julia(
    path: &Path,
    arg: &'static str,
    counts: ArrayView2<'_, u32>,
    palette: JuliaPalette,
) -> Result<Staged> {
    let (height, width) = counts.dim();
    // The book scales by the largest count present (`max(output_raw)`), not by max_iter.
    let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let level = |n: u32| (n as f64 / max * 255.0) as u32;
    let image = match palette {
        JuliaPalette::Linear => Image {
            width,
            height,
            color: png::ColorType::Grayscale,
            data: counts.iter().map(|&n| level(n) as u8).collect(),
        },
        JuliaPalette::FalseGray => Image {
            width,
            height,
            color: png::ColorType::Rgb,
            data: counts
                .iter()
                .flat_map(|&n| {
                    let o = level(n);
                    let rgbx = (o + 256 * o + 256 * 256 * o) * 16;
                    let [r, g, b, _] = rgbx.to_le_bytes();
                    [r, g, b]
                })
                .collect(),
        },
    };
    stage_png(path, arg, &image)
}

/// Stages a heat map of `grid` at `path`: colour scale "inferno" from the grid's minimum
/// (black) to its maximum (yellow).
pub fn stage_heat_map(path: &Path, arg: &'static str, grid: ArrayView2<'_, f64>) -> Result<Staged> {
    let (height, width) = grid.dim();
    let (lo, hi) = grid
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let data = grid
        .iter()
        .flat_map(|&v| {
            colorous::INFERNO
                .eval_continuous((v - lo) / span)
                .as_array()
        })
        .collect();
    let image = Image {
        width,
        height,
        color: png::ColorType::Rgb,
        data,
    };
    stage_png(path, arg, &image)
}

/// Stages an 8-bit RGB picture (`width * height * 3` bytes, row-major), such as a rendered plot.
pub fn stage_rgb(
    path: &Path,
    arg: &'static str,
    (width, height): (usize, usize),
    data: Vec<u8>,
) -> Result<Staged> {
    let image = Image {
        width,
        height,
        color: png::ColorType::Rgb,
        data,
    };
    stage_png(path, arg, &image)
}

fn stage_png(path: &Path, arg: &'static str, image: &Image) -> Result<Staged> {
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
    let (width, height) = (dim(image.width)?, dim(image.height)?);
    atomic::stage(path, arg, |out: &mut dyn Write| {
        let mut encoder = png::Encoder::new(out, width, height);
        encoder.set_color(image.color);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(&image.data))
            .map_err(|e| png_error(e.to_string()))
    })
}
