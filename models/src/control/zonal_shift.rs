//! ARC zonal shift and zonal autoshift (reference section 4, "AZ evacuation and zonal
//! shift"): a traffic weight in [0, 1] per zone. [DOC] one shift at a time, a customer's
//! (manual) shift takes precedence over an autoshift, the shift is not applied when every
//! other zone is unhealthy, a manual expiry between 1 minute and 72 h, connections draining
//! "typically up to a few minutes". Our choices, documented where they act: a linear drain,
//! the weight back to 1 at once when a shift ends, an autoshift that lasts while the zone is
//! impaired plus a hold. Detection is the alarm's job ([`super::alarm`]): the model calls
//! [`ZonalShift::zone_impaired`] when a zone's alarm goes to Alarm.

use cellsim_sim::{Nanos, NS_PER_S};

/// A controller's parameters; [`ZonalShiftSpec::default`] carries the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZonalShiftSpec {
    /// The shifted zone's weight falls from 1 to 0 linearly over this (0: at once). Default
    /// 120 s, our pick within "typically up to a few minutes".
    pub drain_ns: Nanos,
    /// An autoshift ends this long after its zone recovers (default 0; no published number).
    pub recovery_ns: Nanos,
    /// A manual shift's expiry must be within [min, max] of its start (1 min, 72 h).
    pub min_expiry_ns: Nanos,
    pub max_expiry_ns: Nanos,
}

impl Default for ZonalShiftSpec {
    fn default() -> Self {
        ZonalShiftSpec {
            drain_ns: 120 * NS_PER_S,
            recovery_ns: 0,
            min_expiry_ns: 60 * NS_PER_S,
            max_expiry_ns: 72 * 3600 * NS_PER_S,
        }
    }
}

/// Who asked for a shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A customer's zonal shift, with an expiry.
    Manual,
    /// Zonal autoshift, while the zone is impaired.
    Auto,
}

/// Why a shift was not applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    NoSuchZone,
    /// "If all targets in the other AZs are unhealthy, the shift is not applied."
    OthersUnhealthy,
    /// Another zone is shifted by a shift of the same or higher precedence.
    ShiftActive,
    /// A manual shift is active: autoshift yields to it.
    ManualActive,
    /// The manual expiry is outside [`ZonalShiftSpec::min_expiry_ns`, `max_expiry_ns`].
    ExpiryOutOfRange,
}

/// What happened, dated, for the model to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Started { zone: usize, trigger: Trigger, at_ns: Nanos },
    Refused { zone: usize, trigger: Trigger, at_ns: Nanos, reason: Reason },
    Ended { zone: usize, trigger: Trigger, at_ns: Nanos },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shift {
    zone: usize,
    trigger: Trigger,
    /// When the zone's drain began.
    start_ns: Nanos,
    /// Manual: the expiry. Auto: recovery plus the hold, once the zone has recovered.
    end_ns: Option<Nanos>,
}

/// One resource's zonal shift state over `zones` zones.
#[derive(Clone, Debug)]
pub struct ZonalShift {
    spec: ZonalShiftSpec,
    zones: usize,
    active: Option<Shift>,
}

impl ZonalShift {
    pub fn new(spec: ZonalShiftSpec, zones: usize) -> ZonalShift {
        ZonalShift { spec, zones, active: None }
    }

    /// The zone shifted away from and by whom, unless the shift has ended by `now`.
    pub fn active(&self, now: Nanos) -> Option<(usize, Trigger)> {
        self.live(now).map(|s| (s.zone, s.trigger))
    }

    /// `zone`'s traffic weight at `now`: 1, or during a shift of it `1 - elapsed / drain`
    /// down to 0. Back to 1 at once at the shift's end (our choice: ARC returns traffic
    /// without a published ramp).
    pub fn weight(&self, now: Nanos, zone: usize) -> f64 {
        match self.live(now) {
            Some(s) if s.zone == zone => {
                let elapsed = now.saturating_sub(s.start_ns);
                if elapsed >= self.spec.drain_ns {
                    0.0
                } else {
                    1.0 - elapsed as f64 / self.spec.drain_ns as f64
                }
            }
            _ => 1.0,
        }
    }

