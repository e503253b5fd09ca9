//! The two charts of a run, as SVG and PNG: diffusion speed-up against grid size per backend
//! (the book's Figure 6-4) and the roofline (every CPU measurement at its arithmetic
//! intensity and achieved rate, under the ceilings calibrated in the same run).
//!
//! plotters draws each chart once, as SVG; resvg rasterises that SVG into the PNG with a font
//! compiled into the program (DejaVu Sans Mono, `assets/`), so the two files show the same
//! chart and no system font library is needed. (plotters' own bitmap text, with its
//! `ab_glyph` feature, misplaces narrow glyphs: "0.1x" comes out as "0. 1x".) Both axes of
//! both charts are logarithmic, and the legend sits beside the plot, never over it.

use std::sync::Arc;

use plotters::coord::Shift;
use plotters::prelude::*;
use resvg::{tiny_skia, usvg};

use crate::harness::Results;
use crate::harness::measure::Timing;
use crate::problem::Kernel;

const SIZE: (u32, u32) = (1100, 640);
/// Width of the legend column at the right.
const LEGEND: u32 = 250;
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");
const FAMILY: &str = "sans-serif";

/// The charts of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Diffusion speed-up vs scalar by grid size (Figure 6-4).
    Speedup,
    /// Achieved f64 operations per second against arithmetic intensity, under the ceilings.
    Roofline,
}

impl Chart {
    pub fn svg_name(self) -> &'static str {
        match self {
            Chart::Speedup => super::SPEEDUP_SVG,
            Chart::Roofline => super::ROOFLINE_SVG,
        }
    }
    pub fn png_name(self) -> &'static str {
        match self {
            Chart::Speedup => super::SPEEDUP_PNG,
            Chart::Roofline => super::ROOFLINE_PNG,
        }
    }
}

/// One named series of points.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

/// `chart` of `results` as SVG text and PNG bytes, or `None` when the run has nothing to
/// draw (no diffusion, no CPU measurement).
pub fn draw(chart: Chart, results: &Results) -> Option<Result<(String, Vec<u8>), String>> {
    let data = match chart {
        Chart::Speedup => speedup_series(results),
        Chart::Roofline => roofline_series(results),
    }?;
    let mut svg = String::new();
    let drawn = render(
        chart,
        SVGBackend::with_string(&mut svg, SIZE).into_drawing_area(),
        results,
        &data,
    );
    Some(drawn.and_then(|()| {
        let png = rasterise(&svg)?;
        Ok((svg, png))
    }))
}

/// The PNG of an SVG document, its text in the bundled font.
fn rasterise(svg: &str) -> Result<Vec<u8>, String> {
    let mut options = usvg::Options::default();
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(FONT.to_vec());
    // plotters asks for the generic family; the bundled font is the only one there is.
    fonts.set_sans_serif_family("DejaVu Sans Mono");
    fonts.set_monospace_family("DejaVu Sans Mono");
    options.fontdb = Arc::new(fonts);
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| e.to_string())?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| format!("cannot make a {}x{} picture", size.width(), size.height()))?;
    // White under the chart, as a PNG viewer would not assume one.
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| e.to_string())
}

/// One series per backend of the run, its points from `points`; `None` when none has any.
fn per_backend(r: &Results, points: impl Fn(&str) -> Vec<(f64, f64)>) -> Option<Vec<Series>> {
    let series: Vec<Series> = r
        .settings
        .backends
        .iter()
        .map(|b| Series {
            name: b.clone(),
            points: points(b),
        })
        .collect();
    series
        .iter()
        .any(|s| !s.points.is_empty())
        .then_some(series)
}

fn speedup_series(r: &Results) -> Option<Vec<Series>> {
    if r.settings.sizes.is_empty() || !r.settings.kernels.contains(&Kernel::Diffusion) {
        return None;
    }
    per_backend(r, |b| {
        r.settings
            .sizes
            .iter()
            .filter_map(|&n| {
                let t = r.find(Kernel::Diffusion, b, Some(n))?.timing()?;
                Some((n as f64, t.speedup?))
            })
            .filter(|&(_, s)| s > 0.0 && s.is_finite())
            .collect()
    })
}

/// Where a measurement sits on the roofline: `(ops per byte, ops per second)`. Problems
/// that move no grid through memory (Julia, grids in cache) are drawn at the right edge.
fn roofline_point(t: &Timing, right_edge: f64) -> Option<(f64, f64)> {
    let r = t.roofline.as_ref()?;
    Some((
        r.arithmetic_intensity.unwrap_or(right_edge),
        r.ops_per_second,
    ))
}

const INTENSITY: (f64, f64) = (0.05, 64.0);

fn roofline_series(r: &Results) -> Option<Vec<Series>> {
    per_backend(r, |b| {
        r.measurements
            .iter()
            .filter(|m| m.backend == b)
            .filter_map(|m| roofline_point(m.timing()?, INTENSITY.1 / 1.5))
            .collect()
    })
}

