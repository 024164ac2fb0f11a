//! HdrHistogram's percentile distribution text (`.hgrm`, what `outputPercentileDistribution`
//! prints and what wrk2 and the HdrHistogram plotter read), written here because the Rust
//! crate has no writer for it. The format, with `d` the histogram's significant digits and
//! values divided by the unit (1 ms here):
//!
//! ```text
//! "%12s %14s %10s %14s\n\n"  Value, Percentile, TotalCount, 1/(1-Percentile)
//! "%12.df %2.12f %10d %14.2f\n"  per percentile step (HdrHistogram's percentile iterator,
//!                                5 ticks per half distance to 100%)
//! "%12.df %2.12f %10d\n"         the last, at percentile 1
//! "#[Mean    = %12.df, StdDeviation   = %12.df]\n"
//! "#[Max     = %12.df, Total count    = %12d]\n"
//! "#[Buckets = %12d, SubBuckets     = %12d]\n"
//! ```

use hdrhistogram::Histogram;
use std::fmt::Write;

/// Ticks per half distance to 100%, HdrHistogram's default.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The percentile distribution of `h`, its values (nanoseconds) divided by `unit_ns`.
pub fn percentile_distribution(h: &Histogram<u64>, unit_ns: f64) -> String {
    let d = h.sigfig() as usize;
    let mut out = format!("{:>12} {:>14} {:>10} {:>14}\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / unit_ns;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(out, "{value:12.d$} {q:2.12} {total:10} {:14.2}", 1.0 / (1.0 - q));
            } else {
                let _ = writeln!(out, "{value:12.d$} {q:2.12} {total:10}");
            }
        }
    }
    let (mean, sd, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / unit_ns, h.stdev() / unit_ns, h.max() as f64 / unit_ns)
    };
    let _ = writeln!(out, "#[Mean    = {mean:12.d$}, StdDeviation   = {sd:12.d$}]");
    let _ = writeln!(out, "#[Max     = {max:12.d$}, Total count    = {:12}]", h.len());
    let _ = writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), sub_buckets(h.sigfig()));
    out
}

/// A file name for `name` (a workload's): ASCII letters, digits and `-` kept, every other
/// byte written `_XX` in hex (`_` too), so that distinct names stay distinct and none can
/// name a folder, a hidden file or a path outside the folder.
pub fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            let _ = write!(out, "_{b:02X}");
        }
    }
    out
}

/// The sub-buckets of a histogram of `sigfig` significant digits: the power of two that
/// covers 2 x 10^sigfig (2,048 for 3 digits), as HdrHistogram sizes them.
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(sigfig as u32)).next_power_of_two()
}

