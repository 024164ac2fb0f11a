//! Operations per service, and calls repeated, conditional, awaited late or never, against
//! closed forms and hand-computed cases: two operations sharing one queue (Pollaczek-
//! Khinchine for the mixed service time), repetitions in sequence (n times the mean) and in
//! parallel (the mean of the maximum of n exponentials), probabilities and branches (the
//! share of jobs that make the call), fire-and-forget and late-awaited calls (deterministic
//! latencies).

use crate::queueing::assert_in_ci;
use crate::support::{compile_ok, run, run_spec, service};
use cellsim_models::{compile, Outcome, RunResult};
use cellsim_sim::NS_PER_S;

/// The request type named `name`.
fn request<'a>(r: &'a RunResult, name: &str) -> &'a cellsim_models::RequestStats {
    r.requests.iter().find(|q| q.request == name).unwrap_or_else(|| panic!("no request type `{name}`"))
}

/// Asserts that every value of `h` is `ns` (to the histogram's precision).
fn assert_all(what: &str, h: &hdrhistogram::Histogram<u64>, ns: u64) {
    assert!(!h.is_empty(), "{what}: no values");
    assert!(h.equivalent(h.min(), ns) && h.equivalent(h.max(), ns), "{what}: {} to {}, not {ns}", h.min(), h.max());
}

/// Asserts that a count out of `n` trials is within four standard deviations of `p`.
fn assert_share(what: &str, count: u64, n: u64, p: f64) {
    let share = count as f64 / n as f64;
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    eprintln!("{what}: {share:.5} of {n}, theory {p} (sd {sd:.5})");
    assert!((share - p).abs() <= 4.0 * sd, "{what}: {share} is not within 4 sd of {p}");
}

#[test]
fn two_operations_share_one_queue_as_pollaczek_khinchine_says() {
    // One worker; operations with exponential work of means 5 ms and 15 ms, half the jobs
    // each, at 60/s: E[S] = 10 ms, rho = 0.6, E[S^2] = (2 x 25 + 2 x 225) / 2 = 250 ms^2,
    // Wq = lambda E[S^2] / (2 (1 - rho)) = 60 x 250e-6 / 0.8 s = 18.75 ms. Each operation's
    // sojourn is that common wait plus its own mean work.
    let text = r#"
[scenario]
name = "pk"
duration = "10h"
warmup = "10m"

[[workload]]
name = "w"
arrival = { process = "poisson", rate_per_s = 60 }

[[workload.request]]
name = "get"
target = "cart"
operation = "GetCart"

[[workload.request]]
name = "add"
target = "cart"
operation = "AddItem"

[[service]]
name = "cart"
queue_capacity = 100000

[[service.operation]]
name = "GetCart"
service_time = { dist = "exponential", mean = "5ms" }

[[service.operation]]
name = "AddItem"
service_time = { dist = "exponential", mean = "15ms" }
"#;
    let spec = compile_ok(text);
    let r = run_spec(&spec, 1);
    let cart = service(&r, "cart");
    assert_in_ci("mixed Wq (ms)", &cart.wait_batches, 18.75, 1e6);
    assert_in_ci("GetCart sojourn (ms)", &request(&r, "get").latency_batches, 23.75, 1e6);
    assert_in_ci("AddItem sojourn (ms)", &request(&r, "add").latency_batches, 33.75, 1e6);
    let window_s = (r.duration_ns - r.warmup_ns) as f64 / NS_PER_S as f64;
    let busy = cart.occupancy.busy.0 as f64 / 1e9 / window_s;
    assert!((busy - 0.6).abs() < 0.01, "utilisation {busy}, theory 0.6");
    // validate's planning aid sees the combined load.
    assert!((spec.offered_load()[0] - 0.6).abs() < 1e-9);
}

/// A client calling `front` (no work of its own) which makes `call` to `leaf`, whose
/// exponential 10 ms work never queues (10,000 workers): a request's latency is what the
/// calls add.
fn fan(call: &str, requests_per_s: u32) -> String {
    format!(
        r#"
[scenario]
name = "fan"
duration = "10m"

[[workload]]
name = "w"
arrival = {{ process = "poisson", rate_per_s = {requests_per_s} }}

[[workload.request]]
name = "r"
target = "front"

[[service]]
name = "front"
workers = 10000
service_time = {{ dist = "constant", value = "0ms" }}

[[service.call]]
to = "leaf"
{call}

[[service]]
name = "leaf"
workers = 10000
service_time = {{ dist = "exponential", mean = "10ms" }}
"#
    )
}

