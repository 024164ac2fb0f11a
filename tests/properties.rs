//! Property tests: random small *valid* scenarios, drawn from what docs/scenario-format.md
//! documents (1 to 3 workloads, 1 to 4 services calling each other in a DAG, every policy,
//! fleet feature, shedding rule and fault, small `[limits]` now and then), each compiled, run
//! with its series collected, and checked by `cellsim_models::invariants::check`: requests
//! arrived = finished + in flight, outcome counts add up, no histogram count lost, simulated
//! time never goes back, limits respected. A sample is also run twice (same bytes), and once
//! more in the top tier with the fast paths off (same bytes again).
//!
//! The default count suits `cargo test --workspace`; CI raises it:
//!
//! ```sh
//! CELLSIM_PROPERTY_CASES=10000 cargo test --test main properties:: -- --nocapture
//! ```
//!
//! `CELLSIM_PROPERTY_CASES` is the total over the shards (each shard is a test, so the test
//! harness runs them in parallel); `CELLSIM_PROPERTY_SEED` changes the random scenarios (the
//! default is fixed, so a CI failure reproduces); `CELLSIM_PROPERTY_SECONDS` stops each shard
//! after that long, reporting how many scenarios it ran. A failure prints the shrunk
//! scenario's TOML text and its seed.
//!
//! Every new scenario key belongs in this generator: a feature it cannot draw is a feature
//! these invariants never see.

use cellsim_models::{compile, invariants, simulate, simulate_in, SeriesRow, TierKind};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Cases per shard under plain `cargo test` (about 10 s for both shards on two cores).
const DEFAULT_CASES: u64 = 1000;
/// The tests below split the cases between this many shards.
const SHARDS: u64 = 2;
/// One case in this many is also checked for determinism and against the top tier.
const SAMPLE_EVERY: u64 = 8;

// ---------------------------------------------------------------------------------------
// The generated scenario

/// Request type names, in the order a workload's request types take them.
const TYPES: [&str; 3] = ["get", "put", "list"];

