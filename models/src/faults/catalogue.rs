//! The fault catalogue: each kind with its checked options (the scenario's `[[fault]]`
//! tables, compiled by `compile::faults`). A fault aims at a target and acts over a window.

use super::network::PacketLoss;
use crate::spec::Window;
use cellsim_sim::Nanos;

/// One fault, as compiled.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub target: FaultTarget,
    /// When it acts: `[start, start + duration)`; a random fault's is the whole run.
    pub window: Window,
    /// Failures and repairs drawn at random (`Spec::random_faults` has their distributions)
    /// rather than the window.
    pub random: bool,
    /// A poison pill's customers (global ids, sorted); empty for other kinds.
    pub customers: Vec<u32>,
    /// A link fault: it acts on messages between the target's instances (the `from` side)
    /// and these, not on the instances themselves.
    pub link: Option<Link>,
    /// Acts again every `every_ns` from its start, `times` times in all (`window` is the
    /// first); `None`: once.
    pub repeat: Option<Repeat>,
    /// Its strength rises linearly from 0 at the start of each occurrence to full after this
    /// long (0: at once): CPU stress, network latency, packet loss and gray failures.
    pub ramp_ns: Nanos,
    /// Kills on Chaos Monkey's calendar instead of a window (a crash kind; `random` is set:
    /// no single window).
    pub monkey: Option<ChaosMonkey>,
    /// A database failover's time, drawn per run (each occurrence's window then ends at its
    /// start plus the draw; `window` holds the distribution's mean, for reports).
    pub failover: Option<crate::dist::Dist>,
    /// A deployment's plan (`None` for other kinds).
    pub rollout: Option<Box<Deployment>>,
}

/// Chaos Monkey's schedule (Netflix): on each work day (Monday to Friday; the run starts on
/// a Monday at 00:00), with chance 1 / `mean_days`, one instance of the group is killed at a
/// uniform time within the working hours [`start_hour`, `end_hour`), unless a kill came less
/// than `min_days` work days before. A kill is the fault's crash: `terminate` for the rest
/// of the run, `stop` or `reboot` for `down_ns`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChaosMonkey {
    pub mean_days: f64,
    pub min_days: u32,
    pub start_hour: u32,
    pub end_hour: u32,
    /// How long a killed instance is down (`None`: to the end of the run).
    pub down_ns: Option<Nanos>,
}

/// A day, in nanoseconds.
const DAY_NS: Nanos = 24 * 3600 * 1_000_000_000;

impl ChaosMonkey {
    /// The kills of fault `fault` over `[0, until_ns)`, each at one of `instances`, in time
    /// order: the work days' coin flips, times and victims drawn from the fault's stream
    /// (`fault/{fault}`, purpose `calendar`).
    pub fn kills(&self, fault: u32, instances: &[(u32, u32)], seed: u64, until_ns: Nanos) -> Vec<(Nanos, (u32, u32))> {
        let mut rng = cellsim_sim::Stream::new(seed, &format!("fault/{fault}"), "calendar");
        let mut out = Vec::new();
        let mut work_day = 0u64;
        let mut next_allowed = 0u64;
        for day in 0..until_ns.div_ceil(DAY_NS) {
            if day % 7 >= 5 || instances.is_empty() {
                continue; // Saturday and Sunday
            }
            let (flip, at, pick) = (rng.unit(), rng.unit(), rng.below(instances.len() as u64));
            if work_day >= next_allowed && flip < 1.0 / self.mean_days {
                let hours = (self.end_hour - self.start_hour) as f64 * 3600e9;
                let at_ns = day * DAY_NS + self.start_hour as u64 * 3600 * 1_000_000_000 + (at * hours) as u64;
                if at_ns < until_ns {
                    out.push((at_ns, instances[pick as usize]));
                    next_allowed = work_day + self.min_days.max(1) as u64;
                }
            }
            work_day += 1;
        }
        out
    }
}

/// A fault's repetition (LitmusChaos' `CHAOS_INTERVAL`, Chaos Mesh's schedules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeat {
    pub every_ns: Nanos,
    pub times: u32,
}

