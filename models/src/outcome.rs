//! How a request, a call attempt or a job ended, and counts of each: the vocabulary every
//! other module shares (kept apart so that `fleet` and `metrics` need not import each other).

/// How a request, a call attempt or a service job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Outcome {
    /// Succeeded with every call it made.
    Ok,
    /// Succeeded, but an optional call failed: the answer is partial.
    Degraded,
    /// Failed: the service failed, or a critical call of it did.
    Error,
    /// The caller stopped waiting.
    Timeout,
    /// A full queue turned it away.
    Rejected,
    /// The caller's own policy did not send it: its circuit breaker was open.
    Refused,
}

impl Outcome {
    pub const ALL: [Outcome; 6] =
        [Outcome::Ok, Outcome::Degraded, Outcome::Error, Outcome::Timeout, Outcome::Rejected, Outcome::Refused];

    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Degraded)
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Degraded => "degraded",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::Refused => "refused",
        }
    }
}

/// Counts per outcome, indexed by `Outcome as usize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcomes(pub [u64; 6]);

impl Outcomes {
    #[inline]
    pub fn add(&mut self, o: Outcome) {
        self.0[o as usize] += 1;
    }
    pub fn get(&self, o: Outcome) -> u64 {
        self.0[o as usize]
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn successes(&self) -> u64 {
        self.get(Outcome::Ok) + self.get(Outcome::Degraded)
    }
}
