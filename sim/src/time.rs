//! Simulated time: integer nanoseconds and their human-readable form.

/// A point in, or a span of, simulated time, in nanoseconds. `u64` covers 584 years.
pub type Nanos = u64;

pub const NS_PER_US: Nanos = 1_000;
pub const NS_PER_MS: Nanos = 1_000_000;
pub const NS_PER_S: Nanos = 1_000_000_000;

/// Formats a time for people: `12m03.250s`, `1.500s`, `250.000ms`, `3.200us`, `17ns`.
pub fn format_ns(ns: Nanos) -> String {
    if ns >= 60 * NS_PER_S {
        let minutes = ns / (60 * NS_PER_S);
        let rest = ns % (60 * NS_PER_S);
        if minutes >= 60 {
            format!("{}h{:02}m{:06.3}s", minutes / 60, minutes % 60, rest as f64 / 1e9)
        } else {
            format!("{}m{:06.3}s", minutes, rest as f64 / 1e9)
        }
    } else if ns >= NS_PER_S {
        format!("{:.3}s", ns as f64 / 1e9)
    } else if ns >= NS_PER_MS {
        format!("{:.3}ms", ns as f64 / 1e6)
    } else if ns >= NS_PER_US {
        format!("{:.3}us", ns as f64 / 1e3)
    } else {
        format!("{ns}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_each_magnitude() {
        assert_eq!(format_ns(17), "17ns");
        assert_eq!(format_ns(3_200), "3.200us");
        assert_eq!(format_ns(250 * NS_PER_MS), "250.000ms");
        assert_eq!(format_ns(1_500 * NS_PER_MS), "1.500s");
        assert_eq!(format_ns(12 * 60 * NS_PER_S + 3_250 * NS_PER_MS), "12m03.250s");
        assert_eq!(format_ns(2 * 3600 * NS_PER_S + 61 * NS_PER_S), "2h01m01.000s");
    }
}