impl FaultSpec {
    /// Every window in which it acts, in time order (the first is `window`).
    pub fn occurrences(&self) -> impl Iterator<Item = Window> + '_ {
        let (every, times) = self.repeat.map_or((0, 1), |r| (r.every_ns, r.times));
        (0..times as u64).map(move |k| Window {
            start_ns: self.window.start_ns.saturating_add(k * every),
            end_ns: self.window.end_ns.saturating_add(k * every),
        })
    }
}

/// The other side of a link fault, and which messages it acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The `to` side's instances, as (service, instance).
    pub to: Vec<(u32, u32)>,
    /// Both ways (`from` to `to` and back), or only messages from `from` to `to`.
    pub both: bool,
    /// The share of flows (caller and callee instance pairs) it acts on, chosen by a hash of
    /// the pair: a flow is hit for the whole fault or not at all.
    pub flows_percent: u32,
}

/// A random fault's failure domains and their distributions.
#[derive(Clone, Debug)]
pub struct RandomFault {
    /// The fault, an index into `Spec::faults`.
    pub fault: u32,
    pub to_failure: crate::dist::Dist,
    pub to_repair: crate::dist::Dist,
    /// Each instance hit fails on its own (a service target); otherwise all together.
    pub per_instance: bool,
}

/// What a fault does while it acts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FaultKind {
    /// The targeted instances are down: each job sent to one fails at once (`error`), and
    /// liveness checks fail. Jobs already there finish.
    Outage,
    /// The targeted instances lose CPU to a competing load.
    CpuStress(CpuStress),
    /// Launches in the target zone fail (autoscaling retries them).
    InsufficientCapacity,
    /// The network refuses connections to the instances (a reset, an ICMP unreachable:
    /// catalogue 19's *reject*): each job sent to one fails at once with `error`, and health
    /// checks fail, as in an outage.
    Reject,
    /// Messages to and from the instances are dropped without an answer (catalogue 19's
    /// *blackhole*): a job sent to one is lost, so its caller waits for its own timeout (with
    /// none, for ever); answers of jobs already there are lost too; health checks fail.
    Blackhole,
    /// The instances are present and answer, but fail every request with `error` at once
    /// (catalogue 7, Chaos Mesh `pod-failure`): health checks pass, so no balancer stops
    /// sending to them unless outlier detection ejects them.
    Unavailable,
    /// The instances' answers are delayed by `delay_ns` plus a uniform draw in
    /// `[-jitter_ns, +jitter_ns]` (at least 0): netem on the instances' egress, as AWS FIS
    /// and Gremlin inject it (catalogue 15).
    NetworkLatency { delay_ns: Nanos, jitter_ns: Nanos },
    /// The instances' answers lose packets: each TCP segment of an answer (its size drawn
    /// from the call's `response_bytes`, 1460 bytes a segment) is lost with chance `p` per
    /// transmission and retransmitted after a timeout of 200 ms doubling on consecutive
    /// losses; after 15 retransmissions the connection gives up and the answer is lost
    /// (catalogue 16). On the instances' egress, on established connections.
    PacketLoss(PacketLoss),
    /// The instances crash at the fault's start and stay down until its end (`stop`,
    /// `reboot`: catalogue 2 and 3) or for the rest of the run (`terminate`: catalogue 1;
    /// an autoscaled service replaces them). Jobs on an instance when it crashes fail: their
    /// callers get an error at once (a reset connection).
    Crash(Crash),
    /// A task killed gracefully (catalogue 5: Kubernetes' pod delete, ECS's stop-task): at
    /// the start it takes no new work (jobs sent to it fail at once, as from an instance
    /// going away) and drains what it holds; what is still there `grace_ns` later is killed
    /// (a crash); it is down until the end of the window (its replacement starting).
    TaskKill { grace_ns: Nanos },
    /// Requests of the `customers` crash the instance of the target service that takes them
    /// (a poison pill): it is down for `restart_ns`, the jobs on it fail as in a crash, and
    /// the poisoned job itself fails; a retry carries the crash to the next instance.
    PoisonPill { restart_ns: Nanos },
    /// Messages across a link are dropped (catalogue 21 and 22: a partition between zones,
    /// cells or regions, one way or both): a call across it waits for its timeout.
    Partition,
    /// Every instance in the zone crashes at one instant and is down until the end, and no
    /// launch succeeds there meanwhile (catalogue 36, AWS FIS's AZ power interruption).
    PowerInterruption,
    /// A gray failure: each job at the instances fails at once with chance `error_p`,
    /// answered `error` (`Outcome::Error`, or `Outcome::Rejected` for a throttling error:
    /// what the caller's retry policy sees), and an answer is `delay_ns` (plus or minus a
    /// uniform `jitter_ns`) later with chance `slow_p`; health checks pass. `name` is the
    /// kind the scenario wrote: `gray`, `api-error` (catalogue 26: dependency API errors and
    /// throttling) or `http-fault` (catalogue 25: Istio's and Envoy's delays and aborts).
    Gray {
        error_p: f64,
        error: crate::outcome::Outcome,
        slow_p: f64,
        delay_ns: Nanos,
        jitter_ns: Nanos,
        name: &'static str,
    },
    /// The instances' answers (or a link's messages, each way) leave through a link of
    /// `bits_per_s`: each message is serialised in size x 8 / rate, after those queued before
    /// it (a FIFO per instance, or per link direction), and dropped when the queue already
    /// holds `queue_bytes` (tail drop: the message is lost, as in a blackhole); catalogue 20,
    /// a token-bucket filter without burst.
    Bandwidth { bits_per_s: u64, queue_bytes: u64 },
    /// The instances' heaps leak `bytes_per_s` while it acts; what leaked stays until the
    /// instance restarts (see `memory`).
    MemoryLeak { bytes_per_s: f64 },
    /// A stressor holds `bytes` of the instances' memory while it acts.
    MemoryStress { bytes: f64 },
    /// The target service's name does not resolve (or resolves wrong) for callers whose
    /// cached record expires while it acts (catalogue 24; see `dns`).
    Dns { answer: DnsAnswer },
    /// The instances' clocks read `offset_ns` off while it acts (catalogue 31).
    ClockSkew { offset_ns: i64 },
    /// The target service, a database writer, fails over (catalogue 29; see `failover`):
    /// its jobs abort at the start, it is down until the flip (the window's end, drawn from
    /// `FaultSpec::failover`), and callers with a record older than the flip fail until
    /// it expires.
    DbFailover,
    /// Every IO on the instances' volumes blocks until the window ends (catalogue 13).
    IoPause,
    /// A share `p` of the instances' IOs take `delay_ns` longer (catalogue 13).
    IoLatency { delay_ns: Nanos, p: f64 },
    /// The instances' IOs take `multiplier` times as long (catalogue 11).
    IoStress(CpuStress),
    /// A new version rolled out in waves (`FaultSpec::rollout` has the plan and what the
    /// version does; see `control::rollout`).
    Deployment,
}

