//! The glue between calls and their policies (shared/reference/resilience.md sections 1 and
//! 2): a call's policy state, what its budget, breaker and throttle hear when an attempt
//! ends, and bulkhead permits given back. The policies themselves live in `policy/`; the
//! hub turns what they answer into events. Nothing here schedules.

use super::records::{CallExt, Pol, NO_BUDGET};
use super::ServiceModel;
use crate::metrics::SeriesSink;
use crate::outcome::Outcome;
use crate::tier::Tier;
use cellsim_sim::{Handle, Nanos};

impl<S: SeriesSink, T: Tier> ServiceModel<'_, S, T> {
    /// Gives a new call with policies its state, at its slab index.
    #[inline(always)]
    pub(super) fn new_ext(&mut self, call_h: Handle, pol: Pol, deadline_ns: Nanos, now: Nanos) {
        let i = call_h.index as usize;
        if self.exts.len() <= i {
            self.grow_exts(i);
        }
        self.exts[i] = CallExt { pol, attempt_started_ns: now, deadline_ns, ..CallExt::EMPTY };
        if pol.budget != NO_BUDGET {
            self.budgets[pol.budget as usize].on_request(now);
        }
    }

    /// The side table grows with the call slab (rarely: the slab reuses its slots).
    #[cold]
    #[inline(never)]
    fn grow_exts(&mut self, i: usize) {
        self.exts.resize(i + 1, CallExt::EMPTY);
    }

    /// The call's budget, breaker and throttle hear that an attempt sent at
    /// `attempt_started_ns` ended with `outcome`.
    #[inline(always)]
    pub(super) fn policies_hear(
        &mut self,
        pol: Pol,
        attempt: u32,
        outcome: Outcome,
        attempt_started_ns: Nanos,
        now: Nanos,
    ) {
        if pol.budget != NO_BUDGET {
            self.budgets[pol.budget as usize].on_attempt_end(attempt > 1, outcome);
        }
        if pol.breaker != NO_BUDGET {
            let took_ns = now - attempt_started_ns;
            self.breakers[pol.breaker as usize].on_result(now, took_ns, !outcome.is_success());
        }
        if pol.throttle != NO_BUDGET && outcome.is_success() {
            self.throttles[pol.throttle as usize].on_accept(now);
        }
    }

    /// A call succeeded: its budget (if any) gets back what its last retry cost, or its
    /// increment for a success without retries (`last_cost` is `NO_BUDGET`).
    #[inline(always)]
    pub(super) fn refund(&mut self, budget: u32, last_cost: u32) {
        if budget != NO_BUDGET {
            let last = (last_cost != NO_BUDGET).then_some(last_cost);
            self.budgets[budget as usize].on_success(last);
        }
    }

    /// Gives back the bulkhead permits of `call_h`'s attempts in `bits`. Returns the
    /// bulkhead if attempts wait for a permit there (the hub sends one next, after this
    /// event, at the same instant).
    pub(super) fn give_back_permits(&mut self, call_h: Handle, bits: u16) -> Option<u32> {
        let ext = &mut self.exts[call_h.index as usize];
        let held = ext.permits & bits;
        if held == 0 || ext.pol.bulkhead == NO_BUDGET {
            return None;
        }
        ext.permits &= !held;
        let b = ext.pol.bulkhead;
        let bulkhead = &mut self.bulkheads[b as usize];
        bulkhead.release(held.count_ones());
        bulkhead.has_waiting().then_some(b)
    }
}
