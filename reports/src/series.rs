//! The CSV time series: one row per workload per bucket, streamed to disk as buckets close.

use cellsim_models::{Outcome, SeriesRow, SeriesSink};
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

/// Writes series rows as CSV. The first I/O error is kept and reported by [`CsvSeries::finish`].
pub struct CsvSeries {
    writer: csv::Writer<BufWriter<File>>,
    error: Option<io::Error>,
}

impl CsvSeries {
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut writer = csv::Writer::from_writer(BufWriter::new(File::create(path)?));
        writer.write_record(SERIES_HEADER).map_err(io::Error::other)?;
        Ok(CsvSeries { writer, error: None })
    }

    pub fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush()
    }
}

fn ms(ns: Option<f64>) -> String {
    ns.map_or(String::new(), |v| format!("{:.3}", v / 1e6))
}

impl SeriesSink for CsvSeries {
    fn row(&mut self, row: SeriesRow) {
        if self.error.is_some() {
            return;
        }
        let o = &row.outcomes;
        let total = o.total();
        let availability =
            if total == 0 { String::new() } else { format!("{:.6}", o.successes() as f64 / total as f64) };
        let mut rec = vec![format!("{:.3}", row.bucket_start_ns as f64 / 1e9), row.workload.clone(), total.to_string()];
        rec.extend(Outcome::ALL.iter().map(|&x| o.get(x).to_string()));
        rec.extend([availability, ms(row.p50_ns.map(|v| v as f64)), ms(row.p99_ns.map(|v| v as f64)), ms(row.mean_ns)]);
        if let Err(e) = self.writer.write_record(&rec) {
            self.error = Some(io::Error::other(e));
        }
    }
}