#[test]
fn a_call_repeated_in_sequence_adds_n_times_its_mean_and_in_parallel_the_mean_maximum() {
    let r = run(&fan("repeat = 4", 200));
    assert_eq!(service(&r, "leaf").arrivals, 4 * service(&r, "front").arrivals);
    assert_in_ci("4 in sequence (ms)", &request(&r, "r").latency_batches, 40.0, 1e6);
    // E[max of n Exp(mean m)] = m (1 + 1/2 + ... + 1/n).
    let r = run(&fan("repeat = { count = 4, parallel = true }", 200));
    assert_eq!(service(&r, "leaf").arrivals, 4 * service(&r, "front").arrivals);
    assert_in_ci("max of 4 (ms)", &request(&r, "r").latency_batches, 10.0 * (1.0 + 0.5 + 1.0 / 3.0 + 0.25), 1e6);
    // A count drawn per job: uniform 1..=5 in sequence, mean 3 calls.
    let r = run(&fan("repeat = { dist = \"uniform\", min = 1, max = 5 }", 200));
    assert_in_ci("uniform 1-5 in sequence (ms)", &request(&r, "r").latency_batches, 30.0, 1e6);
    let (leaf, front) = (service(&r, "leaf").arrivals, service(&r, "front").arrivals);
    assert_share("mean count / 5", leaf, 5 * front, 0.6);
}

#[test]
fn repetition_counts_follow_their_distributions() {
    // Geometric with mean 2.5 from 1: p = 1 / 2.5; empirical 1 (weight 3) or 4 (weight 1):
    // mean 1.75. Each job's count is its number of leaf jobs.
    for (repeat, mean) in [
        ("repeat = { dist = \"geometric\", mean = 2.5 }", 2.5),
        ("repeat = { dist = \"empirical\", values = [1, 4], weights = [3, 1] }", 1.75),
        ("repeat = { dist = \"geometric\", mean = 0.5, min = 0, parallel = true }", 0.5),
    ] {
        let r = run(&fan(repeat, 200));
        let (leaf, front) = (service(&r, "leaf").arrivals as f64, service(&r, "front").arrivals as f64);
        eprintln!("{repeat}: {:.4} per job, theory {mean}", leaf / front);
        assert!((leaf / front - mean).abs() < 0.02 * mean, "{repeat}: {} per job", leaf / front);
    }
}

#[test]
fn a_call_with_a_probability_is_made_in_that_share_of_jobs() {
    let r = run(&fan("probability = 0.3", 200));
    let (leaf, front) = (service(&r, "leaf").arrivals, service(&r, "front").arrivals);
    assert_share("probability 0.3", leaf, front, 0.3);
    // Requests without the call take no time; the mean is 0.3 x 10 ms.
    assert_in_ci("mean with p = 0.3 (ms)", &request(&r, "r").latency_batches, 3.0, 1e6);
}

#[test]
fn branches_are_drawn_once_per_job_and_exclude_each_other() {
    // A cache read; on a miss (20%), the database and then a cache write. Both miss calls go
    // together: as many cache writes as database reads, and no job makes both branches.
    let text = r#"
[scenario]
name = "cache"
duration = "10m"

[[workload]]
name = "w"
arrival = { process = "poisson", rate_per_s = 200 }

[[workload.request]]
name = "read"
target = "posts"

[[service]]
name = "posts"
workers = 1000
service_time = { dist = "constant", value = "1ms" }
branches = { hit = 4, miss = 1 }

[[service.call]]
to = "cache"
operation = "get"

[[service.call]]
to = "db"
branch = "miss"

[[service.call]]
to = "cache"
name = "cache-set"
operation = "set"
branch = "miss"

[[service]]
name = "cache"
workers = 1000

[[service.operation]]
name = "get"
service_time = { dist = "constant", value = "1ms" }

[[service.operation]]
name = "set"
service_time = { dist = "constant", value = "2ms" }

[[service]]
name = "db"
workers = 1000
service_time = { dist = "constant", value = "10ms" }
"#;
    let r = run(text);
    let (posts, cache, db) = (service(&r, "posts").arrivals, service(&r, "cache").arrivals, service(&r, "db").arrivals);
    assert_share("miss", db, posts, 0.2);
    assert_eq!(cache, posts + db, "one cache read per job, one cache write per miss");
    // A hit takes 1 + 1 ms; a miss 1 + 1 + 10 + 2 ms: nothing else.
    let latency = &request(&r, "read").latency;
    assert!(latency.equivalent(latency.min(), 2_000_000) && latency.equivalent(latency.max(), 14_000_000));
    let (hits, misses) = (latency.count_between(0, 2_100_000), latency.count_between(13_900_000, 14_100_000));
    assert_eq!(hits + misses, latency.len(), "a latency other than 2 ms or 14 ms");
    assert_eq!(misses, db);
}

