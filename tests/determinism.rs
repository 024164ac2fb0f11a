//! Same scenario and seed: byte-identical results. Another seed: different results. Adding an
//! unrelated service and workload, or another call of a service: the existing services and
//! calls draw the same numbers.

use crate::support::{
    compile_ok, constant, exponential, scenario_text as scenario, service, Call, Request, Scenario, Service, Workload,
};
use cellsim_models::{simulate, Features, NoSeries, SeriesRow, TierKind};
use cellsim_reports::summarise;

fn summary_json(src: &str, seed: u64) -> (String, Vec<SeriesRow>) {
    let spec = compile_ok(src);
    let (r, series) = simulate(&spec, seed, Vec::new());
    (serde_json::to_string_pretty(&summarise(&r)).unwrap(), series)
}

#[test]
fn same_seed_gives_identical_bytes_and_series() {
    let src = scenario("quickstart.toml");
    let (a, sa) = summary_json(&src, 7);
    let (b, sb) = summary_json(&src, 7);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert!(sa.len() > 20, "the series has a row per bucket");
}

#[test]
fn another_seed_gives_other_numbers() {
    let src = scenario("quickstart.toml");
    assert_ne!(summary_json(&src, 7).0, summary_json(&src, 8).0);
}

#[test]
fn an_unrelated_service_leaves_other_services_samples_unchanged() {
    let base = scenario("three-tier.toml").replace("duration = \"2h\"", "duration = \"10m\"");
    // A second workload and a service it calls, declared *before* the existing ones so that
    // every index shifts: only names may seed the streams.
    let extra = r#"
[[workload]]
name = "batch"
arrival = { process = "poisson", rate_per_s = 50 }

[[workload.request]]
name = "report"
target = "reporting"

[[service]]
name = "reporting"
workers = 2
service_time = { dist = "exponential", mean = "5ms" }
"#;
    let split = base.find("[[workload]]").unwrap();
    let with_extra = format!("{}{}\n{}", &base[..split], extra, &base[split..]);
    let spec_a = compile_ok(&base);
    let spec_b = compile_ok(&with_extra);
    assert_eq!(spec_b.services[0].name, "reporting", "the extra service comes first");
    let (ra, _) = simulate(&spec_a, 1, NoSeries);
    let (rb, _) = simulate(&spec_b, 1, NoSeries);
    for name in ["front", "mid", "db"] {
        let a = ra.services.iter().find(|s| s.service == name).unwrap();
        let b = rb.services.iter().find(|s| s.service == name).unwrap();
        assert_eq!(a.sojourn, b.sojourn, "{name}: sojourn samples changed");
        assert_eq!(a.wait, b.wait, "{name}: wait samples changed");
        assert_eq!(a.sojourn_batches, b.sojourn_batches, "{name}: per-batch sums changed");
    }
    let page_a = &ra.requests[0];
    let page_b = rb.requests.iter().find(|r| r.request == "page").unwrap();
    assert_eq!(page_a.latency, page_b.latency);
    assert!(rb.services[0].sojourn.len() > 10_000, "the extra service did run");
}

#[test]
fn adding_a_call_before_another_leaves_that_calls_draws_unchanged() {
    // `front` calls `b` over a network whose latency is drawn from an exponential. The second
    // version adds, before it in the same parallel group, a call to `c` that takes no time:
    // the request's latency is still decided by the `b` path alone. With constant work and
    // plenty of workers, the latencies are the same only if the `b` call draws the same
    // network latencies, which it does only if its streams are named by what the call is,
    // not by its position among the service's calls.
    let b_call = Call::to("b").group("fan").set("latency", exponential("5ms"));
    let version = |extra: Option<Call>| {
        let mut front = Service::new("front", &constant("1ms")).workers(64);
        if let Some(c) = extra {
            front = front.call(c);
        }
        Scenario::new("calls", "1m")
            .workload(Workload::poisson("w", 200.0).request(Request::new("get", "front")))
            .service(front.call(b_call.clone()))
            .service(Service::new("b", &constant("2ms")).workers(64))
            .service(Service::new("c", &constant("0ms")).workers(64))
            .run()
    };
    let before = version(None);
    let after = version(Some(Call::to("c").group("fan")));
    assert_eq!(service(&before, "c").arrivals, 0);
    assert!(service(&after, "c").arrivals > 10_000, "the added call is made");
    assert_eq!(service(&before, "b").arrivals, service(&after, "b").arrivals);
    assert!(before.requests[0].latency.len() > 10_000);
    assert_eq!(before.requests[0].latency, after.requests[0].latency, "the `b` call drew other latencies");
}

#[test]
fn the_model_without_policies_and_the_general_one_give_identical_results() {
    // Scenarios that use no policy run a model compiled without them; the general model
    // must give the same bytes on them (it only adds checks that all come out false).
    for name in ["quickstart.toml", "three-tier.toml", "mmc.toml"] {
        let src = scenario(name).replace("duration = \"10h\"", "duration = \"1h\"");
        let spec = compile_ok(&src);
        assert_eq!(Features::of(&spec).tier(), TierKind::Lean, "{name} uses no policy");
        let (a, sa) = simulate(&spec, 3, Vec::new());
        let (b, sb) = cellsim_models::simulate_in(&spec, 3, Vec::new(), TierKind::Full, false);
        let json = |r| serde_json::to_string_pretty(&summarise(r)).unwrap();
        assert_eq!(json(&a), json(&b), "{name}");
        assert_eq!(sa, sb, "{name}");
    }
    // And a scenario with policies takes the general model.
    let spec = compile_ok(&scenario("circuit-breaker.toml"));
    assert!(Features::of(&spec).tier() > TierKind::Lean);
}

/// A run told to report its progress steps through simulated time and gives the same
/// results as one that does not, alone and paired with its baseline; the progress it reports
/// climbs to the run's duration.
#[test]
fn progress_reports_change_no_result() {
    for (file, paired) in [("mm1.toml", false), ("poison-pill.toml", true)] {
        let mut spec = crate::support::scenario_spec(file);
        spec.duration_ns = spec.duration_ns.min(600 * cellsim_sim::NS_PER_S);
        let (plain, _) = cellsim_runs::simulate(&spec, 3, cellsim_models::NoSeries, paired);
        let mut seen = Vec::new();
        let (stepped, _) =
            cellsim_runs::simulate_with_progress(&spec, 3, cellsim_models::NoSeries, paired, &mut |ns| seen.push(ns));
        assert_eq!(format!("{plain:?}"), format!("{stepped:?}"), "{file}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{file}: progress climbs");
        assert_eq!(seen.last(), Some(&spec.duration_ns), "{file}: to the end");
    }
}
