//! The model against queueing theory (reference: shared/reference/resilience.md section 6).
//!
//! Means and proportions are checked against the run's own 99% confidence interval from 20
//! batch means; quantiles against a 99% interval over independent replications. Little's
//! law is checked on the run's own time averages. Runs are long (hours of simulated time),
//! which the optimised test profile makes cheap.

use crate::support::{run_spec, scenario_spec as spec};
use cellsim_models::metrics::{BatchMeans, T_19_99};
use cellsim_models::{RunResult, Spec};
use cellsim_sim::NS_PER_S;

/// Runs `spec` with `seed`: it must complete, with nothing left in flight.
fn run(spec: &Spec, seed: u64) -> RunResult {
    let r = run_spec(spec, seed);
    assert_eq!(r.in_flight_at_end, 0);
    r
}

/// Asserts that `theory` lies in the 99% batch-means interval; values in `unit`.
pub(crate) fn assert_in_ci(what: &str, b: &BatchMeans, theory: f64, unit: f64) {
    let (mean, half) = b.interval(T_19_99).expect("every batch has data");
    let (mean, half) = (mean / unit, half / unit);
    eprintln!("{what}: {mean:.5} ± {half:.5} (99%), theory {theory:.5}");
    assert!((mean - theory).abs() <= half, "{what}: {mean} ± {half} does not contain {theory}");
    // The interval must also be informative: narrower than 5% of the value.
    assert!(half < 0.05 * theory, "{what}: interval {half} too wide to test anything");
}

/// t quantile, 0.995, 9 degrees of freedom (10 replications).
const T_9_99: f64 = 3.249_836;

/// Asserts that `theory` lies in the 99% interval of `samples` (independent replications).
fn assert_replications(what: &str, samples: &[f64], theory: f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let half = T_9_99 * sd / n.sqrt();
    eprintln!("{what}: {mean:.5} ± {half:.5} (99%, {n} replications), theory {theory:.5}");
    assert!((mean - theory).abs() <= half, "{what}: {mean} ± {half} does not contain {theory}");
    assert!(half < 0.05 * theory, "{what}: interval too wide");
}

fn window_s(r: &RunResult) -> f64 {
    (r.duration_ns - r.warmup_ns) as f64 / 1e9
}

/// Little's law on the run's own numbers: L (the window's occupancy integral over its
/// length) = lambda (accepted arrivals per second) x W (their mean sojourn), up to edge effects
/// of order L W / T. The integral is built from each job's clipped stay, so this checks that
/// the occupancy and the counted jobs cover the same window; the closed-form checks of L
/// (M/M/1: 9, M/M/c: 240/53) are what test the queue itself.
fn assert_littles_law(r: &RunResult) {
    for s in &r.services {
        let t = window_s(r);
        let l = s.occupancy.in_system.0 as f64 / 1e9 / t;
        let accepted = s.sojourn.len() as f64;
        let w = s.sojourn_batches.sum.iter().sum::<f64>() / accepted / 1e9;
        let lambda_w = accepted / t * w;
        eprintln!("Little {}: L = {l:.5}, lambda W = {lambda_w:.5}", s.service);
        assert!((l - lambda_w).abs() <= 1e-3 * l.max(1e-3), "{}: L = {l} but lambda W = {lambda_w}", s.service);
    }
}

#[test]
fn mm1_mean_response_l_and_littles_law() {
    // At rho = 0.9 batch means need long runs: 60 h of simulated time, about 19 M customers.
    let mut spec = spec("mm1.toml");
    spec.duration_ns = 60 * 3600 * NS_PER_S;
    let r = run(&spec, 1);
    let s = &r.services[0];
    assert_in_ci("M/M/1 W (s)", &s.sojourn_batches, 0.100, 1e9);
    assert_in_ci("M/M/1 Wq (s)", &s.wait_batches, 0.090, 1e9);
    // L's uncertainty is lambda times W's (Little): L = 9 within lambda x W's half-width.
    let (_, half_w) = s.sojourn_batches.interval(T_19_99).unwrap();
    let l = s.occupancy.in_system.0 as f64 / 1e9 / window_s(&r);
    eprintln!("M/M/1 L = {l:.4}, theory 9 ± {:.4}", 90.0 * half_w / 1e9);
    assert!((l - 9.0).abs() <= 90.0 * half_w / 1e9, "L = {l}");
    let busy = s.occupancy.busy.0 as f64 / 1e9 / window_s(&r);
    assert!((busy - 0.9).abs() < 0.005, "utilisation {busy}");
    assert_littles_law(&r);
}

