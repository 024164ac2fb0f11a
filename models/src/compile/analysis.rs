//! `[analysis]`: how a run with faults is compared with its baseline (the impairment rule's
//! thresholds, the SLO, whether to run the baseline).

use super::Checker;
use crate::scenario::AnalysisSection;
use crate::spec::AnalysisSpec;
use crate::units::Loc;

impl Checker<'_> {
    /// `[analysis]`: the impairment rule's thresholds and the SLO, each in its range.
    pub(super) fn analysis(&mut self, section: &Loc<AnalysisSection>) -> AnalysisSpec {
        let a = &section.value;
        let d = AnalysisSpec::default();
        let mut real = |v: &Option<Loc<f64>>, key: &str, lo: f64, hi: f64, default: f64| match v {
            Some(v) if !(lo..=hi).contains(&v.value) => {
                self.err(
                    v.span.clone(),
                    format!("analysis.{key}"),
                    format!("{key} must be from {lo} to {hi}, not {}", v.value),
                )
                .hint(format!("leave it out for the default, {default}"));
                default
            }
            Some(v) => v.value,
            None => default,
        };
        let error_rate_points = real(&a.error_rate_points, "error_rate_points", 0.0, 100.0, d.error_rate_points);
        let error_rate_factor = real(&a.error_rate_factor, "error_rate_factor", 1.0, 1000.0, d.error_rate_factor);
        let p99_factor = real(&a.p99_factor, "p99_factor", 1.0, 1000.0, d.p99_factor);
        let mut count = |v: Option<u64>, span, key: &str, max: u64, default: u64| match v {
            Some(v) if v == 0 || v > max => {
                let message = format!("{key} must be from 1 to {}", crate::group_digits(max));
                self.err(span, format!("analysis.{key}"), message)
                    .hint(format!("leave it out for the default, {default}"));
                default
            }
            Some(v) => v,
            None => default,
        };
        let span_of = |v: &Option<Loc<u64>>| v.as_ref().map_or(0..0, |v| v.span.clone());
        let min_jobs =
            count(a.min_jobs.as_ref().map(|v| v.value), span_of(&a.min_jobs), "min_jobs", 1_000_000_000, d.min_jobs);
        let recovered_span = a.recovered_buckets.as_ref().map_or(0..0, |v| v.span.clone());
        let recovered_buckets = count(
            a.recovered_buckets.as_ref().map(|v| v.value as u64),
            recovered_span,
            "recovered_buckets",
            1000,
            d.recovered_buckets as u64,
        ) as u32;
        let slo_ns = a.slo_latency.as_ref().map(|s| {
            if s.value.ns() == 0 {
                self.err(s.span.clone(), "analysis.slo_latency", "slo_latency must be above 0")
                    .hint("the latency a successful request must beat, such as \"300ms\"");
            }
            s.value.ns()
        });
        AnalysisSpec {
            baseline: a.baseline.unwrap_or(d.baseline),
            min_jobs,
            error_rate_points,
            error_rate_factor,
            p99_factor,
            recovered_buckets,
            slo_ns,
        }
    }
}