/// A deployment's plan and what its new version does.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    /// Each wave's units (cells of a template, or instances of a plain service).
    pub waves: Vec<Vec<u32>>,
    /// By target instance (in `FaultTarget::instances` order): its unit, and its index among
    /// its unit's instances.
    pub units: Vec<(u32, u32)>,
    /// By unit: its instances.
    pub unit_sizes: Vec<u32>,
    pub bake_ns: Nanos,
    pub rollback_ns: Option<Nanos>,
    /// The alarm on the service's error rate (a share) and its period.
    pub alarm: Option<(crate::control::alarm::AlarmSpec, Nanos)>,
    /// The new version: work multiplier, share of jobs failed, share crashing their
    /// instance (down for `restart_ns`), share of each unit's instances out of service.
    pub slowdown: f64,
    pub error_p: f64,
    pub crash_p: f64,
    pub restart_ns: Nanos,
    pub capacity_share: f64,
}

/// What a lookup gets while a `Dns` fault acts on the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsAnswer {
    /// The lookup fails (NXDOMAIN, SERVFAIL): the call fails with `error`.
    Error,
    /// A wrong address where nothing answers: the call is lost.
    Blackhole,
    /// A wrong address that refuses: the call fails with `error` at once.
    Reject,
}

/// Which crash a `Crash` fault is (they differ in how long the instance stays down, and in
/// their names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crash {
    Terminate,
    Stop,
    Reboot,
}

