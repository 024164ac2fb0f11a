//! cellsim's models on top of the `sim` engine: the scenario format, its compilation into a
//! runnable [`Spec`], the service model, and what a run records.
//!
//! ```text
//! scenario.toml --compile--> Spec --simulate--> RunResult (+ series rows to a SeriesSink)
//! ```

pub mod cells;
pub mod compile;
pub mod control;
pub mod dist;
pub mod error;
pub mod estimate;
pub mod faults;
pub mod features;
pub mod fleet;
pub mod hypothesis;
pub mod impact;
pub mod invariants;
pub mod metrics;
mod model;
pub mod observe;
pub mod outcome;
pub mod policy;
pub mod scenario;
pub mod spec;
pub mod tier;
pub mod units;

pub use compile::{compile, compile_with, decode, load, Overrides};
pub use error::ScenarioError;
pub use estimate::{Estimate, Refusal};
pub use features::{Feature, Features};
pub use metrics::{
    CellHealthChange, ControlAction, EdgeStats, InstanceStats, NoSeries, OperationStats, Place, PlaceRow, PlaceStats,
    PolicyStats, RequestStats, RouterStats, SeriesRow, SeriesSink, ServiceStats, TopologyStats,
};
pub use model::{Overload, Stability};
pub use outcome::{Outcome, Outcomes};
pub use spec::{DataFile, Spec};
pub use tier::TierKind;

use cellsim_sim::{Budget, EventQueue, Nanos, RunOutcome};
use tier::{Full, Lean, Policies, Tier};

/// How a run ended, in the words the summary uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every request that arrived finished (or `in_flight_at_end` were cut off by the drain
    /// limit, which the summary reports).
    Completed,
    /// Too much in flight: the run stopped at `at_ns` rather than exhaust memory.
    Overload { what: Overload, at_ns: Nanos },
    /// `limits.max_events` events were handled before the run could end (`events` counts
    /// the queued events and those dispatched at once).
    EventBudget { events: u64, at_ns: Nanos },
}

impl Verdict {
    pub fn is_completed(&self) -> bool {
        *self == Verdict::Completed
    }

