//! The run loop and its budgets: the only place simulated time advances.

use crate::queue::EventQueue;
use crate::time::Nanos;

/// A simulation model over its own compact event type.
pub trait Model {
    type Event: Copy;
    /// Why the model asked the run to stop early (for example "too many requests in flight").
    type Stop;

    /// Handles one event at time `now`. Returning `Err` ends the run with that reason.
    fn handle(&mut self, now: Nanos, event: Self::Event, queue: &mut EventQueue<Self::Event>)
        -> Result<(), Self::Stop>;
}

/// Limits that end a run with a verdict rather than letting it run away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Most events handled in one run.
    pub max_events: u64,
    /// Events later than this are not handled; the run ends when the next event is past it.
    pub until_ns: Nanos,
}

/// How a run ended. Each variant carries the count of events handled and the time reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome<S> {
    /// No events were left: everything scheduled was handled.
    Drained { events: u64, at_ns: Nanos },
    /// The next event lay beyond `Budget::until_ns`.
    TimeLimit { events: u64, at_ns: Nanos },
    /// `Budget::max_events` events were handled and more were pending.
    EventBudget { events: u64, at_ns: Nanos },
    /// The model stopped the run.
    Stopped { reason: S, events: u64, at_ns: Nanos },
}

/// Runs `model` until the queue drains or a budget is reached.
pub fn run<M: Model>(model: &mut M, queue: &mut EventQueue<M::Event>, budget: Budget) -> RunOutcome<M::Stop> {
    let mut events = 0u64;
    loop {
        if events >= budget.max_events {
            return match queue.peek_time() {
                None => RunOutcome::Drained { events, at_ns: queue.now() },
                Some(t) if t > budget.until_ns => RunOutcome::TimeLimit { events, at_ns: queue.now() },
                Some(_) => RunOutcome::EventBudget { events, at_ns: queue.now() },
            };
        }
        let last_ns = queue.now();
        if queue.is_empty() {
            return RunOutcome::Drained { events, at_ns: last_ns };
        }
        let (now, event) = queue.pop_earliest();
        if now > budget.until_ns {
            // Put it back untouched, with its sequence number: a later run resumes here.
            queue.unpop(last_ns);
            return RunOutcome::TimeLimit { events, at_ns: last_ns };
        }
        events += 1;
        if let Err(reason) = model.handle(now, event, queue) {
            return RunOutcome::Stopped { reason, events, at_ns: now };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Re-schedules itself every 10 ns; stops when told to at a given count.
    struct Ticker {
        seen: Vec<Nanos>,
        stop_after: usize,
    }
    impl Model for Ticker {
        type Event = ();
        type Stop = &'static str;
        fn handle(&mut self, now: Nanos, _: (), q: &mut EventQueue<()>) -> Result<(), &'static str> {
            self.seen.push(now);
            if self.seen.len() == self.stop_after {
                return Err("enough");
            }
            q.schedule_in(10, ());
            Ok(())
        }
    }

    fn start() -> EventQueue<()> {
        let mut q = EventQueue::new();
        q.schedule_at(0, ());
        q
    }

    #[test]
    fn time_limit_ends_before_the_first_late_event() {
        let mut m = Ticker { seen: vec![], stop_after: usize::MAX };
        let out = run(&mut m, &mut start(), Budget { max_events: 1000, until_ns: 35 });
        assert_eq!(m.seen, vec![0, 10, 20, 30]);
        assert_eq!(out, RunOutcome::TimeLimit { events: 4, at_ns: 30 });
    }

    #[test]
    fn event_budget_and_model_stop_are_reported() {
        let mut m = Ticker { seen: vec![], stop_after: usize::MAX };
        let out = run(&mut m, &mut start(), Budget { max_events: 3, until_ns: u64::MAX });
        assert_eq!(out, RunOutcome::EventBudget { events: 3, at_ns: 20 });
        let mut m = Ticker { seen: vec![], stop_after: 2 };
        let out = run(&mut m, &mut start(), Budget { max_events: 100, until_ns: u64::MAX });
        assert_eq!(out, RunOutcome::Stopped { reason: "enough", events: 2, at_ns: 10 });
    }

    /// Stopping at a time and running on handles the same events in the same order as one
    /// run straight through, ties at an instant included.
    #[test]
    fn a_run_resumed_after_a_time_limit_keeps_the_order() {
        struct Log(Vec<(Nanos, u32)>);
        impl Model for Log {
            type Event = u32;
            type Stop = ();
            fn handle(&mut self, now: Nanos, e: u32, q: &mut EventQueue<u32>) -> Result<(), ()> {
                self.0.push((now, e));
                if e < 40 {
                    // Two children at one later instant: ties in scheduling order.
                    q.schedule_in(10 * (e as Nanos % 3), e + 10);
                    q.schedule_in(10 * (e as Nanos % 3), e + 20);
                }
                Ok(())
            }
        }
        let queue = || {
            let mut q = EventQueue::new();
            for e in 0..6u32 {
                q.schedule_at(5 * (e as Nanos % 2), e);
            }
            q
        };
        let mut whole = Log(vec![]);
        run(&mut whole, &mut queue(), Budget { max_events: 10_000, until_ns: u64::MAX });
        let mut stepped = Log(vec![]);
        let mut q = queue();
        for until_ns in [0, 4, 5, 9, 10, 19, 30, u64::MAX] {
            run(&mut stepped, &mut q, Budget { max_events: 10_000, until_ns });
        }
        assert!(whole.0.len() > 20);
        assert_eq!(stepped.0, whole.0);
    }

    #[test]
    fn empty_queue_drains() {
        let mut m = Ticker { seen: vec![], stop_after: 1 };
        let out = run(&mut m, &mut EventQueue::new(), Budget { max_events: 1, until_ns: 1 });
        assert_eq!(out, RunOutcome::Drained { events: 0, at_ns: 0 });
    }
}
