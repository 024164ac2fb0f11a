//! An auto scaling group's launches (reference section 4, "Autoscaling": boot time is the
//! launch plus the application's start; launches in an AZ can fail with insufficient
//! capacity, so an AZ loss is not refilled instantly). Health replacements and scale-outs
//! queue here; each launch is attempted when due, retried after a failure, boots, and is
//! handed back in service. The zone of each launch comes from [`pick_zone`], EC2 Auto
//! Scaling's AZ balancing. The delays' defaults are ours (no published numbers).

use cellsim_sim::{Nanos, NS_PER_MS, NS_PER_S};

/// The launch parameters; [`LaunchSpec::new`] carries the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LaunchSpec {
    /// From an instance found unhealthy to its replacement's launch (default 0).
    pub replace_delay_ns: Nanos,
    /// From a successful launch to in service.
    pub boot_ns: Nanos,
    /// From a failed launch (insufficient capacity) to the next attempt (default 10 s; at
    /// least 1 ms is used).
    pub retry_ns: Nanos,
    /// The most launches queued or booting at once (the group's maximum size).
    pub max_pending: usize,
}

impl LaunchSpec {
    pub fn new(boot_ns: Nanos, max_pending: usize) -> LaunchSpec {
        LaunchSpec { replace_delay_ns: 0, boot_ns, retry_ns: 10 * NS_PER_S, max_pending }
    }
}

/// Why an instance is launched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Replacement,
    ScaleOut,
}

/// An instance that came into service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub zone: usize,
    pub why: Why,
    /// The successful launch.
    pub launched_at_ns: Nanos,
    pub ready_at_ns: Nanos,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    zone: usize,
    why: Why,
    /// The next attempt (not launched), or unused (launched).
    attempt_at_ns: Nanos,
    launched_at_ns: Option<Nanos>,
}

/// The group's launch queue, in request order, allocated once.
#[derive(Clone, Debug)]
pub struct Launches {
    spec: LaunchSpec,
    pending: Vec<Pending>,
    /// Attempts that failed for lack of capacity.
    pub failed_attempts: u64,
    /// Requests refused because `max_pending` launches were already in progress.
    pub dropped: u64,
}

impl Launches {
    pub fn new(spec: LaunchSpec) -> Launches {
        let spec = LaunchSpec { retry_ns: spec.retry_ns.max(NS_PER_MS), ..spec };
        Launches { spec, pending: Vec::with_capacity(spec.max_pending), failed_attempts: 0, dropped: 0 }
    }

    /// An instance in `zone` was found unhealthy at `now`: its replacement launches after
    /// the replacement delay. false: the queue is full, nothing was queued.
    pub fn instance_unhealthy(&mut self, now: Nanos, zone: usize) -> bool {
        self.push(now.saturating_add(self.spec.replace_delay_ns), zone, Why::Replacement)
    }

    /// Scaling asks for one more instance in `zone` at `now`. false: the queue is full.
    pub fn request_launch(&mut self, now: Nanos, zone: usize) -> bool {
        self.push(now, zone, Why::ScaleOut)
    }

    fn push(&mut self, attempt_at_ns: Nanos, zone: usize, why: Why) -> bool {
        if self.pending.len() >= self.spec.max_pending {
            self.dropped += 1;
            return false;
        }
        self.pending.push(Pending { zone, why, attempt_at_ns, launched_at_ns: None });
        true
    }

    /// Launches queued or booting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Launches queued or booting in `zone` (for [`pick_zone`]'s counts).
    pub fn pending_in(&self, zone: usize) -> usize {
        self.pending.iter().filter(|p| p.zone == zone).count()
    }

    /// When the next pending launch could be in service: its launch (or its next attempt)
    /// plus the boot time; `None` with nothing pending.
    pub fn next_ready_ns(&self) -> Option<Nanos> {
        let boot_ns = self.spec.boot_ns;
        self.pending.iter().map(|p| p.launched_at_ns.unwrap_or(p.attempt_at_ns).saturating_add(boot_ns)).min()
    }

