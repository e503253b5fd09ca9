//! Measures how sensitive Julia problems are to one changed rounding: for each problem, the
//! share of pixels whose count changes under each [`JuliaShortcut`] (the canonical iteration
//! with one operation fused or reassociated, computed in Rust), and under the tolerance
//! backends this build can run (`c-native`, `gpu-f32`, ...). This is how the chaotic cases of
//! `lancehead::problem::stress` were chosen; rerun it to check them or to look for others.
//!
//! ```sh
//! cargo run --release --example find_sensitive_julia                  # the built-in candidates
//! cargo run --release --example find_sensitive_julia -- --width 301 --height 199 \
//!     --c=-0.7269,0.1889 --max-iter 3000 --region=-1.8,1.8,-1.8,1.8
//! ```

use std::time::Instant;

use clap::Parser;
use lancehead::agreement::{ChaoticDiff, Precision, RoundingHorizon};
use lancehead::problem::Kernel;
use lancehead::problem::stress::{self, JuliaShortcut};
use lancehead::registry::{self, Agreement};
use lancehead::{JuliaParams, Region};

#[derive(Parser)]
#[command(about = "Share of Julia pixels that one changed rounding changes")]
struct Args {
    #[arg(long, default_value_t = 301)]
    width: usize,
    #[arg(long, default_value_t = 199)]
    height: usize,
    /// `RE,IM`; without it, the built-in candidates are measured.
    #[arg(long, value_parser = pair)]
    c: Option<(f64, f64)>,
    /// `X1,X2,Y1,Y2`.
    #[arg(long, value_parser = region, default_value = "-1.8,1.8,-1.8,1.8")]
    region: Region,
    #[arg(long, default_value_t = 3000)]
    max_iter: u32,
    /// Measure a sweep of candidate `c` values on the book region instead.
    #[arg(long)]
    sweep: bool,
    /// Backends to compare as well (default: every non-exact one of this build).
    #[arg(long, value_delimiter = ',')]
    backends: Option<Vec<String>>,
}

fn numbers(s: &str, n: usize) -> Result<Vec<f64>, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>().map_err(|e| format!("{x}: {e}")))
        .collect::<Result<_, _>>()?;
    if v.len() == n {
        Ok(v)
    } else {
        Err(format!("expected {n} comma-separated numbers"))
    }
}

fn pair(s: &str) -> Result<(f64, f64), String> {
    let v = numbers(s, 2)?;
    Ok((v[0], v[1]))
}

fn region(s: &str) -> Result<Region, String> {
    let v = numbers(s, 4)?;
    Ok(Region {
        x1: v[0],
        x2: v[1],
        y1: v[2],
        y2: v[3],
    })
}

fn main() -> lancehead::Result<()> {
    let args = Args::parse();
    let scalar = registry::create("scalar")?;
    let names: Vec<String> = args.backends.clone().unwrap_or_else(|| {
        registry::compiled()
            .filter(|b| b.julia != Agreement::Exact || b.name == "gpu")
            .map(|b| b.name.to_string())
            .collect()
    });
    let others: Vec<_> = names
        .iter()
        .filter_map(|name| match registry::create(name) {
            Ok(b) => Some(b),
            Err(e) => {
                println!("(not compared: {e})");
                None
            }
        })
        .collect();

    let problems: Vec<(String, JuliaParams)> = if args.sweep {
        sweep(&args)?
    } else {
        match args.c {
            Some(c) => vec![(
                format!("c={c:?}"),
                JuliaParams::new(args.width, args.height, args.region, c, args.max_iter)?,
            )],
            None => stress::julia_cases()
                .into_iter()
                .map(|case| (case.slug.to_string(), case.params))
                .collect(),
        }
    };

    for (label, params) in problems {
        let start = Instant::now();
        let reference = lancehead::julia(&*scalar, &params)?;
        let seconds = start.elapsed().as_secs_f64();
        let r = params.region();
        println!(
            "{label}: {}x{} region ({}, {}, {}, {}) c = {:?} max_iter {}; scalar sum {} in {seconds:.3} s",
            params.width(),
            params.height(),
            r.x1,
            r.x2,
            r.y1,
            r.y2,
            params.c(),
            params.max_iter(),
            lancehead::problem::julia::checksum(reference.view())
        );
        let horizons = [Precision::F64, Precision::F32].map(|p| RoundingHorizon::new(&params, p));
        for h in &horizons {
            println!(
                "  {:?} rounding determines {} of {} counts; median horizon of the others: {}",
                h.precision(),
                h.determined(),
                params.width() * params.height(),
                h.median_horizon()
                    .map_or("-".to_string(), |n| format!("{n} iterations"))
            );
        }
        for shortcut in JuliaShortcut::ALL {
            let diff = ChaoticDiff::new(
                &horizons[0],
                reference.view(),
                shortcut.counts(&params).view(),
            );
            println!(
                "  {:<18} {:<34} {diff}",
                shortcut.name(),
                shortcut.formula()
            );
        }
        for backend in &others {
            let class = backend.agreement(Kernel::Julia);
            let horizon = &horizons[usize::from(Precision::of(class) == Precision::F32)];
            let diff = ChaoticDiff::new(
                horizon,
                reference.view(),
                lancehead::julia(&**backend, &params)?.view(),
            );
            println!(
                "  {:<18} {:<34} {diff}",
                backend.name(),
                format!("({:?})", backend.agreement(Kernel::Julia))
            );
        }
    }
    Ok(())
}

fn sweep(args: &Args) -> lancehead::Result<Vec<(String, JuliaParams)>> {
    let cs = [
        (-0.7269, 0.1889),
        (-0.8, 0.156),
        (0.285, 0.01),
        (-0.4, 0.6),
        (-0.835, -0.2321),
        (-0.70176, -0.3842),
        (0.45, 0.1428),
        (-0.162, 1.04),
        (0.285, 0.0),
        (-0.62772, -0.42193),
        (-0.123, 0.745),
        (-0.75, 0.11),
        (-1.476, 0.0),
        (0.26, 0.0016),
        (-0.391, -0.587),
    ];
    cs.iter()
        .map(|&c| {
            Ok((
                format!("c={c:?}"),
                JuliaParams::new(args.width, args.height, args.region, c, args.max_iter)?,
            ))
        })
        .collect()
}