    /// One line for people: "overload: 1,000,000 requests in flight at t=12m03.000s".
    pub fn describe(&self) -> String {
        match self {
            Verdict::Completed => "completed".into(),
            Verdict::Overload { what: Overload::Requests { limit }, at_ns } => {
                format!(
                    "overload: {} requests in flight at t={} (limits.max_in_flight_requests)",
                    group_digits(*limit),
                    cellsim_sim::format_ns(*at_ns)
                )
            }
            Verdict::Overload { what: Overload::Jobs { limit }, at_ns } => {
                format!(
                    "overload: {} service jobs in flight at t={} (limits.max_in_flight_jobs)",
                    group_digits(*limit),
                    cellsim_sim::format_ns(*at_ns)
                )
            }
            Verdict::Overload { what: Overload::Events { events }, at_ns } | Verdict::EventBudget { events, at_ns } => {
                format!(
                    "event budget: {} events handled by t={}, zero-delay dispatches included (limits.max_events)",
                    group_digits(*events),
                    cellsim_sim::format_ns(*at_ns)
                )
            }
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Everything one run measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub duration_ns: Nanos,
    pub warmup_ns: Nanos,
    pub verdict: Verdict,
    pub events: u64,
    /// Simulated time of the last event handled.
    pub end_ns: Nanos,
    /// The end of the measurement window, which starts at the warm-up: the duration, or the
    /// time a limit stopped the run. Rates and time averages are over this window, and the
    /// series ends here for a stopped run.
    pub measured_until_ns: Nanos,
    /// Requests still in flight when the run ended (cut off by the drain limit or a bound).
    pub in_flight_at_end: u64,
    /// End-to-end requests that arrived (warm-up included): `requests_finished +
    /// in_flight_at_end`.
    pub requests_arrived: u64,
    /// End-to-end requests that finished (warm-up included): the series' rows add up to it.
    pub requests_finished: u64,
    pub requests: Vec<RequestStats>,
    pub services: Vec<ServiceStats>,
    /// Retry budgets and breakers, by call declaration.
    pub policies: Vec<PolicyStats>,
    /// Goodput before and long after the faults, when there are faults.
    pub stability: Option<Stability>,
    /// The data files the scenario read (rate series), with their hashes.
    pub data_files: Vec<spec::DataFile>,
    /// Per service call declaration (caller -> callee edge), in the scenario's order.
    pub edges: Vec<EdgeStats>,
    /// Per zone, cell and customer, when the scenario declares regions.
    pub topology: Option<TopologyStats>,
    /// The controllers' actions (scaling, zonal shifts), in time order: the first 1,000.
    pub actions: Vec<ControlAction>,
    /// What the faults did against the baseline (`None`: no faults, or not paired).
    pub impact: Option<impact::Impact>,
    /// The scenario's hypotheses, judged (filled by whoever ran it; empty: none stated).
    pub hypotheses: Vec<hypothesis::HypothesisResult>,
    /// The stop condition that ended the faults early, if one did.
    pub stopped: Option<hypothesis::Stopped>,
}

impl Stability {
    /// Successful requests per second finishing in the window before the trigger.
    pub fn goodput_before_per_s(&self) -> f64 {
        self.before_ok as f64 / ((self.before.1 - self.before.0).max(1) as f64 / 1e9)
    }

    /// The same in the late window after it.
    pub fn goodput_after_per_s(&self) -> f64 {
        self.after_ok as f64 / ((self.after.1 - self.after.0).max(1) as f64 / 1e9)
    }

    /// The collapse outlived the trigger: long after the faults ended, goodput is still
    /// under half of what it was before them (reference section 5: the "metastable failure
    /// state" is permanent overload with low goodput after the trigger is removed). `None`
    /// when either window is empty (nothing to compare).
    pub fn metastable(&self) -> Option<bool> {
        if self.before.1 <= self.before.0 || self.after.1 <= self.after.0 || self.before_ok == 0 {
            return None;
        }
        Some(self.goodput_after_per_s() < 0.5 * self.goodput_before_per_s())
    }
}

/// Runs `spec` with master seed `seed`, streaming the time series into `sink`, in the
/// lowest tier that covers every feature the scenario uses.
pub fn simulate<S: SeriesSink>(spec: &Spec, seed: u64, sink: S) -> (RunResult, S) {
    simulate_in(spec, seed, sink, Features::of(spec).tier(), true)
}

/// `simulate` in tier `tier` (which may ignore features the scenario uses, if it is below
/// `Features::of(spec).tier()`), with the per-call and per-service fast paths on or off: for
/// tests that check every tier and path gives the same bytes.
#[doc(hidden)]
pub fn simulate_in<S: SeriesSink>(spec: &Spec, seed: u64, sink: S, tier: TierKind, fast_paths: bool) -> (RunResult, S) {
    Simulation::new_in(spec, seed, sink, tier, fast_paths).finish()
}

/// A run that can be stepped: `run_until` handles the events before a time and returns, so a
/// caller can run two simulations side by side and compare them bucket by bucket (the
/// orchestration crate pairs a run with its baseline so). Stepped or not, a run handles the
/// same events in the same order: `simulate` is `new`, `run_until(Nanos::MAX)`, `finish`.
pub struct Simulation<'s, S: SeriesSink + 's> {
    inner: Box<dyn Steps<S> + 's>,
}

impl<'s, S: SeriesSink + 's> Simulation<'s, S> {
    /// `spec` with master seed `seed`, in the lowest tier that covers its features.
    pub fn new(spec: &'s Spec, seed: u64, sink: S) -> Self {
        Self::new_in(spec, seed, sink, Features::of(spec).tier(), true)
    }

    /// In tier `tier`, with the fast paths on or off (see `simulate_in`).
    pub fn new_in(spec: &'s Spec, seed: u64, sink: S, tier: TierKind, fast_paths: bool) -> Self {
        let inner: Box<dyn Steps<S> + 's> = match tier {
            TierKind::Lean => Box::new(Stepper::<S, Lean>::new(spec, seed, sink, fast_paths)),
            TierKind::Policies => Box::new(Stepper::<S, Policies>::new(spec, seed, sink, fast_paths)),
            TierKind::Full => Box::new(Stepper::<S, Full>::new(spec, seed, sink, fast_paths)),
        };
        Simulation { inner }
    }

    /// Observes the run (before the first step): see `observe`.
    pub fn observe(&mut self, observe: &observe::Observe) {
        self.inner.observe(observe)
    }

    /// The observations, to take bucket by bucket (`None`: not observed).
    pub fn observed(&mut self) -> Option<&mut observe::Observed> {
        self.inner.observed()
    }

    /// Handles every event before `until_ns` (within the run's own end and budgets).
    /// Returns whether the run goes on (false: it has ended, drained or stopped).
    pub fn run_until(&mut self, until_ns: Nanos) -> bool {
        self.inner.run_until(until_ns)
    }

    /// Has the run ended on a limit (an overload or the event budget) rather than by
    /// completing?
    pub fn stopped_early(&self) -> bool {
        self.inner.stopped_early()
    }

    /// The stop condition that ended the faults, once one has.
    pub fn faults_stopped(&self) -> Option<hypothesis::Stopped> {
        self.inner.faults_stopped()
    }

    /// The series sink (to tell it what happened beside the run, such as a stop in another).
    pub fn sink_mut(&mut self) -> &mut S {
        self.inner.sink_mut()
    }

    /// Runs to the end, if not there yet, and returns what the run measured.
    pub fn finish(self) -> (RunResult, S) {
        let mut inner = self.inner;
        inner.run_until(Nanos::MAX);
        inner.finish()
    }
}

