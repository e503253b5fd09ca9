//! Value parsers for the command line: each error says what the argument accepts. clap puts
//! the flag's name and the rejected value (bounded, see [`super::usage_error`]) in front.

/// An integer `>= 1` (sizes).
pub fn positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if n >= 1 => {
            usize::try_from(n).map_err(|_| format!("expected an integer from 1 to {}", usize::MAX))
        }
        _ => Err("expected an integer >= 1".into()),
    }
}

/// An integer in `0..=u32::MAX` (iteration and step counts).
pub fn count(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| format!("expected an integer from 0 to {}", u32::MAX))
}

/// An integer in `1..=u32::MAX` (steps and repeats of `compare`).
pub fn positive_count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected an integer from 1 to {}", u32::MAX)),
    }
}

/// A finite number (non-finite values would otherwise slip through to the kernels).
pub fn finite(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err("expected a finite number".into()),
    }
}

/// A finite number `> 0` (the diffusion coefficients; their product is checked later).
pub fn positive_finite(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("expected a finite number > 0".into()),
    }
}

/// `N` comma-separated finite numbers.
fn numbers<const N: usize>(s: &str, form: &str) -> Result<[f64; N], String> {
    let err = || format!("expected {form} ({N} finite numbers)");
    let values: Vec<f64> = s
        .split(',')
        .map(finite)
        .collect::<Result<_, _>>()
        .map_err(|_| err())?;
    values.try_into().map_err(|_| err())
}

/// `RE,IM`.
pub fn complex(s: &str) -> Result<(f64, f64), String> {
    numbers::<2>(s, "RE,IM").map(|[re, im]| (re, im))
}

/// `X1,X2,Y1,Y2`.
pub fn region(s: &str) -> Result<lancehead::Region, String> {
    let [x1, x2, y1, y2] = numbers::<4>(s, "X1,X2,Y1,Y2")?;
    Ok(lancehead::Region { x1, x2, y1, y2 })
}

/// `ROWSxCOLS`.
pub fn shape(s: &str) -> Result<(usize, usize), String> {
    let err = || "expected ROWSxCOLS with integers >= 1 (e.g. 512x768)".to_string();
    let (r, c) = s.split_once(['x', 'X']).ok_or_else(err)?;
    Ok((
        positive(r).map_err(|_| err())?,
        positive(c).map_err(|_| err())?,
    ))
}

/// A finite number of seconds > 0 (`compare --budget`).
pub fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("expected a number of seconds > 0, got `{s}`")),
    }
}
