//! Distributions: which keys each family needs or allows, and each family's parameters
//! checked and compiled into a `Dist`.

use super::Checker;
use crate::dist::Dist;
use crate::scenario::{DistKind, DistSection};
use crate::units::{Duration, Loc};
use cellsim_sim::Nanos;
use std::ops::Range;

impl Checker<'_> {
    /// A distribution at field path `path`; wrong keys or values are errors and give
    /// `Constant(0)`.
    pub(super) fn dist(&mut self, d: &Loc<DistSection>, path: &str) -> Dist {
        let span = d.span.clone();
        let d = &d.value;
        let example = example(d.dist);
        if !self.dist_keys(d, span.clone(), path, example) {
            return Dist::Constant(0);
        }
        match dist_value(d) {
            Ok(dist) => dist,
            Err(message) => {
                self.err(span, path, message).hint(format!("e.g. {example}"));
                Dist::Constant(0)
            }
        }
    }

    /// Whether `d` has every key its family needs and no other; an error for each one that
    /// is missing or does not apply.
    fn dist_keys(&mut self, d: &DistSection, span: Range<usize>, path: &str, example: &str) -> bool {
        let given: [(&str, bool); 8] = [
            ("mean", d.mean.is_some()),
            ("value", d.value.is_some()),
            ("min", d.min.is_some()),
            ("max", d.max.is_some()),
            ("stddev", d.stddev.is_some()),
            ("median", d.median.is_some()),
            ("p99", d.p99.is_some()),
            ("points", d.points.is_some()),
        ];
        let (needs, allows): (&[&str], &[&str]) = match d.dist {
            DistKind::Exponential => (&["mean"], &[]),
            DistKind::Constant => (&["value"], &[]),
            DistKind::Uniform => (&["min", "max"], &[]),
            DistKind::Normal => (&["mean", "stddev"], &["min", "max"]),
            DistKind::Lognormal => (&["median", "p99"], &[]),
            DistKind::Empirical => (&["points"], &[]),
        };
        let family = format!("{:?}", d.dist).to_lowercase();
        let a_family =
            if family.starts_with(['a', 'e', 'i', 'o', 'u']) { format!("an {family}") } else { format!("a {family}") };
        let mut ok = true;
        for (key, present) in given {
            if !present && needs.contains(&key) {
                self.err(span.clone(), format!("{path}.{key}"), format!("{a_family} distribution needs `{key}`"))
                    .hint(format!("e.g. {example}"));
                ok = false;
            }
            if present && !needs.contains(&key) && !allows.contains(&key) {
                let message = format!("`{key}` does not apply to {a_family} distribution");
                self.err(span.clone(), format!("{path}.{key}"), message).hint(format!("e.g. {example}"));
                ok = false;
            }
        }
        ok
    }
}

/// An example of a distribution of `kind`, for hints.
fn example(kind: DistKind) -> &'static str {
    match kind {
        DistKind::Exponential => "{ dist = \"exponential\", mean = \"10ms\" }",
        DistKind::Constant => "{ dist = \"constant\", value = \"10ms\" }",
        DistKind::Uniform => "{ dist = \"uniform\", min = \"0ms\", max = \"20ms\" }",
        DistKind::Normal => "{ dist = \"normal\", mean = \"10ms\", stddev = \"2ms\" }",
        DistKind::Lognormal => "{ dist = \"lognormal\", median = \"10ms\", p99 = \"80ms\" }",
        DistKind::Empirical => "{ dist = \"empirical\", points = [{ p = 0, value = \"1ms\" }, { p = 50, value = \"5ms\" }, { p = 100, value = \"40ms\" }] }",
    }
}

/// The distribution `d` describes (its keys already checked), or what is wrong with its
/// values.
fn dist_value(d: &DistSection) -> Result<Dist, String> {
    let ns = |x: Option<Duration>| x.map(|v| v.ns() as f64);
    match d.dist {
        DistKind::Exponential => {
            let mean = ns(d.mean).unwrap_or(0.0);
            if mean <= 0.0 {
                return Err("an exponential distribution needs a positive mean".into());
            }
            Ok(Dist::exponential(mean))
        }
        DistKind::Constant => Ok(Dist::Constant(d.value.map_or(0, Duration::ns))),
        DistKind::Uniform => {
            let (min, max) = (ns(d.min).unwrap_or(0.0), ns(d.max).unwrap_or(0.0));
            if max < min {
                return Err("uniform needs min <= max".into());
            }
            Ok(Dist::Uniform { min_ns: min, width_ns: max - min })
        }
        DistKind::Normal => {
            let (mean, sd) = (ns(d.mean).unwrap_or(0.0), ns(d.stddev).unwrap_or(0.0));
            let (lo, hi) = (ns(d.min).unwrap_or(0.0), ns(d.max).unwrap_or(f64::INFINITY));
            if hi <= lo {
                return Err("normal needs min < max".into());
            }
            if lo > mean + 2.0 * sd || hi < mean - 2.0 * sd {
                return Err("the truncation range [min, max] lies more than 2 stddev from the mean, so almost no draw falls in it".into());
            }
            Ok(Dist::truncated_normal(mean, sd, lo, hi))
        }
        DistKind::Lognormal => {
            let (median, p99) = (ns(d.median).unwrap_or(0.0), ns(d.p99).unwrap_or(0.0));
            if median <= 0.0 {
                return Err("lognormal needs a positive median".into());
            }
            if p99 <= median {
                let (p99, median) = (cellsim_sim::format_ns(p99 as Nanos), cellsim_sim::format_ns(median as Nanos));
                return Err(format!("the p99 ({p99}) must be above the median ({median})"));
            }
            Ok(Dist::lognormal(median, p99))
        }
        DistKind::Empirical => empirical(d),
    }
}

fn empirical(d: &DistSection) -> Result<Dist, String> {
    let points = d.points.as_deref().unwrap_or(&[]);
    let pts: Vec<(f64, f64)> = points.iter().map(|p| (p.p / 100.0, p.value.ns() as f64)).collect();
    if pts.len() < 2 || pts[0].0 != 0.0 || pts[pts.len() - 1].0 != 1.0 {
        return Err("empirical points must start at p = 0 and end at p = 100".into());
    }
    // A percentile may repeat once: the value jumps there (a mixture, such as 99% fast and 1%
    // slow).
    if pts.windows(2).any(|w| w[1].0 < w[0].0) || pts.windows(3).any(|w| w[0].0 == w[2].0) {
        return Err("empirical percentiles must increase (a percentile may repeat once, for a jump)".into());
    }
    if pts.windows(2).any(|w| w[1].1 < w[0].1) {
        return Err("empirical values must not decrease as the percentile rises".into());
    }
    Ok(Dist::Empirical(pts))
}