#[derive(Clone, Debug)]
struct Gen {
    duration_us: u64,
    /// Warm-up as a share of the duration, in percent (below 100).
    warmup_pct: Option<u64>,
    /// The bucket as a share of the duration, in percent (1 to 100).
    bucket_pct: Option<u64>,
    drain: Option<&'static str>,
    seed: u64,
    limits: Vec<(&'static str, u64)>,
    workloads: Vec<WorkloadG>,
    services: Vec<ServiceG>,
    faults: Vec<FaultG>,
    topology: Option<TopologyG>,
    /// Indexes into `HYPOTHESES`; the top bit scopes one to the first workload.
    hypotheses: Vec<u8>,
}

/// Regions and zones, and what needs them: cells behind a router, domain faults, zonal
/// shifts, autoscaling.
#[derive(Clone, Debug)]
struct TopologyG {
    /// Zones of the first region (1 to 3); a second region of one zone.
    zones: u32,
    second_region: bool,
    /// `[network]` lines.
    network: Vec<String>,
    /// Every service a template of this many cells behind a router (`routing` keys), with
    /// a fallback cell.
    cells: Option<(u32, String, bool)>,
    /// Outages aimed at a zone (0), a cell (1) or a region (2), start and length in percent;
    /// insufficient capacity (3) in a zone; an AZ power interruption (4), a cross-zone
    /// slowdown (5), a partition between the first zone and the rest (6), one way between the
    /// first two cells (7), packet loss on half the flows leaving a region (8).
    domain_faults: Vec<(u8, u64, u64)>,
    /// `[zonal_shift]` text.
    zonal_shift: Option<String>,
    /// A service (modulo) autoscaled with these keys.
    autoscaling: Option<(usize, String)>,
}
#[derive(Clone, Debug)]
struct WorkloadG {
    /// `arrival = ...`, or a closed loop's `users` and `think_time` lines.
    arrival: String,
    customers: Option<u64>,
    requests: Vec<RequestG>,
}

#[derive(Clone, Debug)]
struct RequestG {
    weight: Option<f64>,
    /// Any service: taken modulo the number of services.
    target: usize,
    /// `key = value` lines: timeout, deadline, latency, retry or hedge, breaker...
    keys: Vec<String>,
}

#[derive(Clone, Debug)]
struct ServiceG {
    instances: u32,
    keys: Vec<String>,
    load_balancer: Option<usize>,
    weights: Vec<u32>,
    /// Some(kind, dependency): the dependency is taken modulo the number of services.
    health: Option<(String, usize)>,
    /// Two named operations (`o0`, `o1`) instead of the implicit one; calls alternate
    /// between them.
    two_ops: bool,
    /// The (first) operation has branches `a` and `b` with these weights.
    branches: Option<(u32, u32)>,
    /// `o1`'s own work, when it has one (else the service's).
    op_time: Option<String>,
    calls: Vec<CallG>,
}

#[derive(Clone, Debug)]
struct CallG {
    /// A service after the caller: caller + 1 + (to modulo the services after it).
    to: usize,
    /// Runs in parallel with the previous call (same group).
    joins_previous: bool,
    /// A group even when alone.
    grouped: bool,
    /// Bit i: the request type TYPES[i], when some workload has it.
    for_types: Option<u8>,
    /// 1 or 2: the call is made only in branch `a` or `b`, when its operation has branches.
    branch: Option<u8>,
    /// Which operation of a target with two to call.
    op: bool,
    keys: Vec<String>,
}

#[derive(Clone, Debug)]
struct FaultG {
    /// An index into `FAULT_KINDS`.
    kind: usize,
    service: usize,
    start_pct: u64,
    duration_pct: u64,
    load_percent: u64,
    instances: Option<u32>,
}

/// A duration in microseconds as the format writes it.
fn d(us: u64) -> String {
    if us == 0 {
        "0".to_string()
    } else if us.is_multiple_of(1000) {
        format!("\"{}ms\"", us / 1000)
    } else {
        format!("\"{us}us\"")
    }
}

impl Gen {
    fn text(&self) -> String {
        let mut out = String::new();
        let duration = self.duration_us;
        out += &format!("[scenario]\nname = \"prop\"\nduration = {}\nseed = {}\n", d(duration), self.seed);
        if let Some(p) = self.warmup_pct {
            out += &format!("warmup = {}\n", d(duration * p / 100));
        }
        if let Some(p) = self.bucket_pct {
            out += &format!("bucket = {}\n", d((duration * p / 100).max(1)));
        }
        if let Some(drain) = self.drain {
            out += &format!("drain = {drain}\n");
        }
        if !self.limits.is_empty() {
            out += "\n[limits]\n";
            for (k, v) in &self.limits {
                out += &format!("{k} = {v}\n");
            }
        }
        let n = self.services.len();
        let topo = self.topology.as_ref();
        let cells = topo.and_then(|t| t.cells.clone());
        if let Some(t) = topo {
            let zones: Vec<String> = (0..t.zones).map(|z| format!("\"z{z}\"")).collect();
            out += &format!("\n[[region]]\nname = \"r0\"\nzones = [{}]\n", zones.join(", "));
            if t.second_region {
                out += "\n[[region]]\nname = \"r1\"\nzones = [\"y0\"]\n";
            }
            if !t.network.is_empty() {
                out += &format!("\n[network]\n{}\n", t.network.join("\n"));
            }
            if let Some((count, _, fallback)) = &cells {
                let template: Vec<String> = (0..n).map(|i| format!("\"s{i}\"")).collect();
                out += &format!("\n[cells]\ncount = {count}\nservices = [{}]\n", template.join(", "));
                if *fallback {
                    // (A weighted service's instances cannot differ by cell.)
                    let weighted = matches!(self.services[0].load_balancer, Some(4) | Some(5));
                    out +=
                        if weighted { "\n[cells.fallback]\n" } else { "\n[cells.fallback]\ninstances = { s0 = 1 }\n" };
                }
            }
            if let Some(z) = &t.zonal_shift {
                out += &format!("\n[zonal_shift]\n{z}\n");
            }
        }
        let present: u8 = (0..TYPES.len())
            .filter(|&t| self.workloads.iter().any(|w| w.requests.len() > t))
            .fold(0, |m, t| m | 1 << t);
        for (w, wl) in self.workloads.iter().enumerate() {
            out += &format!("\n[[workload]]\nname = \"w{w}\"\n{}\n", wl.arrival);
            if let Some(c) = wl.customers {
                out += &format!("customers = {c}\n");
            }
            for (t, r) in wl.requests.iter().enumerate() {
                if cells.is_some() {
                    // Requests reach the cells through the router.
                    out += &format!("\n[[workload.request]]\nname = \"{}\"\ntarget = \"router\"\n", TYPES[t]);
                } else {
                    out +=
                        &format!("\n[[workload.request]]\nname = \"{}\"\ntarget = \"s{}\"\n", TYPES[t], r.target % n);
                }
                if cells.is_none() && self.services[r.target % n].two_ops {
                    out += &format!("operation = \"o{}\"\n", r.weight.is_some() as u8);
                }
                if let Some(wt) = r.weight {
                    out += &format!("weight = {wt}\n");
                }
                for k in &r.keys {
                    out += k;
                    out.push('\n');
                }
            }
        }
        if let Some((_, routing, _)) = &cells {
            out += &format!("\n[[service]]\nname = \"router\"\nservice_time = {{ dist = \"constant\", value = \"100us\" }}\nworkers = 16\nrouting = {{ {routing} }}\n\n[[service.call]]\nto = \"s0\"\nretry = {{ max_attempts = 2 }}\n");
            if self.services[0].two_ops {
                out += "operation = \"o0\"\n";
            }
        }
        for (i, s) in self.services.iter().enumerate() {
            out += &format!("\n[[service]]\nname = \"s{i}\"\ninstances = {}\n", s.instances);
            // (Not with weights: they are one per instance, and autoscaling adds instances.)
            let weighted = s.load_balancer == Some(4);
            if let Some((_, keys)) = topo.and_then(|t| t.autoscaling.as_ref()).filter(|(a, _)| a % n == i && !weighted)
            {
                out += &format!("autoscaling = {{ {keys}, min = 1, max = {} }}\n", s.instances + 2);
            }
            for k in &s.keys {
                out += k;
                out.push('\n');
            }
            if let Some(lb) = s.load_balancer {
                let kinds = ["round-robin", "random", "least-outstanding", "power-of-two", "weighted", "shuffle-shard"];
                out += &format!("load_balancer = \"{}\"\n", kinds[lb]);
                if kinds[lb] == "shuffle-shard" {
                    out += &format!("shard_size = {}\n", 1 + s.weights[0] % s.instances.min(4));
                }
                if kinds[lb] == "weighted" {
                    let w: Vec<String> = s.weights[..s.instances as usize].iter().map(u32::to_string).collect();
                    out += &format!("weights = [{}]\n", w.join(", "));
                }
            }
            if let Some((check, dep)) = &s.health {
                let dep = if check.contains("\"dependency\"") {
                    format!(", dependency = \"s{}\"", dep % n)
                } else {
                    String::new()
                };
                out += &format!("health_check = {{ {check}{dep} }}\n");
            }
            if let Some((a, b)) = s.branches.filter(|_| !s.two_ops) {
                out += &format!("branches = {{ a = {a}, b = {b} }}\n");
            }
            let after = n - i - 1;
            let mut used = Vec::new();
            let mut group = 0;
            let table = if s.two_ops { "service.operation.call" } else { "service.call" };
            let mut ops_written = 0;
            let write_op = |out: &mut String, op: usize| {
                *out += &format!("\n[[service.operation]]\nname = \"o{op}\"\n");
                if let (1, Some(t)) = (op, &s.op_time) {
                    *out += &format!("service_time = {t}\n");
                }
                if let (0, Some((a, b))) = (op, s.branches) {
                    *out += &format!("branches = {{ a = {a}, b = {b} }}\n");
                }
            };
            for (k, c) in s.calls.iter().enumerate() {
                if after == 0 {
                    break;
                }
                // With two operations, the calls split between them: the first half `o0`'s,
                // the rest `o1`'s.
                if s.two_ops && (k == 0 || k == s.calls.len().div_ceil(2)) {
                    write_op(&mut out, ops_written);
                    ops_written += 1;
                    group += 1;
                }
                let to = i + 1 + c.to % after;
                out += &format!("\n[[{table}]]\nto = \"s{to}\"\n");
                if self.services[to].two_ops {
                    out += &format!("operation = \"o{}\"\n", c.op as u8);
                }
                // Unique within the operation (each call is named when in doubt).
                if used.contains(&to) || s.two_ops {
                    out += &format!("name = \"c{k}\"\n");
                }
                used.push(to);
                let branched = s.branches.is_some() && (!s.two_ops || k < s.calls.len().div_ceil(2));
                if let Some(b) = c.branch.filter(|_| branched) {
                    out += &format!("branch = \"{}\"\n", if b == 1 { "a" } else { "b" });
                }
                if k == 0 || !c.joins_previous {
                    group += 1;
                }
                if c.grouped || c.joins_previous || s.calls.get(k + 1).is_some_and(|next| next.joins_previous) {
                    out += &format!("group = \"g{group}\"\n");
                }
                if let Some(mask) = c.for_types.map(|m| m & present).filter(|&m| m != 0) {
                    let names: Vec<String> =
                        (0..TYPES.len()).filter(|t| mask & 1 << t != 0).map(|t| format!("\"{}\"", TYPES[t])).collect();
                    out += &format!("for_types = [{}]\n", names.join(", "));
                }
                for key in &c.keys {
                    out += key;
                    out.push('\n');
                }
            }
            while s.two_ops && ops_written < 2 {
                write_op(&mut out, ops_written);
                ops_written += 1;
            }
        }
        // The same kind on the same target at once is refused (most likely a copy): each
        // (kind, service) once, each domain fault once.
        let mut seen = std::collections::BTreeSet::new();
        let mut domains_seen = std::collections::BTreeSet::new();
        for f in &self.faults {
            if !seen.insert((FAULT_KINDS[f.kind % FAULT_KINDS.len()], f.service % n)) {
                continue;
            }
            let s = f.service % n;
            let start = duration * f.start_pct / 100;
            let length = (duration * f.duration_pct / 100).max(1);
            // With cells, a service fault hits the first cell's copy.
            let prefix = if cells.is_some() { "cell-1/" } else { "" };
            let kind = FAULT_KINDS[f.kind % FAULT_KINDS.len()];
            if kind.starts_with("memory") && !self.services[s].keys.iter().any(|k| k.starts_with("memory = ")) {
                continue; // a memory fault needs a heap
            }
            if kind.starts_with("io-") && !self.services[s].keys.iter().any(|k| k.starts_with("io = ")) {
                continue; // an IO fault needs a volume
            }
            // One outage, stop or reboot in four fails at random (MTBF and MTTR) instead of in
            // a window; a termination has no end.
            let random = matches!(kind, "outage" | "stop" | "reboot");
            // A termination has no end; half the deployments stay to the end of the run.
            let when = if kind == "terminate" || (kind == "deployment" && f.start_pct % 2 == 0) {
                format!("start = {}", d(start))
            } else if kind == "db-failover" {
                format!(
                    "start = {}\nfailover_time = {{ dist = \"uniform\", min = {}, max = {} }}",
                    d(start),
                    d(length / 2 + 1),
                    d(length + 1)
                )
            } else if kind == "reboot" && f.start_pct % 7 == 3 {
                // Chaos Monkey's calendar: kills only in runs that reach a Monday's 9 a.m.
                format!("duration = {}\nchaos_monkey = {{ mean_days = 1.5, min_days = 1 }}", d(length))
            } else if random && f.start_pct % 4 == 0 && !self.limits.iter().any(|&(k, v)| k == "max_events" && v < 1000)
            {
                // (Random failures count against the event budget: not under a tiny one.)
                let mttr = (duration * (f.load_percent + 1) / 400).max(1000);
                format!(
                    "mtbf = {{ dist = \"exponential\", mean = {} }}\nmttr = {{ dist = \"exponential\", mean = {} }}",
                    d(length.max(1000)),
                    d(mttr)
                )
            } else {
                format!("start = {}\nduration = {}", d(start), d(length))
            };
            out += &format!("\n[[fault]]\nkind = \"{kind}\"\nservice = \"{prefix}s{s}\"\n{when}\n");
            // Some windows repeat (every twice their length), some strengths ramp up.
            if when.starts_with("start")
                && !matches!(kind, "terminate" | "db-failover" | "deployment")
                && f.start_pct % 5 == 1
            {
                out += &format!("every = {}\n", d(2 * length + 1));
            }
            if when.starts_with("start")
                && matches!(kind, "cpu-stress" | "network-latency" | "packet-loss" | "gray")
                && f.start_pct % 3 == 2
            {
                out += &format!("ramp = {}\n", d(length / 2 + 1));
            }
            match kind {
                "cpu-stress" | "io-stress" => out += &format!("load_percent = {}\n", f.load_percent),
                "io-latency" => {
                    out += &format!("latency = \"{}ms\"\nslow_percent = {}\n", f.load_percent + 1, 100 - f.load_percent)
                }
                "network-latency" => {
                    out += &format!("latency = \"{}ms\"\njitter = \"{}ms\"\n", f.load_percent + 1, f.load_percent / 3)
                }
                "packet-loss" => out += &format!("loss_percent = {}\n", f.load_percent / 2 + 1),
                "task-kill" if when.starts_with("start") => out += &format!("grace = {}\n", d(length / 2)),
                "bandwidth" => {
                    out += &format!("rate_mbps = {}\nqueue_kb = {}\n", f.load_percent + 1, f.load_percent * 10 + 1)
                }
                "gray" => {
                    out += &format!(
                        "error_percent = {}\nlatency = \"{}ms\"\nslow_percent = {}\n",
                        f.load_percent / 4,
                        f.load_percent + 1,
                        100 - f.load_percent
                    )
                }
                "memory-leak" => out += &format!("leak_mb_per_s = {}\n", f.load_percent + 1),
                "dns" => {
                    out += &format!("answer = \"{}\"\n", ["error", "blackhole", "reject"][f.load_percent as usize % 3])
                }
                "clock-skew" => out += &format!("offset_s = {}\n", f.load_percent as i64 * 7 - 300),
                "deployment" => {
                    let p = f.load_percent;
                    out += &format!(
                        "waves = [1]\nbake = {}\nslowdown = {}\nerror_percent = {}\ncrash_percent = {}\nrestart_time = {}\ncapacity_percent = {}\n",
                        d(length / 3 + 1),
                        1.0 + (p % 4) as f64 / 2.0,
                        p / 3 + 1,
                        p % 3,
                        d(length / 4 + 1),
                        // (Not where controllers put instances in and out of service.)
                        if self.topology.is_some() { 0 } else { p % 60 }
                    );
                    if p % 2 == 0 {
                        out += &format!(
                            "alarm = {{ error_rate = 0.0{}, period = {} }}\nrollback = {}\n",
                            1 + p % 9,
                            d(length / 5 + 1),
                            d(length / 6 + 1)
                        );
                    }
                }
                "memory-stress" => out += &format!("memory_mb = {}\n", f.load_percent * 3 + 1),
                "api-error" => {
                    let class = ["internal", "throttled", "unavailable"][f.load_percent as usize % 3];
                    out += &format!("error_percent = {}\nclass = \"{class}\"\n", f.load_percent / 2 + 1);
                }
                "http-fault" => {
                    out += &format!(
                        "error_percent = {}\nclass = \"throttled\"\nlatency = \"{}ms\"\nslow_percent = {}\n",
                        f.load_percent / 5,
                        f.load_percent + 2,
                        f.load_percent / 2 + 1
                    )
                }
                "poison-pill" => {
                    let customers = self.workloads[0].customers.unwrap_or(1).max(1);
                    out += &format!(
                        "customers = [{}]\nworkload = \"w0\"\nrestart_time = {}\n",
                        f.load_percent % customers,
                        d(length / 2 + 1)
                    );
                }
                _ => {}
            }
            if let Some(k) = f.instances.filter(|_| kind != "deployment") {
                // The first k, k chosen at random, or a share chosen at random.
                let n = self.services[s].instances;
                out += &match f.duration_pct % 3 {
                    0 => format!("instances = {}\n", k.min(n)),
                    1 => format!("count = {}\n", k.min(n)),
                    _ => format!("percent = {}\n", 25 * k.min(4)),
                };
            }
        }
        for &(kind, start_pct, length_pct) in topo.map_or(&[][..], |t| &t.domain_faults[..]) {
            let (start, length) = (duration * start_pct / 100, (duration * length_pct / 100).max(1));
            let when = format!("start = {}\nduration = {}\n", d(start), d(length));
            let (what, aim) = match kind {
                1 if cells.is_some() => ("outage", "cell = \"cell-1\""),
                2 => ("outage", "region = \"r0\""),
                3 => ("insufficient-capacity", "zone = \"z0\""),
                4 => ("az-power-interruption", "zone = \"z0\"\nif_empty = \"skip\""),
                5 => ("cross-zone-slowdown", "zone = \"z0\"\nloss_percent = 20\nif_empty = \"skip\""),
                6 => ("partition", "from = \"zone z0\"\nif_empty = \"skip\""),
                7 if cells.as_ref().is_some_and(|c| c.0 >= 2) => {
                    ("partition", "from = \"cell cell-1\"\nto = \"cell cell-2\"\ndirection = \"one-way\"")
                }
                8 => {
                    ("packet-loss", "from = \"region r0\"\nloss_percent = 30\nflows_percent = 50\nif_empty = \"skip\"")
                }
                _ => ("outage", "zone = \"z0\"\nif_empty = \"skip\""),
            };
            if domains_seen.insert(format!("{what} {aim}")) {
                out += &format!("\n[[fault]]\nkind = \"{what}\"\n{aim}\n{when}");
            }
        }
        // A third of the scenarios set the comparison with the baseline's thresholds.
        let s = self.seed;
        if s.is_multiple_of(3) {
            out += &format!(
                "\n[analysis]\nmin_jobs = {}\np99_factor = {}\nerror_rate_points = {}\nrecovered_buckets = {}\nslo_latency = \"{}ms\"\n",
                1 + s % 50,
                1 + (s >> 8) % 4,
                (s >> 12) % 5,
                1 + (s >> 16) % 5,
                1 + (s >> 24) % 500
            );
        }
        // A fifth have background noise, its parts and values from the seed's bits.
        if s % 5 == 1 {
            out += "\n[noise]\n";
            if s & 1 << 32 != 0 {
                out += "enabled = false\n";
            }
            if s & 1 << 33 != 0 {
                let (low, high) = (1.0 + ((s >> 40) % 8) as f64 / 4.0, 1.0 + ((s >> 44) % 8) as f64 / 2.0);
                let (low, high) = (low.min(high), low.max(high));
                out += &format!(
                    "cpu_steal = {{ percent = {}, segment = {}, low = {low}, high = {high} }}\n",
                    (s >> 48) % 101,
                    d(1000 + (s >> 36) % 2_000_000)
                );
            }
            if s & 1 << 34 != 0 {
                out += &format!(
                    "pauses = {{ percent = {}, every = {}, pause = {{ dist = \"exponential\", mean = {} }} }}\n",
                    (s >> 52) % 101,
                    d(1000 + (s >> 38) % 5_000_000),
                    d(1 + (s >> 56) % 50_000)
                );
            }
            if s & 1 << 35 != 0 {
                out +=
                    &format!("network = {{ jitter = {}, spike_percent = {} }}\n", d((s >> 42) % 3000), (s >> 58) % 3);
            }
        }
        // Hypotheses over the run, on every workload or the first one; with faults, a stop
        // condition on a tenth of the run.
        for &h in &self.hypotheses {
            let expect = HYPOTHESES[h as usize % HYPOTHESES.len()];
            let scope = if h & 0x80 != 0 { "workload = \"w0\"\n" } else { "" };
            out += &format!("\n[[hypothesis]]\nexpect = \"{expect}\"\n{scope}");
        }
        if out.contains("\n[[fault]]\n") && self.hypotheses.first().is_some_and(|h| h & 0x40 != 0) {
            let alarm = ["error_rate > 20%", "p(99) > 50ms", "availability < 95%"][self.hypotheses[0] as usize % 3];
            out += &format!(
                "\n[[stop_condition]]\nalarm = \"{alarm}\"\nperiod = {}\ndatapoints = {}\n",
                d((duration / 10).max(1)),
                1 + self.hypotheses[0] as u64 % 2
            );
        }
        out
    }
}

/// Hypotheses the generator states (absolute, over the run: valid in any scenario).
const HYPOTHESES: [&str; 7] = [
    "p(99) < 1s",
    "avg < 100ms",
    "max <= 10s",
    "error_rate < 5%",
    "availability >= 90%",
    "med > 1us",
    "p(99.9) >= 1ms",
];

/// The TOML text, which is what a failure should show.
struct Case(Gen);

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{}", self.0.text())
    }
}