impl FaultKind {
    /// The kind's name in the scenario format.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Outage => "outage",
            FaultKind::CpuStress(_) => "cpu-stress",
            FaultKind::InsufficientCapacity => "insufficient-capacity",
            FaultKind::Reject => "reject",
            FaultKind::Blackhole => "blackhole",
            FaultKind::Unavailable => "unavailable",
            FaultKind::NetworkLatency { .. } => "network-latency",
            FaultKind::PacketLoss(_) => "packet-loss",
            FaultKind::Crash(Crash::Terminate) => "terminate",
            FaultKind::Crash(Crash::Stop) => "stop",
            FaultKind::Crash(Crash::Reboot) => "reboot",
            FaultKind::PoisonPill { .. } => "poison-pill",
            FaultKind::TaskKill { .. } => "task-kill",
            FaultKind::Partition => "partition",
            FaultKind::PowerInterruption => "az-power-interruption",
            FaultKind::Gray { name, .. } => name,
            FaultKind::Bandwidth { .. } => "bandwidth",
            FaultKind::MemoryLeak { .. } => "memory-leak",
            FaultKind::MemoryStress { .. } => "memory-stress",
            FaultKind::Dns { .. } => "dns",
            FaultKind::ClockSkew { .. } => "clock-skew",
            FaultKind::DbFailover => "db-failover",
            FaultKind::Deployment => "deployment",
            FaultKind::IoPause => "io-pause",
            FaultKind::IoLatency { .. } => "io-latency",
            FaultKind::IoStress(_) => "io-stress",
        }
    }

    /// Does it break the instances it hits (jobs sent to them fail or are lost)? Their
    /// service then picks instances through its fleet.
    pub fn breaks_instances(&self) -> bool {
        matches!(
            self,
            FaultKind::Outage
                | FaultKind::Reject
                | FaultKind::Blackhole
                | FaultKind::Unavailable
                | FaultKind::Crash(_)
                | FaultKind::TaskKill { .. }
                | FaultKind::PoisonPill { .. }
                | FaultKind::PowerInterruption
                | FaultKind::Gray { .. }
                | FaultKind::DbFailover
                | FaultKind::Deployment
        )
    }

    /// Does it act on the instances' answers on the network?
    pub fn on_the_network(&self) -> bool {
        matches!(
            self,
            FaultKind::NetworkLatency { .. }
                | FaultKind::PacketLoss(_)
                | FaultKind::Partition
                | FaultKind::Gray { .. }
                | FaultKind::Bandwidth { .. }
        )
    }
}

/// CPU stress (AWS FIS `aws:ssm:send-command` stress, Chaos Mesh `StressChaos`): a competing
/// load takes `load_percent` of the CPU, so work that starts while it acts takes
/// `multiplier` = 1 / (1 - load_percent / 100) times as long.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuStress {
    pub load_percent: f64,
    pub multiplier: f64,
}

impl CpuStress {
    /// `load_percent` from 0 to 99 (checked by the compiler).
    pub fn new(load_percent: f64) -> CpuStress {
        CpuStress { load_percent, multiplier: 1.0 / (1.0 - load_percent / 100.0) }
    }
}

/// Which instances a fault hits: the first `instances` of a service, or every instance
/// placed in a cell, a zone or a region (a domain outage: all at the same instant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultTarget {
    /// What the scenario aimed at, in words for reports: `service api`, `cell cell-3`, `zone
    /// use1-az1`, `region us-east-1`.
    pub what: String,
    /// The instances hit, as (service, instance of the service), in service then instance
    /// order.
    pub instances: Vec<(u32, u32)>,
    /// The zone, when the fault is aimed at one.
    pub zone: Option<u16>,
    /// Which of `instances` it hits: all, or some chosen at random (`chosen`).
    pub pick: Pick,
}

/// How many of a target's instances a fault hits (AWS FIS's `selectionMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Every one (`ALL`).
    All,
    /// This many, chosen at random (`COUNT(n)`; at most all).
    Count(u32),
    /// This share in percent, rounded up, chosen at random (`PERCENT(n)`).
    Percent(u32),
}

impl FaultTarget {
    /// The first `count` instances of `service`.
    pub fn service(name: &str, service: u32, count: u32) -> FaultTarget {
        FaultTarget {
            what: format!("service {name}"),
            instances: (0..count).map(|i| (service, i)).collect(),
            zone: None,
            pick: Pick::All,
        }
    }

    /// How many instances it hits.
    pub fn hit_count(&self) -> usize {
        let n = self.instances.len();
        match self.pick {
            Pick::All => n,
            Pick::Count(k) => (k as usize).min(n),
            Pick::Percent(p) => (n * p as usize).div_ceil(100).min(n),
        }
    }

