//! Steady-state hypotheses: the compact expressions a scenario states them in (`p(99) <
//! 200ms`, `error_rate < 0.1%`, `p(99) <= baseline + 10%`), parsed with the byte offset of
//! every mistake; the compiled form (metric, comparison, threshold, scope, window); and the
//! plain data of a verdict, which the orchestration crate fills and the reports read.
//! Event-free.

use crate::control::alarm::AlarmSpec;
use crate::units::UNITS;
use cellsim_sim::Nanos;

/// What a hypothesis measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A latency quantile (0 to 1) of successful requests (or jobs, for a service), in ns.
    Quantile(f64),
    /// The mean and the largest latency of successful requests, in ns.
    Mean,
    Max,
    /// Failed requests over finished ones, and its complement.
    ErrorRate,
    Availability,
    /// A fault's time to recover and to detect, in ns (a fault that never recovered, or was
    /// never detected, counts as infinitely long).
    Recovery,
    Detection,
    /// The run's cascade depth (0: only faulted components were impaired).
    CascadeDepth,
    /// The share of customers (or, without customers, of requests) that saw a failure or an
    /// SLO breach during a fault's window.
    BlastRadius,
}

impl Metric {
    /// How its values read and are written.
    pub fn unit(self) -> Unit {
        match self {
            Metric::Quantile(_) | Metric::Mean | Metric::Max | Metric::Recovery | Metric::Detection => Unit::Time,
            Metric::ErrorRate | Metric::Availability | Metric::BlastRadius => Unit::Share,
            Metric::CascadeDepth => Unit::Count,
        }
    }

    /// Read from the fault analysis against the baseline (one value a run, no interval).
    pub fn from_impact(self) -> bool {
        matches!(self, Metric::Recovery | Metric::Detection | Metric::CascadeDepth | Metric::BlastRadius)
    }

    /// Its name as written (`p(99)`, `error_rate`).
    pub fn name(self) -> String {
        match self {
            Metric::Quantile(q) => format!("p({})", trim_number(round_to(q * 100.0, 6))),
            Metric::Mean => "avg".into(),
            Metric::Max => "max".into(),
            Metric::ErrorRate => "error_rate".into(),
            Metric::Availability => "availability".into(),
            Metric::Recovery => "recovery".into(),
            Metric::Detection => "detection".into(),
            Metric::CascadeDepth => "cascade_depth".into(),
            Metric::BlastRadius => "blast_radius".into(),
        }
    }
}

/// A metric's kind of value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds.
    Time,
    /// A share from 0 to 1.
    Share,
    Count,
}

impl Unit {
    /// `value` as people read it: times in ms (s from 1 s), shares in percent.
    pub fn show(self, value: f64) -> String {
        if value.is_infinite() {
            return if value > 0.0 { "never".into() } else { "-inf".into() };
        }
        match self {
            Unit::Time if value.abs() >= 1e9 => format!("{} s", trim_number(round_to(value / 1e9, 3))),
            Unit::Time => format!("{} ms", trim_number(round_to(value / 1e6, 3))),
            Unit::Share => format!("{}%", trim_number(round_to(value * 100.0, 4))),
            Unit::Count => trim_number(round_to(value, 3)),
        }
    }
}

/// A window's length in words: whole hours, minutes or seconds as such (`5 min`), others as
/// a time (`1500 ms`).
pub fn span_words(ns: Nanos) -> String {
    const S: Nanos = 1_000_000_000;
    match ns {
        n if n > 0 && n % (3600 * S) == 0 => format!("{} h", n / (3600 * S)),
        n if n > 0 && n % (60 * S) == 0 => format!("{} min", n / (60 * S)),
        n if n > 0 && n % S == 0 => format!("{} s", n / S),
        n => Unit::Time.show(n as f64),
    }
}

/// `x` rounded to `sig` significant digits.
pub fn round_to(x: f64, sig: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(sig - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// A number without a trailing `.0`.
fn trim_number(x: f64) -> String {
    let s = format!("{x}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// `<`, `<=`, `>`, `>=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Cmp {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Cmp::Less => value < threshold,
            Cmp::LessOrEqual => value <= threshold,
            Cmp::Greater => value > threshold,
            Cmp::GreaterOrEqual => value >= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Less => "<",
            Cmp::LessOrEqual => "<=",
            Cmp::Greater => ">",
            Cmp::GreaterOrEqual => ">=",
        }
    }

    /// Is a larger value the worse one (the metric must stay under the threshold)?
    pub fn upper_bound(self) -> bool {
        matches!(self, Cmp::Less | Cmp::LessOrEqual)
    }
}

/// What the metric is compared with: `factor x baseline + add` (factor 0: an absolute
/// threshold, `add` alone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub factor: f64,
    pub add: f64,
}

