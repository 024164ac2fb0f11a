//! Controllers in whole runs, against hand-computed answers: autoscaling (Kubernetes' HPA and
//! EC2 target tracking) absorbing a step in load after detection and boot, launches delayed
//! by insufficient capacity, zonal autoshift's availability dip (detection plus drain), a
//! shift refused when the other zones are unhealthy, and static stability (three zones at
//! 60% survive losing one; at 80% they cannot).

use crate::support::{run, service};
use cellsim_models::RunResult;

/// 200 requests a second, 500 from 2 min to 6 min, to `api` (2 instances of 4 workers,
/// exponential 10 ms) with `autoscaling`; `extra` appended.
fn step(autoscaling: &str, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "step"
duration = "15m"
bucket = "10s"

[[region]]
name = "r"
zones = ["a", "b"]

[[workload]]
name = "w"
arrival = {{ process = "schedule", steps = [{{ at = "0s", rate_per_s = 200 }}, {{ at = "2m", rate_per_s = 500 }}, {{ at = "6m", rate_per_s = 200 }}] }}

[[workload.request]]
name = "get"
target = "api"
timeout = "2s"

[[service]]
name = "api"
instances = 2
workers = 4
service_time = {{ dist = "exponential", mean = "10ms" }}
autoscaling = {autoscaling}
{extra}
"#
    )
}

fn actions(r: &RunResult) -> Vec<(f64, String)> {
    r.actions.iter().map(|a| (a.at_ns as f64 / 1e9, a.what.clone())).collect()
}

/// HPA (reference section 4): every 15 s, desired = ceil(current x utilisation / target)
/// outside a 10% tolerance. At 500 a second two instances are 62.5% busy against a 50%
/// target: the sync at 135 s (the first whose 15 s saw the step) wants ceil(2 x 1.25) = 3;
/// three are then 41.7% busy, a ratio of 0.83, whose recommendation ceil(3 x 0.83) = 3
/// changes nothing. After the drop at 6 min the recommendation is 2, but scale-down waits
/// for the 5-minute stabilization window to hold no higher one: 360 s + 300 s = 660 s.
#[test]
fn hpa_scales_out_after_its_sync_and_in_after_its_stabilization_window() {
    let r = run(&step("{ kind = \"hpa\", min = 2, max = 10, target_utilisation = 50, boot_time = \"30s\" }", ""));
    assert_eq!(
        actions(&r),
        [(135.0, "scale out from 2 to 3".to_string()), (660.0, "scale in from 3 to 2".to_string())]
    );
    assert_eq!(r.requests[0].outcomes.successes(), r.requests[0].outcomes.total());
    // The third instance served only from 165 s (135 s + 30 s of boot) to 660 s.
    let third = service(&r, "api").instances_stats[2].jobs as f64;
    let expected = (360.0 - 165.0) * 500.0 / 3.0 + (660.0 - 360.0) * 200.0 / 3.0;
    assert!((third - expected).abs() < 0.05 * expected, "{third} against {expected}");
}

/// Target tracking (reference section 4; its alarms' 3-of-3 one-minute datapoints are
/// UNVERIFIED there): the datapoints of [2 min, 3 min), [3, 4) and [4, 5) are above target,
/// so it scales out at 5 min, to max(ceil(2 x 1.25), 2 + 1) = 3.
#[test]
fn target_tracking_scales_out_after_three_datapoints_above_target() {
    let r = run(&step("{ kind = \"target-tracking\", min = 2, max = 10, target_utilisation = 50 }", ""));
    assert_eq!(actions(&r)[0], (300.0, "scale out from 2 to 3".to_string()));
}

/// A launch into a zone without capacity fails and is retried every 10 s: with both zones
/// out of capacity until 200 s, the HPA's launch at 135 s goes at 205 s (the first retry
/// after the window: 135 + 7 x 10) and serves from 235 s.
#[test]
fn insufficient_capacity_delays_a_launch_until_the_window_ends() {
    let ice = |zone: &str| {
        format!(
            "\n[[fault]]\nkind = \"insufficient-capacity\"\nzone = \"{zone}\"\nstart = \"0s\"\nduration = \"200s\"\n"
        )
    };
    let r = run(&step(
        "{ kind = \"hpa\", min = 2, max = 10, target_utilisation = 50, boot_time = \"30s\" }",
        &(ice("a") + &ice("b")),
    ));
    assert_eq!(actions(&r)[0], (135.0, "scale out from 2 to 3".to_string()));
    let third = service(&r, "api").instances_stats[2].jobs as f64;
    let expected = (360.0 - 235.0) * 500.0 / 3.0 + (660.0 - 360.0) * 200.0 / 3.0;
    assert!((third - expected).abs() < 0.05 * expected, "{third} against {expected}");
}