/// `front` (1 ms of work) calls `slow` (30 ms) with `slow_call` and then `fast` (10 ms);
/// every work time is constant and nothing queues.
fn late(slow_call: &str, slow_extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "late"
duration = "1m"

[[workload]]
name = "w"
arrival = {{ process = "constant", rate_per_s = 50 }}

[[workload.request]]
name = "r"
target = "front"

[[service]]
name = "front"
workers = 1000
service_time = {{ dist = "constant", value = "1ms" }}

[[service.call]]
to = "slow"
{slow_call}

[[service.call]]
to = "fast"

[[service]]
name = "slow"
workers = 1000
service_time = {{ dist = "constant", value = "30ms" }}
{slow_extra}

[[service]]
name = "fast"
workers = 1000
service_time = {{ dist = "constant", value = "10ms" }}
"#
    )
}

#[test]
fn a_fire_and_forget_call_adds_no_latency_loads_its_callee_and_fails_nobody() {
    let r = run(&late("wait = \"never\"", "error_probability = 1"));
    let req = request(&r, "r");
    assert_eq!(req.outcomes.get(Outcome::Ok), req.outcomes.total(), "its failures do not fail the caller");
    assert_all("1 ms + 10 ms, not + 30 ms", &req.latency, 11_000_000);
    let slow = service(&r, "slow");
    assert_eq!(slow.arrivals, service(&r, "front").arrivals, "every job makes it");
    assert_eq!(slow.outcomes.get(Outcome::Error), slow.outcomes.total(), "and it fails, counted at the callee");
    // 50 jobs a second of 30 ms each: 1.5 workers busy.
    let busy = slow.occupancy.busy.0 as f64 / 1e9 / 60.0;
    assert!((busy - 1.5).abs() < 0.01, "slow is {busy} workers busy");
}

#[test]
fn a_call_awaited_at_the_end_runs_alongside_the_later_steps() {
    // In step: 1 + 30 + 10 ms. Awaited at the end: 1 + max(30, 10) ms.
    let r = run(&late("", ""));
    assert_all("in step", &request(&r, "r").latency, 41_000_000);
    let r = run(&late("wait = \"end\"", ""));
    assert_all("awaited at the end", &request(&r, "r").latency, 31_000_000);
    // Its failure fails the job when the job ends (where its result is read), not before.
    let r = run(&late("wait = \"end\"", "error_probability = 1"));
    let req = request(&r, "r");
    assert_eq!(req.outcomes.get(Outcome::Error), req.outcomes.total());
    assert_all("failed at the end", &req.latency_failed, 31_000_000);
    // Not critical: degraded.
    let r = run(&late("wait = \"end\"\ncritical = false", "error_probability = 1"));
    assert_eq!(request(&r, "r").outcomes.get(Outcome::Degraded), request(&r, "r").outcomes.total());
}

#[test]
fn a_critical_failure_stops_a_repetition_and_an_optional_one_does_not() {
    // Every leaf job fails: a critical call repeated 5 times in sequence stops at the first
    // failure; an optional one makes all five, and the job answers degraded.
    let failing =
        |call: &str| fan(call, 100).replace("mean = \"10ms\" }\n", "mean = \"10ms\" }\nerror_probability = 1\n");
    let r = run(&failing("repeat = 5"));
    assert_eq!(service(&r, "leaf").arrivals, service(&r, "front").arrivals);
    let r = run(&failing("repeat = 5\ncritical = false"));
    assert_eq!(service(&r, "leaf").arrivals, 5 * service(&r, "front").arrivals);
    let req = request(&r, "r");
    assert_eq!(req.outcomes.get(Outcome::Degraded), req.outcomes.total());
}

#[test]
fn fire_and_forget_copies_go_on_after_their_caller_has_replied() {
    // Five copies in sequence of 10 ms each, nobody waiting: the caller answers in 0 ms and
    // all five are made.
    let r = run(&fan("repeat = 5\nwait = \"never\"", 100));
    assert_eq!(service(&r, "leaf").arrivals, 5 * service(&r, "front").arrivals);
    assert!(request(&r, "r").latency.max() <= 1, "the caller waited");
}