impl Threshold {
    pub fn relative(&self) -> bool {
        self.factor != 0.0
    }
}

/// A parsed expression: `metric cmp threshold`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expr {
    pub metric: Metric,
    pub cmp: Cmp,
    pub threshold: Threshold,
}

/// A mistake in an expression: the byte range of the expression it is about, a message and
/// a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub at: std::ops::Range<usize>,
    pub message: String,
    pub hint: String,
}

const METRICS: &[&str] = &[
    "p(99)",
    "avg",
    "med",
    "max",
    "error_rate",
    "rate",
    "availability",
    "recovery",
    "detection",
    "cascade_depth",
    "blast_radius",
];

/// One token and where it is.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    /// A number and the unit written right after it (possibly empty).
    Number(f64, String),
    Op(String),
    Open,
    Close,
}

fn tokens(text: &str) -> Result<Vec<(Tok, std::ops::Range<usize>)>, ExprError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Tok::Word(text[start..i].to_string())
        } else if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            let digits = text[start..i].replace('_', "");
            let number: f64 = digits.parse().map_err(|_| ExprError {
                at: start..i,
                message: format!("`{}` is not a number", &text[start..i]),
                hint: "write numbers like 200, 0.5 or 99.9".into(),
            })?;
            let unit_start = i;
            while i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'%') {
                i += 1;
            }
            Tok::Number(number, text[unit_start..i].to_string())
        } else if c == b'(' {
            i += 1;
            Tok::Open
        } else if c == b')' {
            i += 1;
            Tok::Close
        } else if b"<>=!+-*".contains(&c) {
            while i < b.len() && b"<>=!".contains(&b[i]) && i - start < 2 {
                i += 1;
            }
            if i == start {
                i += 1;
            }
            Tok::Op(text[start..i].to_string())
        } else {
            let ch = text[start..].chars().next().expect("a character");
            return Err(ExprError {
                at: start..start + ch.len_utf8(),
                message: format!("unexpected `{ch}`"),
                hint: "an expression is a metric, a comparison and a value, like `p(99) < 200ms`".into(),
            });
        };
        out.push((tok, start..i));
    }
    Ok(out)
}