/// `Simulation` over the tiers.
trait Steps<S> {
    fn observe(&mut self, observe: &observe::Observe);
    fn observed(&mut self) -> Option<&mut observe::Observed>;
    fn run_until(&mut self, until_ns: Nanos) -> bool;
    fn stopped_early(&self) -> bool;
    fn faults_stopped(&self) -> Option<hypothesis::Stopped>;
    fn sink_mut(&mut self) -> &mut S;
    fn finish(self: Box<Self>) -> (RunResult, S);
}

struct Stepper<'s, S: SeriesSink, T: Tier> {
    spec: &'s Spec,
    seed: u64,
    model: model::ServiceModel<'s, S, T>,
    queue: EventQueue<model::Event>,
    /// Events handled so far, and the time of the last.
    events: u64,
    at_ns: Nanos,
    /// How the run ended, once it has.
    ended: Option<Verdict>,
}

impl<'s, S: SeriesSink, T: Tier> Stepper<'s, S, T> {
    fn new(spec: &'s Spec, seed: u64, sink: S, fast_paths: bool) -> Self {
        let mut model = model::ServiceModel::<S, T>::new(spec, seed, sink, fast_paths);
        let mut queue = EventQueue::new();
        model.start(&mut queue);
        Stepper { spec, seed, model, queue, events: 0, at_ns: 0, ended: None }
    }
}

impl<S: SeriesSink, T: Tier> Steps<S> for Stepper<'_, S, T> {
    fn observe(&mut self, observe: &observe::Observe) {
        self.model.observe(observe)
    }

    fn observed(&mut self) -> Option<&mut observe::Observed> {
        self.model.observed()
    }

    fn run_until(&mut self, until_ns: Nanos) -> bool {
        if self.ended.is_some() {
            return false;
        }
        let end_ns = self.spec.duration_ns.saturating_add(self.spec.drain_ns);
        let budget = Budget {
            max_events: self.spec.max_events.saturating_sub(self.events),
            until_ns: until_ns.saturating_sub(1).min(end_ns),
        };
        let outcome = cellsim_sim::run(&mut self.model, &mut self.queue, budget);
        let (ended, events, at_ns) = match outcome {
            RunOutcome::Drained { events, at_ns } => (Some(Verdict::Completed), events, at_ns),
            RunOutcome::TimeLimit { events, at_ns } => {
                ((budget.until_ns == end_ns).then_some(Verdict::Completed), events, at_ns)
            }
            RunOutcome::EventBudget { events, at_ns } => {
                (Some(Verdict::EventBudget { events: self.events + events, at_ns }), events, at_ns)
            }
            RunOutcome::Stopped { reason: Overload::Events { events: work }, events, at_ns } => {
                (Some(Verdict::EventBudget { events: work, at_ns }), events, at_ns)
            }
            RunOutcome::Stopped { reason, events, at_ns } => {
                (Some(Verdict::Overload { what: reason, at_ns }), events, at_ns)
            }
        };
        self.events += events;
        self.at_ns = at_ns;
        self.ended = ended;
        self.ended.is_none()
    }

    fn stopped_early(&self) -> bool {
        self.ended.as_ref().is_some_and(|v| !v.is_completed())
    }

    fn faults_stopped(&self) -> Option<hypothesis::Stopped> {
        self.model.stopped()
    }

    fn sink_mut(&mut self) -> &mut S {
        self.model.sink_mut()
    }

    fn finish(self: Box<Self>) -> (RunResult, S) {
        let Stepper { spec, seed, model, events, at_ns: end_ns, ended, .. } = *self;
        let verdict = ended.unwrap_or(Verdict::Completed);
        let in_flight_at_end = model.requests_in_flight();
        let (requests_arrived, requests_finished) = model.request_counts();
        let stability = model.stability();
        let stopped = model.stopped();
        let measured_until_ns =
            if verdict.is_completed() { spec.duration_ns } else { end_ns.clamp(spec.warmup_ns, spec.duration_ns) };
        // A completed run's series covers the duration and the drain; a stopped one's ends at
        // the stop (later buckets were never simulated: rows of zeros would read as no traffic).
        let series_end_ns = if verdict.is_completed() { end_ns.max(spec.duration_ns) } else { end_ns };
        let (requests, services, policies, edges, (topology, actions), sink) = model.finish(series_end_ns);
        let result = RunResult {
            scenario: spec.name.clone(),
            seed,
            duration_ns: spec.duration_ns,
            warmup_ns: spec.warmup_ns,
            verdict,
            events,
            end_ns,
            measured_until_ns,
            in_flight_at_end,
            requests_arrived,
            requests_finished,
            requests,
            services,
            policies,
            stability,
            data_files: spec.data_files.clone(),
            edges,
            topology,
            actions,
            impact: None,
            hypotheses: Vec::new(),
            stopped,
        };
        (result, sink)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_digits() {
        assert_eq!(super::group_digits(0), "0");
        assert_eq!(super::group_digits(999), "999");
        assert_eq!(super::group_digits(1_000_000), "1,000,000");
    }
}