// ---------------------------------------------------------------------------------------
// Strategies: values the format documents, within their ranges

/// `key = value` when the option is set.
fn opt_key(key: &'static str, v: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(v.prop_map(move |v| format!("{key} = {v}")))
}

/// Inline-table entries `key = value` for the options that are set.
fn entries(parts: Vec<Option<String>>) -> String {
    parts.into_iter().flatten().collect::<Vec<_>>().join(", ")
}

fn us(range: std::ops::Range<u64>) -> impl Strategy<Value = String> {
    range.prop_map(d)
}

fn scope() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![Just("\"instance\""), Just("\"service\"")].prop_map(|s| format!("scope = {s}")))
}

fn dist() -> BoxedStrategy<String> {
    prop_oneof![
        (1u64..20_000).prop_map(|m| format!("{{ dist = \"exponential\", mean = {} }}", d(m))),
        (0u64..20_000).prop_map(|v| format!("{{ dist = \"constant\", value = {} }}", d(v))),
        (0u64..10_000, 0u64..10_000).prop_map(|(a, w)| format!(
            "{{ dist = \"uniform\", min = {}, max = {} }}",
            d(a),
            d(a + w)
        )),
        (100u64..20_000, 0u64..10_000, proptest::option::of(0u64..100), proptest::option::of(1u64..20_000)).prop_map(
            |(mean, sd, below, above)| {
                let min = below.map(|p| format!(", min = {}", d(mean * p / 100))).unwrap_or_default();
                let max = above.map(|a| format!(", max = {}", d(mean + a))).unwrap_or_default();
                format!("{{ dist = \"normal\", mean = {}, stddev = {}{min}{max} }}", d(mean), d(sd))
            }
        ),
        (1u64..10_000, 1u64..50_000).prop_map(|(m, x)| format!(
            "{{ dist = \"lognormal\", median = {}, p99 = {} }}",
            d(m),
            d(m + x)
        )),
        (0u64..2_000, 0u64..5_000, 0u64..50_000, any::<bool>()).prop_map(|(a, b, c, jump)| {
            let mid = if jump {
                format!("{{ p = 95, value = {} }}, {{ p = 95, value = {} }}", d(a + b), d(a + b + c / 2))
            } else {
                format!("{{ p = 50, value = {} }}", d(a + b))
            };
            format!(
                "{{ dist = \"empirical\", points = [{{ p = 0, value = {} }}, {mid}, {{ p = 100, value = {} }}] }}",
                d(a),
                d(a + b + c)
            )
        }),
    ]
    .boxed()
}

