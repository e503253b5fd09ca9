//! The Julia set problem of the book's chapters 2 and 7 (SPEC §1).

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result, number};
use crate::problem::{check_finite, try_zeros};

/// The rectangle of the complex plane that is sampled: real axis `x1..x2`, imaginary `y1..y2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub x1: f64,
    pub x2: f64,
    pub y1: f64,
    pub y2: f64,
}

impl Region {
    /// The book's region, `(-1.8, 1.8, -1.8, 1.8)`.
    pub const BOOK: Region = Region {
        x1: -1.8,
        x2: 1.8,
        y1: -1.8,
        y2: 1.8,
    };
}

/// The book's constant `c = -0.62772 - 0.42193i`, as `(re, im)`.
pub const BOOK_C: (f64, f64) = (-0.62772, -0.42193);
/// The book's image size (width and height).
pub const BOOK_SIZE: usize = 1000;
/// The book's iteration limit.
pub const BOOK_MAX_ITER: u32 = 300;
/// The book's own check (Example 2-2): the sum of all counts of the default problem.
pub const BOOK_CHECKSUM: u64 = 33_219_980;

const COUNTS: &str = "Julia counts (height x width)";

/// A validated Julia set problem, with its pixel coordinates computed once.
///
/// Every backend reads the coordinates from [`xs`](Self::xs) and [`ys`](Self::ys) instead of
/// recomputing them, so no backend can differ from another by how it rounds a coordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct JuliaParams {
    width: usize,
    height: usize,
    region: Region,
    c: (f64, f64),
    max_iter: u32,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl JuliaParams {
    /// Validates the parameters and computes the coordinates exactly as SPEC §1 says:
    /// `xs[i] = x1 + i * ((x2 - x1) / width)`, `ys[j] = y2 + j * ((y1 - y2) / height)`
    /// (row 0 is the top edge).
    pub fn new(
        width: usize,
        height: usize,
        region: Region,
        c: (f64, f64),
        max_iter: u32,
    ) -> Result<Self> {
        if width == 0 {
            return Err(Error::invalid("width", width, "an integer >= 1"));
        }
        if height == 0 {
            return Err(Error::invalid("height", height, "an integer >= 1"));
        }
        let bytes = width as u128 * height as u128 * std::mem::size_of::<u32>() as u128;
        if bytes > isize::MAX as u128 {
            return Err(Error::OutOfMemory {
                what: COUNTS,
                shape: (height, width),
                bytes,
            });
        }
        let Region { x1, x2, y1, y2 } = region;
        let region_text = [x1, x2, y1, y2].map(number).join(",");
        for v in [x1, x2, y1, y2] {
            check_finite("region", v, &region_text, "four finite numbers X1,X2,Y1,Y2")?;
        }
        if x1 >= x2 || y1 >= y2 {
            return Err(Error::invalid(
                "region",
                region_text,
                "X1,X2,Y1,Y2 with X1 < X2 and Y1 < Y2",
            ));
        }
        let c_text = [c.0, c.1].map(number).join(",");
        check_finite("c", c.0, &c_text, "two finite numbers RE,IM")?;
        check_finite("c", c.1, &c_text, "two finite numbers RE,IM")?;

        let step_x = (x2 - x1) / width as f64;
        let step_y = (y1 - y2) / height as f64;
        if !step_x.is_finite() || !step_y.is_finite() {
            return Err(Error::invalid(
                "region",
                region_text,
                "a region whose width and height are finite f64 numbers",
            ));
        }
        // Reserve the coordinate vectors fallibly: a huge width must be an error, not an abort.
        let xs = coordinates(width, x1, step_x, "width")?;
        let ys = coordinates(height, y2, step_y, "height")?;
        Ok(JuliaParams {
            width,
            height,
            region,
            c,
            max_iter,
            xs,
            ys,
        })
    }

    /// The book's problem: 1000 x 1000, region (-1.8, 1.8, -1.8, 1.8), c = -0.62772 - 0.42193i,
    /// 300 iterations.
    pub fn book() -> Self {
        Self::new(BOOK_SIZE, BOOK_SIZE, Region::BOOK, BOOK_C, BOOK_MAX_ITER)
            .expect("the book's parameters are valid")
    }

    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    /// `(height, width)`: the shape of the counts array.
    pub fn shape(&self) -> (usize, usize) {
        (self.height, self.width)
    }
    pub fn region(&self) -> Region {
        self.region
    }
    /// `(re, im)` of the constant `c`.
    pub fn c(&self) -> (f64, f64) {
        self.c
    }
    pub fn max_iter(&self) -> u32 {
        self.max_iter
    }
    /// Real part of `z0` for each column.
    pub fn xs(&self) -> &[f64] {
        &self.xs
    }
    /// Imaginary part of `z0` for each row (row 0 is the top edge, `y2`).
    pub fn ys(&self) -> &[f64] {
        &self.ys
    }

    /// A zeroed counts array of this problem's shape, allocated fallibly.
    pub fn new_counts(&self) -> Result<Array2<u32>> {
        try_zeros(self.shape(), COUNTS)
    }
}

fn coordinates(n: usize, start: f64, step: f64, what: &'static str) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::invalid(what, n, "a size whose coordinates fit in memory"))?;
    v.extend((0..n).map(|i| start + (i as f64) * step));
    Ok(v)
}

/// The Julia checksum: the sum of all counts, as the book prints it (`sum(output)`).
pub fn checksum(counts: ArrayView2<'_, u32>) -> u64 {
    counts.iter().map(|&n| u64::from(n)).sum()
}