    /// Makes every attempt due by `now`, each dated at its own time (`capacity_ok(zone,
    /// at_ns)`: may `zone` launch at `at_ns`?), and appends the instances in service by
    /// `now` to `out`, by time and then request order. The answer does not depend on how
    /// often the model polls.
    pub fn due(&mut self, now: Nanos, mut capacity_ok: impl FnMut(usize, Nanos) -> bool, out: &mut Vec<Ready>) {
        for p in self.pending.iter_mut().filter(|p| p.launched_at_ns.is_none()) {
            while p.attempt_at_ns <= now {
                if capacity_ok(p.zone, p.attempt_at_ns) {
                    p.launched_at_ns = Some(p.attempt_at_ns);
                    break;
                }
                self.failed_attempts += 1;
                p.attempt_at_ns = p.attempt_at_ns.saturating_add(self.spec.retry_ns);
            }
        }
        let first = out.len();
        let boot_ns = self.spec.boot_ns;
        self.pending.retain(|p| match p.launched_at_ns {
            Some(t) if t.saturating_add(boot_ns) <= now => {
                let ready_at_ns = t.saturating_add(boot_ns);
                out.push(Ready { zone: p.zone, why: p.why, launched_at_ns: t, ready_at_ns });
                false
            }
            _ => true,
        });
        // Stable: equal times keep the request order.
        out[first..].sort_by_key(|r| r.ready_at_ns);
    }
}

/// The zone for a new launch: the fewest `instances` (count launches in progress too)
/// among the zones that `can_launch`, ties to the lowest index (EC2 Auto Scaling balances
/// instances across AZs). `None` when no zone can launch.
pub fn pick_zone(instances: &[u32], can_launch: &[bool]) -> Option<usize> {
    (0..instances.len()).filter(|&z| can_launch.get(z).copied().unwrap_or(false)).min_by_key(|&z| (instances[z], z))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = NS_PER_S;

    /// Zone 0 cannot launch in [0, 25 s); every other zone always can.
    fn ice(zone: usize, at_ns: Nanos) -> bool {
        zone != 0 || at_ns >= 25 * S
    }

    #[test]
    fn a_replacement_is_in_service_after_the_delay_and_the_boot() {
        let mut l = Launches::new(LaunchSpec { replace_delay_ns: 5 * S, ..LaunchSpec::new(60 * S, 4) });
        assert!(l.instance_unhealthy(100 * S, 1));
        let mut out = Vec::new();
        l.due(164 * S, ice, &mut out);
        assert_eq!((out.len(), l.pending()), (0, 1));
        l.due(165 * S, ice, &mut out);
        let want = Ready { zone: 1, why: Why::Replacement, launched_at_ns: 105 * S, ready_at_ns: 165 * S };
        assert_eq!((out, l.pending()), (vec![want], 0));
    }

    #[test]
    fn insufficient_capacity_delays_the_launch_to_the_first_retry_after_the_window() {
        // Attempts at 0, 10, 20 s fail; the one at 30 s launches; in service at 90 s. The
        // same whether polled every second or once.
        for step in [S, 100 * S] {
            let mut l = Launches::new(LaunchSpec::new(60 * S, 4));
            l.request_launch(0, 0);
            let mut out = Vec::new();
            let mut t = 0;
            while t <= 100 * S {
                l.due(t, ice, &mut out);
                t += step;
            }
            let want = Ready { zone: 0, why: Why::ScaleOut, launched_at_ns: 30 * S, ready_at_ns: 90 * S };
            assert_eq!((out, l.failed_attempts), (vec![want], 3), "step {step}");
        }
    }

    #[test]
    fn ready_instances_come_out_by_time_then_request_order_and_the_queue_is_bounded() {
        let mut l = Launches::new(LaunchSpec::new(60 * S, 3));
        assert!(l.request_launch(0, 0)); // ICE: in service at 90 s
        assert!(l.request_launch(5 * S, 2)); // 65 s
        assert!(l.request_launch(5 * S, 1)); // 65 s, after zone 2
        assert!(!l.request_launch(5 * S, 1));
        assert_eq!((l.dropped, l.pending_in(1)), (1, 1));
        let mut out = Vec::new();
        l.due(100 * S, ice, &mut out);
        let order: Vec<_> = out.iter().map(|r| (r.zone, r.ready_at_ns / S)).collect();
        assert_eq!(order, [(2, 65), (1, 65), (0, 90)]);
    }

    #[test]
    fn zones_balance_to_the_fewest_instances_lowest_index_first() {
        let cases: &[(&[u32], &[bool], Option<usize>)] = &[
            (&[3, 1, 1], &[true; 3], Some(1)),
            (&[3, 1, 1], &[true, false, true], Some(2)),
            (&[2, 2, 2], &[true; 3], Some(0)),
            (&[0, 5], &[false, true], Some(1)),
            (&[1, 1], &[false, false], None),
            (&[1, 1], &[true], Some(0)), // zones missing from can_launch cannot launch
        ];
        for &(instances, can, want) in cases {
            assert_eq!(pick_zone(instances, can), want, "{instances:?} {can:?}");
        }
    }
}