#[test]
fn mm1_p99_response_over_replications() {
    let mut spec = spec("mm1.toml");
    spec.duration_ns = 10 * 3600 * NS_PER_S;
    let p99: Vec<f64> =
        (1..=10).map(|seed| run(&spec, seed).services[0].sojourn.value_at_quantile(0.99) as f64 / 1e9).collect();
    // Sojourn is Exp(mu - lambda) = Exp(10/s): p99 = ln(100)/10 s.
    assert_replications("M/M/1 p99 response (s)", &p99, 100f64.ln() / 10.0);
}

#[test]
fn mmc_erlang_c_wait_probability_and_mean_wait() {
    let r = run(&spec("mmc.toml"), 1);
    let s = &r.services[0];
    assert_in_ci("M/M/c P(wait)", &s.waited_batches, 27.0 / 53.0, 1.0);
    assert_in_ci("M/M/c Wq (s)", &s.wait_batches, 27.0 / 530.0, 1e9);
    assert_in_ci("M/M/c W (s)", &s.sojourn_batches, 8.0 / 53.0, 1e9);
    // L = 240/53 within lambda x W's half-width (Little: L's uncertainty is lambda times W's).
    let (_, half_w) = s.sojourn_batches.interval(T_19_99).unwrap();
    let l = s.occupancy.in_system.0 as f64 / 1e9 / window_s(&r);
    eprintln!("M/M/c L = {l:.4}, theory {:.4} ± {:.4}", 240.0 / 53.0, 30.0 * half_w / 1e9);
    assert!((l - 240.0 / 53.0).abs() <= 30.0 * half_w / 1e9, "L = {l}");
    assert_littles_law(&r);
}

#[test]
fn md1_mean_wait_is_half_of_mm1() {
    let r = run(&spec("md1.toml"), 1);
    assert_in_ci("M/D/1 Wq (s)", &r.services[0].wait_batches, 0.045, 1e9);
    assert_littles_law(&r);
}

#[test]
fn mg1_uniform_service_pollaczek_khinchine() {
    let r = run(&spec("mg1-uniform.toml"), 1);
    assert_in_ci("M/G/1 U(0,20ms) Wq (s)", &r.services[0].wait_batches, 0.060, 1e9);
    assert_littles_law(&r);
}

#[test]
fn erlang_b_rejection_probability() {
    let spec = spec("erlang-b.toml");
    // The scenario's lognormal service time is tuned to a 100 ms mean: offered load 3.
    assert!((spec.services[0].operations[0].service_time.mean_ns() / 1e6 - 100.0).abs() < 0.01);
    let r = run(&spec, 1);
    assert_in_ci("Erlang B(4, 3)", &r.services[0].rejected_batches, 27.0 / 131.0, 1.0);
    // Rejected callers see `rejected` end to end.
    let req = &r.requests[0];
    assert_eq!(
        req.outcomes.get(cellsim_models::Outcome::Rejected),
        r.services[0].outcomes.get(cellsim_models::Outcome::Rejected)
    );
}

/// The CDF of Exp(mean a) + Exp(mean b) + Exp(mean c) for distinct means, at t.
fn hypoexponential_cdf(means: [f64; 3], t: f64) -> f64 {
    let rates = means.map(|m| 1.0 / m);
    let mut survival = 0.0;
    for i in 0..3 {
        let mut coef = 1.0;
        for j in 0..3 {
            if j != i {
                coef *= rates[j] / (rates[j] - rates[i]);
            }
        }
        survival += coef * (-rates[i] * t).exp();
    }
    1.0 - survival
}