/// 300 requests a second over 6 instances in three zones (two each); zone az3 is down from
/// 60 s to 180 s. The autoshift alarm (error rate above 5% in 3 of 3 ten-second periods)
/// goes off at the end of the third period of the outage, 90 s; the drain then takes az3's
/// instances out one by one over 60 s. Requests fail from 60 s to 150 s: the detection delay
/// plus the drain, within a bucket; the shift ends at the first period's end after the
/// outage, 180 s.
#[test]
fn an_autoshift_dip_lasts_the_detection_delay_plus_the_drain() {
    let text = format!(
        "{}\n[zonal_shift]\ndrain = \"60s\"\nauto = {{ error_rate = 0.05, period = \"10s\", datapoints = 3 }}\n",
        zones_scenario(
            300,
            "4m",
            "\n[[fault]]\nkind = \"outage\"\nzone = \"az3\"\nstart = \"60s\"\nduration = \"2m\"\n"
        )
    );
    let (result, rows) = crate::support::run_with_series(&text);
    assert_eq!(actions(&result), [(90.0, "shift started".to_string()), (180.0, "shift ended".to_string())]);
    let failing: Vec<f64> = rows
        .iter()
        .filter(|r| r.outcomes.total() > r.outcomes.successes())
        .map(|r| r.bucket_start_ns as f64 / 1e9)
        .collect();
    assert_eq!(failing.first(), Some(&60.0));
    assert_eq!(failing.last(), Some(&140.0), "the last bucket with failures starts at 140 s and ends at 150 s");
}

/// ARC: "If all targets in the other AZs are unhealthy, the shift is not applied."
#[test]
fn a_shift_is_refused_when_every_other_zone_is_unhealthy() {
    let outage =
        |zone: &str| format!("\n[[fault]]\nkind = \"outage\"\nzone = \"{zone}\"\nstart = \"10s\"\nduration = \"1m\"\n");
    let text = format!(
        "{}\n[zonal_shift]\ndrain = \"0s\"\n[[zonal_shift.shift]]\nzone = \"az3\"\nstart = \"30s\"\nexpires_after = \"5m\"\n",
        zones_scenario(300, "1m", &(outage("az1") + &outage("az2")))
    );
    let r = run(&text);
    assert_eq!(actions(&r), [(30.0, "shift refused: every other zone is unhealthy".to_string())]);
}

/// Three zones of two instances of 4 workers (exponential 10 ms), `rate` requests a
/// second, balanced at random (so that each instance sees Poisson arrivals: an M/M/4
/// queue), and `extra`.
fn zones_scenario(rate: u32, duration: &str, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "zones"
duration = "{duration}"
bucket = "10s"

[[region]]
name = "r"
zones = ["az1", "az2", "az3"]

[[workload]]
name = "w"
arrival = {{ process = "poisson", rate_per_s = {rate} }}

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
instances = 6
workers = 4
load_balancer = "random"
service_time = {{ dist = "exponential", mean = "10ms" }}
{extra}
"#
    )
}