#[test]
fn operations_and_call_shapes_are_checked_with_located_errors() {
    let base = |extra: &str| {
        format!(
            r#"
[scenario]
name = "bad"
duration = "1m"

[[workload]]
name = "w"
arrival = {{ process = "poisson", rate_per_s = 10 }}

[[workload.request]]
name = "r"
target = "front"

[[service]]
name = "front"
service_time = {{ dist = "constant", value = "1ms" }}
{extra}

[[service]]
name = "cart"
service_time = {{ dist = "constant", value = "1ms" }}

[[service.operation]]
name = "GetCart"

[[service.operation]]
name = "AddItem"
"#
        )
    };
    let cases = [
        ("[[service.call]]\nto = \"cart\"", "service `cart` has 2 operations: the call must name one", "operation = \"...\", one of `AddItem`, `GetCart`"),
        ("[[service.call]]\nto = \"cart\"\noperation = \"GetCrat\"", "service `cart` has no operation named `GetCrat`", "did you mean `GetCart`?"),
        ("[[service.call]]\nto = \"cart\"\noperation = \"GetCart\"\nbranch = \"miss\"", "service `front` has no branches", "branches = {"),
        ("branches = { hit = 1, mis = 1 }\n[[service.call]]\nto = \"cart\"\noperation = \"GetCart\"\nbranch = \"miss\"", "service `front` has no branch named `miss`", "did you mean `mis`?"),
        ("[[service.call]]\nto = \"cart\"\noperation = \"GetCart\"\nrepeat = 0", "a call is repeated from 1 to 1000 times, not 0", "probability"),
        ("[[service.call]]\nto = \"cart\"\noperation = \"GetCart\"\nrepeat = { dist = \"uniform\", min = 3 }", "uniform needs `min` and `max`", "repeat = 9"),
        ("[[service.call]]\nto = \"cart\"\noperation = \"GetCart\"\nprobability = 1.5", "probability must be above 0 and at most 1, not 1.5", "one job of five"),
        ("[[service.call]]\nto = \"cart\"\noperation = \"GetCart\"\nwait = \"later\"", "unknown variant `later`", "allowed values here: step, end, never"),
        ("[[service.operation]]\nname = \"x\"", "the operation has no service_time", "give it a service_time")
            ,
    ];
    for (extra, message, hint) in cases {
        let mut text = base(extra);
        if extra.starts_with("[[service.operation]]") {
            text = text.replacen(
                "service_time = { dist = \"constant\", value = \"1ms\" }\n[[service.operation]]",
                "[[service.operation]]",
                1,
            );
        }
        let errors = compile("bad.toml", &text).expect_err(extra);
        let shown = errors[0].to_string();
        assert!(shown.contains(message), "{extra}: {shown}");
        assert!(shown.contains(hint), "{extra}: {shown}");
    }
}

/// The shipped Online Boutique with `fault` (TOML) appended.
fn boutique(replace: &[(&str, &str)], fault: &str) -> String {
    let mut text = crate::support::scenario_text("online-boutique.toml");
    for (from, to) in replace {
        assert!(text.contains(from), "the scenario no longer has `{from}`");
        text = text.replace(from, to);
    }
    text + fault
}

/// An outage of every instance of `service` for the whole run.
fn dead(service: &str) -> String {
    format!("\n[[fault]]\nkind = \"outage\"\nservice = \"{service}\"\nstart = \"0s\"\nduration = \"1h\"\n")
}

#[test]
fn online_boutique_home_page_is_the_sum_of_its_sequential_hops() {
    // One user: one request at a time, each of its calls one after another, so nothing ever
    // queues and a home page takes the sum of its hops' means. Each hop is 0.25 ms each way
    // (0.5 ms); the work means are the scenario's:
    //   loadgenerator -> frontend.home          0.5 + 2.0 (rendering)
    //   currencyservice.GetSupportedCurrencies   0.5 + 0.5
    //   productcatalogservice.ListProducts       0.5 + 0.3
    //   cartservice.GetCart -> redis-cart.get    0.5 + 0.5 + 0.5 + 0.1
    //   currencyservice.Convert x9               9 x (0.5 + 0.5)
    //   adservice.GetAds                         0.5 + 1.0
    // = 2.5 + 1.0 + 0.8 + 1.6 + 9.0 + 1.5 = 16.4 ms.
    let text = boutique(&[("users = 100", "users = 1"), ("duration = \"10m\"", "duration = \"40h\"")], "");
    let r = run(&text);
    let index = request(&r, "index");
    assert_eq!(index.outcomes.get(Outcome::Ok), index.outcomes.total());
    assert_in_ci("home page (ms)", &index.latency_batches, 16.4, 1e6);
    assert_eq!(service(&r, "currencyservice").waited, 0, "one user: nothing queues");
}

