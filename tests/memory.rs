//! Instances' heaps (a service's `memory`): a leak ends in OOM kills at the interval the
//! arithmetic predicts, restarts back off as Kubernetes' CrashLoopBackOff does, and the
//! garbage collector pauses the share its formula gives.

use crate::support::run;
use cellsim_models::RunResult;
use cellsim_sim::NS_PER_S;

/// One instance of `api` (16 workers, 1 ms of constant work), a request every 10 ms for an
/// hour, with `memory` and `more` tables.
fn heap(memory: &str, more: &str) -> String {
    format!(
        r#"
[scenario]
name = "heap"
duration = "1h"
warmup = "0s"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 100 }}

[[workload.request]]
name = "get"
target = "api"

[[service]]
name = "api"
workers = 16
service_time = {{ dist = "constant", value = "1ms" }}
memory = {{ {memory} }}
{more}
"#
    )
}

/// The OOM killer's kills, in seconds (to the millisecond).
fn kills_s(r: &RunResult) -> Vec<f64> {
    r.actions.iter().filter(|a| a.controller == "oom killer").map(|a| (a.at_ns as f64 / 1e6).round() / 1e3).collect()
}

/// A leak of 1 MB/s into a 512 MB heap with 100 MB live: killed 412 s after each start.
/// Restarts take 5 s plus CrashLoopBackOff's delay (none the first time, then 10, 20, 40, 80,
/// 160, 300 s: no run lasts the 10 minutes that would reset it): kills at 412, 829 (417 +
/// 412), 1,256 (844 + 412), 1,693, 2,150, 2,647 and 3,224 s; the next start, at 3,529 s, is
/// not killed within the hour. Each kill lands on the first request at or after its instant
/// (every 10 ms).
#[test]
fn a_leak_kills_at_the_interval_the_arithmetic_predicts() {
    let leak =
        "[[fault]]\nkind = \"memory-leak\"\nservice = \"api\"\nstart = \"0s\"\nduration = \"1h\"\nleak_mb_per_s = 1";
    let r = run(&heap("limit_mb = 512, base_mb = 100, restart_time = \"5s\"", leak));
    let expected = [412.0, 829.0, 1256.0, 1693.0, 2150.0, 2647.0, 3224.0];
    let kills = kills_s(&r);
    assert_eq!(kills.len(), expected.len(), "{kills:?}");
    for (k, e) in kills.iter().zip(expected) {
        assert!(*k >= e && *k < e + 0.0105, "killed at {k} s, predicted {e} s");
    }
    let memory = r.services[0].memory.expect("memory stats");
    assert_eq!(memory.oom_kills, 7);
    // Down for 5 + 15 + 25 + 45 + 85 + 165 + 305 s = 645 s: the requests sent meanwhile fail
    // (100 a second), and those in the instance at each kill.
    let failed = r.requests[0].outcomes.total() - r.requests[0].outcomes.successes();
    assert!(failed.abs_diff(64_500) <= 7 * 2, "{failed} failed (expected 64,500)");
    // The same leak as the service's own, from every start: the same kills.
    let own = run(&heap("limit_mb = 512, base_mb = 100, leak_mb_per_s = 1, restart_time = \"5s\"", ""));
    assert_eq!(kills_s(&own), kills);
}

/// A stressor takes 450 MB of the 512 MB heap (100 MB live) from 10 s to 60 s: killed at
/// once, and again at every start while it acts, the restarts backing off: kills at 10 s,
/// 15 s (restart time 5 s, no delay), 30 s (5 + 10), 55 s (5 + 20); the next start, at 100 s
/// (5 + 40), finds the stressor gone.
#[test]
fn a_memory_stress_kills_and_crash_loops_while_it_acts() {
    let hog =
        "[[fault]]\nkind = \"memory-stress\"\nservice = \"api\"\nstart = \"10s\"\nduration = \"50s\"\nmemory_mb = 450";
    let r = run(&heap("limit_mb = 512, base_mb = 100", hog));
    assert_eq!(kills_s(&r), [10.0, 15.0, 30.0, 55.0]);
}

