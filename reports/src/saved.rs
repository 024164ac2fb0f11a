//! A results folder read back: what the plots and the HTML report are made from, so that a
//! run and `cellsim report DIR` make them from the same bytes. `summary.json` is read as a
//! JSON value (the fields the report needs), the CSV series as numbers, the `.hgrm` files
//! as their percentile steps.

use serde_json::Value;
use std::io;
use std::path::Path;

/// The baseline's series, beside `series.csv` (a run with faults and its baseline).
pub const BASELINE_SERIES: &str = "baseline-series.csv";
/// The text summary as printed, the scenario as given, and the command that ran it.
pub const SUMMARY_TEXT: &str = "summary.txt";
pub const SCENARIO_COPY: &str = "scenario.toml";
pub const COMMAND: &str = "command.txt";

/// One workload's bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub t_s: f64,
    pub requests: u64,
    /// `None` in a bucket where nothing finished (availability) or nothing succeeded.
    pub availability: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// One zone's or cell's bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacePoint {
    pub t_s: f64,
    pub total: u64,
    pub failed: u64,
}

/// A workload's percentile distribution: (latency in ms, percentile from 0 to 1) steps.
pub type Distribution = Vec<(f64, f64)>;

/// What a results folder holds.
#[derive(Clone, Debug)]
pub struct Saved {
    pub summary: Value,
    pub summary_text: String,
    pub scenario_text: String,
    pub command: String,
    /// By workload (in the summary's order): its name, its series and its baseline's.
    pub workloads: Vec<(String, Vec<Point>, Vec<Point>)>,
    /// Zones' and cells' series, in the order they appear: (kind, name, points).
    pub places: Vec<(String, String, Vec<PlacePoint>)>,
    /// By workload: its distribution and its baseline's (empty when not written).
    pub distributions: Vec<(Distribution, Distribution)>,
}

fn read(dir: &Path, name: &str) -> io::Result<String> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))
}

fn optional(dir: &Path, name: &str) -> io::Result<Option<String>> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io::Error::new(e.kind(), format!("{name}: {e}"))),
    }
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads the results folder `dir`.
pub fn load(dir: &Path) -> io::Result<Saved> {
    let summary: Value =
        serde_json::from_str(&read(dir, "summary.json")?).map_err(|e| bad(format!("summary.json: {e}")))?;
    let mut names: Vec<String> = Vec::new();
    for r in summary["requests"].as_array().map_or(&[][..], |v| &v[..]) {
        let w = r["workload"].as_str().unwrap_or_default().to_string();
        if !names.contains(&w) {
            names.push(w);
        }
    }
    let series = series_of(&read(dir, "series.csv")?, "series.csv")?;
    let base = match optional(dir, BASELINE_SERIES)? {
        Some(text) => series_of(&text, BASELINE_SERIES)?,
        None => Vec::new(),
    };
    let pick = |rows: &[(String, Point)], name: &str| -> Vec<Point> {
        rows.iter().filter(|(w, _)| w == name).map(|(_, p)| p.clone()).collect()
    };
    let workloads = names.iter().map(|n| (n.clone(), pick(&series, n), pick(&base, n))).collect();
    let places = match optional(dir, "places.csv")? {
        Some(text) => places(&text)?,
        None => Vec::new(),
    };
    let mut distributions = Vec::new();
    for n in &names {
        let file = crate::hgrm::file_name(n);
        let dist = |suffix: &str| -> io::Result<Distribution> {
            let name = format!("{}/{file}{suffix}.hgrm", crate::HGRM_DIR);
            Ok(optional(dir, &name)?.map_or_else(Vec::new, |t| distribution(&t)))
        };
        distributions.push((dist("")?, dist(".baseline")?));
    }
    Ok(Saved {
        summary_text: optional(dir, SUMMARY_TEXT)?.unwrap_or_default(),
        scenario_text: optional(dir, SCENARIO_COPY)?.unwrap_or_default(),
        command: optional(dir, COMMAND)?.unwrap_or_default().trim_end().to_string(),
        summary,
        workloads,
        places,
        distributions,
    })
}

fn number<T: std::str::FromStr>(field: Option<&str>, file: &str, line: usize) -> io::Result<Option<T>> {
    match field {
        None | Some("") => Ok(None),
        Some(f) => f.parse().map(Some).map_err(|_| bad(format!("{file}: line {line}: `{f}` is not a number"))),
    }
}

fn series_of(text: &str, file: &str) -> io::Result<Vec<(String, Point)>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("{file}: {e}")))?;
        let line = i + 2;
        let t_s = number(rec.get(0), file, line)?.unwrap_or(0.0);
        out.push((
            crate::escape::csv_cell_read(rec.get(1).unwrap_or_default()).to_string(),
            Point {
                t_s,
                requests: number(rec.get(2), file, line)?.unwrap_or(0),
                availability: number(rec.get(9), file, line)?,
                p50_ms: number(rec.get(10), file, line)?,
                p99_ms: number(rec.get(11), file, line)?,
            },
        ));
    }
    Ok(out)
}

fn places(text: &str) -> io::Result<Vec<(String, String, Vec<PlacePoint>)>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut out: Vec<(String, String, Vec<PlacePoint>)> = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("places.csv: {e}")))?;
        let line = i + 2;
        let (kind, place) =
            (rec.get(1).unwrap_or_default(), crate::escape::csv_cell_read(rec.get(2).unwrap_or_default()));
        let total: u64 = number(rec.get(3), "places.csv", line)?.unwrap_or(0);
        let ok: u64 = number(rec.get(4), "places.csv", line)?.unwrap_or(0);
        let degraded: u64 = number(rec.get(5), "places.csv", line)?.unwrap_or(0);
        let point = PlacePoint {
            t_s: number(rec.get(0), "places.csv", line)?.unwrap_or(0.0),
            total,
            failed: total.saturating_sub(ok + degraded),
        };
        match out.iter_mut().find(|(k, p, _)| k == kind && p == place) {
            Some((_, _, points)) => points.push(point),
            None => out.push((kind.to_string(), place.to_string(), vec![point])),
        }
    }
    Ok(out)
}

/// The steps of a percentile distribution (`Value Percentile TotalCount 1/(1-Percentile)`
/// lines between the header and the footer).
fn distribution(text: &str) -> Distribution {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let value: f64 = f.next()?.parse().ok()?;
            let p: f64 = f.next()?.parse().ok()?;
            Some((value, p))
        })
        .collect()
}