    /// A customer shifts `zone` away until `expires_at_ns`, given each zone's health at
    /// `now`. It replaces an autoshift (which ends now; on the same zone the drain goes on
    /// from where it is); on the zone already shifted manually it sets the new expiry.
    pub fn start(&mut self, now: Nanos, zone: usize, expires_at_ns: Nanos, healthy: &[bool], out: &mut Vec<Action>) {
        self.update(now, out);
        let in_range = expires_at_ns >= now.saturating_add(self.spec.min_expiry_ns)
            && expires_at_ns <= now.saturating_add(self.spec.max_expiry_ns);
        let refusal = match self.active {
            _ if zone >= self.zones => Some(Reason::NoSuchZone),
            _ if !in_range => Some(Reason::ExpiryOutOfRange),
            Some(s) if s.trigger == Trigger::Manual && s.zone == zone => {
                self.active = Some(Shift { end_ns: Some(expires_at_ns), ..s });
                return;
            }
            Some(s) if s.trigger == Trigger::Manual => Some(Reason::ShiftActive),
            _ if !others_healthy(zone, healthy) => Some(Reason::OthersUnhealthy),
            _ => None,
        };
        if let Some(reason) = refusal {
            out.push(Action::Refused { zone, trigger: Trigger::Manual, at_ns: now, reason });
            return;
        }
        let mut start_ns = now;
        if let Some(auto) = self.active.take() {
            out.push(Action::Ended { zone: auto.zone, trigger: Trigger::Auto, at_ns: now });
            if auto.zone == zone {
                start_ns = auto.start_ns;
            }
        }
        self.active = Some(Shift { zone, trigger: Trigger::Manual, start_ns, end_ns: Some(expires_at_ns) });
        out.push(Action::Started { zone, trigger: Trigger::Manual, at_ns: now });
    }

    /// `zone`'s alarm went to Alarm at `now`: autoshift away from it, unless a shift is
    /// active or every other zone is unhealthy. An autoshift of this zone waiting out its
    /// hold goes on.
    pub fn zone_impaired(&mut self, now: Nanos, zone: usize, healthy: &[bool], out: &mut Vec<Action>) {
        self.update(now, out);
        let refusal = match self.active {
            _ if zone >= self.zones => Some(Reason::NoSuchZone),
            Some(s) if s.trigger == Trigger::Manual => Some(Reason::ManualActive),
            Some(s) if s.zone == zone => {
                self.active = Some(Shift { end_ns: None, ..s });
                return;
            }
            Some(_) => Some(Reason::ShiftActive),
            None if !others_healthy(zone, healthy) => Some(Reason::OthersUnhealthy),
            None => None,
        };
        match refusal {
            Some(reason) => out.push(Action::Refused { zone, trigger: Trigger::Auto, at_ns: now, reason }),
            None => {
                self.active = Some(Shift { zone, trigger: Trigger::Auto, start_ns: now, end_ns: None });
                out.push(Action::Started { zone, trigger: Trigger::Auto, at_ns: now });
            }
        }
    }

    /// `zone`'s alarm left Alarm at `now`: its autoshift ends after the recovery hold.
    pub fn zone_recovered(&mut self, now: Nanos, zone: usize, out: &mut Vec<Action>) {
        if let Some(s) = self.active.as_mut() {
            if s.trigger == Trigger::Auto && s.zone == zone && s.end_ns.is_none() {
                s.end_ns = Some(now.saturating_add(self.spec.recovery_ns));
            }
        }
        self.update(now, out);
    }

    /// Ends a shift whose end has come by `now`, dated at its end.
    pub fn update(&mut self, now: Nanos, out: &mut Vec<Action>) {
        if let Some(s) = self.active {
            if let Some(end) = s.end_ns.filter(|&end| end <= now) {
                out.push(Action::Ended { zone: s.zone, trigger: s.trigger, at_ns: end });
                self.active = None;
            }
        }
    }

    fn live(&self, now: Nanos) -> Option<Shift> {
        self.active.filter(|s| s.end_ns.is_none_or(|end| now < end))
    }
}

