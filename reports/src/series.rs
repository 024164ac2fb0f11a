//! The CSV time series: one row per workload per bucket (`series.csv`), and with a topology
//! one per zone and per cell per bucket (`places.csv`), streamed to disk as buckets close.

use cellsim_models::{Outcome, PlaceRow, SeriesRow, SeriesSink};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

pub const SERIES_HEADER: [&str; 13] = [
    "t_s",
    "workload",
    "requests",
    "ok",
    "degraded",
    "error",
    "timeout",
    "rejected",
    "refused",
    "availability",
    "p50_ms",
    "p99_ms",
    "mean_ms",
];

pub const PLACES_HEADER: [&str; 13] = [
    "t_s",
    "kind",
    "place",
    "total",
    "ok",
    "degraded",
    "error",
    "timeout",
    "rejected",
    "refused",
    "availability",
    "p50_ms",
    "p99_ms",
];

/// Writes series rows as CSV, and places' rows when created with a places file. The first
/// I/O error is kept and reported by [`CsvSeries::finish`].
pub struct CsvSeries {
    writer: csv::Writer<BufWriter<File>>,
    places: Option<csv::Writer<BufWriter<File>>>,
    error: Option<io::Error>,
}

impl CsvSeries {
    pub fn create(path: &Path) -> io::Result<Self> {
        Self::create_with_places(path, None)
    }

    /// Writes the workloads' series to `path`, and the zones' and cells' to `places` if
    /// given (a scenario with a topology).
    pub fn create_with_places(path: &Path, places: Option<&Path>) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(BufWriter::new(File::create(path)?));
        writer.write_record(SERIES_HEADER).map_err(io::Error::other)?;
        let places = match places {
            Some(p) => {
                let mut w = csv::Writer::from_writer(BufWriter::new(File::create(p)?));
                w.write_record(PLACES_HEADER).map_err(io::Error::other)?;
                Some(w)
            }
            None => None,
        };
        Ok(CsvSeries { writer, places, error: None })
    }

    pub fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(mut p) = self.places.take() {
            p.flush()?;
        }
        self.writer.flush()
    }
}

/// Outcome counts, availability and the total, as the CSV columns write them.
fn counts(o: &cellsim_models::Outcomes) -> (Vec<String>, String) {
    let total = o.total();
    let availability = if total == 0 { String::new() } else { format!("{:.6}", o.successes() as f64 / total as f64) };
    (Outcome::ALL.iter().map(|&x| o.get(x).to_string()).collect(), availability)
}

fn ms(ns: Option<f64>) -> String {
    ns.map_or(String::new(), |v| format!("{:.3}", v / 1e6))
}

impl SeriesSink for CsvSeries {
    fn row(&mut self, row: SeriesRow) {
        if self.error.is_some() {
            return;
        }
        let (outcomes, availability) = counts(&row.outcomes);
        let mut rec = vec![
            format!("{:.3}", row.bucket_start_ns as f64 / 1e9),
            crate::escape::csv_cell(&row.workload).into_owned(),
            row.outcomes.total().to_string(),
        ];
        rec.extend(outcomes);
        rec.extend([availability, ms(row.p50_ns.map(|v| v as f64)), ms(row.p99_ns.map(|v| v as f64)), ms(row.mean_ns)]);
        if let Err(e) = self.writer.write_record(&rec) {
            self.error = Some(io::Error::other(e));
        }
    }

    fn place_row(&mut self, row: PlaceRow) {
        let Some(places) = self.places.as_mut().filter(|_| self.error.is_none()) else { return };
        let (outcomes, availability) = counts(&row.outcomes);
        let mut rec = vec![
            format!("{:.3}", row.bucket_start_ns as f64 / 1e9),
            row.kind.to_string(),
            crate::escape::csv_cell(&row.place).into_owned(),
            row.outcomes.total().to_string(),
        ];
        rec.extend(outcomes);
        rec.extend([availability, ms(row.p50_ns.map(|v| v as f64)), ms(row.p99_ns.map(|v| v as f64))]);
        if let Err(e) = places.write_record(&rec) {
            self.error = Some(io::Error::other(e));
        }
    }
}
