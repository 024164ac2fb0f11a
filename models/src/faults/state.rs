//! What is broken now: per instance, whether an outage holds it down and how much CPU stress
//! slows it, changed only when a fault starts or ends. Lookups are O(1); a transition costs
//! O(faults x targeted instances).

use super::catalogue::{CpuStress, DnsAnswer, FaultKind, FaultSpec, FaultTarget, Pick, RandomFault};
use super::network::PacketLoss;
use super::random::UpDown;
use crate::outcome::Outcome;
use crate::spec::Window;
use cellsim_sim::{Nanos, Stream};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A fault starting or ending at `at_ns`.
#[derive(Clone, Copy, Debug)]
struct Transition {
    at_ns: Nanos,
    fault: u32,
    starts: bool,
}

/// What a fault of kind `kind`, acting at intensity `r` (from 0 to 1: see `intensity`), does
/// to one message of `bytes` (drawn from `rng` when packets are lost): `None`, lost (a
/// partition, or a connection that gave up); else the extra time it takes.
fn message_delay(
    kind: FaultKind,
    r: f64,
    rng: &mut Stream,
    bytes: &crate::dist::Dist,
    queue: &mut Nanos,
    now: Nanos,
) -> Option<Nanos> {
    let jittered = |rng: &mut Stream, delay_ns: Nanos, jitter_ns: Nanos| {
        let jitter = (2.0 * rng.unit() - 1.0) * jitter_ns as f64;
        (r * (delay_ns as f64 + jitter)).max(0.0).round() as Nanos
    };
    match kind {
        FaultKind::Partition => None,
        FaultKind::NetworkLatency { delay_ns, jitter_ns } => Some(jittered(rng, delay_ns, jitter_ns)),
        FaultKind::PacketLoss(loss) => {
            let size = bytes.sample(rng);
            PacketLoss { p: loss.p * r, ..loss }.delay_ns(size, false, || rng.unit())
        }
        FaultKind::Gray { slow_p, delay_ns, jitter_ns, .. } if rng.unit() < slow_p * r => {
            Some(jittered(rng, delay_ns, jitter_ns))
        }
        FaultKind::Bandwidth { bits_per_s, queue_bytes } => {
            // A FIFO that is busy until `queue`: what waits there, in bytes, and this one's
            // serialisation after it.
            let size = bytes.sample(rng);
            let waiting_ns = queue.saturating_sub(now);
            let backlog = (waiting_ns as f64 * bits_per_s as f64 / 8e9) as u64;
            if waiting_ns > 0 && backlog.saturating_add(size) > queue_bytes {
                return None; // tail drop
            }
            let send_ns = (size as f64 * 8e9 / bits_per_s as f64).round() as Nanos;
            *queue = now.max(*queue).saturating_add(send_ns);
            Some(*queue - now)
        }
        _ => Some(0),
    }
}

/// A link fault's sides, as bits by global instance.
#[derive(Clone, Debug)]
struct LinkRt {
    fault: u32,
    from: Vec<u64>,
    to: Vec<u64>,
    both: bool,
    flows_percent: u32,
}

/// Is the flow between global instances `a` and `b` one of the `percent` a link fault
/// `fault` hits? A hash of the fault and the pair (either way round): the same flows for
/// the whole fault.
fn flow_hit(fault: u32, a: u32, b: u32, percent: u32) -> bool {
    if percent >= 100 {
        return true;
    }
    let (lo, hi) = (a.min(b) as u64, a.max(b) as u64);
    let mut z = (fault as u64) << 40 ^ lo << 20 ^ hi ^ 0x9E37_79B9_7F4A_7C15;
    // SplitMix64's finalizer.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z % 100 < percent as u64
}