fn hypoexponential_quantile(means: [f64; 3], q: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1000.0);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if hypoexponential_cdf(means, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[test]
fn three_tier_chain_at_low_load_is_the_sum_of_its_service_times() {
    let means = [2.0, 3.0, 1.0];
    let (p50, p99) = (hypoexponential_quantile(means, 0.5), hypoexponential_quantile(means, 0.99));
    // The published figures (shared/anchors/README.md) to their two decimals.
    assert_eq!(format!("{p50:.2} {p99:.2}"), "5.21 18.20");
    let mut spec = spec("three-tier.toml");
    spec.duration_ns = 1800 * NS_PER_S;
    let runs: Vec<RunResult> = (1..=10).map(|seed| run(&spec, seed)).collect();
    for r in &runs {
        let req = &r.requests[0];
        assert_eq!(req.outcomes.successes(), req.outcomes.total(), "no failures at low load");
        assert_eq!(req.attempts, req.outcomes.total(), "no retries at low load");
    }
    let q =
        |x: f64| -> Vec<f64> { runs.iter().map(|r| r.requests[0].latency.value_at_quantile(x) as f64 / 1e6).collect() };
    assert_replications("chain p50 (ms)", &q(0.5), p50);
    assert_replications("chain p99 (ms)", &q(0.99), p99);
    assert_in_ci("chain mean (ms)", &runs[0].requests[0].latency_batches, 6.0, 1e6);
    assert_littles_law(&runs[0]);
}

#[test]
fn littles_law_holds_for_every_service_of_the_quickstart() {
    let r = run(&spec("quickstart.toml"), 3);
    assert_littles_law(&r);
}

/// CPU stress multiplies queueing delay as M/M/c at the reduced rate says: the M/M/c of
/// `mmc.toml` (c = 4, lambda = 30/s, mean work 100 ms) under a 10% stressor for the whole
/// run serves at mu' = 9/s (work takes 1 / 0.9 as long, still exponential): Erlang C with
/// a = 30/9 gives P(wait) = 0.6577 and Wq = 0.1096 s, 2.15 times the unstressed 27/530 s,
/// and W = Wq + 1/9 s.
#[test]
fn cpu_stress_queues_as_mmc_at_the_reduced_rate() {
    let text = std::fs::read_to_string(crate::support::repo_path("scenarios/mmc.toml")).unwrap()
        + "\n[[fault]]\nkind = \"cpu-stress\"\nservice = \"pool\"\nload_percent = 10\nstart = \"0s\"\nduration = \"10h\"\n";
    assert_mmc_at_nine_per_s("stressed", &text);
}

/// `text` (`mmc.toml`'s c = 4, lambda = 30/s) serving at mu' = 9/s queues as Erlang C says.
fn assert_mmc_at_nine_per_s(what: &str, text: &str) {
    let r = run(&crate::support::compile_ok(text), 1);
    let s = &r.services[0];
    let (c, a): (i32, f64) = (4, 30.0 / 9.0);
    let top = a.powi(c) / (1..=c).map(f64::from).product::<f64>() * c as f64 / (c as f64 - a);
    let below: f64 = (0..c).map(|k| a.powi(k) / (1..=k).map(f64::from).product::<f64>()).sum();
    let erlang_c = top / (below + top);
    let wq = erlang_c / (c as f64 * 9.0 - 30.0);
    assert!((erlang_c - 0.6577).abs() < 1e-4 && (wq - 0.10962).abs() < 1e-4);
    assert_in_ci(&format!("{what} M/M/c P(wait)"), &s.waited_batches, erlang_c, 1.0);
    assert_in_ci(&format!("{what} M/M/c Wq (s)"), &s.wait_batches, wq, 1e9);
    assert_in_ci(&format!("{what} M/M/c W (s)"), &s.sojourn_batches, wq + 1.0 / 9.0, 1e9);
}

/// CPU steal at a fixed multiplier on every instance is the same capacity loss: `mmc.toml`
/// with steal of 10 / 9 everywhere (low = high) queues as the M/M/c at mu' = 9/s above.
#[test]
fn fixed_cpu_steal_queues_as_mmc_at_the_reduced_rate() {
    let text = std::fs::read_to_string(crate::support::repo_path("scenarios/mmc.toml")).unwrap()
        + "\n[noise]\ncpu_steal = { percent = 100, low = 1.1111111111111112, high = 1.1111111111111112 }\n";
    assert_mmc_at_nine_per_s("stolen", &text);
}