    /// The instances fault `fault` hits in a run of master seed `seed`: all of them, or a
    /// choice drawn from the fault's own stream (`fault/{fault}`, purpose `targets`), every
    /// subset of the size equally likely; in the order of `instances`.
    pub fn chosen(&self, fault: u32, seed: u64) -> Vec<(u32, u32)> {
        let n = self.instances.len();
        let k = self.hit_count();
        if k == n {
            return self.instances.clone();
        }
        // A partial Fisher-Yates shuffle of the indices: the first k are the choice.
        let mut rng = cellsim_sim::Stream::new(seed, &format!("fault/{fault}"), "targets");
        let mut order: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + rng.below((n - i) as u64) as usize;
            order.swap(i, j);
        }
        let mut picked = order[..k].to_vec();
        picked.sort_unstable();
        picked.into_iter().map(|i| self.instances[i]).collect()
    }

    /// Does it hit any instance of `service`?
    pub fn hits(&self, service: u32) -> bool {
        self.instances.iter().any(|&(s, _)| s == service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(n: u32, pick: Pick) -> FaultTarget {
        FaultTarget { pick, ..FaultTarget::service("s", 0, n) }
    }

    /// Chaos Monkey's calendar: kills only on work days (day 0 a Monday), within the working
    /// hours; one work day in `mean_days` on average; at least `min_days` work days apart.
    #[test]
    fn chaos_monkey_kills_on_work_days_and_hours() {
        let m = ChaosMonkey { mean_days: 2.0, min_days: 1, start_hour: 9, end_hour: 15, down_ns: None };
        let group: Vec<(u32, u32)> = (0..4).map(|i| (0, i)).collect();
        let kills = m.kills(0, &group, 7, 1000 * 7 * DAY_NS);
        for &(at, _) in &kills {
            let (day, hour) = (at / DAY_NS, (at % DAY_NS) as f64 / 3600e9);
            assert!(day % 7 < 5 && (9.0..15.0).contains(&hour), "a kill on day {day} at {hour} h");
        }
        // 5,000 work days at 1/2: 2,500 kills (sd 35).
        assert!(kills.len().abs_diff(2500) < 150, "{} kills", kills.len());
        assert_eq!(kills, m.kills(0, &group, 7, 1000 * 7 * DAY_NS), "reproducible");
        let every = ChaosMonkey { mean_days: 1.0, min_days: 3, ..m };
        let work_day = |at: Nanos| (at / DAY_NS / 7) * 5 + (at / DAY_NS % 7);
        let kills = every.kills(0, &group, 7, 70 * DAY_NS);
        assert_eq!(kills.len(), 17, "every third work day of 50: days 0, 3, ..., 48");
        assert!(kills.windows(2).all(|w| work_day(w[1].0) - work_day(w[0].0) == 3));
    }

    /// COUNT(k) picks k distinct instances, the same for a seed, each instance equally often
    /// over seeds (k / n); PERCENT(p) rounds up.
    #[test]
    fn a_random_pick_is_reproducible_and_uniform() {
        let t = target(10, Pick::Count(3));
        assert_eq!(t.hit_count(), 3);
        assert_eq!(t.chosen(0, 7), t.chosen(0, 7));
        let mut hits = [0u32; 10];
        for seed in 0..10_000 {
            let c = t.chosen(0, seed);
            assert_eq!(c.len(), 3);
            assert!(c.windows(2).all(|w| w[0] < w[1]), "distinct, in order: {c:?}");
            for (_, i) in c {
                hits[i as usize] += 1;
            }
        }
        // Each instance in 3,000 of 10,000 choices (sd about 46).
        assert!(hits.iter().all(|&h| h.abs_diff(3000) < 230), "{hits:?}");
        assert_ne!(t.chosen(0, 1), t.chosen(1, 1), "each fault draws from its own stream");
        assert_eq!(target(10, Pick::Percent(25)).hit_count(), 3, "25% of 10 rounds up to 3");
        assert_eq!(target(10, Pick::Percent(100)).chosen(0, 1).len(), 10);
        assert_eq!(target(4, Pick::Count(9)).hit_count(), 4);
        assert_eq!(target(4, Pick::All).chosen(0, 1), target(4, Pick::All).instances);
    }
}
