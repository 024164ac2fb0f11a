//! `[noise]`: the fleet's background noise, each part with its defaults and ranges.

use super::Checker;
use crate::dist::Dist;
use crate::faults::noise::{NetworkNoise, NoiseSpec, Pauses, Steal};
use crate::scenario::NoiseSection;
use crate::units::Loc;
use cellsim_sim::{NS_PER_MS, NS_PER_S};

impl Checker<'_> {
    /// `[noise]`, or nothing when `enabled = false`.
    pub(super) fn noise(&mut self, section: &Loc<NoiseSection>) -> Option<NoiseSpec> {
        let n = &section.value;
        let steal = n.cpu_steal.as_ref().map(|s| {
            let s = &s.value;
            let share = self.share(&s.percent, "noise.cpu_steal.percent", 10.0);
            let segment_ns = self.at_least_a_ms(&s.segment, "noise.cpu_steal.segment", 60 * NS_PER_S);
            let low = self.multiplier(&s.low, "noise.cpu_steal.low", 1.0);
            let high = self.multiplier(&s.high, "noise.cpu_steal.high", 1.5);
            if high < low {
                let span = s.high.as_ref().or(s.low.as_ref()).map_or(section.span.clone(), |h| h.span.clone());
                self.err(span, "noise.cpu_steal.high", format!("high ({high}) must be at least low ({low})"))
                    .hint("low = high gives every noisy instance that one multiplier");
            }
            (share, Steal { segment_ns: segment_ns as f64, low, high })
        });
        let pauses = n.pauses.as_ref().map(|p| {
            let p = &p.value;
            let share = self.share(&p.percent, "noise.pauses.percent", 100.0);
            let every_ns = self.at_least_a_ms(&p.every, "noise.pauses.every", 10 * NS_PER_S);
            let pause = match &p.pause {
                Some(d) => self.dist(d, "noise.pauses.pause"),
                None => Dist::lognormal(10.0 * NS_PER_MS as f64, 100.0 * NS_PER_MS as f64),
            };
            Pauses { share, every_ns: every_ns as f64, pause }
        });
        let network = n.network.as_ref().map(|m| {
            let m = &m.value;
            let jitter_ns = m.jitter.as_ref().map_or(NS_PER_MS / 10, |j| j.value.ns());
            let spike_p = self.share(&m.spike_percent, "noise.network.spike_percent", 0.01);
            let spike = match &m.spike {
                Some(d) => self.dist(d, "noise.network.spike"),
                None => Dist::Constant(200 * NS_PER_MS),
            };
            NetworkNoise { jitter_ns, spike_p, spike }
        });
        (n.enabled != Some(false)).then_some(NoiseSpec { steal, pauses, network })
    }

    /// A percentage from 0 to 100 at `path`, as a share from 0 to 1.
    fn share(&mut self, v: &Option<Loc<f64>>, path: &str, default_percent: f64) -> f64 {
        match v {
            Some(p) if !(0.0..=100.0).contains(&p.value) => {
                let key = path.rsplit('.').next().unwrap_or(path);
                self.err(p.span.clone(), path, format!("{key} must be from 0 to 100, not {}", p.value))
                    .hint(format!("leave it out for the default, {default_percent}"));
                default_percent / 100.0
            }
            Some(p) => p.value / 100.0,
            None => default_percent / 100.0,
        }
    }

    /// A service-time multiplier from 1 to 100 at `path`.
    fn multiplier(&mut self, v: &Option<Loc<f64>>, path: &str, default: f64) -> f64 {
        match v {
            Some(m) if !(1.0..=100.0).contains(&m.value) => {
                let key = path.rsplit('.').next().unwrap_or(path);
                self.err(m.span.clone(), path, format!("{key} must be from 1 to 100, not {}", m.value))
                    .hint("a multiplier: 1.5 makes work take half as long again; 1 is a quiet instance");
                default
            }
            Some(m) => m.value,
            None => default,
        }
    }

    /// A duration of at least 1 ms at `path` (noise changing faster is not noise the model
    /// can afford to draw).
    fn at_least_a_ms(&mut self, v: &Option<Loc<crate::units::Duration>>, path: &str, default_ns: u64) -> u64 {
        match v {
            Some(d) if d.value.ns() < NS_PER_MS => {
                let key = path.rsplit('.').next().unwrap_or(path);
                self.err(d.span.clone(), path, format!("{key} must be at least 1ms"))
                    .hint(format!("leave it out for the default, {}", cellsim_sim::format_ns(default_ns)));
                default_ns
            }
            Some(d) => d.value.ns(),
            None => default_ns,
        }
    }
}