fn budget() -> BoxedStrategy<String> {
    prop_oneof![
        (
            prop_oneof![Just("aws-standard"), Just("aws-standard-2026")],
            opt_key("capacity", (0u32..1000).prop_map(|c| c.to_string()))
        )
            .prop_map(|(k, c)| entries(vec![Some(format!("kind = \"{k}\"")), c])),
        (
            opt_key("max_tokens", (1u32..100).prop_map(|x| x.to_string())),
            opt_key("token_ratio", (1u32..2000).prop_map(|x| format!("{}", x as f64 / 1000.0)))
        )
            .prop_map(|(m, r)| entries(vec![Some("kind = \"grpc\"".into()), m, r])),
        (
            opt_key("percent", (0u32..=100).prop_map(|x| x.to_string())),
            opt_key("min_concurrency", (0u32..10).prop_map(|x| x.to_string()))
        )
            .prop_map(|(p, m)| entries(vec![Some("kind = \"envoy\"".into()), p, m])),
        (
            opt_key("ratio", (1u32..2000).prop_map(|x| format!("{}", x as f64 / 1000.0))),
            opt_key("window", (1u64..10).prop_map(|s| format!("\"{s}s\"")))
        )
            .prop_map(|(r, w)| entries(vec![Some("kind = \"sre-ratio\"".into()), r, w])),
    ]
    .prop_flat_map(|b| scope().prop_map(move |s| format!("{{ {} }}", entries(vec![Some(b.clone()), s]))))
    .boxed()
}

fn retry() -> BoxedStrategy<String> {
    let backoffs = ["none", "constant", "exponential", "full-jitter", "equal-jitter", "decorrelated-jitter", "grpc"];
    (
        1u32..=5,
        proptest::option::of(0..backoffs.len()),
        opt_key("base", us(0..20_000)),
        opt_key("cap", us(1_000..100_000)),
        opt_key("multiplier", (10u32..40).prop_map(|m| format!("{}", m as f64 / 10.0))),
        proptest::option::of(1u8..16),
        opt_key("budget", budget()),
    )
        .prop_map(move |(attempts, backoff, base, cap, mult, on, budget)| {
            let backoff = backoff.map(|b| format!("backoff = \"{}\"", backoffs[b]));
            let on = on.map(|mask| {
                let all = ["timeout", "error", "rejected", "refused"];
                let v: Vec<String> = (0..4).filter(|i| mask & 1 << i != 0).map(|i| format!("\"{}\"", all[i])).collect();
                format!("retry_on = [{}]", v.join(", "))
            });
            format!(
                "retry = {{ {} }}",
                entries(vec![Some(format!("max_attempts = {attempts}")), backoff, base, cap, mult, on, budget])
            )
        })
        .boxed()
}