/// `h` as an HdrHistogram interval log (`.hlog`, the format of Java's `HistogramLogWriter`,
/// which `HistogramLogProcessor` and the Rust crate read): a BaseTime of 0 (so interval
/// times are simulated seconds, never the wall clock), and one interval from `start_ns` to
/// `end_ns` tagged `tag` (spaces and commas, which tags may not hold, become `_`), the
/// histogram compressed in the V2 format at full precision: logs of several runs merge exactly
/// by adding their histograms (the batch issue's use).
pub fn interval_log(h: &Histogram<u64>, start_ns: u64, end_ns: u64, tag: &str) -> Vec<u8> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let tag: String = tag.chars().map(|c| if matches!(c, ',' | ' ' | '\r' | '\n') { '_' } else { c }).collect();
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(
                "written by cellsim: latency of successful requests, in nanoseconds; times in simulated seconds",
            )
            .with_base_time(std::time::UNIX_EPOCH)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut out, &mut serializer)
            .expect("writing into memory");
        let start = std::time::Duration::from_nanos(start_ns);
        let length = std::time::Duration::from_nanos(end_ns.saturating_sub(start_ns));
        writer.write_histogram(h, start, length, Tag::new(&tag)).expect("writing into memory");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_log_reads_back_the_same_histogram() {
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        use hdrhistogram::serialization::Deserializer;
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in [1_000u64, 2_500_000, 2_500_000, 31_000_000, 7_200_000_000] {
            h.record(v).unwrap();
        }
        let log = interval_log(&h, 60_000_000_000, 3_600_000_000_000, "my workload,1");
        let text = String::from_utf8(log.clone()).unwrap();
        assert!(text.starts_with("#written by cellsim"), "{text}");
        assert!(text.contains("#[BaseTime: 0.000 (seconds since epoch)]"), "{text}");
        let entries: Vec<_> = IntervalLogIterator::new(&log).collect::<Result<_, _>>().unwrap();
        let intervals: Vec<_> = entries
            .iter()
            .filter_map(|e| match e {
                LogEntry::Interval(i) => Some(i),
                _ => None,
            })
            .collect();
        assert_eq!(intervals.len(), 1);
        let i = intervals[0];
        assert_eq!(i.tag().map(|t| t.as_str()), Some("my_workload_1"));
        assert_eq!((i.start_timestamp().as_secs(), i.duration().as_secs()), (60, 3540));
        let bytes = base64_decode(i.encoded_histogram());
        let back: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back, h, "exactly the histogram written");
        // Two runs' logs merge exactly: adding what they read back is adding the histograms.
        let mut sum = back.clone();
        sum.add(&back).unwrap();
        assert_eq!(sum.len(), 2 * h.len());
        assert_eq!(sum.value_at_quantile(0.5), h.value_at_quantile(0.5));
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(text).unwrap()
    }

    /// A step: value, percentile, total count, 1/(1-p) (none on the last).
    type Step = (f64, f64, u64, Option<f64>);

    /// The lines of a distribution, split into its parts: steps (value, percentile, total
    /// count, 1/(1-p)), the last step, and the footer.
    fn parse(text: &str) -> (Vec<Step>, Vec<String>) {
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("       Value     Percentile TotalCount 1/(1-Percentile)"));
        assert_eq!(lines.next(), Some(""));
        let mut steps = Vec::new();
        let mut footer = Vec::new();
        for line in lines {
            if line.starts_with("#[") {
                footer.push(line.to_string());
                continue;
            }
            // Fixed widths: 12, then 1 + 14, 1 + 10, and 1 + 14 unless the last.
            assert!(line.len() == 12 + 15 + 11 + 15 || line.len() == 12 + 15 + 11, "{line:?}");
            let cols: Vec<&str> = line.split_whitespace().collect();
            let inv = cols.get(3).map(|c| c.parse().unwrap());
            steps.push((cols[0].parse().unwrap(), cols[1].parse().unwrap(), cols[2].parse().unwrap(), inv));
        }
        (steps, footer)
    }

    /// 1,000 values, 1 to 1,000 us, shown in ms: the steps climb in percentile by ticks that
    /// halve at each half distance to 100%, each step's total count is the values up to its
    /// value, 1/(1-p) goes with its percentile, the last step is at 100% with every value,
    /// and the footer has the mean (0.5005 ms), the max, the count and the histogram's shape.
    #[test]
    fn the_distribution_follows_the_format() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap();
        }
        let (steps, footer) = parse(&percentile_distribution(&h, 1e6));
        assert_eq!(steps[0].1, 0.0);
        assert_eq!(steps[1].1, 0.1, "ten ticks up to 50%");
        assert!(steps.iter().any(|s| s.1 == 0.55), "twenty from 50% to 75%");
        assert!(steps.windows(2).all(|w| w[0].1 < w[1].1 && w[0].0 <= w[1].0 && w[0].2 <= w[1].2));
        for &(value_ms, p, count, inv) in &steps[..steps.len() - 1] {
            let expected = h.count_between(0, (value_ms * 1e6).round() as u64);
            assert_eq!(count, expected, "the count up to {value_ms} ms");
            assert!(count as f64 >= p * 1000.0, "{count} values reach percentile {p}");
            assert!((inv.unwrap() - 1.0 / (1.0 - p)).abs() < 0.006);
        }
        let last = steps.last().unwrap();
        assert_eq!((last.1, last.2, last.3), (1.0, 1000, None));
        assert_eq!(last.0, 1.0, "the max, 1 ms, to the histogram's precision");
        assert_eq!(
            footer[0],
            format!("#[Mean    = {:12.3}, StdDeviation   = {:12.3}]", h.mean() / 1e6, h.stdev() / 1e6)
        );
        assert!((h.mean() / 1e6 - 0.5005).abs() < 0.001);
        assert_eq!(footer[1], format!("#[Max     = {:12.3}, Total count    = {:12}]", 1.0, 1000));
        assert_eq!(footer[2], format!("#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), 2048));
    }

    /// Names become file names one way: distinct names stay distinct, nothing escapes.
    #[test]
    fn file_names_keep_names_apart_and_inside() {
        assert_eq!(file_name("web-clients"), "web-clients");
        assert_eq!(file_name("../etc/passwd"), "_2E_2E_2Fetc_2Fpasswd");
        assert_eq!(file_name("a_b"), "a_5Fb");
        assert_ne!(file_name("a_2Fb"), file_name("a/b"));
        assert_eq!(file_name("é"), "_C3_A9");
    }

    /// An empty histogram: the header and the footer only, with zeros.
    #[test]
    fn an_empty_distribution_has_its_header_and_footer() {
        let h = Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).unwrap();
        let (steps, footer) = parse(&percentile_distribution(&h, 1e6));
        assert!(steps.is_empty());
        assert_eq!(footer[1], format!("#[Max     = {:12.3}, Total count    = {:12}]", 0.0, 0));
    }
}