/// The faults acting now, as lookups by global instance index.
#[derive(Clone, Debug, Default)]
pub struct FaultState {
    /// Every start and end, by time (ties in fault order, starts first).
    timeline: Vec<Transition>,
    /// The next transition to apply.
    next: usize,
    /// By fault: its kind, the global instances it targets, whether it acts now.
    kinds: Vec<FaultKind>,
    targets: Vec<Vec<u32>>,
    active: Vec<bool>,
    /// By global instance: outages holding it down now.
    down: Vec<u32>,
    /// By global instance: the product of the CPU-stress multipliers acting on it (1.0 when
    /// none); empty when the scenario has no CPU-stress fault.
    slowdown: Vec<f64>,
    /// By global instance: blackholes, `unavailable` faults and network faults acting on it
    /// now (each empty when the scenario has none of its kind). Blackholes also count in
    /// `down` (health checks see them).
    blackholed: Vec<u32>,
    unavailable: Vec<u32>,
    network: Vec<u32>,
    /// The scheduled faults acting now, in fault order: what a per-message lookup walks, so
    /// its cost grows with the faults acting at once, not with the faults in the scenario.
    acting: Vec<u32>,
    /// Link faults: their sides, by fault the index of its link, and how many act now.
    links: Vec<LinkRt>,
    link_of: Vec<Option<u32>>,
    links_active: u32,
    /// By global instance: gray failures acting on it (empty without any).
    gray: Vec<u32>,
    /// Instances that crashed as a crash fault started, for the model to take down (it
    /// answers the jobs on them).
    crashed: Vec<u32>,
    /// By fault: a bandwidth limit's queues, each busy until then (one per targeted
    /// instance, or two for a link: each way); empty for other kinds.
    queues: Vec<Vec<Nanos>>,
    /// By fault: its ramp (0: none), and when its current occurrence started.
    ramp_ns: Vec<Nanos>,
    started_ns: Vec<Nanos>,
    /// Some fault crashes instances (see `has_crashes`).
    crashes_any: bool,
    /// Some CPU stress ramps (work start then asks `ramped_slowdown`).
    ramped_stress: bool,
    /// By fault: a poison pill's service and customers (sorted); `u32::MAX` and none for
    /// other kinds.
    poisons: Vec<(u32, Vec<u32>)>,
    any_poison: bool,
    /// By fault, its stream (answer sizes, losses, jitter, gray failures' draws).
    streams: Vec<Option<Stream>>,
    /// Random faults' failure domains: the global instances each holds down while down, and
    /// its failures and repairs; the next one due first (ties in domain order).
    domains: Vec<(Vec<u32>, UpDown)>,
    /// By domain: when its fault's window ends (the run's duration): a domain down then is
    /// repaired, and no failure comes after.
    until: Vec<Nanos>,
    /// By domain: its failures are crashes (the jobs on its instances fail).
    crashes: Vec<bool>,
    due: BinaryHeap<Reverse<(Nanos, u32)>>,
    /// Memory leaks and stresses: the fault, its kind, its windows (asked per job by
    /// `memory_bytes`, not applied at transitions).
    memory: Vec<(u32, FaultKind, Vec<Window>)>,
    /// IO faults: the fault, its kind, its windows and its stream (asked per IO by `io`).
    io: Vec<(u32, FaultKind, Vec<Window>, Stream)>,
    /// Database failovers' flips (the promoted writer named), as (service, instant), sorted;
    /// by fault, the service a failover moves the writer of (`u32::MAX`: another kind).
    flips: Vec<(u32, Nanos)>,
    failover_service: Vec<u32>,
    /// Clock-skew faults, and DNS faults with the service whose name they break.
    skews: Vec<u32>,
    dns: Vec<(u32, u32, DnsAnswer)>,
}