fn breaker() -> BoxedStrategy<String> {
    let pct = || (1u32..=100).prop_map(|x| x.to_string());
    let r4j = (
        (
            opt_key("failure_rate_threshold", pct()),
            opt_key("slow_call_rate_threshold", pct()),
            opt_key("slow_call_duration", us(0..50_000)),
            opt_key("sliding_window", prop_oneof![Just("\"count\"".to_string()), Just("\"time\"".to_string())]),
            opt_key("window_size", (1u32..20).prop_map(|x| x.to_string())),
            opt_key("minimum_calls", (1u32..20).prop_map(|x| x.to_string())),
        ),
        (
            opt_key("wait_in_open", us(1_000..500_000)),
            opt_key("wait_multiplier", (10u32..30).prop_map(|m| format!("{}", m as f64 / 10.0))),
            opt_key("max_wait_in_open", us(0..1_000_000)),
            opt_key("half_open_permits", (1u32..5).prop_map(|x| x.to_string())),
            opt_key("max_wait_in_half_open", us(0..200_000)),
            opt_key("automatic_transition", any::<bool>().prop_map(|b| b.to_string())),
        ),
    )
        .prop_map(|((a, b, c, d, e, f), (g, h, i, j, k, l))| {
            entries(vec![Some("kind = \"resilience4j\"".into()), a, b, c, d, e, f, g, h, i, j, k, l])
        });
    let hystrix = (
        opt_key("rolling_window", (1u64..5).prop_map(|s| format!("\"{s}s\""))),
        opt_key("request_volume_threshold", (0u32..30).prop_map(|x| x.to_string())),
        opt_key("error_threshold", pct()),
        opt_key("sleep_window", us(0..500_000)),
        opt_key("snapshot_interval", us(1..300_000)),
    )
        .prop_map(|(a, b, c, d, e)| entries(vec![Some("kind = \"hystrix\"".into()), a, b, c, d, e]));
    (prop_oneof![r4j, hystrix], scope())
        .prop_map(|(b, s)| format!("breaker = {{ {} }}", entries(vec![Some(b), s])))
        .boxed()
}

fn hedge() -> impl Strategy<Value = String> {
    (2u32..=5, 0u64..20_000).prop_map(|(m, delay)| format!("hedge = {{ max_attempts = {m}, delay = {} }}", d(delay)))
}

fn bulkhead() -> impl Strategy<Value = String> {
    (1u32..10, proptest::option::of(0u32..10), proptest::option::of(0u64..50_000), scope()).prop_map(
        |(max, pending, wait, scope)| {
            let pending_key = pending.map(|p| format!("max_pending = {p}"));
            // max_wait needs room to wait.
            let wait = wait.filter(|_| pending.unwrap_or(0) > 0).map(|w| format!("max_wait = {}", d(w)));
            format!(
                "bulkhead = {{ {} }}",
                entries(vec![Some(format!("max_concurrent = {max}")), pending_key, wait, scope])
            )
        },
    )
}

fn throttling() -> impl Strategy<Value = String> {
    (
        opt_key("k", (10u32..40).prop_map(|k| format!("{}", k as f64 / 10.0))),
        opt_key("window", (1u64..10).prop_map(|s| format!("\"{s}s\""))),
        scope(),
    )
        .prop_map(|(k, w, s)| format!("adaptive_throttling = {{ {} }}", entries(vec![k, w, s])))
}

/// The policies a client or a call may have: retry or hedge, breaker, bulkhead, throttling.
fn client_policies() -> impl Strategy<Value = Vec<String>> {
    (
        proptest::option::of(prop_oneof![3 => retry(), 1 => hedge().boxed()]),
        proptest::option::of(breaker()),
        proptest::option::of(bulkhead()),
        proptest::option::of(throttling()),
        opt_key("timeout", us(500..100_000)),
        opt_key("latency", dist()),
        proptest::option::weighted(0.15, Just("propagate_deadline = true".to_string())),
    )
        .prop_map(|(a, b, c, d, e, f, g)| [a, b, c, d, e, f, g].into_iter().flatten().collect())
}

fn arrival() -> BoxedStrategy<String> {
    let rate = || (1u32..3000).prop_map(|r| format!("{}", r as f64 / 2.0));
    prop_oneof![
        rate().prop_map(|r| format!("arrival = {{ process = \"poisson\", rate_per_s = {r} }}")),
        rate().prop_map(|r| format!("arrival = {{ process = \"constant\", rate_per_s = {r} }}")),
        (proptest::collection::vec((0u64..200_000, 0u32..2000), 1..4), proptest::option::of(1u64..300_000)).prop_map(
            |(steps, period)| {
                // Steps at increasing times from 0, at least one with a positive rate.
                let mut at = 0;
                let mut parts = Vec::new();
                for (i, (gap, r)) in steps.iter().enumerate() {
                    if i > 0 {
                        at += gap + 1;
                    }
                    let r = if i == 0 { r + 1 } else { *r };
                    parts.push(format!("{{ at = {}, rate_per_s = {r} }}", d(at)));
                }
                let period = period.map(|p| format!(", period = {}", d(at + p))).unwrap_or_default();
                format!("arrival = {{ process = \"schedule\", steps = [{}]{period} }}", parts.join(", "))
            }
        ),
        // The fixture's rate series (0 to 100/s over 10 s, then 20/s), scaled.
        (any::<bool>(), 1u32..200).prop_map(|(linear, scale)| format!(
            "arrival = {{ process = \"csv\", file = \"tests/fixtures/call-shapes.csv\", interpolation = \"{}\", scale = {} }}",
            if linear { "linear" } else { "step" },
            scale as f64 / 10.0
        )),
        // Think times with a mean above 0 (0 is refused).
        (1u32..50, 1u64..200_000, any::<bool>()).prop_map(|(users, think, uniform)| {
            let think = if uniform {
                format!("{{ dist = \"uniform\", min = 0, max = {} }}", d(think))
            } else {
                format!("{{ dist = \"exponential\", mean = {} }}", d(think))
            };
            format!("users = {users}\nthink_time = {think}")
        }),
    ]
    .boxed()
}

fn request() -> impl Strategy<Value = RequestG> {
    (
        proptest::option::of((1u32..50).prop_map(|w| w as f64 / 10.0)),
        0usize..4,
        client_policies(),
        proptest::option::weighted(0.2, us(1_000..200_000).prop_map(|d| format!("deadline = {d}"))),
    )
        .prop_map(|(weight, target, mut keys, deadline)| {
            keys.extend(deadline);
            RequestG { weight, target, keys }
        })
}

fn workload() -> impl Strategy<Value = WorkloadG> {
    (arrival(), proptest::option::of(1u64..1000), proptest::collection::vec(request(), 1..=3))
        .prop_map(|(arrival, customers, requests)| WorkloadG { arrival, customers, requests })
}

fn call() -> impl Strategy<Value = CallG> {
    (
        0usize..4,
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(1u8..8),
        client_policies(),
        opt_key("critical", any::<bool>().prop_map(|b| b.to_string())),
        opt_key("fallback", prop_oneof![Just("{}".to_string()), dist().prop_map(|d| format!("{{ latency = {d} }}"))]),
        call_shape(),
        proptest::option::of(1u8..=2),
        any::<bool>(),
        opt_key(
            "token",
            (1u64..600_000, 0u64..60_000)
                .prop_map(|(v, l)| format!("{{ validity = {}, leeway = {} }}", d(v * 1000), d(l * 1000))),
        ),
    )
        .prop_map(
            |(to, joins_previous, grouped, for_types, mut keys, critical, fallback, shape, branch, op, token)| {
                keys.extend(critical);
                keys.extend(fallback);
                keys.extend(shape);
                keys.extend(token);
                CallG { to, joins_previous, grouped, for_types, branch, op, keys }
            },
        )
}

