//! The model's events (16 bytes each), and what a handler returns to stop the run.

use crate::outcome::Outcome;
use cellsim_sim::Handle;

/// What an event does; the arguments live in `Event`'s other fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// `arg`: the workload (an open loop).
    Arrival,
    /// `arg`: the workload, a closed loop: a user's next request.
    UserRequest,
    /// `handle`: the job, reaching its instance after network latency.
    JobArrive,
    /// `handle`: the job whose own work ended.
    WorkDone,
    /// `handle`: the call; `arg`: the attempt; `outcome`: the answer.
    Reply,
    /// `arg`: the call spec whose timeout lane has reached its head's deadline.
    TimeoutLane,
    /// `handle`: the call whose backoff ended.
    Retry,
    /// `handle`: a hedged call; `arg`: its copies sent when this timer was set.
    Hedge,
    /// `handle`: a failed call whose fallback answered.
    Fallback,
    /// `arg`: the periodic tick (health checks, outlier sweeps) due now; see `Tick`.
    Tick,
    /// `handle`: the call; `arg`: the attempt whose deadline (capped by the call's own
    /// deadline, so not in a timeout lane) has passed.
    AttemptDeadline,
    /// `arg`: a bulkhead that has a free permit and attempts waiting for one.
    BulkheadPump,
    /// `handle`: the call; `arg`: the attempt whose wait for a bulkhead permit is over.
    BulkheadWait,
}

/// One scheduled event: 16 bytes, 8-aligned, copied as two words. (A Rust enum with these
/// payloads is 15 bytes, and its copies in the event loop were overlapping 8-byte moves that
/// stall store-to-load forwarding.)
#[derive(Clone, Copy, Debug)]
#[repr(C, align(8))]
pub struct Event {
    pub(super) kind: Kind,
    pub(super) outcome: Outcome,
    pub(super) arg: u32,
    pub(super) handle: Handle,
}

impl Event {
    pub(super) fn new(kind: Kind, handle: Handle, arg: u32) -> Event {
        Event { kind, outcome: Outcome::Ok, arg, handle }
    }
}

/// What the model's handlers return to stop the run: the reason waits in
/// `ServiceModel::overload`. (A bare marker keeps the handlers' results small enough to come
/// back in registers: with the reason inside, `resolve`'s result went through the stack and
/// was read back wider than it was written, a store-forwarding stall on every answer.)
#[derive(Clone, Copy, Debug)]
pub struct Halt;

/// Why a run was stopped before its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overload {
    /// More end-to-end requests in flight than `limits.max_in_flight_requests`.
    Requests { limit: u64 },
    /// More service jobs at once than `limits.max_in_flight_jobs`.
    Jobs { limit: u64 },
    /// `limits.max_events` reached counting zero-delay dispatches (a retry storm of
    /// attempts refused at once can run long inside one queued event).
    Events { events: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_two_words() {
        assert_eq!(std::mem::size_of::<Event>(), 16);
        assert_eq!(std::mem::align_of::<Event>(), 8);
    }
}
