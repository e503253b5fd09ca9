//! Speed-up against grid size per backend, the book's Figure 6-4, as SVG and PNG.
//!
//! plotters draws both. Its bitmap backend has no font of its own without system libraries
//! (fontconfig, freetype), so the PNG goes through [`TextOnBitmap`], which draws text with
//! `ab_glyph` and a font compiled into the program (DejaVu Sans Mono, `assets/`).

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use crate::error::{Error, Result};
use crate::harness::{Kernel, Results};
use crate::io::atomic::Staged;
use crate::io::picture;

const SIZE: (u32, u32) = (960, 600);
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");

/// One line per backend: `(grid side, speed-up)`.
type Series = Vec<(String, Vec<(f64, f64)>)>;

fn series(r: &Results) -> Option<Series> {
    if !r.settings.kernels.contains(&Kernel::Diffusion) || r.settings.sizes.is_empty() {
        return None;
    }
    Some(
        r.settings
            .backends
            .iter()
            .map(|b| {
                let points = r
                    .settings
                    .sizes
                    .iter()
                    .filter_map(|&n| {
                        let m = r.find(Kernel::Diffusion, b, Some(n))?;
                        Some(((n as f64).log2(), m.speedup))
                    })
                    .collect();
                (b.clone(), points)
            })
            .collect(),
    )
}

/// Draws the chart on any plotters backend.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    r: &Results,
    data: &Series,
) -> std::result::Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let xs = data.iter().flat_map(|(_, p)| p.iter().map(|&(x, _)| x));
    let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let y_max = data
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(_, y)| y))
        .filter(|y| y.is_finite())
        .fold(1.0f64, f64::max);
    let caption = format!(
        "Diffusion, {} steps: speed-up vs scalar by grid size",
        r.settings.steps
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((x_min - 0.3)..(x_max + 0.3), 0.0..y_max * 1.15)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("grid size (N x N)")
        .y_desc("speed-up vs scalar")
        .x_labels(((x_max - x_min) as usize + 1) * 2 + 1)
        .x_label_formatter(&|x| {
            // Grid sides are powers of two: label those, leave the ticks between blank.
            if (x - x.round()).abs() < 1e-6 {
                format!("{}", 2f64.powf(x.round()))
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.1}x"))
        .draw()
        .map_err(e)?;
    for (i, (name, points)) in data.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.clone(),
                Color::stroke_width(&color, 2),
            ))
            .map_err(e)?
            // Two spaces: the legend box is sized from estimates that run a little short.
            .label(format!("{name}  "))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], Color::stroke_width(&color, 2))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

fn plot_error(path: &str, message: String) -> Error {
    Error::Png {
        arg: "--out",
        path: path.into(),
        message,
    }
}

/// The plot as an SVG document, when the run measured diffusion.
pub fn svg(r: &Results) -> Option<Result<String>> {
    let data = series(r)?;
    let mut text = String::new();
    let drawn = draw(
        SVGBackend::with_string(&mut text, SIZE).into_drawing_area(),
        r,
        &data,
    );
    Some(match drawn {
        Ok(()) => Ok(text),
        Err(message) => Err(plot_error(super::report::PLOT_SVG, message)),
    })
}

/// The plot staged as a PNG at `path`, when the run measured diffusion.
pub fn png(r: &Results, path: &Path) -> Option<Result<Staged>> {
    let data = series(r)?;
    let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    let font = FontRef::try_from_slice(FONT).expect("the bundled font parses");
    let drawn = {
        let backend = TextOnBitmap {
            inner: BitMapBackend::with_buffer(&mut rgb, SIZE),
            font,
        };
        draw(backend.into_drawing_area(), r, &data)
    };
    Some(match drawn {
        Ok(()) => picture::stage_rgb(path, "--out", (SIZE.0 as usize, SIZE.1 as usize), rgb),
        Err(message) => Err(plot_error(super::report::PLOT_PNG, message)),
    })
}

/// plotters' bitmap backend, with text drawn by `ab_glyph` from the bundled font.
struct TextOnBitmap<'a> {
    inner: BitMapBackend<'a>,
    font: FontRef<'static>,
}

impl TextOnBitmap<'_> {
    /// Glyphs of `text` laid out on one line from the origin (top-left of the line box),
    /// and the line's size.
    fn layout(&self, text: &str, size: f64) -> (Vec<ab_glyph::Glyph>, (f32, f32)) {
        let scale = PxScale::from(size as f32);
        let scaled = self.font.as_scaled(scale);
        let mut x = 0.0;
        let mut previous = None;
        let mut glyphs = Vec::new();
        for ch in text.chars() {
            let id = self.font.glyph_id(ch);
            if let Some(p) = previous {
                x += scaled.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(scale, point(x, scaled.ascent())));
            x += scaled.h_advance(id);
            previous = Some(id);
        }
        (glyphs, (x, scaled.ascent() - scaled.descent()))
    }
}

type BitmapError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

impl DrawingBackend for TextOnBitmap<'_> {
    type ErrorType = BitmapError;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<BitmapError>> {
        let (_, (w, h)) = self.layout(text, style.size());
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> std::result::Result<(), DrawingErrorKind<BitmapError>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (glyphs, (w, h)) = self.layout(text, style.size());
        let (w, h) = (w.ceil() as i32, h.ceil() as i32);
        // Anchor and rotation as plotters' own text drawing does them.
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let transform = style.transform();
        for glyph in glyphs {
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let inner = &mut self.inner;
            outline.draw(|gx, gy, coverage| {
                let x = bounds.min.x as i32 + gx as i32 + dx;
                let y = bounds.min.y as i32 + gy as i32 + dy;
                let (x, y) = transform.transform(x, y);
                let pixel = BackendColor {
                    alpha: color.alpha * f64::from(coverage.min(1.0)),
                    rgb: color.rgb,
                };
                // Out-of-range pixels are skipped by the bitmap backend; it has no other error.
                let _ = inner.draw_pixel((pos.0 + x, pos.1 + y), pixel);
            });
        }
        Ok(())
    }
}
