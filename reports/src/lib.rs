//! cellsim's reports: turns a `RunResult` into the versioned JSON summary, the terminal
//! summary and the CSV time series, written into an output folder as a set. It reads
//! results only, never the engine's internals.

pub mod escape;
mod hgrm;
mod html;
mod junit;
mod markdown;
mod output;
pub mod plots;
pub mod report;
pub mod saved;
mod series;
mod summary;
mod terminal;

pub use hgrm::{file_name, interval_log, percentile_distribution};
pub use junit::junit;
pub use markdown::markdown;
pub use output::{OutputDir, OutputError, ALWAYS_WRITTEN, HGRM_DIR, MARKER, OUTPUT_FILES};
pub use series::{CsvSeries, SERIES_HEADER};
pub use summary::{summarise, Summary, SCHEMA_VERSION};
pub use terminal::{render, why};

#[cfg(test)]
mod tests {
    #[test]
    fn the_estimate_knows_the_series_header() {
        let line = super::SERIES_HEADER.join(",") + "\n";
        assert_eq!(line.len() as u64, cellsim_models::estimate::SERIES_HEADER_BYTES);
    }
}
