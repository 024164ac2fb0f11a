//! The call semantics of docs/scenario-format.md, checked on deterministic cases: constant
//! arrivals every 20 ms and constant work times, so every latency below is computed by hand
//! and no queue ever forms unless the case says so.

use crate::support::{constant, service, Call, Request, Scenario, Service, Workload};
use cellsim_models::{Outcome, RunResult};

/// 10 s of constant arrivals, `rate_per_s` a second, to `front`, which `services` define.
fn scenario(rate_per_s: f64, services: impl IntoIterator<Item = Service>) -> Scenario {
    Scenario::new("semantics", "10s")
        .workload(Workload::constant("w", rate_per_s).request(Request::new("r", "front")))
        .services(services)
}

/// A request every 20 ms to `front`; `services` must complete.
fn run(services: impl IntoIterator<Item = Service>) -> RunResult {
    scenario(50.0, services).run()
}

/// Every request's end-to-end latency, in ms, when they are all equal: the HDR histogram
/// (3 significant digits) must hold them all in one bucket, and that is what is returned.
fn the_latency_ms(r: &RunResult) -> f64 {
    let req = &r.requests[0];
    let mut all = req.latency.clone();
    all.add(&req.latency_failed).unwrap();
    assert!(all.equivalent(all.min(), all.max()), "requests took different times: {} to {} ns", all.min(), all.max());
    all.median_equivalent(all.min()) as f64 / 1e6
}

/// Asserts a latency equal to `ms` within the histogram's 0.1% resolution.
fn assert_ms(r: &RunResult, ms: f64) {
    let got = the_latency_ms(r);
    assert!((got - ms).abs() <= ms * 1e-3, "latency {got} ms, expected {ms} ms");
}

/// `a` (5 ms of work) and `b` (3 ms), 4 workers each.
fn leaves() -> [Service; 2] {
    [Service::new("a", &constant("5ms")).workers(4), Service::new("b", &constant("3ms")).workers(4)]
}

/// A front of 4 workers with 1 ms of own work and `calls`.
fn front(calls: impl IntoIterator<Item = Call>) -> Service {
    calls.into_iter().fold(Service::new("front", &constant("1ms")).workers(4), Service::call)
}

#[test]
fn sequential_calls_add_up_and_parallel_calls_take_the_longest() {
    let front =
        |group: &str| [front([Call::to("a").line(group), Call::to("b").line(group)])].into_iter().chain(leaves());
    // Own work 1 ms, then a (5 ms), then b (3 ms).
    assert_ms(&run(front("")), 9.0);
    // Own work 1 ms, then a and b together: max(5, 3).
    assert_ms(&run(front("group = \"g\"")), 6.0);
}

#[test]
fn an_optional_call_that_fails_degrades_and_a_critical_one_fails_fast() {
    let front = |critical: bool| {
        let b = Call::to("b").group("g").set_str("timeout", "2ms").set("critical", critical);
        [front([Call::to("a").group("g"), b])].into_iter().chain(leaves())
    };
    // b times out after 2 ms; optional: the front waits for a and answers degraded at 1 + 5.
    let r = run(front(false));
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Degraded), req.outcomes.total());
    assert_ms(&r, 6.0);
    // Critical: the front fails as soon as b times out, at 1 + 2 ms, without waiting for a.
    let r = run(front(true));
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Error), req.outcomes.total());
    assert_ms(&r, 3.0);
    // The abandoned callee still did its work: b completed a job for every request.
    assert_eq!(service(&r, "b").outcomes.get(Outcome::Ok), req.outcomes.total());
}

#[test]
fn holding_the_worker_during_calls_shows_in_utilisation() {
    // 499 requests (one every 20 ms from t = 20 ms); front works 1 ms then waits 9 ms on db.
    // Holding the worker, it is busy 499 x 10 ms in the 10 s window: 0.499. Not holding it,
    // 499 x 1 ms: 0.0499.
    let front = |hold: bool| {
        [
            Service::new("front", &constant("1ms")).set("hold_worker_during_calls", hold).call(Call::to("db")),
            Service::new("db", &constant("9ms")),
        ]
    };
    for (hold, busy) in [(true, 0.499), (false, 0.0499)] {
        let r = run(front(hold));
        let s = service(&r, "front");
        let utilisation = s.occupancy.busy.0 as f64 / (r.duration_ns - r.warmup_ns) as f64;
        assert!((utilisation - busy).abs() < 1e-12, "hold {hold}: utilisation {utilisation}");
        assert_ms(&r, 10.0);
    }
}

