//! `[[workload]]`: the requests and their mix, customers, and the arrival process with its
//! rates.

use super::call::Caller;
use super::service::Names;
use super::Checker;
use crate::dist::Dist;
use crate::scenario::{ArrivalProcess, ArrivalSection, DistSection, StepSection, WorkloadSection};
use crate::spec::{Arrival, CallSpec, RateStep, RequestSpec, WorkloadSpec};
use crate::units::Loc;
use cellsim_sim::NS_PER_S;
use std::ops::Range;

/// The most users a closed loop may have (each may have a request in flight).
const MAX_USERS: u32 = 10_000_000;

impl Checker<'_> {
    /// A workload; its requests' calls are appended to `calls`.
    pub(super) fn workload(&mut self, w: &WorkloadSection, names: &Names, calls: &mut Vec<CallSpec>) -> WorkloadSpec {
        let wname = &w.name.value;
        let path = format!("workload.{wname}");
        if w.requests.is_empty() {
            self.err(
                w.name.span.clone(),
                format!("{path}.request"),
                format!("workload `{wname}` has no [[workload.request]]"),
            )
            .hint("add one with a name and a target service");
        }
        self.unique_names(w.requests.iter().map(|r| &r.value.name), &format!("{path}.request"));
        let customers = match &w.customers {
            Some(c) if c.value == 0 => {
                self.err(c.span.clone(), format!("{path}.customers"), "customers must be at least 1");
                1
            }
            Some(c) => c.value,
            None => 1,
        };
        let arrival = match (&w.arrival, &w.users) {
            (Some(a), None) => {
                if let Some(t) = &w.think_time {
                    self.err(t.span.clone(), format!("{path}.think_time"), "think_time applies only with users")
                        .hint("an open loop's requests do not wait for each other; a closed loop has users = N");
                }
                self.arrival(a, &path)
            }
            (None, Some(u)) => self.closed_loop(u, w.think_time.as_ref(), &path),
            (Some(_), Some(u)) => {
                let message = "a workload has either arrival (an open loop) or users (a closed loop), not both";
                self.err(u.span.clone(), format!("{path}.users"), message);
                Arrival::Poisson { rate_per_s: 1.0 }
            }
            (None, None) if w.think_time.is_some() => {
                let t = w.think_time.as_ref().expect("checked");
                self.err(t.span.clone(), format!("{path}.users"), "think_time needs users: a closed loop's size")
                    .hint("add users = 50 (how many users think and send requests), or use arrival for an open loop");
                Arrival::Poisson { rate_per_s: 1.0 }
            }
            (None, None) => {
                self.err(w.name.span.clone(), format!("{path}.arrival"), format!("workload `{wname}` has no traffic"))
                    .hint(
                        "add arrival = { process = \"poisson\", rate_per_s = 100 } (an open loop), \
                         or users = 50 with think_time (a closed loop)",
                    );
                Arrival::Poisson { rate_per_s: 1.0 }
            }
        };
        let mut requests = Vec::new();
        let mut weights = Vec::new();
        for r in &w.requests {
            let r = &r.value;
            let rpath = format!("{path}.request.{}", r.name.value);
            let weight = match &r.weight {
                Some(wt) if !(wt.value.is_finite() && wt.value > 0.0) => {
                    let message = format!("weight must be a positive number, not {}", wt.value);
                    self.err(wt.span.clone(), format!("{rpath}.weight"), message);
                    1.0
                }
                Some(wt) => wt.value,
                None => 1.0,
            };
            weights.push(weight);
            let to = self.resolve("service", &r.target, names.services, format!("{rpath}.target"));
            let op = self.callee_operation(to, r.operation.as_ref(), &r.target, names, &rpath);
            let name = format!("workload/{wname}/{}", r.name.value);
            let call = self.call(name, to, op, &rpath, r.into(), Caller::Workload { deadline: r.deadline.as_ref() });
            requests.push(RequestSpec {
                name: r.name.value.clone(),
                type_id: names.types[&r.name.value],
                call: calls.len() as u32,
            });
            calls.push(call);
        }
        WorkloadSpec {
            name: wname.clone(),
            customers,
            first_customer: 0,
            arrival,
            requests,
            cumulative_mix: cumulative_mix(&weights),
        }
    }

    /// `users` with `think_time`: a closed loop.
    fn closed_loop(&mut self, u: &Loc<u32>, think: Option<&Loc<DistSection>>, path: &str) -> Arrival {
        if u.value == 0 || u.value > MAX_USERS {
            let message = format!("users must be from 1 to {}, not {}", crate::group_digits(MAX_USERS as u64), u.value);
            self.err(u.span.clone(), format!("{path}.users"), message);
        }
        let Some(t) = think else {
            self.err(u.span.clone(), format!("{path}.think_time"), "a closed loop needs think_time").hint(
                "e.g. think_time = { dist = \"uniform\", min = \"1s\", max = \"10s\" } (Locust's between(1, 10))",
            );
            return Arrival::Closed { users: u.value.max(1), think: Dist::Constant(NS_PER_S) };
        };
        let think = self.dist(t, &format!("{path}.think_time"));
        if think.mean_ns() <= 0.0 {
            self.err(t.span.clone(), format!("{path}.think_time"), "think_time must have a mean above 0")
                .hint("users that never pause would send their next request at the instant of each answer");
        }
        Arrival::Closed { users: u.value.clamp(1, MAX_USERS), think }
    }

    /// A rate in arrivals per second: positive (or zero, where `allow_zero`) and finite.
    fn rate(&mut self, r: &Loc<f64>, field: String, allow_zero: bool) -> f64 {
        let ok = r.value.is_finite() && (r.value > 0.0 || (allow_zero && r.value == 0.0));
        if !ok {
            let want = if allow_zero { "zero or positive" } else { "positive" };
            self.err(r.span.clone(), field, format!("rate_per_s must be {want}, not {}", r.value))
                .hint("a rate is arrivals per second, e.g. rate_per_s = 500");
        }
        r.value
    }

    fn arrival(&mut self, a: &Loc<ArrivalSection>, path: &str) -> Arrival {
        let span = a.span.clone();
        let a = &a.value;
        let field = format!("{path}.arrival");
        match a.process {
            _ if a.process != ArrivalProcess::Csv
                && (a.file.is_some() || a.interpolation.is_some() || a.scale.is_some()) =>
            {
                self.err(span, field, "file, interpolation and scale apply only to process = \"csv\"");
                Arrival::Poisson { rate_per_s: 1.0 }
            }
            ArrivalProcess::Poisson | ArrivalProcess::Constant => {
                if a.steps.is_some() || a.period.is_some() {
                    self.err(span.clone(), field.clone(), "steps and period apply only to process = \"schedule\"");
                }
                let Some(r) = &a.rate_per_s else {
                    self.err(span, format!("{field}.rate_per_s"), "this arrival process needs rate_per_s")
                        .hint("e.g. arrival = { process = \"poisson\", rate_per_s = 100 }");
                    return Arrival::Poisson { rate_per_s: 1.0 };
                };
                let rate_per_s = self.rate(r, format!("{field}.rate_per_s"), false);
                if a.process == ArrivalProcess::Poisson {
                    Arrival::Poisson { rate_per_s }
                } else {
                    Arrival::Constant { rate_per_s }
                }
            }
            ArrivalProcess::Schedule => self.schedule(a, span, &field),
            ArrivalProcess::Csv => self.rate_series(a, span, &field),
        }
    }

    /// `process = "schedule"`: steps of rates, optionally repeating.
    fn schedule(&mut self, a: &ArrivalSection, span: Range<usize>, field: &str) -> Arrival {
        if let Some(r) = &a.rate_per_s {
            self.err(
                r.span.clone(),
                format!("{field}.rate_per_s"),
                "a schedule takes its rates from steps, not rate_per_s",
            )
            .hint("steps = [{ at = \"0s\", rate_per_s = 100 }, ...]");
        }
        let steps_in: &[Loc<StepSection>] = a.steps.as_deref().unwrap_or(&[]);
        if steps_in.is_empty() {
            self.err(span.clone(), format!("{field}.steps"), "a schedule needs at least one step")
                .hint("steps = [{ at = \"0s\", rate_per_s = 100 }, { at = \"10m\", rate_per_s = 500 }]");
        }
        let mut steps: Vec<RateStep> = Vec::new();
        for s in steps_in {
            let at = s.value.at.ns();
            if steps.last().is_some_and(|prev| at <= prev.at_ns) {
                self.err(
                    s.span.clone(),
                    format!("{field}.steps"),
                    "steps must be in strictly increasing order of `at`",
                );
            }
            let rate = self.rate(&s.value.rate_per_s, format!("{field}.steps.rate_per_s"), true);
            steps.push(RateStep { at_ns: at, rate_per_s: rate });
        }
        if !steps.is_empty() && steps.iter().all(|s| s.rate_per_s == 0.0) {
            self.err(span, format!("{field}.steps"), "every step has rate 0: no request would ever arrive");
        }
        let period_ns = a.period.as_ref().map(|p| {
            if steps.last().is_some_and(|last| p.value.ns() <= last.at_ns) {
                self.err(p.span.clone(), format!("{field}.period"), "period must be longer than the last step's `at`");
            }
            p.value.ns()
        });
        Arrival::Schedule { steps, period_ns }
    }
}

/// The running share of each request type in the mix, the last exactly 1.
fn cumulative_mix(weights: &[f64]) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut cumulative: Vec<f64> = weights
        .iter()
        .map(|wt| {
            acc += wt / total;
            acc
        })
        .collect();
    if let Some(last) = cumulative.last_mut() {
        *last = 1.0;
    }
    cumulative
}
