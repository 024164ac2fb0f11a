//! `process = "csv"`: a workload's arrival rate read from a CSV file beside the scenario
//! (time and rate columns, a header naming their units, step or linear between points, an
//! optional scale), located errors in that file, and the file's SHA-256 for the summary.

use super::Checker;
use crate::error::ScenarioError;
use crate::scenario::{ArrivalSection, Interpolation};
use crate::spec::{Arrival, DataFile, RateStep};
use crate::units::{parse_duration, Loc};
use cellsim_sim::{Nanos, NS_PER_S};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::ops::Range;
use std::path::Path;

/// The largest rate series read, in bytes and in rows.
const MAX_FILE_BYTES: u64 = 64 << 20;
const MAX_ROWS: usize = 1_000_000;

/// The time columns a series may have, with what one unit of each is in nanoseconds
/// (`time` holds durations with their units, like "90s" or "1.5h").
const TIME_COLUMNS: [(&str, Option<u64>); 5] = [
    ("time", None),
    ("time_ms", Some(NS_PER_S / 1000)),
    ("time_s", Some(NS_PER_S)),
    ("time_min", Some(60 * NS_PER_S)),
    ("time_h", Some(3600 * NS_PER_S)),
];

/// The rate columns, with how many seconds their unit of time is.
const RATE_COLUMNS: [(&str, f64); 3] = [("rate_per_s", 1.0), ("rate_per_min", 60.0), ("rate_per_h", 3600.0)];

const FORMAT_HINT: &str = "a rate series has a header and one row per point, e.g.\n  time,rate_per_s\n  0s,100\n  6h,400\n(time columns: time with units, or time_ms, time_s, time_min, time_h; rate columns: rate_per_s, rate_per_min, rate_per_h)";

impl Checker<'_> {
    /// `process = "csv"`: reads `file`, relative to the scenario's folder, into a schedule
    /// (step) or a piecewise-linear rate.
    pub(super) fn rate_series(&mut self, a: &ArrivalSection, span: Range<usize>, field: &str) -> Arrival {
        let fallback = Arrival::Poisson { rate_per_s: 1.0 };
        if a.rate_per_s.is_some() || a.steps.is_some() {
            self.err(span.clone(), field, "a csv workload takes its rates from its file, not rate_per_s or steps");
        }
        let Some(file) = &a.file else {
            self.err(span, format!("{field}.file"), "process = \"csv\" needs `file`, the rate series")
                .hint("e.g. arrival = { process = \"csv\", file = \"day.csv\" }, the path relative to this scenario");
            return fallback;
        };
        let scale = match &a.scale {
            Some(s) if !(s.value.is_finite() && s.value > 0.0) => {
                let message = format!("scale must be a positive number, not {}", s.value);
                self.err(s.span.clone(), format!("{field}.scale"), message).hint("scale = 2 doubles every rate");
                1.0
            }
            Some(s) => s.value,
            None => 1.0,
        };
        let Some((shown, text)) = self.read_data_file(file, &format!("{field}.file")) else { return fallback };
        let points = match parse_series(&shown, &text, scale) {
            Ok(points) => points,
            Err(e) => {
                let hint = format!("the rate series of `{field}` in {}", self.file);
                self.errors.push(e.field(format!("{field}.file")).hint(e_hint(&hint)));
                return fallback;
            }
        };
        if points.iter().all(|p| p.rate_per_s == 0.0) {
            self.err(file.span.clone(), format!("{field}.file"), format!("every rate in {shown} is 0"))
                .hint("no request would ever arrive");
        }
        let period_ns = a.period.as_ref().map(|p| {
            if points.last().is_some_and(|last| p.value.ns() <= last.at_ns) {
                self.err(p.span.clone(), format!("{field}.period"), "period must be longer than the last point's time");
            }
            p.value.ns()
        });
        match a.interpolation.unwrap_or(Interpolation::Step) {
            Interpolation::Step => Arrival::Schedule { steps: points, period_ns },
            Interpolation::Linear => Arrival::Linear { points, period_ns },
        }
    }

    /// The text of data file `name` (relative to the scenario's folder) and the name errors
    /// show it by; its hash is recorded in the spec. `None` (with the error recorded) if it
    /// cannot be read.
    fn read_data_file(&mut self, name: &Loc<String>, field: &str) -> Option<(String, String)> {
        let base = Path::new(self.file).parent().unwrap_or(Path::new(""));
        let path = base.join(&name.value);
        let shown = path.display().to_string();
        let read = || -> Result<Vec<u8>, String> {
            let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
            if !meta.is_file() {
                return Err(format!("{shown} is not a file"));
            }
            if meta.len() > MAX_FILE_BYTES {
                return Err(format!("{shown} is {} bytes, more than a rate series may have (64 MiB)", meta.len()));
            }
            let mut bytes = Vec::new();
            let file = std::fs::File::open(&path).map_err(|e| format!("cannot read {shown}: {e}"))?;
            file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {shown}: {e}"))?;
            Ok(bytes)
        };
        let bytes = match read() {
            Ok(b) => b,
            Err(message) => {
                self.err(name.span.clone(), field, message).hint("the path is relative to the scenario's folder");
                return None;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                self.err(name.span.clone(), field, format!("{shown} is not UTF-8 text: {e}"));
                return None;
            }
        };
        let sha256 = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        // Recorded once, however many workloads read it.
        if !self.data_files.iter().any(|d| d.file == name.value) {
            self.data_files.push(DataFile { file: name.value.clone(), sha256, bytes: text.len() as u64 });
        }
        Some((shown, text))
    }
}