#[test]
fn online_boutique_survives_a_dead_ad_service_and_not_a_dead_currency_service() {
    // Ads are optional: every home page renders, without its ad (degraded).
    let r = run(&boutique(&[], &dead("adservice")));
    let index = request(&r, "index");
    assert!(index.outcomes.total() > 100);
    assert_eq!(index.outcomes.get(Outcome::Degraded), index.outcomes.total(), "every home page degraded");
    for task in ["setCurrency", "browseProduct", "addToCart", "checkout"] {
        let t = request(&r, task);
        assert_eq!(t.outcomes.get(Outcome::Degraded), t.outcomes.total(), "{task}: every one degraded");
    }
    // viewCart shows no ad: untouched.
    let view = request(&r, "viewCart");
    assert_eq!(view.outcomes.get(Outcome::Ok), view.outcomes.total());
    // Currencies are on every page: every home page fails.
    let r = run(&boutique(&[], &dead("currencyservice")));
    for task in ["index", "setCurrency", "browseProduct", "viewCart", "addToCart", "checkout"] {
        let t = request(&r, task);
        assert_eq!(t.outcomes.get(Outcome::Error), t.outcomes.total(), "{task}: every one fails");
    }
}

#[test]
fn message_sizes_default_to_1000_bytes_and_take_distributions_of_bytes() {
    let spec =
        compile_ok(&fan("request_bytes = 512\nresponse_bytes = { dist = \"uniform\", min = 1000, max = 3000 }", 10));
    let call = spec.calls.iter().find(|c| c.from.is_some()).unwrap();
    assert_eq!(call.request_bytes.mean_ns(), 512.0);
    assert_eq!(call.response_bytes.mean_ns(), 2000.0);
    let root = spec.calls.iter().find(|c| c.from.is_none()).unwrap();
    assert_eq!((root.request_bytes.mean_ns(), root.response_bytes.mean_ns()), (1000.0, 1000.0));
    let e = compile("bad.toml", &fan("request_bytes = { dist = \"normal\", mean = 5 }", 10)).unwrap_err();
    assert!(e[0].to_string().contains("sizes take dist"), "{}", e[0]);
    // An unknown key in an either-or value names what the value may be, with examples.
    let e = compile("bad.toml", &fan("request_bytes = { dist = \"normal\", mean = 5, stddev = 1 }", 10)).unwrap_err();
    let shown = e[0].to_string();
    assert!(shown.contains("request_bytes: must be a number of bytes, or a size distribution"), "{shown}");
    assert!(shown.contains("hint: e.g. request_bytes = 2048"), "{shown}");
    let e = compile("bad.toml", &fan("repeat = { count = 3, paralel = true }", 10)).unwrap_err();
    assert!(e[0].to_string().contains("repeat: must be a count, or a table"), "{}", e[0]);
}

#[test]
fn a_long_repetition_of_calls_answered_at_once_does_not_grow_the_stack() {
    // 1,000 copies in sequence, each refused at once by a dead callee (an outage answers
    // before any time passes): without a bound each copy would be sent from inside the
    // previous one's answer, 1,000 frames deep. Run on a 192 KiB stack.
    // (A drawn count takes the shaped path; a fixed one is 1,000 plain steps.)
    let text = fan("repeat = { dist = \"uniform\", min = 1000, max = 1000 }\ncritical = false", 20)
        .replace("duration = \"10m\"", "duration = \"10s\"")
        + "\n[[fault]]\nkind = \"outage\"\nservice = \"leaf\"\nstart = \"0s\"\nduration = \"1h\"\n";
    let r = std::thread::Builder::new().stack_size(192 << 10).spawn(move || run(&text)).unwrap().join().unwrap();
    let (leaf, front) = (service(&r, "leaf").arrivals, service(&r, "front").arrivals);
    assert!(front > 100);
    assert_eq!(leaf, 1000 * front);
    assert_eq!(request(&r, "r").outcomes.get(Outcome::Degraded), request(&r, "r").outcomes.total());
}