fn colour(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

fn render<DB: DrawingBackend>(
    chart: Chart,
    root: DrawingArea<DB, Shift>,
    r: &Results,
    data: &[Series],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND);
    match chart {
        Chart::Speedup => speedup_chart(&plot, r, data).map_err(e)?,
        Chart::Roofline => roofline_chart(&plot, r, data).map_err(e)?,
    }
    draw_legend(&legend, data).map_err(e)?;
    root.present().map_err(e)
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn speedup_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &Results,
    data: &[Series],
) -> DrawResult<DB> {
    // x is log2 of the grid side, so the axis is logarithmic in N and each book size sits
    // on a whole number, labelled as the book labels it (256²).
    let xs = r.settings.sizes.iter().map(|&n| (n as f64).log2());
    let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    let ys = data.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (y_min, y_max) = ys.fold((1.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Diffusion, {} steps: speed-up vs scalar by grid size",
                r.settings.steps
            ),
            (FAMILY, 22),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min - 0.4)..(x_max + 0.4),
            (y_min / 1.5..y_max * 1.5).log_scale(),
        )?;
    let sizes = r.settings.sizes.clone();
    chart
        .configure_mesh()
        .x_desc("grid size (N x N cells)")
        .y_desc("speed-up vs scalar (log scale)")
        .x_labels(((x_max - x_min) as usize + 1) * 4 + 1)
        .x_label_formatter(&|x| {
            // Label the measured sizes, nothing in between.
            sizes
                .iter()
                .find(|&&n| ((n as f64).log2() - x).abs() < 1e-6)
                .map_or(String::new(), |n| format!("{n}²"))
        })
        .y_label_formatter(&|y| format!("{y}x"))
        .label_style((FAMILY, 15))
        .draw()?;
    for (i, s) in data.iter().enumerate() {
        let c = colour(i);
        let points: Vec<(f64, f64)> = s.points.iter().map(|&(n, y)| (n.log2(), y)).collect();
        chart.draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    Ok(())
}

fn roofline_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    r: &Results,
    data: &[Series],
) -> DrawResult<DB> {
    let c = &r.calibration;
    let peak = c
        .mix("diffusion")
        .map(|m| m.all_cores_per_s * m.ops_per_unit);
    let bandwidth = c.memory.copy_all_threads;
    let ys = data.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (y_min, y_max) = ys.chain(peak).fold((f64::INFINITY, 0.0f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Roofline: {} ({} threads, {:.2} effective cores)",
                r.machine.cpu,
                c.threads,
                c.effective_cores.unwrap_or(f64::NAN)
            ),
            (FAMILY, 18),
        )
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (INTENSITY.0..INTENSITY.1).log_scale(),
            (y_min / 3.0..y_max * 3.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("f64 operations per byte of memory traffic (right edge: none modelled)")
        .y_desc("f64 operations per second")
        .y_label_formatter(&|y| crate::report::si(*y))
        .label_style((FAMILY, 15))
        .draw()?;
    let grey = RGBColor(90, 90, 90);
    // The memory ceiling (bandwidth x intensity) up to where it meets the compute ceiling.
    let ridge = peak.map_or(INTENSITY.1, |p| {
        (p / bandwidth).clamp(INTENSITY.0, INTENSITY.1)
    });
    chart.draw_series(LineSeries::new(
        [
            (INTENSITY.0, bandwidth * INTENSITY.0),
            (ridge, bandwidth * ridge),
        ],
        grey.stroke_width(2),
    ))?;
    if let Some(p) = peak {
        chart.draw_series(LineSeries::new(
            [(ridge, p), (INTENSITY.1, p)],
            grey.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            format!(
                "exact diffusion mix, all cores: {}op/s",
                crate::report::si(p)
            ),
            (ridge * 1.1, p * 1.15),
            (FAMILY, 14),
        )))?;
    }
    chart.draw_series(std::iter::once(Text::new(
        format!("copy bandwidth {:.1} GB/s", bandwidth / 1e9),
        (INTENSITY.0 * 1.2, bandwidth * INTENSITY.0 * 1.6),
        (FAMILY, 14),
    )))?;
    for (i, s) in data.iter().enumerate() {
        let col = colour(i);
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 5, col.filled())))?;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &[Series],
) -> DrawResult<DB> {
    for (i, s) in data.iter().enumerate() {
        let y = 60 + 22 * i as i32;
        let c = colour(i);
        area.draw(&PathElement::new(vec![(10, y), (34, y)], c.stroke_width(3)))?;
        area.draw(&Circle::new((22, y), 4, c.filled()))?;
        area.draw(&Text::new(s.name.clone(), (42, y - 8), (FAMILY, 15)))?;
    }
    Ok(())
}