/// Parses `text` (`p(99) < 200ms`, `error_rate <= 0.1%`, `p(99) <= baseline + 10%`,
/// `availability >= 99.9%`, `recovery < 5m`, `cascade_depth <= 1`).
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let toks = tokens(text)?;
    let end = text.len();
    let mut at;
    let err = |range: std::ops::Range<usize>, message: String, hint: &str| ExprError {
        at: range,
        message,
        hint: hint.to_string(),
    };
    let form = "an expression is a metric, a comparison and a value, like `p(99) < 200ms`";
    let metric = match toks.first() {
        Some((Tok::Word(w), r)) => {
            at = 1;
            match w.as_str() {
                "p" => {
                    let q = match (toks.get(1), toks.get(2), toks.get(3)) {
                        (Some((Tok::Open, _)), Some((Tok::Number(q, u), qr)), Some((Tok::Close, _)))
                            if u.is_empty() =>
                        {
                            if !(*q > 0.0 && *q < 100.0) {
                                return Err(err(
                                    qr.clone(),
                                    format!("a percentile is above 0 and under 100, not {q}"),
                                    "p(99) is the 99th percentile; use max for the largest value",
                                ));
                            }
                            percent(*q)
                        }
                        _ => {
                            let r = toks.get(1).map_or(r.end..end, |(_, r)| r.clone());
                            return Err(err(r, "a percentile is written p(N)".into(), "write p(99) or p(99.9)"));
                        }
                    };
                    at = 4;
                    Metric::Quantile(q)
                }
                "avg" | "mean" => Metric::Mean,
                "med" | "median" => Metric::Quantile(0.5),
                "max" => Metric::Max,
                "error_rate" | "rate" => Metric::ErrorRate,
                "availability" => Metric::Availability,
                "recovery" => Metric::Recovery,
                "detection" => Metric::Detection,
                "cascade_depth" => Metric::CascadeDepth,
                "blast_radius" => Metric::BlastRadius,
                w if w.len() > 1 && w.starts_with('p') && w[1..].bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(err(r.clone(), format!("unknown metric `{w}`"), &format!("write p({})", &w[1..])));
                }
                w => {
                    let hint = match crate::error::did_you_mean(w, METRICS.iter().copied()) {
                        Some(m) => format!("did you mean `{m}`? metrics: {}", METRICS.join(", ")),
                        None => format!("metrics: {}", METRICS.join(", ")),
                    };
                    return Err(err(r.clone(), format!("unknown metric `{w}`"), &hint));
                }
            }
        }
        Some((_, r)) => return Err(err(r.clone(), "an expression starts with a metric".into(), form)),
        None => return Err(err(0..end, "the expression is empty".into(), form)),
    };
    let cmp = match toks.get(at) {
        Some((Tok::Op(op), r)) => match op.as_str() {
            "<" => Cmp::Less,
            "<=" => Cmp::LessOrEqual,
            ">" => Cmp::Greater,
            ">=" => Cmp::GreaterOrEqual,
            _ => {
                return Err(err(
                    r.clone(),
                    format!("`{op}` is not a comparison here"),
                    "compare with <, <=, > or >= (a metric is never exactly a value)",
                ))
            }
        },
        Some((_, r)) => return Err(err(r.clone(), "a comparison comes after the metric".into(), form)),
        None => return Err(err(end..end, "the comparison and its value are missing".into(), form)),
    };
    at += 1;
    let unit = metric.unit();
    let threshold = match toks.get(at) {
        Some((Tok::Word(w), r)) if w == "baseline" => {
            at += 1;
            if metric.from_impact() {
                return Err(err(
                    r.clone(),
                    format!("{} is measured against the baseline already", metric.name()),
                    "compare it with a value, like `recovery < 5m`",
                ));
            }
            match toks.get(at) {
                None => Threshold { factor: 1.0, add: 0.0 },
                Some((Tok::Op(op), opr)) if op == "*" => {
                    at += 1;
                    match toks.get(at) {
                        Some((Tok::Number(k, u), kr)) if u.is_empty() && *k > 0.0 => {
                            at += 1;
                            let _ = kr;
                            Threshold { factor: *k, add: 0.0 }
                        }
                        Some((_, kr)) => {
                            return Err(err(kr.clone(), "a factor is a plain number above 0".into(), "baseline * 1.1"))
                        }
                        None => return Err(err(opr.end..end, "the factor is missing".into(), "baseline * 1.1")),
                    }
                }
                Some((Tok::Op(op), opr)) if op == "+" || op == "-" => {
                    at += 1;
                    let sign = if op == "+" { 1.0 } else { -1.0 };
                    match toks.get(at) {
                        Some((Tok::Number(x, u), xr)) => {
                            at += 1;
                            if u == "%" {
                                if unit == Unit::Share {
                                    return Err(err(
                                        xr.clone(),
                                        format!("`{x}%` against a share's baseline is ambiguous"),
                                        "write points as a share (`baseline + 0.005` is half a point) or a factor (`baseline * 1.5`)",
                                    ));
                                }
                                Threshold { factor: 1.0 + sign * percent(*x), add: 0.0 }
                            } else {
                                Threshold { factor: 1.0, add: sign * value(*x, u, unit, xr.clone())? }
                            }
                        }
                        Some((_, xr)) => {
                            return Err(err(xr.clone(), "a number comes after the sign".into(), "baseline + 10%"))
                        }
                        None => return Err(err(opr.end..end, "the amount is missing".into(), "baseline + 10%")),
                    }
                }
                Some((_, r)) => {
                    return Err(err(r.clone(), "unexpected after `baseline`".into(), "baseline + 10%, baseline * 1.1"))
                }
            }
        }
        Some((Tok::Number(x, u), r)) => {
            at += 1;
            Threshold { factor: 0.0, add: value(*x, u, unit, r.clone())? }
        }
        Some((_, r)) => {
            return Err(err(r.clone(), "a value or `baseline` comes after the comparison".into(), &example(unit)))
        }
        None => return Err(err(end..end, "the value is missing".into(), &example(unit))),
    };
    if let Some((_, r)) = toks.get(at) {
        return Err(err(r.start..end, "unexpected text after the value".into(), form));
    }
    Ok(Expr { metric, cmp, threshold })
}

/// `x` percent as a share, rounded to 12 decimals (so that `99.9%` is 0.999 as written).
fn percent(x: f64) -> f64 {
    (x / 100.0 * 1e12).round() / 1e12
}