/// The collector at a fixed occupancy (no leak, no data per job): each job allocates 1 MB,
/// 100 jobs a second, into 512 MB with 300 MB live. A collection every 212 jobs: every
/// 2.12 s (the jobs that arrive during a pause start right after it, so allocation keeps
/// pace with arrivals), each 2 ms + 0.05 ms x 300 = 17 ms: 17 / 2,120 = 0.802% of the time,
/// the formula P / (P + (H - L) / A) with A the allocation rate while running, 100 MB/s x
/// 2.12 / (2.12 - 0.017). In an hour, 360,000 jobs: 1,698 collections. With 500 MB live the
/// heap is nearly full: one every 12 jobs (0.12 s), 27 ms each, 22.5% of the time.
#[test]
fn collections_pause_the_share_the_formula_gives() {
    for (base, every_jobs, pause_ms) in [(300, 212, 17), (500, 12, 27)] {
        let memory = format!(
            "limit_mb = 512, base_mb = {base}, alloc_mb_per_job = 1, gc_pause = \"2ms\", gc_pause_per_mb = \"0.05ms\""
        );
        let r = run(&heap(&memory, ""));
        let m = r.services[0].memory.expect("memory stats");
        let jobs = r.requests[0].outcomes.total();
        assert!(jobs.abs_diff(360_000) <= 1);
        assert_eq!(m.gc_pauses, jobs / every_jobs, "{base} MB live");
        assert_eq!(m.gc_paused_ns, m.gc_pauses * pause_ms * 1_000_000);
        let share = m.gc_paused_ns as f64 / (3600 * NS_PER_S) as f64;
        let formula = pause_ms as f64 / 1e3 / (every_jobs as f64 / 100.0);
        assert!((share - formula).abs() < 1e-3 * formula, "{base} MB: share {share}, formula {formula}");
        assert_eq!(m.oom_kills, 0);
    }
    // The pauses are felt: a job that meets one waits for it.
    let quiet = run(&heap("limit_mb = 512, base_mb = 500", ""));
    let busy = run(&heap("limit_mb = 512, base_mb = 500, alloc_mb_per_job = 1", ""));
    assert!(busy.requests[0].latency.mean() > 5.0 * quiet.requests[0].latency.mean());
}

/// Each job present holds its data whatever the balancer: 10 MB a job over 100 MB live in a
/// 512 MB heap, jobs of 2 s arriving every 10 ms (none done before 2 s): the 42nd would take
/// the heap to 100 + 42 x 10 = 520 MB, so the OOM killer acts as it arrives, at 0.41 s (0.42
/// s if the grid starts at 10 ms). Round robin and least outstanding alike.
#[test]
fn data_per_job_present_fills_the_heap() {
    for lb in ["", "load_balancer = \"least-outstanding\""] {
        let text = heap("limit_mb = 512, base_mb = 100, per_job_mb = 10", lb)
            .replace("value = \"1ms\"", "value = \"2s\"")
            .replace("duration = \"1h\"", "duration = \"10s\"");
        let kills = kills_s(&run(&text));
        assert!((0.405..0.425).contains(&kills[0]), "{lb}: first kill at {} s", kills[0]);
    }
}

/// A reboot restarts the process, and its heap with it: with the same 1 MB/s leak, an
/// instance rebooted from 200 s to 205 s (its leak counted from the crash at 200 s) is killed
/// 412 s later, at 612 s, not at 412 s.
#[test]
fn a_reboot_gives_the_leaked_memory_back() {
    let faults = "[[fault]]\nkind = \"reboot\"\nservice = \"api\"\nstart = \"200s\"\nduration = \"5s\"";
    let r = run(&heap("limit_mb = 512, base_mb = 100, leak_mb_per_s = 1, restart_time = \"5s\"", faults));
    let kills = kills_s(&r);
    assert!((612.0..612.0105).contains(&kills[0]), "first kill at {} s (expected 612 s)", kills[0]);
}