/// A call's shape: repeated (each count form, in sequence or in parallel), conditional,
/// awaited at the end or never, and its message sizes.
fn call_shape() -> impl Strategy<Value = Vec<String>> {
    let count = prop_oneof![
        (1u32..5).prop_map(|n| format!("count = {n}")),
        (0u32..3, 0u32..4).prop_map(|(a, w)| format!("dist = \"uniform\", min = {a}, max = {}", a + w.max(1))),
        (0u32..2, 1u32..30)
            .prop_map(|(m, x)| format!("dist = \"geometric\", min = {m}, mean = {}", m as f64 + x as f64 / 10.0)),
        (proptest::collection::vec((0u32..6, 1u32..5), 1..4)).prop_map(|vw| {
            let v: Vec<String> = vw.iter().map(|(v, _)| v.to_string()).collect();
            let w: Vec<String> = vw.iter().map(|(_, w)| w.to_string()).collect();
            format!("dist = \"empirical\", values = [{}, 1], weights = [{}, 1]", v.join(", "), w.join(", "))
        }),
    ];
    (
        proptest::option::weighted(
            0.25,
            prop_oneof![
                (1u32..5).prop_map(|n| format!("repeat = {n}")),
                (count, any::<bool>()).prop_map(|(c, p)| format!("repeat = {{ {c}, parallel = {p} }}")),
            ],
        ),
        opt_key("probability", (1u32..=100).prop_map(|p| format!("{}", p as f64 / 100.0))),
        opt_key(
            "wait",
            prop_oneof![Just("\"step\"".to_string()), Just("\"end\"".to_string()), Just("\"never\"".to_string())],
        ),
        proptest::option::weighted(
            0.1,
            prop_oneof![
                (1u64..100_000).prop_map(|b| format!("request_bytes = {b}")),
                (1u64..5_000, 1u64..50_000).prop_map(|(m, x)| format!(
                    "response_bytes = {{ dist = \"lognormal\", median = {m}, p99 = {} }}",
                    m + x
                )),
            ],
        ),
    )
        .prop_map(|(a, b, c, e)| [a, b, c, e].into_iter().flatten().collect())
}

fn health() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("liveness"), Just("local"), Just("dependency")],
        opt_key("interval", us(1_000..200_000)),
        opt_key("timeout", us(0..50_000)),
        opt_key("healthy_threshold", (1u32..5).prop_map(|x| x.to_string())),
        opt_key("unhealthy_threshold", (1u32..5).prop_map(|x| x.to_string())),
        opt_key("all_unhealthy", prop_oneof![Just("\"fail-open\"".to_string()), Just("\"fail-closed\"".to_string())]),
        opt_key("panic_threshold", (0u32..=100).prop_map(|x| x.to_string())),
        opt_key("restart_after", us(0..300_000)),
        opt_key("restart_time", us(0..100_000)),
    )
        .prop_map(|(kind, a, b, c, e, f, g, h, i)| {
            let timeout = if kind == "local" { b } else { None };
            entries(vec![Some(format!("kind = \"{kind}\"")), a, timeout, c, e, f, g, h, i])
        })
}

fn outlier() -> impl Strategy<Value = String> {
    (
        opt_key("consecutive_errors", (1u32..6).prop_map(|x| x.to_string())),
        opt_key("interval", us(1_000..200_000)),
        opt_key("base_ejection_time", us(0..200_000)),
        opt_key("max_ejection_time", us(0..500_000)),
        opt_key("max_ejection_percent", (0u32..=100).prop_map(|x| x.to_string())),
        opt_key("success_rate_minimum_hosts", (0u32..5).prop_map(|x| x.to_string())),
        opt_key("success_rate_request_volume", (0u32..50).prop_map(|x| x.to_string())),
        opt_key("success_rate_stdev_factor", (0u32..30).prop_map(|x| format!("{}", x as f64 / 10.0))),
    )
        .prop_map(|(a, b, c, e, f, g, h, i)| {
            format!("outlier_detection = {{ {} }}", entries(vec![a, b, c, e, f, g, h, i]))
        })
}

fn service() -> impl Strategy<Value = ServiceG> {
    let shedding = (
        opt_key(
            "queue_discipline",
            prop_oneof![
                Just("\"fifo\"".to_string()),
                Just("\"lifo\"".to_string()),
                Just("\"adaptive-lifo\"".to_string())
            ],
        ),
        proptest::option::of((1u64..20_000, 0u64..100_000)).prop_map(|c| {
            c.map(|(target, extra)| format!("codel = {{ target = {}, interval = {} }}", d(target), d(target + extra)))
        }),
        opt_key("max_in_flight", (1u32..30).prop_map(|x| x.to_string())),
        opt_key("queue_capacity", (0u32..30).prop_map(|x| x.to_string())),
    );
    (
        1u32..=4,
        (1u32..=4).prop_map(|w| format!("workers = {w}")),
        dist().prop_map(|d| format!("service_time = {d}")),
        opt_key("error_probability", (0u32..=100).prop_map(|p| format!("{}", p as f64 / 100.0))),
        opt_key("hold_worker_during_calls", any::<bool>().prop_map(|b| b.to_string())),
        shedding,
        (proptest::option::of(0usize..6), proptest::collection::vec(0u32..4, 4)),
        proptest::option::of((health(), 0usize..4)),
        proptest::option::of(outlier()),
        proptest::collection::vec(call(), 0..=3),
        (
            proptest::option::weighted(0.3, Just(())),
            proptest::option::weighted(0.25, (1u32..5, 1u32..5)),
            proptest::option::of(dist()),
            proptest::option::weighted(0.15, (1u32..200, 1u32..100, 0u32..5, 0u32..20, 0u32..3)),
            opt_key("dns_ttl", (1u64..120_000).prop_map(|t| d(t * 100))),
            opt_key("io", (dist(), 1u32..4).prop_map(|(t, k)| format!("{{ time = {t}, devices = {k} }}"))),
        ),
    )
        .prop_map(
            |(instances, workers, time, errors, hold, shed, (lb, mut weights), health, outlier, calls, ops)| {
                weights[0] += 1; // not all zero
                let mut keys = vec![workers, time];
                keys.extend([errors, hold, shed.0, shed.1, shed.2, shed.3, outlier].into_iter().flatten());
                keys.extend(ops.4);
                keys.extend(ops.5);
                if let Some((base, room, per_job, alloc, leak)) = ops.3 {
                    keys.push(format!(
                        "memory = {{ limit_mb = {}, base_mb = {base}, per_job_mb = {}, alloc_mb_per_job = {alloc}, leak_mb_per_s = {leak}, restart_time = \"{}ms\" }}",
                        base + room,
                        per_job as f64 / 2.0,
                        1 + alloc * 50
                    ));
                }
                let (two_ops, branches, op_time) = (ops.0.is_some(), ops.1, ops.2);
                ServiceG { instances, keys, load_balancer: lb, weights, health, two_ops, branches, op_time, calls }
            },
        )
}

/// The fault kinds the generator draws from (outages twice as often).
const FAULT_KINDS: [&str; 26] = [
    "task-kill",
    "io-pause",
    "io-latency",
    "io-stress",
    "deployment",
    "dns",
    "clock-skew",
    "db-failover",
    "memory-leak",
    "memory-stress",
    "gray",
    "api-error",
    "http-fault",
    "bandwidth",
    "outage",
    "cpu-stress",
    "outage",
    "reject",
    "blackhole",
    "unavailable",
    "network-latency",
    "packet-loss",
    "terminate",
    "stop",
    "reboot",
    "poison-pill",
];

fn fault() -> impl Strategy<Value = FaultG> {
    (0usize..FAULT_KINDS.len(), 0usize..4, 0u64..100, 1u64..80, 0u64..=99, proptest::option::of(1u32..=4)).prop_map(
        |(kind, service, start_pct, duration_pct, load_percent, instances)| FaultG {
            kind,
            service,
            start_pct,
            duration_pct,
            load_percent,
            instances,
        },
    )
}

