//! `scalar-autovec`: the very loops of `scalar`, compiled by rustc (LLVM) once more for
//! x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512) through `#[target_feature]`, the best one
//! this CPU has chosen at run time. It shows what LLVM's auto-vectoriser does with the plain
//! loop when it may use wider vectors: Rust's row of the compiler-strategy table (issue 16).
//!
//! Exact: LLVM contracts `a * b + c` into a fused multiply-add only under fast-math flags,
//! which rustc never sets, and it does not reassociate floating-point sums without them; so
//! allowing the FMA and AVX-512 instructions changes which instructions compute each
//! canonical operation, not its rounding. The agreement tests hold it to that, bit for bit,
//! on the stress cases built so that one changed rounding shows.

use crate::backend::rows::{RowKernels, Serial};
use crate::backend::scalar;
use crate::problem::JuliaParams;

/// An x86-64 micro-architecture level the loops are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The build's target (x86-64: SSE2), that is `scalar` itself.
    Baseline,
    /// x86-64-v3: AVX2, FMA, BMI.
    V3,
    /// x86-64-v4: AVX-512 F/VL/BW/DQ/CD on top of v3.
    V4,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::V3 => "x86-64-v3 (avx2, fma)",
            Level::V4 => "x86-64-v4 (avx512f/vl/bw/dq/cd)",
        }
    }

    /// Every level this CPU can run, lowest first.
    pub fn available() -> Vec<Level> {
        let mut levels = vec![Level::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            let v3 = std::is_x86_feature_detected!("avx2")
                && std::is_x86_feature_detected!("fma")
                && std::is_x86_feature_detected!("bmi1")
                && std::is_x86_feature_detected!("bmi2")
                && std::is_x86_feature_detected!("lzcnt")
                && std::is_x86_feature_detected!("movbe");
            let v4 = v3
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512cd");
            if v3 {
                levels.push(Level::V3);
            }
            if v4 {
                levels.push(Level::V4);
            }
        }
        levels
    }
}

/// The scalar row kernels, run through the code compiled for `level`.
#[derive(Debug, Clone, Copy)]
pub struct AutovecRows {
    level: Level,
}

impl AutovecRows {
    /// The best level this CPU has.
    pub fn best() -> AutovecRows {
        let level = *Level::available()
            .last()
            .expect("the baseline is always there");
        AutovecRows { level }
    }

    /// `level`, if this CPU can run it.
    pub fn at(level: Level) -> Option<AutovecRows> {
        Level::available()
            .contains(&level)
            .then_some(AutovecRows { level })
    }

    pub fn level(&self) -> Level {
        self.level
    }
}

/// The `scalar-autovec` backend.
pub fn backend() -> Serial<AutovecRows> {
    Serial::new("scalar-autovec", AutovecRows::best())
}

/// The same body compiled for one set of target features (`scalar`'s loops are always
/// inlined, so they are compiled here, with these features).
macro_rules! multiversioned {
    ($julia:ident, $diffusion:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $julia(params: &JuliaParams, first_row: usize, out: &mut [u32]) {
            scalar::julia_rows(params, first_row, out)
        }
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $diffusion(up: &[f64], mid: &[f64], down: &[f64], k: f64, out: &mut [f64]) {
            scalar::diffusion_row(up, mid, down, k, out)
        }
    };
}

multiversioned!(
    julia_rows_v3,
    diffusion_row_v3,
    "avx2,fma,bmi1,bmi2,lzcnt,movbe,popcnt"
);
multiversioned!(
    julia_rows_v4,
    diffusion_row_v4,
    "avx512f,avx512vl,avx512bw,avx512dq,avx512cd,avx2,fma,bmi1,bmi2,lzcnt,movbe,popcnt"
);

impl RowKernels for AutovecRows {
    fn julia_rows(&self, params: &JuliaParams, first_row: usize, out: &mut [u32]) {
        match self.level {
            Level::Baseline => scalar::julia_rows(params, first_row, out),
            // SAFETY: an `AutovecRows` holds a level only when this CPU has its features
            // (`Level::available`).
            #[cfg(target_arch = "x86_64")]
            Level::V3 => unsafe { julia_rows_v3(params, first_row, out) },
            #[cfg(target_arch = "x86_64")]
            Level::V4 => unsafe { julia_rows_v4(params, first_row, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only x86-64 has levels above the baseline"),
        }
    }

    fn diffusion_row(&self, k: f64, up: &[f64], mid: &[f64], down: &[f64], out: &mut [f64]) {
        match self.level {
            Level::Baseline => scalar::diffusion_row(up, mid, down, k, out),
            // SAFETY: as for `julia_rows`.
            #[cfg(target_arch = "x86_64")]
            Level::V3 => unsafe { diffusion_row_v3(up, mid, down, k, out) },
            #[cfg(target_arch = "x86_64")]
            Level::V4 => unsafe { diffusion_row_v4(up, mid, down, k, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("only x86-64 has levels above the baseline"),
        }
    }

    fn details(&self) -> Vec<(&'static str, String)> {
        vec![("target", self.level.as_str().to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::JuliaKernel;
    use crate::backend::rows::Serial;
    use crate::problem::stress;

    /// Every level this CPU has, not only the best one the backend picks, gives `scalar`'s
    /// bits on the stress cases (the agreement tests cover the backend itself).
    #[test]
    fn every_level_is_bitwise_scalar_on_the_stress_cases() {
        let reference = scalar::backend();
        for level in Level::available() {
            let rows = Serial::new("level", AutovecRows::at(level).unwrap());
            for case in stress::diffusion_cases() {
                let mut expected = case.init.clone();
                let mut got = case.init.clone();
                crate::evolve(&reference, &case.params, expected.view_mut(), case.steps).unwrap();
                crate::evolve(&rows, &case.params, got.view_mut(), case.steps).unwrap();
                let same = expected
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
                assert!(same, "{} diffusion {}", level.as_str(), case.slug);
            }
            for case in stress::julia_cases() {
                let (w, h) = (case.params.width(), case.params.height());
                let mut expected = ndarray::Array2::zeros((h, w));
                let mut got = ndarray::Array2::zeros((h, w));
                reference.julia(&case.params, expected.view_mut()).unwrap();
                rows.julia(&case.params, got.view_mut()).unwrap();
                assert_eq!(expected, got, "{} julia {}", level.as_str(), case.slug);
            }
        }
    }
}
