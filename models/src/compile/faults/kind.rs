//! A fault's kind and the options that belong to it (`load_percent`, `latency`,
//! `loss_percent`, ...), each checked; an option of another kind is an error.

use super::super::Checker;
use crate::faults::catalogue::Crash;
use crate::faults::catalogue::DnsAnswer;
use crate::faults::network::PacketLoss;
use crate::faults::{CpuStress, FaultKind};
use crate::outcome::Outcome;
use crate::scenario::{DnsAnswer as DnsAnswerSection, ErrorClass, FaultKind as FaultKindSection, FaultSection};
use crate::units::Loc;

impl Checker<'_> {
    /// The fault's kind with its options, each checked; an option of another kind is an
    /// error.
    pub(super) fn kind(&mut self, section: &Loc<FaultSection>, path: &str, zone_target: bool) -> FaultKind {
        let fault = &section.value;
        let name = kind_name(fault.kind);
        let options: [(&str, Option<&std::ops::Range<usize>>); 24] = [
            ("waves", fault.waves.as_ref().map(|l| &l.span)),
            ("bake", fault.bake.as_ref().map(|l| &l.span)),
            ("slowdown", fault.slowdown.as_ref().map(|l| &l.span)),
            ("crash_percent", fault.crash_percent.as_ref().map(|l| &l.span)),
            ("capacity_percent", fault.capacity_percent.as_ref().map(|l| &l.span)),
            ("alarm", fault.alarm.as_ref().map(|l| &l.span)),
            ("rollback", fault.rollback.as_ref().map(|l| &l.span)),
            ("answer", fault.answer.as_ref().map(|l| &l.span)),
            ("offset_s", fault.offset_s.as_ref().map(|l| &l.span)),
            ("failover_time", fault.failover_time.as_ref().map(|l| &l.span)),
            ("leak_mb_per_s", fault.leak_mb_per_s.as_ref().map(|l| &l.span)),
            ("memory_mb", fault.memory_mb.as_ref().map(|l| &l.span)),
            ("class", fault.class.as_ref().map(|l| &l.span)),
            ("grace", fault.grace.as_ref().map(|l| &l.span)),
            ("rate_mbps", fault.rate_mbps.as_ref().map(|l| &l.span)),
            ("queue_kb", fault.queue_kb.as_ref().map(|l| &l.span)),
            ("flows_percent", fault.flows_percent.as_ref().map(|l| &l.span)),
            ("error_percent", fault.error_percent.as_ref().map(|l| &l.span)),
            ("slow_percent", fault.slow_percent.as_ref().map(|l| &l.span)),
            ("restart_time", fault.restart_time.as_ref().map(|l| &l.span)),
            ("load_percent", fault.load_percent.as_ref().map(|l| &l.span)),
            ("latency", fault.latency.as_ref().map(|l| &l.span)),
            ("jitter", fault.jitter.as_ref().map(|l| &l.span)),
            ("loss_percent", fault.loss_percent.as_ref().map(|l| &l.span)),
        ];
        let link = fault.from.is_some();
        let own: &[&str] = match fault.kind {
            FaultKindSection::CpuStress => &["load_percent"],
            FaultKindSection::NetworkLatency if link => &["latency", "jitter", "flows_percent"],
            FaultKindSection::NetworkLatency => &["latency", "jitter"],
            FaultKindSection::PacketLoss if link => &["loss_percent", "flows_percent"],
            FaultKindSection::PacketLoss => &["loss_percent"],
            FaultKindSection::CrossZoneSlowdown => &["loss_percent", "flows_percent"],
            FaultKindSection::Partition => &["flows_percent"],
            FaultKindSection::Bandwidth if link => &["rate_mbps", "queue_kb", "flows_percent"],
            FaultKindSection::Bandwidth => &["rate_mbps", "queue_kb"],
            FaultKindSection::PoisonPill => &["restart_time"],
            FaultKindSection::TaskKill => &["grace"],
            FaultKindSection::Gray => &["error_percent", "slow_percent", "latency", "jitter"],
            FaultKindSection::ApiError => &["error_percent", "class"],
            FaultKindSection::MemoryLeak => &["leak_mb_per_s"],
            FaultKindSection::Dns => &["answer"],
            FaultKindSection::ClockSkew => &["offset_s"],
            FaultKindSection::DbFailover => &["failover_time"],
            FaultKindSection::IoPause => &[],
            FaultKindSection::IoLatency => &["latency", "slow_percent"],
            FaultKindSection::IoStress => &["load_percent"],
            FaultKindSection::Deployment => &[
                "waves",
                "bake",
                "slowdown",
                "error_percent",
                "crash_percent",
                "restart_time",
                "capacity_percent",
                "alarm",
                "rollback",
            ],
            FaultKindSection::MemoryStress => &["memory_mb"],
            FaultKindSection::HttpFault => &["error_percent", "class", "slow_percent", "latency", "jitter"],
            _ => &[],
        };
        for (key, span) in options {
            if let Some(span) = span.filter(|_| !own.contains(&key)) {
                self.err(span.clone(), format!("{path}.{key}"), format!("{name} faults have no {key}"))
                    .hint(format!("{key} belongs to {}", owner_of(key)));
            }
        }
        let required = |this: &mut Self, key: &str, hint: &str| {
            this.err(section.span.clone(), format!("{path}.{key}"), format!("{name} faults need {key}")).hint(hint);
        };
        let percent = |this: &mut Self, v: &Option<Loc<f64>>, key: &str, default: f64| match v {
            Some(p) if !(0.0..=100.0).contains(&p.value) => {
                let message = format!("{key} must be from 0 to 100, not {}", p.value);
                this.err(p.span.clone(), format!("{path}.{key}"), message);
                default
            }
            Some(p) => p.value / 100.0,
            None => default,
        };
        match fault.kind {
            FaultKindSection::Outage => FaultKind::Outage,
            FaultKindSection::Dns => FaultKind::Dns {
                answer: match fault.answer.as_ref().map(|a| a.value) {
                    Some(DnsAnswerSection::Blackhole) => DnsAnswer::Blackhole,
                    Some(DnsAnswerSection::Reject) => DnsAnswer::Reject,
                    _ => DnsAnswer::Error,
                },
            },
            FaultKindSection::DbFailover => FaultKind::DbFailover,
            FaultKindSection::Deployment => FaultKind::Deployment,
            FaultKindSection::IoPause => FaultKind::IoPause,
            FaultKindSection::IoLatency => {
                let delay_ns = match fault.latency.as_ref().map(|l| l.value.ns()) {
                    Some(d) if d > 0 => d,
                    _ => {
                        let span = fault.latency.as_ref().map_or(section.span.clone(), |l| l.span.clone());
                        self.err(span, format!("{path}.latency"), "io-latency faults need a latency above 0")
                            .hint("latency = \"50ms\" with slow_percent = 10 delays one IO in ten");
                        0
                    }
                };
                FaultKind::IoLatency { delay_ns, p: percent(self, &fault.slow_percent, "slow_percent", 1.0) }
            }
            FaultKindSection::IoStress => {
                let load = match &fault.load_percent {
                    Some(l) if (0.0..=99.0).contains(&l.value) => l.value,
                    Some(l) => {
                        let message = format!("load_percent must be from 0 to 99, not {}", l.value);
                        self.err(l.span.clone(), format!("{path}.load_percent"), message);
                        0.0
                    }
                    None => {
                        required(self, "load_percent", "load_percent = 50 makes every IO take twice as long");
                        0.0
                    }
                };
                FaultKind::IoStress(CpuStress::new(load))
            }
            FaultKindSection::ClockSkew => {
                let offset_ns = match &fault.offset_s {
                    Some(o) if o.value != 0.0 && o.value.abs() <= 1e9 => (o.value * 1e9).round() as i64,
                    Some(o) => {
                        let message =
                            format!("offset_s must be non-zero and within a billion seconds, not {}", o.value);
                        self.err(o.span.clone(), format!("{path}.offset_s"), message)
                            .hint("offset_s = 90 sets the clocks 90 s ahead; -90, behind");
                        0
                    }
                    None => {
                        required(self, "offset_s", "offset_s = 90 sets the clocks 90 s ahead; -90, behind");
                        0
                    }
                };
                FaultKind::ClockSkew { offset_ns }
            }
            FaultKindSection::MemoryLeak | FaultKindSection::MemoryStress => {
                let (key, v, hint) = match fault.kind {
                    FaultKindSection::MemoryLeak => (
                        "leak_mb_per_s",
                        &fault.leak_mb_per_s,
                        "leak_mb_per_s = 1 fills a 512 MB heap in under 9 minutes",
                    ),
                    _ => ("memory_mb", &fault.memory_mb, "memory_mb = 256 takes half of a 512 MB heap"),
                };
                let mb = match v {
                    Some(x) if x.value > 0.0 && x.value <= 1e9 => x.value,
                    Some(x) => {
                        let message = format!("{key} must be above 0 and at most 1,000,000,000, not {}", x.value);
                        self.err(x.span.clone(), format!("{path}.{key}"), message).hint(hint);
                        0.0
                    }
                    None => {
                        required(self, key, hint);
                        0.0
                    }
                };
                match fault.kind {
                    FaultKindSection::MemoryLeak => FaultKind::MemoryLeak { bytes_per_s: mb * 1e6 },
                    _ => FaultKind::MemoryStress { bytes: mb * 1e6 },
                }
            }
            FaultKindSection::Partition => FaultKind::Partition,
            FaultKindSection::Bandwidth => {
                let bits_per_s = match &fault.rate_mbps {
                    Some(r) if r.value > 0.0 && r.value <= 1e6 => (r.value * 1e6).round().max(1.0) as u64,
                    Some(r) => {
                        let message = format!("rate_mbps must be above 0 and at most 1,000,000, not {}", r.value);
                        self.err(r.span.clone(), format!("{path}.rate_mbps"), message)
                            .hint("10 is ten megabits a second: a 1,000-byte answer takes 0.8 ms to send");
                        1
                    }
                    None => {
                        required(self, "rate_mbps", "rate_mbps = 10 is ten megabits a second");
                        1
                    }
                };
                let queue_bytes = match &fault.queue_kb {
                    Some(q) if q.value == 0 || q.value > 1_000_000 => {
                        let message = format!("queue_kb must be from 1 to 1,000,000, not {}", q.value);
                        self.err(q.span.clone(), format!("{path}.queue_kb"), message);
                        1_000_000
                    }
                    Some(q) => q.value * 1000,
                    None => 1_000_000,
                };
                FaultKind::Bandwidth { bits_per_s, queue_bytes }
            }
            FaultKindSection::AzPowerInterruption => {
                if !zone_target {
                    self.err(section.span.clone(), format!("{path}.zone"), "a power interruption is a zone's")
                        .hint("aim it at a zone: zone = \"use1-az1\"");
                }
                FaultKind::PowerInterruption
            }
            FaultKindSection::CrossZoneSlowdown => {
                if let Some(f) = fault.flows_percent.as_ref().filter(|f| !(1..=100).contains(&f.value)) {
                    let message = format!("flows_percent must be from 1 to 100, not {}", f.value);
                    self.err(f.span.clone(), format!("{path}.flows_percent"), message);
                }
                let p = percent(self, &fault.loss_percent, "loss_percent", 0.15);
                FaultKind::PacketLoss(PacketLoss::new(p))
            }
            FaultKindSection::Gray | FaultKindSection::HttpFault | FaultKindSection::ApiError => {
                let error_p = percent(self, &fault.error_percent, "error_percent", 0.0);
                let error = match fault.class.as_ref().map(|c| c.value) {
                    Some(ErrorClass::Throttled) => Outcome::Rejected,
                    _ => Outcome::Error,
                };
                let delay_ns = fault.latency.as_ref().map_or(0, |l| l.value.ns());
                let jitter_ns = fault.jitter.as_ref().map_or(0, |j| j.value.ns());
                let slowed = delay_ns > 0 || jitter_ns > 0;
                let slow_p = percent(self, &fault.slow_percent, "slow_percent", if slowed { 1.0 } else { 0.0 });
                if fault.kind == FaultKindSection::ApiError && error_p == 0.0 {
                    required(
                        self,
                        "error_percent",
                        "error_percent = 20 fails one call in five; class = \"throttled\" makes them throttling errors",
                    );
                } else if error_p == 0.0 && (slow_p == 0.0 || !slowed) {
                    required(self, "error_percent", "error_percent = 5 fails one job in twenty; latency = \"200ms\" with slow_percent = 10 delays one answer in ten");
                }
                FaultKind::Gray { error_p, error, slow_p, delay_ns, jitter_ns, name }
            }
            FaultKindSection::Reject => FaultKind::Reject,
            FaultKindSection::Blackhole => FaultKind::Blackhole,
            FaultKindSection::Unavailable => FaultKind::Unavailable,
            FaultKindSection::Terminate => FaultKind::Crash(Crash::Terminate),
            FaultKindSection::Stop => FaultKind::Crash(Crash::Stop),
            FaultKindSection::Reboot => FaultKind::Crash(Crash::Reboot),
            FaultKindSection::TaskKill => {
                let grace_ns = fault.grace.as_ref().map_or(30 * cellsim_sim::NS_PER_S, |g| g.value.ns());
                let length = match (&fault.start, &fault.duration) {
                    (Some(s), Some(d)) => d.value.ns().min(u64::MAX - s.value.ns()),
                    _ => u64::MAX,
                };
                if let Some(g) = fault.grace.as_ref().filter(|_| grace_ns >= length) {
                    let message = format!(
                        "the grace ({}) must end before the fault does ({})",
                        cellsim_sim::format_ns(grace_ns),
                        cellsim_sim::format_ns(length)
                    );
                    self.err(g.span.clone(), format!("{path}.grace"), message)
                        .hint("duration is how long the task is gone, its grace included");
                }
                FaultKind::TaskKill { grace_ns }
            }
            FaultKindSection::PoisonPill => {
                let restart_ns = fault.restart_time.as_ref().map_or(30 * cellsim_sim::NS_PER_S, |r| r.value.ns());
                FaultKind::PoisonPill { restart_ns }
            }
            FaultKindSection::CpuStress => {
                let load = match &fault.load_percent {
                    Some(l) if (0.0..=99.0).contains(&l.value) => l.value,
                    Some(l) => {
                        let message = format!("load_percent must be from 0 to 99, not {}", l.value);
                        self.err(l.span.clone(), format!("{path}.load_percent"), message)
                            .hint("80 leaves the service a fifth of its CPU: work takes 5 times as long");
                        0.0
                    }
                    None => {
                        required(self, "load_percent", "load_percent = 80 leaves the service a fifth of its CPU");
                        0.0
                    }
                };
                FaultKind::CpuStress(CpuStress::new(load))
            }
            FaultKindSection::InsufficientCapacity => {
                if !zone_target {
                    self.err(section.span.clone(), format!("{path}.zone"), "insufficient capacity is a zone's")
                        .hint("aim it at a zone: zone = \"use1-az1\"; launches there fail while it lasts");
                }
                FaultKind::InsufficientCapacity
            }
            FaultKindSection::NetworkLatency => {
                let delay_ns = fault.latency.as_ref().map(|l| l.value.ns());
                let jitter_ns = fault.jitter.as_ref().map_or(0, |j| j.value.ns());
                match delay_ns {
                    Some(d) if d == 0 && jitter_ns == 0 => {
                        let span = fault.latency.as_ref().map(|l| l.span.clone()).unwrap_or_default();
                        self.err(span, format!("{path}.latency"), "the added latency is 0: the fault would do nothing")
                            .hint("latency = \"100ms\", and jitter = \"20ms\" for a spread");
                    }
                    Some(_) => {}
                    None => required(self, "latency", "latency = \"100ms\" delays every answer by 100 ms"),
                }
                FaultKind::NetworkLatency { delay_ns: delay_ns.unwrap_or(0), jitter_ns }
            }
            FaultKindSection::PacketLoss => {
                let p = match &fault.loss_percent {
                    Some(l) if l.value > 0.0 && l.value <= 100.0 => l.value / 100.0,
                    Some(l) => {
                        let message = format!("loss_percent must be above 0 and at most 100, not {}", l.value);
                        self.err(l.span.clone(), format!("{path}.loss_percent"), message)
                            .hint("AWS FIS injects 7 by default; 100 loses every answer, as a blackhole");
                        0.0
                    }
                    None => {
                        required(self, "loss_percent", "loss_percent = 7 is AWS FIS's default");
                        0.0
                    }
                };
                FaultKind::PacketLoss(PacketLoss::new(p))
            }
        }
    }
}