fn limits() -> impl Strategy<Value = Vec<(&'static str, u64)>> {
    prop_oneof![
        3 => Just(Vec::new()),
        1 => (
            proptest::option::of(1u64..20_000),
            proptest::option::of(1u64..200),
            proptest::option::of(1u64..500),
        )
            .prop_map(|(e, r, j)| {
                [("max_events", e), ("max_in_flight_requests", r), ("max_in_flight_jobs", j)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect()
            }),
    ]
}

fn scenario() -> impl Strategy<Value = Case> {
    (
        (
            1_000u64..1_000_000,
            proptest::option::of(0u64..90),
            proptest::option::of(1u64..=100),
            proptest::option::of(prop_oneof![Just("0"), Just("\"1ms\""), Just("\"50ms\""), Just("\"1s\"")]),
            any::<u64>(),
        ),
        limits(),
        proptest::collection::vec(workload(), 1..=3),
        proptest::collection::vec(service(), 1..=4),
        proptest::collection::vec(fault(), 0..=2),
        (proptest::option::weighted(0.3, topology()), proptest::collection::vec(any::<u8>(), 0..=2)),
    )
        .prop_map(
            |(
                (duration_us, warmup_pct, bucket_pct, drain, seed),
                limits,
                workloads,
                services,
                faults,
                (topology, hypotheses),
            )| {
                Case(Gen {
                    duration_us,
                    warmup_pct,
                    bucket_pct,
                    drain,
                    seed,
                    limits,
                    workloads,
                    services,
                    faults,
                    topology,
                    hypotheses,
                })
            },
        )
}

fn topology() -> impl Strategy<Value = TopologyG> {
    let network = proptest::collection::vec(
        prop_oneof![
            dist().prop_map(|d| format!("same_zone = {d}")),
            dist().prop_map(|d| format!("cross_zone = {d}")),
            dist().prop_map(|d| format!("cross_region = {d}")),
            dist().prop_map(|d| format!("client = {d}")),
            Just("cross_zone_load_balancing = false".to_string()),
        ],
        0..=3,
    )
    .prop_map(|mut lines| {
        // Each key once.
        lines.sort_by_key(|l| l.split(' ').next().unwrap_or("").to_string());
        lines.dedup_by_key(|l| l.split(' ').next().unwrap_or("").to_string());
        lines
    });
    let breaker = "breaker = { kind = \"resilience4j\", window_size = 10, minimum_calls = 5, wait_in_open = \"5ms\" }";
    let routing = (0usize..3, 1u32..=4, proptest::option::of(0u8..2), any::<bool>(), 1u32..100).prop_map(
        move |(kind, count, health, pin, bucket)| {
            let base = match kind {
                0 => "kind = \"hash\"".to_string(),
                1 => format!("kind = \"buckets\", buckets = 100, migration = [{{ at = \"1ms\", first = 0, last = {bucket}, to = \"cell-{count}\" }}]"),
                _ => format!("kind = \"shuffle-shard\", shard_size = {}", 1 + bucket % count),
            };
            let pinned = if pin { ", customers = { \"0\" = \"cell-1\" }" } else { "" };
            let health = match health {
                None => String::new(),
                Some(0) => format!(", {breaker}"),
                Some(_) => format!(", {breaker}, fallback = \"spread\""),
            };
            (count, format!("{base}{pinned}{health}"))
        },
    );
    let cells = proptest::option::of(
        (routing, any::<bool>()).prop_map(|((count, routing), fallback)| (count, routing, fallback)),
    );
    let zonal = proptest::option::of(prop_oneof![
        (0u64..5, 1u64..3).prop_map(|(drain_ms, m)| format!(
            "drain = \"{drain_ms}ms\"\nauto = {{ error_rate = 0.05, period = \"1ms\", datapoints = {m} }}"
        )),
        (0u64..5, 0u64..500).prop_map(|(drain_ms, start_us)| format!(
            "drain = \"{drain_ms}ms\"\n\n[[zonal_shift.shift]]\nzone = \"z0\"\nstart = \"{start_us}us\"\nexpires_after = \"1m\""
        )),
    ]);
    let autoscaling = proptest::option::of((0usize..4, any::<bool>(), 10u32..90).prop_map(|(s, hpa, target)| {
        let keys = if hpa {
            format!("kind = \"hpa\", target_utilisation = {target}, boot_time = \"1ms\", sync_period = \"1ms\", stabilization = \"5ms\"")
        } else {
            format!("kind = \"target-tracking\", target_utilisation = {target}, boot_time = \"1ms\", period = \"1ms\", warmup = \"2ms\", cooldown = \"3ms\"")
        };
        (s, keys)
    }));
    (
        1u32..=3,
        any::<bool>(),
        network,
        cells,
        proptest::collection::vec((0u8..9, 0u64..90, 1u64..50), 0..=2),
        zonal,
        autoscaling,
    )
        .prop_map(|(zones, second_region, network, cells, domain_faults, zonal_shift, autoscaling)| TopologyG {
            zones,
            second_region,
            network,
            cells,
            domain_faults,
            zonal_shift,
            autoscaling,
        })
}

// ---------------------------------------------------------------------------------------
// The properties

/// Scenarios run by every shard together, reported at the end of each shard.
static RAN: AtomicU64 = AtomicU64::new(0);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v}: not a whole number")))
}

/// One scenario: it compiles, its run passes the invariant checker, and (for a sample) a
/// second run and a top-tier run without fast paths give the same results.
fn check_case(case: &Case, index: u64) -> Result<(), TestCaseError> {
    let text = case.0.text();
    let spec = compile("prop.toml", &text).map_err(|e| {
        let errors: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        TestCaseError::fail(format!("a generated scenario does not compile:\n{}", errors.join("\n")))
    })?;
    let (result, rows) = simulate(&spec, spec.seed, Vec::<SeriesRow>::new());
    if let Err(violations) = invariants::check(&spec, &result, Some(&rows)) {
        return Err(TestCaseError::fail(format!("invariants violated:\n  {}", violations.join("\n  "))));
    }
    let summary = serde_json::to_string(&cellsim_reports::summarise(&result)).unwrap();
    if index.is_multiple_of(SAMPLE_EVERY) {
        let (again, rows_again) = simulate(&spec, spec.seed, Vec::<SeriesRow>::new());
        let summary_again = serde_json::to_string(&cellsim_reports::summarise(&again)).unwrap();
        prop_assert!(summary == summary_again, "the same scenario and seed gave two summaries");
        prop_assert!(rows == rows_again, "the same scenario and seed gave two series");
        let (full, rows_full) = simulate_in(&spec, spec.seed, Vec::<SeriesRow>::new(), TierKind::Full, false);
        let summary_full = serde_json::to_string(&cellsim_reports::summarise(&full)).unwrap();
        prop_assert!(
            summary == summary_full && rows == rows_full,
            "the top tier without fast paths gave other results than `simulate`"
        );
        // Beside its baseline: the run's own results unchanged, the comparison consistent.
        let (paired, rows_paired) = cellsim_runs::simulate(&spec, spec.seed, Vec::<SeriesRow>::new(), true);
        if let Err(violations) = invariants::check(&spec, &paired, Some(&rows_paired)) {
            return Err(TestCaseError::fail(format!("paired: invariants violated:\n  {}", violations.join("\n  "))));
        }
        prop_assert_eq!(paired.impact.is_some(), cellsim_runs::pairs(&spec, true));
        prop_assert_eq!(paired.hypotheses.len(), spec.hypotheses.len());
        let alone = cellsim_models::RunResult { impact: None, hypotheses: Vec::new(), ..paired };
        let summary_paired = serde_json::to_string(&cellsim_reports::summarise(&alone)).unwrap();
        prop_assert!(summary == summary_paired && rows == rows_paired, "pairing changed the run's own results");
    }
    Ok(())
}