impl FaultState {
    /// `first_instance[s]` is service `s`'s first global instance; `instances` the total.
    /// Random faults (`random`) draw from streams of `seed` named by the fault and domain.
    pub fn new(
        faults: &[FaultSpec],
        random: &[RandomFault],
        first_instance: &[u32],
        instances: u32,
        seed: u64,
    ) -> FaultState {
        // Chaos Monkey's kills become faults of their own, after the scenario's: each a
        // crash of one instance from its instant (for its down time, or to the end).
        let mut all = faults.to_vec();
        for (i, f) in faults.iter().enumerate() {
            let Some(m) = f.monkey else { continue };
            for (at_ns, victim) in m.kills(i as u32, &f.target.chosen(i as u32, seed), seed, f.window.end_ns) {
                let end_ns = m.down_ns.map_or(f.window.end_ns, |d| at_ns.saturating_add(d)).max(at_ns + 1);
                all.push(FaultSpec {
                    target: FaultTarget { instances: vec![victim], pick: Pick::All, ..f.target.clone() },
                    window: Window { start_ns: at_ns, end_ns },
                    random: false,
                    monkey: None,
                    repeat: None,
                    ..f.clone()
                });
            }
        }
        // A task kill's grace ends in a crash of what is left: a stop from then to its end.
        // Its instances are the task kill's own pick, and it repeats with it.
        for (i, f) in faults.iter().enumerate() {
            let FaultKind::TaskKill { grace_ns } = f.kind else { continue };
            let at_ns = f.window.start_ns.saturating_add(grace_ns);
            if at_ns < f.window.end_ns {
                all.push(FaultSpec {
                    kind: FaultKind::Crash(super::catalogue::Crash::Stop),
                    target: FaultTarget {
                        instances: f.target.chosen(i as u32, seed),
                        pick: Pick::All,
                        ..f.target.clone()
                    },
                    window: Window { start_ns: at_ns, end_ns: f.window.end_ns },
                    ..f.clone()
                });
            }
        }
        let faults = &all[..];
        // Each fault's windows: a failover's each end at its start plus a draw of its time.
        let windows: Vec<Vec<Window>> = faults
            .iter()
            .enumerate()
            .map(|(i, f)| match &f.failover {
                Some(d) => {
                    let mut rng = Stream::new(seed, &format!("fault/{i}"), "failover");
                    let draw = |w: Window, rng: &mut Stream| Window {
                        start_ns: w.start_ns,
                        end_ns: w.start_ns.saturating_add(d.sample(rng).max(1)),
                    };
                    f.occurrences().map(|w| draw(w, &mut rng)).collect()
                }
                None => f.occurrences().collect(),
            })
            .collect();
        let mut flips: Vec<(u32, Nanos)> = faults
            .iter()
            .zip(&windows)
            .filter(|(f, _)| f.kind == FaultKind::DbFailover)
            .flat_map(|(f, ws)| {
                let service = f.target.instances.first().map_or(u32::MAX, |&(s, _)| s);
                ws.iter().map(move |w| (service, w.end_ns))
            })
            .collect();
        flips.sort_unstable();
        let mut timeline = Vec::with_capacity(2 * faults.len());
        for (i, _) in faults.iter().enumerate().filter(|(_, f)| !f.random) {
            for &w in &windows[i] {
                timeline.push(Transition { at_ns: w.start_ns, fault: i as u32, starts: true });
                timeline.push(Transition { at_ns: w.end_ns, fault: i as u32, starts: false });
            }
        }
        timeline.sort_by_key(|t| (t.at_ns, t.fault, !t.starts));
        let chosen: Vec<Vec<(u32, u32)>> =
            faults.iter().enumerate().map(|(i, f)| f.target.chosen(i as u32, seed)).collect();
        let targets = chosen
            .iter()
            .map(|c| {
                let mut t: Vec<u32> = c.iter().map(|&(s, i)| first_instance[s as usize] + i).collect();
                t.sort_unstable();
                t
            })
            .collect();
        let stressed = faults.iter().any(|f| matches!(f.kind, FaultKind::CpuStress(_)));
        let per_instance = |any: bool| if any { vec![0; instances as usize] } else { Vec::new() };
        let any_network = faults.iter().any(|f| f.kind.on_the_network() && f.link.is_none());
        let bits = |members: &[u32]| {
            let mut b = vec![0u64; (instances as usize).div_ceil(64)];
            for &i in members {
                b[i as usize / 64] |= 1 << (i % 64);
            }
            b
        };
        let global =
            |list: &[(u32, u32)]| -> Vec<u32> { list.iter().map(|&(s, i)| first_instance[s as usize] + i).collect() };
        let links: Vec<LinkRt> = faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let l = f.link.as_ref()?;
                Some(LinkRt {
                    fault: i as u32,
                    from: bits(&global(&f.target.chosen(i as u32, seed))),
                    to: bits(&global(&l.to)),
                    both: l.both,
                    flows_percent: l.flows_percent,
                })
            })
            .collect();
        let mut link_of = vec![None; faults.len()];
        for (k, l) in links.iter().enumerate() {
            link_of[l.fault as usize] = Some(k as u32);
        }
        let any_gray = faults.iter().any(|f| matches!(f.kind, FaultKind::Gray { .. }));
        let streams = faults
            .iter()
            .enumerate()
            .map(|(i, f)| f.kind.on_the_network().then(|| Stream::new(seed, &format!("fault/{i}"), "network")))
            .collect();
        let mut domains = Vec::new();
        let mut until = Vec::new();
        let mut crashes = Vec::new();
        for r in random {
            let f = &faults[r.fault as usize];
            let members: Vec<u32> =
                chosen[r.fault as usize].iter().map(|&(s, i)| first_instance[s as usize] + i).collect();
            let groups: Vec<Vec<u32>> =
                if r.per_instance { members.iter().map(|&m| vec![m]).collect() } else { vec![members] };
            for (k, g) in groups.into_iter().enumerate() {
                let entity = if r.per_instance {
                    format!("fault/{}/instance/{k}", r.fault)
                } else {
                    format!("fault/{}", r.fault)
                };
                let process =
                    UpDown::new(r.to_failure.clone(), r.to_repair.clone(), Stream::new(seed, &entity, "failures"));
                domains.push((g, process));
                until.push(f.window.end_ns);
                crashes.push(matches!(f.kind, FaultKind::Crash(_)));
            }
        }
        let due = domains
            .iter()
            .enumerate()
            .filter(|(d, (_, p))| p.next_ns() < until[*d])
            .map(|(d, (_, p))| Reverse((p.next_ns(), d as u32)))
            .collect();
        FaultState {
            domains,
            until,
            crashes,
            due,
            timeline,
            next: 0,
            kinds: faults.iter().map(|f| f.kind).collect(),
            failover_service: faults
                .iter()
                .map(|f| match f.kind {
                    FaultKind::DbFailover => f.target.instances.first().map_or(u32::MAX, |&(s, _)| s),
                    _ => u32::MAX,
                })
                .collect(),
            targets,
            active: vec![false; faults.len()],
            down: if faults.is_empty() { Vec::new() } else { vec![0; instances as usize] },
            slowdown: if stressed { vec![1.0; instances as usize] } else { Vec::new() },
            blackholed: per_instance(faults.iter().any(|f| f.kind == FaultKind::Blackhole)),
            unavailable: per_instance(faults.iter().any(|f| f.kind == FaultKind::Unavailable)),
            network: per_instance(any_network),
            gray: per_instance(any_gray),
            acting: Vec::new(),
            links,
            link_of,
            links_active: 0,
            streams,
            crashed: Vec::new(),
            poisons: faults
                .iter()
                .map(|f| match (f.kind, f.target.instances.first()) {
                    (FaultKind::PoisonPill { .. }, Some(&(s, _))) => (s, f.customers.clone()),
                    _ => (u32::MAX, Vec::new()),
                })
                .collect(),
            any_poison: faults.iter().any(|f| matches!(f.kind, FaultKind::PoisonPill { .. })),
            ramp_ns: faults.iter().map(|f| f.ramp_ns).collect(),
            queues: faults
                .iter()
                .map(|f| match (f.kind, &f.link) {
                    (FaultKind::Bandwidth { .. }, Some(_)) => vec![0; 2],
                    (FaultKind::Bandwidth { .. }, None) => vec![0; f.target.hit_count()],
                    _ => Vec::new(),
                })
                .collect(),
            started_ns: vec![0; faults.len()],
            crashes_any: faults
                .iter()
                .any(|f| matches!(f.kind, FaultKind::Crash(_) | FaultKind::PowerInterruption | FaultKind::DbFailover)),
            ramped_stress: faults.iter().any(|f| f.ramp_ns > 0 && matches!(f.kind, FaultKind::CpuStress(_))),
            memory: faults
                .iter()
                .enumerate()
                .filter(|(_, f)| matches!(f.kind, FaultKind::MemoryLeak { .. } | FaultKind::MemoryStress { .. }))
                .map(|(i, f)| (i as u32, f.kind, f.occurrences().collect()))
                .collect(),
            io: faults
                .iter()
                .enumerate()
                .filter(|(_, f)| {
                    matches!(f.kind, FaultKind::IoPause | FaultKind::IoLatency { .. } | FaultKind::IoStress(_))
                })
                .map(|(i, f)| {
                    (i as u32, f.kind, f.occurrences().collect(), Stream::new(seed, &format!("fault/{i}"), "io"))
                })
                .collect(),
            flips,
            skews: (0..faults.len() as u32)
                .filter(|&i| matches!(faults[i as usize].kind, FaultKind::ClockSkew { .. }))
                .collect(),
            dns: faults
                .iter()
                .enumerate()
                .filter_map(|(i, f)| match (f.kind, f.target.instances.first()) {
                    (FaultKind::Dns { answer }, Some(&(s, _))) => Some((i as u32, s, answer)),
                    _ => None,
                })
                .collect(),
        }
    }

    /// A stop condition fired at `now`: every fault acting now ends now (a terminated
    /// instance stays terminated: its end stays the run's) and none starts later; random
    /// failure domains down now are repaired now and fail no more; memory and IO windows end
    /// now; a failover in progress names its new writer now. The transitions are due at
    /// `now`: `advance_to(now)` applies them.
    pub fn stop_all(&mut self, now: Nanos) {
        let rest = self.timeline.split_off(self.next);
        // The end of each occurrence acting now: the first end of an active fault (a
        // repeated fault's later occurrences never start).
        let mut ended = vec![false; self.kinds.len()];
        let mut ends: Vec<Transition> = rest
            .into_iter()
            .filter(|t| {
                !t.starts && self.active[t.fault as usize] && !std::mem::replace(&mut ended[t.fault as usize], true)
            })
            .map(|t| match self.kinds[t.fault as usize] {
                FaultKind::Crash(super::catalogue::Crash::Terminate) => t,
                _ => Transition { at_ns: t.at_ns.min(now), ..t },
            })
            .collect();
        ends.sort_by_key(|t| (t.at_ns, t.fault));
        self.timeline.extend(ends);
        for until in self.until.iter_mut() {
            *until = (*until).min(now);
        }
        let due = std::mem::take(&mut self.due);
        for Reverse((_, d)) in due {
            if !self.domains[d as usize].1.up() {
                self.due.push(Reverse((now, d)));
            }
        }
        let cut = |windows: &mut Vec<Window>| {
            windows.retain(|w| w.start_ns < now);
            for w in windows.iter_mut() {
                w.end_ns = w.end_ns.min(now);
            }
        };
        self.memory.iter_mut().for_each(|(_, _, w)| cut(w));
        self.io.iter_mut().for_each(|(_, _, w, _)| cut(w));
        // A failover acting now flips now; later ones never come.
        let acting: Vec<u32> = (0..self.kinds.len())
            .filter(|&f| self.kinds[f] == FaultKind::DbFailover && self.active[f])
            .map(|f| f as u32)
            .collect();
        let mut kept: Vec<(u32, Nanos)> = Vec::with_capacity(self.flips.len());
        for &(s, at) in &self.flips {
            if at <= now {
                kept.push((s, at));
            } else if !kept.iter().any(|&(k, t)| k == s && t == now)
                && acting.iter().any(|&f| self.flip_service(f) == s)
            {
                kept.push((s, now));
            }
        }
        kept.sort_unstable();
        self.flips = kept;
    }

    /// The service whose writer failover fault `f` moves.
    fn flip_service(&self, f: u32) -> u32 {
        self.failover_service.get(f as usize).copied().unwrap_or(u32::MAX)
    }

    /// When the next transition is due (`Nanos::MAX`: none is left).
    #[inline]
    pub fn next_ns(&self) -> Nanos {
        let timeline = self.timeline.get(self.next).map_or(Nanos::MAX, |t| t.at_ns);
        match self.due.peek() {
            Some(Reverse((at, _))) => timeline.min(*at),
            None => timeline,
        }
    }

    /// Applies every transition due at or before `now`: the scheduled ones and the random
    /// domains', in time order (at one instant, the scheduled first, then domains in order).
    pub fn advance_to(&mut self, now: Nanos) {
        self.advance_within(now, u64::MAX);
    }

    /// `advance_to`, applying at most `max_random` random transitions (they count against
    /// the run's event budget); returns how many it applied.
    pub fn advance_within(&mut self, now: Nanos, max_random: u64) -> u64 {
        let mut random = 0;
        loop {
            let scheduled = self.timeline.get(self.next).map_or(Nanos::MAX, |t| t.at_ns);
            match self.due.peek().copied() {
                Some(Reverse((at, d))) if at <= now && at < scheduled => {
                    if random == max_random {
                        return random;
                    }
                    random += 1;
                    self.flip_domain(d)
                }
                _ if scheduled <= now => self.apply_scheduled(now),
                _ => return random,
            }
        }
    }

    /// Random domain `d` fails or is repaired; after its fault's window, a domain down is
    /// repaired at the window's end and fails no more.
    fn flip_domain(&mut self, d: u32) {
        let Some(Reverse((at, _))) = self.due.pop() else { return };
        let until = self.until[d as usize];
        let (members, process) = &mut self.domains[d as usize];
        let up = if at >= until { true } else { process.step() };
        if !up && self.crashes[d as usize] {
            self.crashed.extend_from_slice(members);
        }
        for &i in members.iter() {
            if up {
                self.down[i as usize] -= 1;
            } else {
                self.down[i as usize] += 1;
            }
        }
        if !up {
            // Down: its repair, or the window's end, whichever comes first.
            self.due.push(Reverse((process.next_ns().min(until), d)));
        } else if process.next_ns() < until && at < until {
            self.due.push(Reverse((process.next_ns(), d)));
        }
    }

    /// Applies the scheduled transitions due by `now` (those of the earliest instant).
    fn apply_scheduled(&mut self, now: Nanos) {
        let at = self.timeline[self.next].at_ns;
        while let Some(&t) = self.timeline.get(self.next).filter(|t| t.at_ns <= now && t.at_ns == at) {
            self.next += 1;
            let f = t.fault as usize;
            self.active[f] = t.starts;
            if t.starts {
                self.started_ns[f] = t.at_ns;
            }
            match self.acting.binary_search(&t.fault) {
                Err(at) if t.starts => self.acting.insert(at, t.fault),
                Ok(at) if !t.starts => {
                    self.acting.remove(at);
                }
                _ => {}
            }
            let targets = &self.targets[f];
            let count = |counts: &mut Vec<u32>| {
                for &i in targets {
                    if t.starts {
                        counts[i as usize] += 1;
                    } else {
                        counts[i as usize] -= 1;
                    }
                }
            };
            match self.kinds[f] {
                FaultKind::Outage | FaultKind::Reject | FaultKind::TaskKill { .. } => count(&mut self.down),
                _ if self.link_of[f].is_some() => {
                    if t.starts {
                        self.links_active += 1;
                    } else {
                        self.links_active -= 1;
                    }
                }
                // Asked per call (`clock_offset_ns`, `dns_answer`) and per IO (`io`); deployments
                // are the model's.
                FaultKind::Dns { .. }
                | FaultKind::ClockSkew { .. }
                | FaultKind::Deployment
                | FaultKind::IoPause
                | FaultKind::IoLatency { .. }
                | FaultKind::IoStress(_) => {}
                FaultKind::Crash(_) | FaultKind::PowerInterruption | FaultKind::DbFailover => {
                    count(&mut self.down);
                    if t.starts {
                        self.crashed.extend_from_slice(targets);
                    }
                }
                FaultKind::Gray { slow_p, .. } => {
                    count(&mut self.gray);
                    if slow_p > 0.0 {
                        count(&mut self.network);
                    }
                }
                // Only on links (above).
                FaultKind::Partition => {}
                // Asked per job (`poisoned`, `memory_bytes`).
                FaultKind::PoisonPill { .. } | FaultKind::MemoryLeak { .. } | FaultKind::MemoryStress { .. } => {}
                FaultKind::Blackhole => {
                    count(&mut self.down);
                    count(&mut self.blackholed);
                }
                FaultKind::Unavailable => count(&mut self.unavailable),
                FaultKind::NetworkLatency { .. } | FaultKind::PacketLoss(_) | FaultKind::Bandwidth { .. } => {
                    count(&mut self.network)
                }
                FaultKind::CpuStress(_) => self.restress(f),
                // Launches ask the fault list, not the instances' state.
                FaultKind::InsufficientCapacity => {}
            }
        }
    }

    /// Recomputes the slowdown of fault `f`'s instances: the product of the multipliers of
    /// the CPU-stress faults acting on each, in fault order (the same product, in the same
    /// order, whatever order the faults started in).
    fn restress(&mut self, f: usize) {
        for k in 0..self.targets[f].len() {
            let i = self.targets[f][k];
            let mut factor = 1.0;
            for (g, kind) in self.kinds.iter().enumerate() {
                if let FaultKind::CpuStress(c) = kind {
                    if self.active[g] && self.targets[g].contains(&i) {
                        factor *= c.multiplier;
                    }
                }
            }
            self.slowdown[i as usize] = factor;
        }
    }

    /// Is global instance `i` held down by an outage now?
    #[inline]
    pub fn is_down(&self, i: u32) -> bool {
        self.down.get(i as usize).is_some_and(|&d| d > 0)
    }

    /// Is global instance `i` broken for a job sent to it now: down (an outage, a reject, a
    /// blackhole) or failing every request (`unavailable`)?
    #[inline]
    pub fn broken(&self, i: u32) -> bool {
        self.is_down(i) || self.is_unavailable(i)
    }

    /// The live data memory faults add to global instance `i` at `now`, for an instance
    /// (re)started at `since_ns`: what leaked since then (a leak's rate over the part of its
    /// windows after the start and before now), and the stressors acting now.
    pub fn memory_bytes(&self, i: u32, since_ns: Nanos, now: Nanos) -> f64 {
        let mut bytes = 0.0;
        for (f, kind, windows) in &self.memory {
            if self.targets[*f as usize].binary_search(&i).is_err() {
                continue;
            }
            for w in windows {
                match *kind {
                    FaultKind::MemoryLeak { bytes_per_s } => {
                        let (from, to) = (w.start_ns.max(since_ns), w.end_ns.min(now));
                        if to > from {
                            bytes += bytes_per_s * (to - from) as f64 / 1e9;
                        }
                    }
                    FaultKind::MemoryStress { bytes: b } if w.start_ns <= now && now < w.end_ns => bytes += b,
                    _ => {}
                }
            }
        }
        bytes
    }

    /// What the IO faults do to an IO of `io_ns` on global instance `i`, ready at `ready_ns`:
    /// the earliest it may start (a pause acting then blocks it until its end) and how long
    /// it takes (stresses multiply it, latencies add to a share).
    pub fn io(&mut self, i: u32, ready_ns: Nanos, io_ns: Nanos) -> (Nanos, Nanos) {
        let (mut start, mut time, mut extra) = (ready_ns, io_ns as f64, 0);
        for (f, kind, windows, rng) in &mut self.io {
            if self.targets[*f as usize].binary_search(&i).is_err() {
                continue;
            }
            for w in windows.iter().filter(|w| w.start_ns <= ready_ns && ready_ns < w.end_ns) {
                match *kind {
                    FaultKind::IoPause => start = start.max(w.end_ns),
                    FaultKind::IoStress(c) => time *= c.multiplier,
                    FaultKind::IoLatency { delay_ns, p } if rng.unit() < p => extra = delay_ns.saturating_add(extra),
                    _ => {}
                }
            }
        }
        (start, crate::dist::round_ns(time).saturating_add(extra))
    }

    /// Does the scenario model names and clocks (a DNS, clock-skew or failover fault)?
    pub fn names_modelled(&self) -> bool {
        !self.flips.is_empty() || !self.skews.is_empty() || !self.dns.is_empty()
    }

    /// How far global instance `i`'s clock reads off real time now: the offsets of the
    /// clock-skew faults acting on it, summed.
    #[inline]
    pub fn clock_offset_ns(&self, i: u32) -> i64 {
        let mut offset = 0i64;
        for &f in &self.skews {
            if let FaultKind::ClockSkew { offset_ns } = self.kinds[f as usize] {
                if self.active[f as usize] && self.targets[f as usize].binary_search(&i).is_ok() {
                    offset = offset.saturating_add(offset_ns);
                }
            }
        }
        offset
    }

    /// What a fresh lookup of `service`'s name gets now: `None`, the right address; else
    /// the answer of the first DNS fault acting on it.
    #[inline]
    pub fn dns_answer(&self, service: u32) -> Option<DnsAnswer> {
        self.dns.iter().find(|&&(f, s, _)| s == service && self.active[f as usize]).map(|&(_, _, a)| a)
    }

    /// How many times `service`'s writer has failed over (its record flipped) by `now`: a
    /// record fetched at an earlier count names a writer that is gone.
    #[inline]
    pub fn failovers_by(&self, service: u32, now: Nanos) -> u32 {
        self.flips.iter().filter(|&&(s, at)| s == service && at <= now).count() as u32
    }

    /// Does a fault crash instances when it starts (or a random one when it fails)?
    pub fn has_crashes(&self) -> bool {
        self.crashes_any
    }

    /// Does a gray failure fail a job sent to global instance `i` now (a draw per gray
    /// failure acting on it), and with what: `error`, or `rejected` for throttling? When
    /// two fail it, the first in fault order says how.
    #[inline]
    pub fn gray_fails(&mut self, i: u32, now: Nanos) -> Option<Outcome> {
        if self.gray.get(i as usize).is_none_or(|&n| n == 0) {
            return None;
        }
        self.gray_cold(i, now)
    }

    #[cold]
    #[inline(never)]
    fn gray_cold(&mut self, i: u32, now: Nanos) -> Option<Outcome> {
        let mut failed = None;
        for &f in &self.acting {
            let f = f as usize;
            if !matches!(self.kinds[f], FaultKind::Gray { .. }) || self.targets[f].binary_search(&i).is_err() {
                continue;
            }
            if let FaultKind::Gray { error_p, error, .. } = self.kinds[f] {
                let r = self.intensity(f, now);
                let rng = self.streams[f].as_mut().expect("a gray failure has a stream");
                if error_p > 0.0 && rng.unit() < error_p * r {
                    failed = failed.or(Some(error));
                }
            }
        }
        failed
    }

    /// Does a link fault act now?
    #[inline]
    pub fn links_act(&self) -> bool {
        self.links_active > 0
    }

    /// What the link faults acting now do to a message of `bytes` (a draw) from global
    /// instance `src` to `dst`: `None`, dropped (a partition, or a connection that gave up);
    /// else the extra time it takes. Overlapping faults add up, in fault order.
    #[cold]
    #[inline(never)]
    pub fn link(&mut self, src: u32, dst: u32, bytes: &crate::dist::Dist, now: Nanos) -> Option<Nanos> {
        let has = |b: &[u64], i: u32| b[i as usize / 64] & (1 << (i % 64)) != 0;
        let mut extra: Nanos = 0;
        for &f in &self.acting {
            let Some(k) = self.link_of[f as usize] else { continue };
            let l = &self.links[k as usize];
            let f = f as usize;
            let across = (has(&l.from, src) && has(&l.to, dst)) || (l.both && has(&l.to, src) && has(&l.from, dst));
            if !across || !flow_hit(l.fault, src, dst, l.flows_percent) {
                continue;
            }
            let r = self.intensity(f, now);
            let rng = self.streams[f].as_mut().expect("a link fault has a stream");
            // A link's queue each way: from `from` to `to`, and back.
            let way = usize::from(!has(&l.from, src));
            let mut none = 0;
            let queue = self.queues[f].get_mut(way).unwrap_or(&mut none);
            extra = extra.saturating_add(message_delay(self.kinds[f], r, rng, bytes, queue, now)?);
        }
        Some(extra)
    }

    /// How strongly fault `f` acts at `now`: 1, or less while it ramps up (linearly from 0
    /// at the start of its occurrence to 1 after its ramp).
    #[inline]
    fn intensity(&self, f: usize, now: Nanos) -> f64 {
        match self.ramp_ns[f] {
            0 => 1.0,
            ramp => (now.saturating_sub(self.started_ns[f]) as f64 / ramp as f64).min(1.0),
        }
    }

    /// The instances crashed since the last call (a crash fault started), for the model to
    /// answer the jobs on them.
    pub fn take_crashed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.crashed)
    }

    /// Does a request of `customer` at service `service` crash its instance now? Its restart
    /// time if so.
    #[inline]
    pub fn poisoned(&self, service: u32, customer: u32) -> Option<Nanos> {
        if !self.any_poison {
            return None;
        }
        self.acting.iter().find_map(|&f| {
            let (s, customers) = &self.poisons[f as usize];
            let hit = *s == service && customers.binary_search(&customer).is_ok();
            match (hit, self.kinds[f as usize]) {
                (true, FaultKind::PoisonPill { restart_ns }) => Some(restart_ns),
                _ => None,
            }
        })
    }

    /// Does a blackhole swallow what is sent to or from global instance `i` now?
    #[inline]
    pub fn is_blackholed(&self, i: u32) -> bool {
        self.blackholed.get(i as usize).is_some_and(|&d| d > 0)
    }

    /// Does global instance `i` fail every request now, while passing its health checks?
    #[inline]
    pub fn is_unavailable(&self, i: u32) -> bool {
        self.unavailable.get(i as usize).is_some_and(|&d| d > 0)
    }

    /// The extra time an answer from global instance `i` takes on the network now, its size
    /// drawn from `response_bytes` where a packet loss acts (`None`: lost, the connection gave
    /// up). Overlapping network faults add up, in fault order.
    #[inline]
    pub fn egress_ns(&mut self, i: u32, response_bytes: &crate::dist::Dist, now: Nanos) -> Option<Nanos> {
        if self.network.get(i as usize).is_none_or(|&n| n == 0) {
            return Some(0);
        }
        self.egress_cold(i, response_bytes, now)
    }

    #[cold]
    #[inline(never)]
    fn egress_cold(&mut self, i: u32, response_bytes: &crate::dist::Dist, now: Nanos) -> Option<Nanos> {
        let mut extra: Nanos = 0;
        for &f in &self.acting {
            let f = f as usize;
            let network = self.kinds[f].on_the_network() && self.link_of[f].is_none();
            let Ok(at) = self.targets[f].binary_search(&i) else { continue };
            if !network {
                continue;
            }
            let r = self.intensity(f, now);
            let rng = self.streams[f].as_mut().expect("a network fault has a stream");
            // Each instance's own queue (a bandwidth limit's; other kinds have none).
            let mut none = 0;
            let queue = self.queues[f].get_mut(at).unwrap_or(&mut none);
            extra = extra.saturating_add(message_delay(self.kinds[f], r, rng, response_bytes, queue, now)?);
        }
        Some(extra)
    }

    /// How many times as long work started now at global instance `i` takes (1.0: no stress),
    /// at full strength (a ramping stress counts as its full load).
    #[inline]
    pub fn slowdown(&self, i: u32) -> f64 {
        self.slowdown.get(i as usize).copied().unwrap_or(1.0)
    }

    /// `slowdown` at `now`: a stress still ramping up takes its share of the load so far.
    #[inline]
    pub fn slowdown_at(&self, i: u32, now: Nanos) -> f64 {
        let full = self.slowdown(i);
        if !self.ramped_stress || full == 1.0 {
            return full;
        }
        self.ramped_slowdown(i, now)
    }

    #[cold]
    #[inline(never)]
    fn ramped_slowdown(&self, i: u32, now: Nanos) -> f64 {
        let mut factor = 1.0;
        for &f in &self.acting {
            let f = f as usize;
            if let FaultKind::CpuStress(c) = self.kinds[f] {
                if self.targets[f].binary_search(&i).is_ok() {
                    factor *= CpuStress::new(c.load_percent * self.intensity(f, now)).multiplier;
                }
            }
        }
        factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{CpuStress, FaultTarget};
    use crate::spec::Window;

    fn fault(kind: FaultKind, service: u32, instances: u32, start_ns: Nanos, end_ns: Nanos) -> FaultSpec {
        FaultSpec {
            kind,
            target: FaultTarget::service("s", service, instances),
            window: Window { start_ns, end_ns },
            random: false,
            customers: Vec::new(),
            link: None,
            repeat: None,
            ramp_ns: 0,
            monkey: None,
            failover: None,
            rollout: None,
        }
    }

    #[test]
    fn a_stop_ends_the_occurrence_acting_and_every_later_one() {
        // An outage of 2 instances over [0, 5 s), again every 10 s, 5 times; a CPU stress
        // from 30 s. Stopped at 12 s, inside the second occurrence.
        let s = 1_000_000_000;
        let mut outage = fault(FaultKind::Outage, 0, 2, 0, 5 * s);
        outage.repeat = Some(crate::faults::catalogue::Repeat { every_ns: 10 * s, times: 5 });
        let stress =
            fault(FaultKind::CpuStress(CpuStress { load_percent: 50.0, multiplier: 2.0 }), 0, 2, 30 * s, 40 * s);
        let mut state = FaultState::new(&[outage, stress], &[], &[0], 2, 1);
        state.advance_to(11 * s);
        assert!(state.is_down(0) && state.is_down(1));
        state.stop_all(12 * s);
        assert_eq!(state.next_ns(), 12 * s, "the ends are due at the stop");
        state.advance_to(12 * s);
        assert!(!state.is_down(0) && !state.is_down(1));
        state.advance_to(100 * s);
        assert!(!state.is_down(0), "no later occurrence starts");
        assert_eq!(state.slowdown(0), 1.0, "nor does a later fault");
        assert_eq!(state.next_ns(), Nanos::MAX);
    }

    #[test]
    fn a_fault_acts_from_its_start_to_just_before_its_end() {
        // Service 0 has instances 0..2, service 1 has 2..5; the outage takes service 1's first 2.
        let faults = [fault(FaultKind::Outage, 1, 2, 10, 20)];
        let mut s = FaultState::new(&faults, &[], &[0, 2], 5, 1);
        assert_eq!(s.next_ns(), 10);
        s.advance_to(9);
        assert!(!s.is_down(2));
        s.advance_to(10);
        assert!(s.is_down(2) && s.is_down(3) && !s.is_down(4) && !s.is_down(1));
        s.advance_to(19);
        assert!(s.is_down(3));
        s.advance_to(20);
        assert!(!s.is_down(2) && !s.is_down(3));
        assert_eq!(s.next_ns(), Nanos::MAX);
    }

    /// A random domain (constant up 10, down `down_ns`) fails and is repaired within its
    /// fault's window, [0, 22): after it, no failure; one down at the end is repaired then.
    #[test]
    fn random_domains_fail_and_recover_within_their_window() {
        use crate::dist::Dist;
        let outage = || FaultSpec { random: true, ..fault(FaultKind::Outage, 0, 1, 0, 22) };
        let random = |down_ns| RandomFault {
            fault: 0,
            to_failure: Dist::Constant(10),
            to_repair: Dist::Constant(down_ns),
            per_instance: true,
        };
        let mut s = FaultState::new(&[outage()], &[random(5)], &[0], 1, 1);
        assert_eq!(s.next_ns(), 10);
        s.advance_to(12);
        assert!(s.is_down(0));
        s.advance_to(16);
        assert!(!s.is_down(0));
        assert_eq!(s.next_ns(), Nanos::MAX, "the next failure, at 25, is past the window");
        let mut s = FaultState::new(&[outage()], &[random(20)], &[0], 1, 1);
        s.advance_to(21);
        assert!(s.is_down(0));
        s.advance_to(22);
        assert!(!s.is_down(0), "repaired at the window's end");
        assert_eq!(s.next_ns(), Nanos::MAX);
    }

    #[test]
    fn overlapping_stress_multiplies_in_fault_order_and_unwinds() {
        // 50% load doubles work, 75% quadruples it: both at once, 8 times.
        let faults = [
            fault(FaultKind::CpuStress(CpuStress::new(50.0)), 0, 1, 0, 100),
            fault(FaultKind::CpuStress(CpuStress::new(75.0)), 0, 2, 50, 150),
        ];
        let mut s = FaultState::new(&faults, &[], &[0], 2, 1);
        s.advance_to(0);
        assert_eq!((s.slowdown(0), s.slowdown(1)), (2.0, 1.0));
        s.advance_to(50);
        assert_eq!((s.slowdown(0), s.slowdown(1)), (8.0, 4.0));
        s.advance_to(100);
        assert_eq!((s.slowdown(0), s.slowdown(1)), (4.0, 4.0));
        s.advance_to(150);
        assert_eq!((s.slowdown(0), s.slowdown(1)), (1.0, 1.0));
        // Two overlapping outages: down until both end.
        let faults = [fault(FaultKind::Outage, 0, 1, 0, 10), fault(FaultKind::Outage, 0, 1, 5, 20)];
        let mut s = FaultState::new(&faults, &[], &[0], 1, 1);
        s.advance_to(12);
        assert!(s.is_down(0));
        s.advance_to(20);
        assert!(!s.is_down(0));
    }
}