/// A kind's name in the format.
pub(super) fn kind_name(kind: FaultKindSection) -> &'static str {
    match kind {
        FaultKindSection::Outage => "outage",
        FaultKindSection::CpuStress => "cpu-stress",
        FaultKindSection::InsufficientCapacity => "insufficient-capacity",
        FaultKindSection::Reject => "reject",
        FaultKindSection::Blackhole => "blackhole",
        FaultKindSection::Unavailable => "unavailable",
        FaultKindSection::NetworkLatency => "network-latency",
        FaultKindSection::PacketLoss => "packet-loss",
        FaultKindSection::Terminate => "terminate",
        FaultKindSection::Stop => "stop",
        FaultKindSection::Reboot => "reboot",
        FaultKindSection::PoisonPill => "poison-pill",
        FaultKindSection::Partition => "partition",
        FaultKindSection::AzPowerInterruption => "az-power-interruption",
        FaultKindSection::CrossZoneSlowdown => "cross-zone-slowdown",
        FaultKindSection::Gray => "gray",
        FaultKindSection::ApiError => "api-error",
        FaultKindSection::MemoryLeak => "memory-leak",
        FaultKindSection::Dns => "dns",
        FaultKindSection::ClockSkew => "clock-skew",
        FaultKindSection::DbFailover => "db-failover",
        FaultKindSection::Deployment => "deployment",
        FaultKindSection::IoPause => "io-pause",
        FaultKindSection::IoLatency => "io-latency",
        FaultKindSection::IoStress => "io-stress",
        FaultKindSection::MemoryStress => "memory-stress",
        FaultKindSection::HttpFault => "http-fault",
        FaultKindSection::Bandwidth => "bandwidth",
        FaultKindSection::TaskKill => "task-kill",
    }
}

/// The kind an option belongs to, for hints.
fn owner_of(key: &str) -> &'static str {
    match key {
        "load_percent" => "kind = \"cpu-stress\"",
        "loss_percent" => "kind = \"packet-loss\"",
        "restart_time" => "kind = \"poison-pill\" or \"deployment\"",
        "flows_percent" => "a link fault (from, to)",
        "error_percent" | "slow_percent" => "kind = \"gray\" (or api-error, http-fault)",
        "class" => "kind = \"api-error\" or \"http-fault\"",
        "leak_mb_per_s" => "kind = \"memory-leak\"",
        "answer" => "kind = \"dns\"",
        "offset_s" => "kind = \"clock-skew\"",
        "failover_time" => "kind = \"db-failover\"",
        "waves" | "bake" | "slowdown" | "crash_percent" | "capacity_percent" | "alarm" | "rollback" => {
            "kind = \"deployment\""
        }
        "memory_mb" => "kind = \"memory-stress\"",
        "rate_mbps" | "queue_kb" => "kind = \"bandwidth\"",
        "grace" => "kind = \"task-kill\"",
        _ => "kind = \"network-latency\"",
    }
}