/// Static stability: 1,440 requests a second keep six M/M/4 instances 60% busy; with az3
/// evacuated (a shift by hand at 0 s, no drain, az3 down throughout) the four left are 90%
/// busy, and each is an M/M/4 queue at rho 0.9: Erlang C gives P(wait) = 0.7878 and a mean
/// wait of P(wait) / (4 mu - lambda) = 0.7878 / (400 - 360) s = 19.69 ms. Stable, without
/// scaling. At 80% (1,920 a second) the four left would need 120%: the queues grow until
/// they reject.
#[test]
fn three_zones_at_sixty_percent_survive_losing_one_and_at_eighty_they_cannot() {
    let evacuated = "\n[zonal_shift]\ndrain = \"0s\"\n[[zonal_shift.shift]]\nzone = \"az3\"\nstart = \"0s\"\nexpires_after = \"1h\"\n\n[[fault]]\nkind = \"outage\"\nzone = \"az3\"\nstart = \"0s\"\nduration = \"1h\"\n";
    let r = run(&zones_scenario(1440, "20m", evacuated));
    let api = service(&r, "api");
    assert_eq!(r.requests[0].outcomes.successes(), r.requests[0].outcomes.total());
    let p_wait = api.waited as f64 / api.started as f64;
    assert!((p_wait - 0.7878).abs() < 0.01, "P(wait) {p_wait}");
    let mean_wait_ms = api.wait.mean() / 1e6 * api.waited as f64 / api.started as f64;
    assert!((mean_wait_ms - 19.69).abs() < 1.5, "mean wait {mean_wait_ms} ms");
    let t = r.topology.as_ref().unwrap();
    let width = (r.measured_until_ns - r.warmup_ns) as f64;
    for z in &t.zones[..2] {
        let busy = z.busy.0 as f64 / width / z.workers as f64;
        assert!((busy - 0.9).abs() < 0.01, "{}: {busy}", z.name);
    }
    assert_eq!(t.zones[2].busy.0, 0, "az3 serves nothing");

    let r = run(&zones_scenario(1920, "5m", evacuated));
    let rejected = r.requests[0].outcomes.get(cellsim_models::Outcome::Rejected);
    assert!(rejected > 0, "the queues fill and reject");
    let t = r.topology.as_ref().unwrap();
    let busy = t.zones[0].busy.0 as f64 / (r.measured_until_ns - r.warmup_ns) as f64 / t.zones[0].workers as f64;
    assert!(busy > 0.99, "saturated: {busy}");
}

/// An auto scaling group replaces instances a fault holds down (reference section 4):
/// six instances over three zones (slots placed round robin over the zones, `max = 12`),
/// az3 dark from 60 s. The HPA's look at 60 s (its sync period is 15 s) finds az3's two
/// instances down, takes them out of service and launches two replacements into the zones
/// that can launch (az1 and az2, not the dark one), in service 30 s later; until then four
/// instances carry the load. The replacements take the first free slots of their zones:
/// 6 (az1) and 7 (az2).
#[test]
fn an_auto_scaling_group_replaces_instances_lost_with_a_zone() {
    let text = format!(
        "{}\n[[fault]]\nkind = \"outage\"\nzone = \"az3\"\nstart = \"60s\"\nduration = \"10m\"\n",
        zones_scenario(600, "3m", "").replace(
            "load_balancer = \"random\"",
            "autoscaling = { kind = \"hpa\", min = 6, max = 12, target_utilisation = 60, boot_time = \"30s\" }"
        )
    );
    let r = run(&text);
    assert_eq!(actions(&r), [(60.0, "replace 2 unhealthy instances".to_string())]);
    let api = service(&r, "api");
    let jobs: Vec<u64> = api.instances_stats.iter().map(|i| i.jobs).collect();
    // az3's two served until 60 s only.
    for slot in [2, 5] {
        let expected = 60.0 * 600.0 / 6.0;
        assert!((jobs[slot] as f64 - expected).abs() < 0.05 * expected, "slot {slot}: {jobs:?}");
    }
    // Slots 6 and 7 serve from 90 s to 180 s at a sixth of 600 a second each.
    for slot in [6, 7] {
        let expected = 90.0 * 600.0 / 6.0;
        assert!((jobs[slot] as f64 - expected).abs() < 0.05 * expected, "slot {slot}: {jobs:?}");
    }
    assert!(jobs[8..].iter().all(|&j| j == 0), "{jobs:?}");
    assert_eq!(r.requests[0].outcomes.successes(), r.requests[0].outcomes.total());
}

/// Found by fuzz-compile (fuzz/seeds/autoscaling-huge-workers.toml): the autoscaler's
/// capacity (instances x workers) overflowed 32 bits with 2^31 - 1 workers per instance.
#[test]
fn an_autoscaler_measures_services_of_any_width() {
    let text = step("{ kind = \"hpa\", min = 2, max = 10, target_utilisation = 50, boot_time = \"30s\" }", "")
        .replace("workers = 4", "workers = 2147483647")
        .replace("duration = \"15m\"", "duration = \"1m\"");
    let r = run(&text);
    assert!(r.actions.is_empty(), "hardly busy: no scaling");
}
