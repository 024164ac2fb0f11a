//! A deployment rolled through cells in waves (the S3 2017 and Kinesis 2020 shape of
//! failure): wave k starts `bake` after wave k - 1 and puts the new version on its cells; an
//! alarm that fires halts the rollout (no later wave starts) and, with a rollback, returns
//! every cell that has the new version to the old one after `rollback` time. Event-free and
//! not yet in the format: the model will feed it `now` and the alarm, and ask which version
//! a cell runs.

use cellsim_sim::Nanos;

/// The plan: which cells each wave takes, when the first starts, how long each bakes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutSpec {
    pub waves: Vec<Vec<u32>>,
    pub start_ns: Nanos,
    pub bake_ns: Nanos,
    /// How long a rollback takes to put the old version back (`None`: no rollback: a halted
    /// rollout leaves the new version where it is).
    pub rollback_ns: Option<Nanos>,
}

/// A rollout under way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    spec: RolloutSpec,
    /// When the alarm halted it (`None`: it has not).
    halted_ns: Option<Nanos>,
}

impl Rollout {
    pub fn new(spec: RolloutSpec) -> Rollout {
        Rollout { spec, halted_ns: None }
    }

    /// When wave `k` starts, unless a halt stops it first.
    pub fn wave_start_ns(&self, k: usize) -> Nanos {
        self.spec.start_ns.saturating_add(self.spec.bake_ns.saturating_mul(k as u64))
    }

    /// The waves started by `now`: those whose start came before the halt, if any.
    pub fn waves_started(&self, now: Nanos) -> usize {
        let until = self.halted_ns.map_or(now, |h| h.min(now));
        (0..self.spec.waves.len()).take_while(|&k| self.wave_start_ns(k) <= until).count()
    }

    /// The alarm fired at `now`: no later wave starts (the first halt counts).
    pub fn halt(&mut self, now: Nanos) {
        self.halted_ns.get_or_insert(now);
    }

    /// Does `cell` run the new version at `now`? It does from its wave's start, until the
    /// rollback after a halt has put the old one back.
    pub fn new_version(&self, cell: u32, now: Nanos) -> bool {
        self.spec.waves.iter().position(|w| w.contains(&cell)).is_some_and(|k| self.wave_new_version(k, now))
    }

    /// Does wave `k` run the new version at `now` (`new_version` for a caller that knows
    /// each unit's wave)?
    pub fn wave_new_version(&self, k: usize, now: Nanos) -> bool {
        if k >= self.waves_started(now) {
            return false;
        }
        match (self.halted_ns, self.spec.rollback_ns) {
            (Some(h), Some(back)) => now < h.saturating_add(back),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellsim_sim::NS_PER_S;

    const S: Nanos = NS_PER_S;

    /// Waves of 1, 2 and 5 cells from 60 s, an hour's bake each.
    fn plan(rollback_ns: Option<Nanos>) -> Rollout {
        Rollout::new(RolloutSpec {
            waves: vec![vec![0], vec![1, 2], vec![3, 4, 5, 6, 7]],
            start_ns: 60 * S,
            bake_ns: 3600 * S,
            rollback_ns,
        })
    }

    #[test]
    fn waves_start_one_bake_apart_and_reach_every_cell() {
        let r = plan(None);
        assert!(!r.new_version(0, 60 * S - 1) && r.new_version(0, 60 * S));
        assert!(!r.new_version(2, 3659 * S) && r.new_version(2, 3660 * S));
        assert!(r.new_version(7, 7260 * S));
        assert_eq!(r.waves_started(100_000 * S), 3);
        assert!(!r.new_version(8, 100_000 * S), "a cell in no wave keeps the old version");
    }

    /// The alarm fires 10 minutes into the first wave: the change stays confined to cell 0;
    /// with a 5-minute rollback, cell 0 is back on the old version 5 minutes later.
    #[test]
    fn a_halt_in_the_first_wave_confines_the_change_to_it() {
        let mut r = plan(None);
        r.halt(660 * S);
        assert!(r.new_version(0, 100_000 * S));
        assert!((1..8).all(|c| !r.new_version(c, 100_000 * S)));
        let mut r = plan(Some(300 * S));
        r.halt(660 * S);
        r.halt(700 * S); // a second firing changes nothing
        assert!(r.new_version(0, 959 * S) && !r.new_version(0, 960 * S));
        assert_eq!(r.waves_started(100_000 * S), 1);
    }
}
