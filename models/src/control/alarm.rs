//! A CloudWatch metric alarm, the one detector the controllers of reference section 4 build
//! on ("Autoscaling": target tracking's alarms; "AZ evacuation and zonal shift": a zone is
//! impaired while its alarm is in Alarm). The model aggregates a metric (error rate, p99,
//! utilisation, health share) over each period and feeds one value per period, or `None`
//! when the period had no data. Semantics follow CloudWatch's documentation ("Alarm
//! evaluation", "Configuring how CloudWatch alarms treat missing data"), not section 4,
//! which names alarms without their rules.

use cellsim_sim::Nanos;

/// The most datapoints an alarm may evaluate (a day of one-minute periods).
pub const MAX_EVALUATION_PERIODS: u32 = 1440;

/// How a datapoint is compared with the threshold; a datapoint breaches when
/// `value <op> threshold` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    GreaterThan,
    GreaterOrEqual,
    LessThan,
    LessOrEqual,
}

impl Comparison {
    /// Does `value` breach `threshold`?
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThan => value > threshold,
            Comparison::GreaterOrEqual => value >= threshold,
            Comparison::LessThan => value < threshold,
            Comparison::LessOrEqual => value <= threshold,
        }
    }
}

/// CloudWatch's `TreatMissingData`: what a period without data (`None`, or NaN) counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingData {
    /// CloudWatch's default. The period enters the window as missing: it neither breaches
    /// nor not-breaches. When all N datapoints are missing the alarm goes to
    /// InsufficientData (CloudWatch: "If all data points in the alarm evaluation range are
    /// missing, the alarm transitions to INSUFFICIENT_DATA"). Simplification: CloudWatch
    /// also looks back past the last N periods when fewer than M datapoints are present;
    /// here only the last N count.
    Missing,
    /// The period counts as within the threshold.
    NotBreaching,
    /// The period counts as breaching.
    Breaching,
    /// "The current alarm state is maintained": the period is skipped, as if it never
    /// happened (the window holds the last N periods that had data).
    Ignore,
}

/// An alarm's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlarmSpec {
    pub threshold: f64,
    pub comparison: Comparison,
    /// N: the datapoints evaluated, 1..=[`MAX_EVALUATION_PERIODS`].
    pub evaluation_periods: u32,
    /// M: the alarm goes to Alarm when at least M of the last N datapoints breach; 1..=N.
    pub datapoints_to_alarm: u32,
    pub missing: MissingData,
}

impl AlarmSpec {
    /// Breaching when `comparison` holds against `threshold` in M of the last N periods,
    /// missing data treated as CloudWatch's default.
    pub fn new(threshold: f64, comparison: Comparison, datapoints_to_alarm: u32, evaluation_periods: u32) -> Self {
        AlarmSpec { threshold, comparison, evaluation_periods, datapoints_to_alarm, missing: MissingData::Missing }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Ok,
    Alarm,
    /// The initial state, and the state while every datapoint in the window is missing.
    InsufficientData,
}

/// A change of state, dated by the `now` of the datapoint that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub at_ns: Nanos,
}

/// One alarm's state: the last N datapoints, a ring allocated once.
#[derive(Clone, Debug)]
pub struct Alarm {
    spec: AlarmSpec,
    /// Per datapoint: Some(breached), or None (missing, or before the first period).
    ring: Vec<Option<bool>>,
    next: usize,
    state: State,
    since_ns: Nanos,
}