#[test]
fn network_latency_is_drawn_each_way() {
    let r = run([
        Service::new("front", &constant("1ms")).call(Call::to("db").set("latency", constant("2ms"))),
        Service::new("db", &constant("3ms")),
    ]);
    // 1 ms own work, 2 ms there, 3 ms at db, 2 ms back.
    assert_ms(&r, 8.0);
    let db = &service(&r, "db").sojourn;
    assert!(db.equivalent(db.min(), 3_000_000) && db.equivalent(db.max(), 3_000_000), "db sojourn is its 3 ms of work");
}

#[test]
fn retries_multiply_the_attempts_and_the_time() {
    // db takes 3 ms but the call times out at 2 ms: all 3 attempts time out, back to back
    // (no backoff), so the front fails at 1 + 3 x 2 = 7 ms and db sees 3 jobs per request.
    let r = run([
        Service::new("front", &constant("1ms"))
            .call(Call::to("db").set_str("timeout", "2ms").set("retry", "{ max_attempts = 3 }")),
        Service::new("db", &constant("3ms")).workers(4),
    ]);
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Error), req.outcomes.total());
    assert_ms(&r, 7.0);
    assert_eq!(service(&r, "db").arrivals, 3 * req.outcomes.total());
}

#[test]
fn a_full_queue_rejects_and_the_client_sees_rejected() {
    // 50 requests/s into one worker that takes 30 ms and has no queue: while it works on one
    // request the next (20 ms later) is rejected, so every other request is rejected.
    let r = run([Service::new("front", &constant("30ms")).queue_capacity(0)]);
    let req = &r.requests[0];
    // Constant arrivals come every 20 ms from t = 20 ms: 499 of them before 10 s. Requests
    // 1, 3, 5, ... are served (each frees the worker 30 ms later, before the next odd one).
    assert_eq!(req.outcomes.total(), 499);
    assert_eq!(req.outcomes.get(Outcome::Ok), 250);
    assert_eq!(req.outcomes.get(Outcome::Rejected), 249);
}

#[test]
fn timeouts_fire_on_time_when_retries_overlap_on_one_edge() {
    // A request every 1 ms (so attempts overlap on the front -> db edge), db far slower than
    // the 2 ms timeout, immediate retries: attempt 1 starts after the front's 1 ms of work,
    // times out at 3 ms, attempt 2 starts at once and times out at 5 ms: every request fails
    // at exactly 5 ms, and db receives exactly 2 jobs per request.
    let r = scenario(
        1000.0,
        [
            Service::new("front", &constant("1ms"))
                .workers(16)
                .call(Call::to("db").set_str("timeout", "2ms").set("retry", "{ max_attempts = 2 }")),
            Service::new("db", &constant("30ms")).workers(64),
        ],
    )
    .run();
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Error), req.outcomes.total());
    assert_ms(&r, 5.0);
    assert_eq!(service(&r, "db").arrivals, 2 * req.outcomes.total());
}

#[test]
fn an_event_at_zero_delay_is_handled_at_once_before_others_queued_for_that_instant() {
    // The model's rule (ARCHITECTURE.md): what a handler causes with no delay (an answer with
    // no network latency, a retry with no backoff) is handled inside that handler, before
    // events already queued for the same instant. One worker, no queue, 1 s of work; requests
    // at 1 s and 2 s with one retry and no backoff. At 2 s the second request arrives before
    // the first one's work ends (its arrival was queued first). It is rejected, and the
    // rejection and the retry are handled at once, so the retry finds the worker still busy
    // and is rejected too: the request fails. Queued behind the first job's end instead, the
    // retry would have found the worker free.
    let r = Scenario::new("zero-delay", "2500ms")
        .workload(Workload::constant("w", 1.0).request(Request::new("r", "s").line("retry = { max_attempts = 2 }")))
        .service(Service::new("s", &constant("1s")).workers(1).queue_capacity(0))
        .run();
    let req = &r.requests[0];
    assert_eq!(req.outcomes.get(Outcome::Ok), 1);
    assert_eq!(req.outcomes.get(Outcome::Rejected), 1);
    assert_eq!(req.attempts, 3);
    let s = service(&r, "s");
    assert_eq!((s.arrivals, s.outcomes.get(Outcome::Rejected)), (3, 2));
}