/// An example of a value for `unit`.
fn example(unit: Unit) -> String {
    match unit {
        Unit::Time => "a time with its unit, like 200ms or 5m".into(),
        Unit::Share => "a share, like 0.001 or 0.1%".into(),
        Unit::Count => "a whole number, like 1".into(),
    }
}

/// The number `x` written with unit `u`, for a metric of `unit`.
fn value(x: f64, u: &str, unit: Unit, at: std::ops::Range<usize>) -> Result<f64, ExprError> {
    let wrong = |message: String| ExprError { at: at.clone(), message, hint: example(unit) };
    match unit {
        Unit::Time => match UNITS.iter().find(|(name, _)| *name == u) {
            Some((_, scale)) => Ok(x * scale),
            None if u.is_empty() => Err(wrong(format!("`{x}` has no unit: a latency or a time needs one"))),
            None => Err(wrong(format!("`{u}` is not a unit of time (ns, us, ms, s, m, h)"))),
        },
        Unit::Share => match u {
            "%" if x <= 100.0 => Ok(percent(x)),
            "" if x <= 1.0 => Ok(x),
            "" | "%" => Err(wrong(format!("a share is from 0 to 1 (or 0% to 100%), not {x}{u}"))),
            _ => Err(wrong(format!("`{u}` is not a unit of a share"))),
        },
        Unit::Count if u.is_empty() && x.fract() == 0.0 => Ok(x),
        Unit::Count => Err(wrong(format!("`{x}{u}` is not a whole number"))),
    }
}

/// Which part of the system a hypothesis looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every workload's end-to-end requests (the default).
    AllRequests,
    /// One workload's requests, by index.
    Workload(u16),
    /// One request type of a workload: its index in `RunResult::requests` (the whole run only).
    Request(u32),
    /// One service's jobs, by index.
    Service(u32),
    /// The requests the routers sent to a cell, and the jobs instances in a zone ended.
    Cell(u16),
    Zone(u16),
}

/// Over which time a hypothesis is judged. Windows are whole buckets: `Run` the buckets
/// after the warm-up; `Before` those that end by a fault's first start; `During` those that
/// overlap any of its occurrences; `After` those that start at or after its last end, for
/// at most `for_ns` if given; `Any` every run of consecutive buckets `width_ns` long in the
/// run's window (the worst one counts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WindowSel {
    Run,
    Before(u32),
    During(u32),
    After(u32, Option<Nanos>),
    Any(Nanos),
}

impl WindowSel {
    /// The fault it names, if any.
    pub fn fault(&self) -> Option<u32> {
        match self {
            WindowSel::Before(f) | WindowSel::During(f) | WindowSel::After(f, _) => Some(*f),
            WindowSel::Run | WindowSel::Any(_) => None,
        }
    }
}

/// A compiled hypothesis.
#[derive(Clone, Debug, PartialEq)]
pub struct HypothesisSpec {
    pub name: String,
    /// The expression as written, and its scope and window in words (for reports).
    pub expect: String,
    pub scope_words: String,
    pub window_words: String,
    pub expr: Expr,
    pub scope: Scope,
    pub window: WindowSel,
}

/// A compiled stop condition: an alarm on a scope's metric, one value per period.
#[derive(Clone, Debug, PartialEq)]
pub struct StopSpec {
    pub name: String,
    pub metric: Metric,
    /// Every workload, one workload, or one service.
    pub scope: Scope,
    /// Its threshold and comparison are the expression's.
    pub alarm: AlarmSpec,
    pub period_ns: Nanos,
}

/// A stop condition that went to Alarm: when, which, and the last period's value.
#[derive(Clone, Debug, PartialEq)]
pub struct Stopped {
    pub at_ns: Nanos,
    pub condition: u32,
    pub name: String,
    /// `None`: the period had no data (an alarm that treats missing data as breaching).
    pub value: Option<f64>,
    pub unit: Unit,
}