/// Is some zone other than `zone` healthy? (Zones missing from `healthy` are not.)
fn others_healthy(zone: usize, healthy: &[bool]) -> bool {
    healthy.iter().enumerate().any(|(k, &ok)| k != zone && ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::{Ended, Refused, Started};
    use Trigger::{Auto, Manual};

    const S: Nanos = NS_PER_S;
    const MIN: Nanos = 60 * S;
    const ALL: [bool; 3] = [true; 3];

    #[test]
    fn the_weight_drains_linearly_and_only_in_the_shifted_zone() {
        let mut z = ZonalShift::new(ZonalShiftSpec::default(), 3);
        let mut out = Vec::new();
        z.start(100 * S, 1, 100 * S + 30 * MIN, &ALL, &mut out);
        assert_eq!(out, [Started { zone: 1, trigger: Manual, at_ns: 100 * S }]);
        // Drain 120 s from 100 s: (time, weight of zone 1).
        for (t, w) in [(100, 1.0), (130, 0.75), (160, 0.5), (220, 0.0), (1000, 0.0)] {
            assert_eq!(z.weight(t * S, 1), w, "t = {t} s");
            assert_eq!((z.weight(t * S, 0), z.weight(t * S, 2)), (1.0, 1.0));
        }
        // No drain: 0 at once.
        let mut z = ZonalShift::new(ZonalShiftSpec { drain_ns: 0, ..Default::default() }, 3);
        z.zone_impaired(5 * S, 2, &ALL, &mut out);
        assert_eq!(z.weight(5 * S, 2), 0.0);
    }

    #[test]
    fn a_shift_is_refused_when_every_other_zone_is_unhealthy() {
        let mut z = ZonalShift::new(ZonalShiftSpec::default(), 3);
        let mut out = Vec::new();
        z.start(0, 0, 30 * MIN, &[true, false, false], &mut out);
        z.zone_impaired(S, 0, &[false, false, false], &mut out);
        let refused = |at_ns, trigger| Refused { zone: 0, trigger, at_ns, reason: Reason::OthersUnhealthy };
        assert_eq!(out, [refused(0, Manual), refused(S, Auto)]);
        assert_eq!((z.active(S), z.weight(S, 0)), (None, 1.0));
        // One healthy zone besides it is enough.
        out.clear();
        z.zone_impaired(2 * S, 0, &[false, false, true], &mut out);
        assert_eq!(out, [Started { zone: 0, trigger: Auto, at_ns: 2 * S }]);
        // Bad arguments.
        out.clear();
        z.start(3 * S, 3, 30 * MIN, &ALL, &mut out);
        z.start(3 * S, 1, 3 * S + 59 * S, &ALL, &mut out);
        z.start(3 * S, 1, 3 * S + 72 * 60 * MIN + 1, &ALL, &mut out);
        let reasons: Vec<_> =
            out.iter().map(|a| matches!(a, Refused { reason, .. } if *reason != Reason::ShiftActive)).collect();
        assert_eq!(reasons, [true, true, true]);
    }

    #[test]
    fn a_manual_shift_takes_precedence_over_an_autoshift() {
        let mut z = ZonalShift::new(ZonalShiftSpec::default(), 3);
        let mut out = Vec::new();
        z.zone_impaired(0, 0, &ALL, &mut out);
        z.start(60 * S, 1, 60 * S + 30 * MIN, &ALL, &mut out);
        z.zone_impaired(90 * S, 2, &ALL, &mut out);
        z.start(90 * S, 2, 90 * S + 30 * MIN, &ALL, &mut out);
        assert_eq!(
            out,
            [
                Started { zone: 0, trigger: Auto, at_ns: 0 },
                Ended { zone: 0, trigger: Auto, at_ns: 60 * S },
                Started { zone: 1, trigger: Manual, at_ns: 60 * S },
                Refused { zone: 2, trigger: Auto, at_ns: 90 * S, reason: Reason::ManualActive },
                Refused { zone: 2, trigger: Manual, at_ns: 90 * S, reason: Reason::ShiftActive },
            ]
        );
        assert_eq!((z.weight(90 * S, 0), z.weight(90 * S, 1)), (1.0, 0.75));
        // A manual shift of the autoshifted zone goes on draining from where it was.
        let mut z = ZonalShift::new(ZonalShiftSpec::default(), 3);
        z.zone_impaired(0, 0, &ALL, &mut out);
        z.start(60 * S, 0, 60 * S + 30 * MIN, &ALL, &mut out);
        assert_eq!((z.weight(60 * S, 0), z.active(60 * S)), (0.5, Some((0, Manual))));
    }

    #[test]
    fn expiry_and_recovery_end_the_shift_and_restore_the_weight() {
        let mut z = ZonalShift::new(ZonalShiftSpec::default(), 3);
        let mut out = Vec::new();
        z.start(0, 2, 30 * MIN, &ALL, &mut out);
        assert_eq!(z.weight(30 * MIN - 1, 2), 0.0);
        assert_eq!(z.weight(30 * MIN, 2), 1.0);
        // Noticed late, dated at the expiry.
        out.clear();
        z.update(31 * MIN, &mut out);
        assert_eq!(out, [Ended { zone: 2, trigger: Manual, at_ns: 30 * MIN }]);
        // Autoshift: while impaired, then a 60 s hold; impaired again in the hold, it goes on.
        let mut z = ZonalShift::new(ZonalShiftSpec { recovery_ns: 60 * S, ..Default::default() }, 3);
        out.clear();
        z.zone_impaired(0, 1, &ALL, &mut out);
        z.zone_recovered(600 * S, 1, &mut out);
        z.zone_impaired(630 * S, 1, &ALL, &mut out);
        z.update(700 * S, &mut out);
        assert_eq!(z.weight(700 * S, 1), 0.0);
        z.zone_recovered(800 * S, 1, &mut out);
        assert_eq!(z.weight(859 * S, 1), 0.0);
        z.update(860 * S, &mut out);
        assert_eq!(z.weight(860 * S, 1), 1.0);
        let ends = [Started { zone: 1, trigger: Auto, at_ns: 0 }, Ended { zone: 1, trigger: Auto, at_ns: 860 * S }];
        assert_eq!(out, ends);
    }
}
