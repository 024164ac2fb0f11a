//! The scenario file's value types: human durations ("250ms", "5m") and values that remember
//! where in the file they were written, so that a semantic error can name the line.

use cellsim_sim::{Nanos, NS_PER_MS, NS_PER_S, NS_PER_US};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::ops::Range;

/// A span of simulated time written as a number and a unit: `"250ms"`, `"1.5s"`, `"5m"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub Nanos);

impl Duration {
    pub fn ns(self) -> Nanos {
        self.0
    }
}

pub(crate) const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", NS_PER_US as f64),
    ("µs", NS_PER_US as f64),
    ("ms", NS_PER_MS as f64),
    ("s", NS_PER_S as f64),
    ("m", 60.0 * NS_PER_S as f64),
    ("h", 3600.0 * NS_PER_S as f64),
    ("d", 86400.0 * NS_PER_S as f64),
];

/// Parses `"<number><unit>"` with unit one of ns, us, ms, s, m, h, d (spaces allowed between).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration(0));
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (number, unit) = (t[..split].replace('_', ""), t[split..].trim());
    let hint = "write a number and a unit, like \"250ms\", \"1.5s\" or \"5m\" (units: ns, us, ms, s, m, h, d)";
    if number.is_empty() {
        return Err(format!("`{text}` is not a duration: {hint}"));
    }
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration: {hint}"))?;
    let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(if unit.is_empty() {
            format!("`{text}` has no unit: {hint}")
        } else {
            format!("`{text}` has an unknown unit `{unit}`: {hint}")
        });
    };
    let ns = value * scale;
    if !ns.is_finite() || ns > 1e18 {
        return Err(format!("`{text}` is too long a duration (at most about 31 years)"));
    }
    Ok(Duration(ns.round() as Nanos))
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration string like \"250ms\" or \"5m\"")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Duration, E> {
                parse_duration(s).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                if v == 0 {
                    Ok(Duration(0))
                } else {
                    Err(E::custom(format!(
                        "`{v}` has no unit: write it as a string with a unit, like \"{v}ms\" or \"{v}s\""
                    )))
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(format!("`{v}` has no unit: write it as a string with a unit, like \"{v}s\"")))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*[0-9][0-9_]*(\\.[0-9]+)?\\s*(ns|us|µs|ms|s|m|h|d)\\s*$",
            "description": "A duration: a number and a unit (ns, us, ms, s, m, h, d), e.g. \"250ms\", \"1.5s\", \"5m\"."
        })
    }
}

/// A value and the byte range of the file it was read from.
#[derive(Clone, Debug)]
pub struct Loc<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Loc<T> {
    pub fn get(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loc<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = toml::Spanned::<T>::deserialize(d)?;
        let span = s.span();
        Ok(Loc { value: s.into_inner(), span })
    }
}

impl<T: JsonSchema> JsonSchema for Loc<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        T::json_schema(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        let cases = [
            ("250ms", 250 * NS_PER_MS),
            ("1.5s", 1_500 * NS_PER_MS),
            ("5m", 300 * NS_PER_S),
            ("2h", 7_200 * NS_PER_S),
            ("1d", 86_400 * NS_PER_S),
            ("10us", 10_000),
            ("7ns", 7),
            ("0", 0),
            ("0.5 ms", 500_000),
            ("1_000ms", NS_PER_S),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_duration(text), Ok(Duration(ns)), "{text}");
        }
    }

    #[test]
    fn rejects_with_a_hint() {
        assert!(parse_duration("250").unwrap_err().contains("has no unit"));
        assert!(parse_duration("3 weeks").unwrap_err().contains("unknown unit `weeks`"));
        assert!(parse_duration("fast").unwrap_err().contains("is not a duration"));
        assert!(parse_duration("-5ms").unwrap_err().contains("is not a duration"));
    }
}