/// How a hypothesis came out.
#[derive(Clone, Debug, PartialEq)]
pub struct HypothesisResult {
    pub name: String,
    pub expect: String,
    pub scope: String,
    pub window: String,
    pub unit: Unit,
    /// The value measured (`None`: no data in the window, which breaks it).
    pub observed: Option<f64>,
    /// Its 95% confidence interval, when the window had enough batches to give one.
    pub interval: Option<(f64, f64)>,
    /// The threshold it was compared with (for a relative hypothesis, computed from the
    /// baseline's value, which is given too).
    pub comparison: Cmp,
    pub threshold: f64,
    pub baseline: Option<f64>,
    pub held: bool,
    /// The interval straddles the threshold: the point estimate decided, more data would
    /// settle it (`settle_factor`: about that many times the data, in seeds or window).
    pub inconclusive: bool,
    pub settle_factor: Option<f64>,
    /// What the verdict rests on, in words: the metric, the window, observed against
    /// threshold, and what drove it.
    pub why: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Expr {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    #[test]
    fn parses_the_forms_people_write() {
        let e = ok("p(99) < 200ms");
        assert_eq!(
            (e.metric, e.cmp, e.threshold),
            (Metric::Quantile(0.99), Cmp::Less, Threshold { factor: 0.0, add: 2e8 })
        );
        assert_eq!(ok("p(99.9)<=1.5s").metric, Metric::Quantile(0.999));
        assert_eq!(ok("rate < 0.001").threshold.add, 0.001);
        assert_eq!(ok("error_rate < 0.1%").threshold.add, 0.001);
        assert_eq!(ok("availability >= 99.9%").threshold.add, 0.999);
        assert_eq!(ok("recovery < 5m").threshold.add, 300e9);
        assert_eq!(ok("cascade_depth <= 1").threshold.add, 1.0);
        assert_eq!(ok("med > 1us").metric, Metric::Quantile(0.5));
        assert_eq!(ok("p(99) <= baseline + 10%").threshold, Threshold { factor: 1.1, add: 0.0 });
        assert_eq!(ok("p(99) <= baseline - 10%").threshold, Threshold { factor: 0.9, add: 0.0 });
        assert_eq!(ok("p(99) <= baseline + 20ms").threshold, Threshold { factor: 1.0, add: 2e7 });
        assert_eq!(ok("error_rate <= baseline * 2").threshold, Threshold { factor: 2.0, add: 0.0 });
        assert_eq!(ok("error_rate <= baseline + 0.005").threshold, Threshold { factor: 1.0, add: 0.005 });
        assert_eq!(ok("avg <= baseline").threshold, Threshold { factor: 1.0, add: 0.0 });
    }

    #[test]
    fn mistakes_point_at_their_place_with_a_hint() {
        let cases: &[(&str, std::ops::Range<usize>, &str, &str)] = &[
            ("p(99) < 200", 8..11, "has no unit", "200ms"),
            ("p99 < 200ms", 0..3, "unknown metric `p99`", "p(99)"),
            ("p(100) < 1s", 2..5, "under 100", "max"),
            ("latncy < 1s", 0..6, "unknown metric", "metrics:"),
            ("erorr_rate < 1%", 0..10, "unknown metric", "did you mean `error_rate`"),
            ("p(99) = 200ms", 6..7, "not a comparison", "<, <="),
            ("p(99) == 200ms", 6..8, "not a comparison", "<, <="),
            ("p(99) < 200 ms", 8..11, "has no unit", "200ms"),
            ("error_rate < 2", 13..14, "from 0 to 1", "0.1%"),
            ("error_rate < baseline + 1%", 24..26, "ambiguous", "baseline + 0.005"),
            ("p(99) < 200ms and more", 14..22, "unexpected text", "p(99) < 200ms"),
            ("p(99) <", 7..7, "missing", "200ms"),
            ("", 0..0, "empty", "p(99)"),
            ("recovery < baseline", 11..19, "against the baseline already", "5m"),
            ("cascade_depth <= 1.5", 17..20, "whole number", "1"),
            ("p(99) < 200ms;", 13..14, "unexpected `;`", "p(99)"),
            ("p(99) < 5fortnights", 8..19, "not a unit of time", "200ms"),
        ];
        for (text, at, message, hint) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!(&e.at, at, "{text}: {e:?}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
            assert!(e.hint.contains(hint), "{text}: {}", e.hint);
        }
    }

    #[test]
    fn values_read_in_their_units() {
        assert_eq!(Unit::Time.show(2e8), "200 ms");
        assert_eq!(Unit::Time.show(123_456_789.0), "123 ms");
        assert_eq!(Unit::Time.show(300e9), "300 s");
        assert_eq!(Unit::Share.show(0.00123), "0.123%");
        assert_eq!(Unit::Share.show(0.999), "99.9%");
        assert_eq!(Unit::Count.show(2.0), "2");
        assert_eq!(Unit::Time.show(f64::INFINITY), "never");
        assert_eq!(Metric::Quantile(0.999).name(), "p(99.9)");
    }
}