fn shard(k: u64) {
    let total = env_u64("CELLSIM_PROPERTY_CASES").unwrap_or(DEFAULT_CASES * SHARDS);
    let cases = total / SHARDS + u64::from(k < total % SHARDS);
    let seed = env_u64("CELLSIM_PROPERTY_SEED").unwrap_or(0x5eed);
    let budget = env_u64("CELLSIM_PROPERTY_SECONDS").map(Duration::from_secs);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&k.to_le_bytes());
    let config = Config { cases: cases as u32, failure_persistence: None, max_shrink_iters: 2000, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = Instant::now();
    let ran = AtomicU64::new(0);
    let result = runner.run(&scenario(), |case| {
        // Past the time budget the remaining cases are drawn but not run.
        if budget.is_some_and(|b| started.elapsed() > b) {
            return Ok(());
        }
        let index = ran.fetch_add(1, Ordering::Relaxed);
        check_case(&case, index)
    });
    let ran = ran.load(Ordering::Relaxed);
    let all = RAN.fetch_add(ran, Ordering::Relaxed) + ran;
    eprintln!(
        "properties: shard {k}: {ran} random scenarios checked in {:.1} s (seed {seed:#x}; {all} in all so far)",
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn random_scenarios_keep_the_invariants_shard_0() {
    shard(0);
}

#[test]
fn random_scenarios_keep_the_invariants_shard_1() {
    shard(1);
}

/// The generator is not vacuous: over a few hundred scenarios it draws every policy and
/// fault, and runs both complete and stopped by each limit.
#[test]
fn the_generator_covers_the_format() {
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let strategy = scenario();
    let mut text = String::new();
    let mut verdicts = std::collections::BTreeSet::new();
    for _ in 0..600 {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let t = case.0.text();
        let spec = compile("prop.toml", &t).unwrap_or_else(|e| panic!("{}\n{t}", e[0]));
        let (r, _) = simulate(&spec, spec.seed, cellsim_models::NoSeries);
        verdicts.insert(r.verdict.describe().split(':').next().unwrap().to_string());
        text += &t;
    }
    for key in [
        "retry = ",
        "budget = ",
        "aws-standard",
        "grpc",
        "envoy",
        "sre-ratio",
        "breaker = ",
        "resilience4j",
        "hystrix",
        "hedge = ",
        "bulkhead = ",
        "adaptive_throttling = ",
        "fallback = ",
        "timeout = ",
        "deadline = ",
        "propagate_deadline = true",
        "critical = false",
        "group = ",
        "for_types = ",
        "latency = ",
        "queue_capacity = 0",
        "queue_discipline = \"lifo\"",
        "adaptive-lifo",
        "codel = ",
        "max_in_flight = ",
        "error_probability = ",
        "hold_worker_during_calls = true",
        "health_check = ",
        "\"dependency\"",
        "fail-closed",
        "outlier_detection = ",
        "\"weighted\"",
        "power-of-two",
        "least-outstanding",
        "\"outage\"",
        "\"cpu-stress\"",
        "\"reject\"",
        "\"blackhole\"",
        "\"unavailable\"",
        "\"network-latency\"",
        "\"packet-loss\"",
        "\"terminate\"",
        "\"reboot\"",
        "\"poison-pill\"",
        "\"partition\"",
        "\"gray\"",
        "\"api-error\"",
        "\"http-fault\"",
        "class = ",
        "\"bandwidth\"",
        "\"task-kill\"",
        "[noise]",
        "memory = {",
        "\"memory-leak\"",
        "\"dns\"",
        "\"clock-skew\"",
        "\"db-failover\"",
        "\"deployment\"",
        "io = {",
        "\"io-pause\"",
        "\"io-latency\"",
        "\"io-stress\"",
        "capacity_percent = ",
        "alarm = {",
        "token = {",
        "dns_ttl = ",
        "\"memory-stress\"",
        "cpu_steal = ",
        "pauses = ",
        "network = {",
        "enabled = false",
        "every = ",
        "chaos_monkey = ",
        "ramp = ",
        "\"az-power-interruption\"",
        "\"cross-zone-slowdown\"",
        "direction = ",
        "flows_percent = ",
        "count = ",
        "percent = ",
        "[analysis]",
        "warmup = ",
        "bucket = ",
        "drain = ",
        "\"schedule\"",
        "period = ",
        "\"empirical\"",
        "\"normal\"",
        "\"lognormal\"",
        "\"uniform\"",
        "[limits]",
        "[[service.operation]]",
        "[[service.operation.call]]",
        "operation = \"o1\"",
        "branches = ",
        "branch = \"b\"",
        "repeat = {",
        "parallel = true",
        "\"geometric\"",
        "values = [",
        "probability = ",
        "wait = \"end\"",
        "wait = \"never\"",
        "request_bytes = ",
        "response_bytes = ",
        "users = ",
        "think_time = ",
        "process = \"csv\"",
        "interpolation = \"linear\"",
        "[[region]]",
        "[network]",
        "cross_zone_load_balancing = false",
        "[cells]",
        "[cells.fallback]",
        "kind = \"buckets\"",
        "kind = \"shuffle-shard\"",
        "migration = [",
        "customers = { \"0\"",
        "fallback = \"spread\"",
        "zone = \"z0\"",
        "cell = \"cell-1\"",
        "region = \"r0\"",
        "insufficient-capacity",
        "[zonal_shift]",
        "mtbf = {",
        "load_balancer = \"shuffle-shard\"",
        "[[zonal_shift.shift]]",
        "auto = {",
        "kind = \"hpa\"",
        "kind = \"target-tracking\"",
    ] {
        assert!(text.contains(key), "the generator never writes `{key}`");
    }
    for v in ["completed", "overload", "event budget"] {
        assert!(verdicts.contains(v), "no run ended `{v}`: {verdicts:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Bugs the generator found, each kept as a case.

/// Every request fails at 1 ms and would retry after 20 ms, past its 10 ms deadline; the
/// deadline ends the retry's attempt unsent. The Envoy budget never saw it start and must
/// not hear of its end (its count of attempts in flight underflowed: a panic with overflow
/// checks, a wrapped count without).
#[test]
fn an_attempt_its_deadline_stopped_unsent_is_not_heard_by_its_policies() {
    let text = r#"
[scenario]
name = "envoy-deadline"
duration = "1s"

[[workload]]
name = "w"
arrival = { process = "constant", rate_per_s = 10 }

[[workload.request]]
name = "get"
target = "s"
deadline = "10ms"
retry = { max_attempts = 2, backoff = "constant", base = "20ms", budget = { kind = "envoy" } }

[[service]]
name = "s"
service_time = { dist = "constant", value = "1ms" }
error_probability = 1
"#;
    let spec = compile("envoy-deadline.toml", text).unwrap();
    let (result, rows) = simulate(&spec, 1, Vec::<SeriesRow>::new());
    invariants::check(&spec, &result, Some(&rows)).unwrap();
}

/// With calls kept in their zone (`cross_zone_load_balancing = false`), a service without a
/// fleet took its zone's instances with a cursor of its own per zone, and one with a fleet
/// (every service, with the fast paths off) with the fleet's round robin: the picks
/// differed. Both now take the first instance of the zone at or after the position in turn.
#[test]
fn calls_kept_in_their_zone_pick_alike_with_and_without_a_fleet() {
    let text = r#"
[scenario]
name = "zoned"
duration = "2s"

[[region]]
name = "r"
zones = ["a", "b"]

[network]
cross_zone_load_balancing = false

[[workload]]
name = "w"
arrival = { process = "poisson", rate_per_s = 500 }

[[workload.request]]
name = "get"
target = "front"

[[service]]
name = "front"
instances = 3
workers = 8
service_time = { dist = "exponential", mean = "2ms" }

[[service.call]]
to = "back"

[[service]]
name = "back"
instances = 5
workers = 2
service_time = { dist = "exponential", mean = "3ms" }
"#;
    let spec = compile("zoned.toml", text).unwrap();
    let (a, _) = simulate(&spec, 1, cellsim_models::NoSeries);
    let (b, _) = simulate_in(&spec, 1, cellsim_models::NoSeries, TierKind::Full, false);
    let jobs = |r: &cellsim_models::RunResult| r.services[1].instances_stats.iter().map(|i| i.jobs).collect::<Vec<_>>();
    assert_eq!(jobs(&a), jobs(&b));
    assert_eq!(
        serde_json::to_string(&cellsim_reports::summarise(&a)).unwrap(),
        serde_json::to_string(&cellsim_reports::summarise(&b)).unwrap()
    );
}