impl Alarm {
    /// An alarm in InsufficientData; `Err` says which bound `spec` breaks.
    pub fn new(spec: AlarmSpec) -> Result<Alarm, &'static str> {
        let n = spec.evaluation_periods;
        if n == 0 || n > MAX_EVALUATION_PERIODS {
            return Err("evaluation_periods must be 1..=1440");
        }
        if spec.datapoints_to_alarm == 0 || spec.datapoints_to_alarm > n {
            return Err("datapoints_to_alarm must be 1..=evaluation_periods");
        }
        if spec.threshold.is_nan() {
            return Err("threshold must be a number");
        }
        Ok(Alarm { spec, ring: vec![None; n as usize], next: 0, state: State::InsufficientData, since_ns: 0 })
    }

    pub fn spec(&self) -> &AlarmSpec {
        &self.spec
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// When the current state began (0 for the initial InsufficientData).
    pub fn since_ns(&self) -> Nanos {
        self.since_ns
    }

    /// The datapoint of the period ending at `now` (NaN counts as missing); returns the
    /// transition when the state changes.
    pub fn observe(&mut self, now: Nanos, value: Option<f64>) -> Option<Transition> {
        let breached = match (value.filter(|v| !v.is_nan()), self.spec.missing) {
            (Some(v), _) => Some(self.spec.comparison.breaches(v, self.spec.threshold)),
            (None, MissingData::Ignore) => return None,
            (None, MissingData::Missing) => None,
            (None, MissingData::NotBreaching) => Some(false),
            (None, MissingData::Breaching) => Some(true),
        };
        self.push(breached);
        let to = self.evaluate();
        if to == self.state {
            return None;
        }
        let from = std::mem::replace(&mut self.state, to);
        self.since_ns = now;
        Some(Transition { from, to, at_ns: now })
    }

    fn push(&mut self, datapoint: Option<bool>) {
        self.ring[self.next] = datapoint;
        self.next = (self.next + 1) % self.ring.len();
    }

    /// The state the window calls for: Alarm at M breaching, InsufficientData when nothing
    /// is present, else Ok.
    fn evaluate(&self) -> State {
        let present = self.ring.iter().filter(|d| d.is_some()).count();
        let breaching = self.ring.iter().filter(|d| **d == Some(true)).count();
        if breaching >= self.spec.datapoints_to_alarm as usize {
            State::Alarm
        } else if present == 0 {
            State::InsufficientData
        } else {
            State::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellsim_sim::NS_PER_S;
    use State::{Alarm as A, InsufficientData as I, Ok as O};

    const MIN: Nanos = 60 * NS_PER_S;

    /// Feeds one datapoint a minute ('X' breaching 10.0, '0' fine 1.0, '-' missing) to an
    /// alarm on `> 5.0`; returns the state after each.
    fn feed(alarm: &mut Alarm, points: &str) -> Vec<State> {
        points
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let value = match c {
                    'X' => Some(10.0),
                    '0' => Some(1.0),
                    _ => None,
                };
                alarm.observe((i as Nanos + 1) * MIN, value);
                alarm.state()
            })
            .collect()
    }

    fn alarm(m: u32, n: u32, missing: MissingData) -> Alarm {
        Alarm::new(AlarmSpec { missing, ..AlarmSpec::new(5.0, Comparison::GreaterThan, m, n) }).unwrap()
    }

    #[test]
    fn three_of_three_trips_on_the_third_breaching_period_and_dates_it() {
        let mut a = alarm(3, 3, MissingData::Missing);
        assert_eq!(a.observe(MIN, Some(10.0)), Some(Transition { from: I, to: O, at_ns: MIN }));
        assert_eq!(a.observe(2 * MIN, Some(10.0)), None);
        let t = a.observe(3 * MIN, Some(10.0));
        assert_eq!(t, Some(Transition { from: O, to: A, at_ns: 3 * MIN }));
        assert_eq!(a.since_ns(), 3 * MIN);
        // A fine period between breaches restarts the count.
        let mut a = alarm(3, 3, MissingData::Missing);
        assert_eq!(feed(&mut a, "XX0XXX"), [O, O, O, O, O, A]);
    }

    #[test]
    fn m_of_n_counts_breaches_anywhere_in_the_window_and_recovers_below_m() {
        let cases: &[(u32, u32, &str, &[State])] = &[
            // 2 of 3 with a gap: X0X trips on the second breach.
            (2, 3, "X0X", &[O, O, A]),
            // X00X: the first breach has left the window when the second comes.
            (2, 3, "X00X", &[O, O, O, O]),
            // In alarm until fewer than 2 of the last 3 breach.
            (2, 3, "XX0X00", &[O, A, A, A, O, O]),
            // 1 of 1 follows every datapoint.
            (1, 1, "X0X", &[A, O, A]),
        ];
        for &(m, n, points, want) in cases {
            assert_eq!(feed(&mut alarm(m, n, MissingData::Missing), points), want, "{m} of {n}: {points}");
        }
    }

    #[test]
    fn missing_data_treatments() {
        use MissingData::*;
        let cases: &[(MissingData, &str, &[State])] = &[
            // Missing: gaps count for nothing; all N missing is InsufficientData.
            (Missing, "XX-X", &[O, O, O, O]),
            (Missing, "-X-X", &[I, O, O, O]),
            (Missing, "XXX---", &[O, O, A, O, O, I]),
            // NotBreaching: a gap is a fine datapoint.
            (NotBreaching, "XX-X", &[O, O, O, O]),
            (NotBreaching, "---", &[O, O, O]),
            // Breaching: a gap breaches.
            (Breaching, "XX-", &[O, O, A]),
            (Breaching, "---", &[O, O, A]),
            // Ignore: a gap is skipped, the state kept.
            (Ignore, "XX-X", &[O, O, O, A]),
            (Ignore, "XXX---", &[O, O, A, A, A, A]),
            (Ignore, "---", &[I, I, I]),
        ];
        for &(missing, points, want) in cases {
            assert_eq!(feed(&mut alarm(3, 3, missing), points), want, "{missing:?}: {points}");
        }
    }

    #[test]
    fn comparisons_and_bounds() {
        let cases = [
            (Comparison::GreaterThan, 5.0, false),
            (Comparison::GreaterOrEqual, 5.0, true),
            (Comparison::LessThan, 5.0, false),
            (Comparison::LessOrEqual, 5.0, true),
            (Comparison::LessThan, 4.9, true),
        ];
        for (op, value, want) in cases {
            assert_eq!(op.breaches(value, 5.0), want, "{op:?} {value}");
        }
        let bad = |m, n| Alarm::new(AlarmSpec::new(1.0, Comparison::LessThan, m, n)).is_err();
        assert!(bad(0, 3) && bad(4, 3) && bad(1, 0) && bad(1, 1441));
        assert!(!bad(1440, 1440));
        // NaN is missing, not a datapoint that compares false.
        let mut a = alarm(1, 1, MissingData::Breaching);
        a.observe(MIN, Some(f64::NAN));
        assert_eq!(a.state(), A);
    }
}