/// The bytes of field `i` of the row starting at byte `start` (by its commas: quoted fields
/// with commas inside are rare in a rate series, and then only the underline is off).
fn field_span(text: &str, start: usize, i: usize) -> Range<usize> {
    let line = text[start..].split('\n').next().unwrap_or("").trim_end_matches('\r');
    let mut offset = start;
    for (k, field) in line.split(',').enumerate() {
        if k == i {
            let lead = field.len() - field.trim_start().len();
            return offset + lead..offset + field.trim_end().len().max(lead + 1);
        }
        offset += field.len() + 1;
    }
    start..start
}

fn e_hint(context: &str) -> String {
    format!("{context}; {FORMAT_HINT}")
}

/// The points of a rate series: strictly increasing times from 0, rates zero or positive,
/// each multiplied by `scale`.
fn parse_series(file: &str, text: &str, scale: f64) -> Result<Vec<RateStep>, Box<ScenarioError>> {
    let at = |span: Range<usize>, message: String| Box::new(ScenarioError::at(file, text, span, message));
    let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| at(0..0, format!("cannot read the header: {e}")))?.clone();
    let header_span = 0..text.find('\n').unwrap_or(text.len());
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h));
    let count = |names: &[&str]| headers.iter().filter(|h| names.contains(h)).count();
    let time_names: Vec<&str> = TIME_COLUMNS.iter().map(|(n, _)| *n).collect();
    let rate_names: Vec<&str> = RATE_COLUMNS.iter().map(|(n, _)| *n).collect();
    let shown: Vec<&str> = headers.iter().collect();
    let Some(time_col) = find(&time_names) else {
        return Err(at(header_span, format!("no time column in the header ({})", shown.join(","))));
    };
    let Some(rate_col) = find(&rate_names) else {
        return Err(at(header_span, format!("no rate column in the header ({})", shown.join(","))));
    };
    for (what, names) in [("time", &time_names), ("rate", &rate_names)] {
        if count(names) > 1 {
            let message = format!("the header has more than one {what} column ({})", shown.join(","));
            return Err(at(header_span.clone(), message));
        }
    }
    let time_unit = TIME_COLUMNS.iter().find(|(n, _)| *n == &headers[time_col]).expect("found").1;
    let per_s = RATE_COLUMNS.iter().find(|(n, _)| *n == &headers[rate_col]).expect("found").1;
    let mut points: Vec<RateStep> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let byte = e.position().map_or(0, |p| p.byte() as usize);
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("this row has {len} fields, the header {expected_len}")
                }
                _ => format!("not a CSV row: {e}"),
            };
            at(byte..byte, message)
        })?;
        let start = record.position().map_or(0, |p| p.byte() as usize);
        let span = |i: usize| field_span(text, start, i);
        let cell = |i: usize| record.get(i).unwrap_or("");
        if points.len() == MAX_ROWS {
            return Err(at(span(0), format!("more than {MAX_ROWS} rows")));
        }
        let t = cell(time_col);
        let at_ns: Nanos = match time_unit {
            None => parse_duration(t).map_err(|m| at(span(time_col), format!("time: {m}")))?.ns(),
            Some(unit_ns) => match t.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 && v * unit_ns as f64 <= 1e18 => {
                    (v * unit_ns as f64).round() as Nanos
                }
                Ok(v) if v < 0.0 => return Err(at(span(time_col), format!("time: {v} is negative"))),
                _ => {
                    return Err(at(
                        span(time_col),
                        format!("time: `{t}` is not a number of {}", &headers[time_col][5..]),
                    ))
                }
            },
        };
        if let Some(prev) = points.last() {
            if at_ns <= prev.at_ns {
                return Err(at(span(time_col), format!("time `{t}` is not after the row before: times must increase")));
            }
        }
        let r = cell(rate_col);
        let rate = match r.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => v / per_s * scale,
            Ok(v) if v < 0.0 => return Err(at(span(rate_col), format!("rate: {v} is negative"))),
            _ => return Err(at(span(rate_col), format!("rate: `{r}` is not a number"))),
        };
        points.push(RateStep { at_ns, rate_per_s: rate });
    }
    if points.is_empty() {
        return Err(at(header_span, "the series has a header but no rows".to_string()));
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_units_scale_and_order() {
        let p = parse_series("t.csv", "time_min,rate_per_min,note\n0,60,a\n1.5,120,b\n", 2.0).unwrap();
        assert_eq!(p, vec![RateStep { at_ns: 0, rate_per_s: 2.0 }, RateStep { at_ns: 90 * NS_PER_S, rate_per_s: 4.0 }]);
        let p = parse_series("t.csv", "rate_per_s, time\n5, 0s\n7, 2h\n", 1.0).unwrap();
        assert_eq!(p[1], RateStep { at_ns: 7200 * NS_PER_S, rate_per_s: 7.0 });
    }

    #[test]
    fn malformed_series_name_their_line() {
        let cases = [
            ("time,rate\n0s,1\n", 1, "no rate column"),
            ("time,rate_per_s\n0s,1\n1m,-2\n", 3, "rate: -2 is negative"),
            ("time,rate_per_s\n0s,1\n2m,1\n1m,1\n", 4, "is not after the row before"),
            ("time,rate_per_s\n0s,1\nsoon,1\n", 3, "time: `soon` is not a duration"),
            ("time_s,rate_per_s\n0,1\nx,1\n", 3, "not a number of s"),
            ("time_s,rate_per_s\n", 1, "no rows"),
            ("time_s,rate_per_s\n0,1,2\n", 2, "this row has 3 fields, the header 2"),
            ("time_s,rate_per_s,rate_per_min\n0,1,2\n", 1, "more than one rate column"),
            ("time,time_s,rate_per_s\n0s,0,2\n", 1, "more than one time column"),
            ("time_s,rate_per_s\n-5,1\n", 2, "time: -5 is negative"),
        ];
        for (text, line, message) in cases {
            let e = parse_series("t.csv", text, 1.0).expect_err(text);
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(message), "{text}: {}", e.message);
        }
    }
}
