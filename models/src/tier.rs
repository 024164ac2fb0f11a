//! The speed tiers: which checks a run's model is compiled with. A scenario runs in the
//! lowest tier that covers every feature it uses (`Features::tier`, in `features.rs`); a
//! faster tier compiles the checks of the features it does not cover out of the event loop.

/// A speed tier, as a type: the model is generic over it, and each associated constant
/// switches a group of checks on or off at compile time.
pub trait Tier: 'static {
    /// The tier as a value, for reports and tests.
    const KIND: TierKind;
    /// Call policies (budgets, breakers, bulkheads, throttling, hedging, fallbacks, deadlines
    /// carried by calls) and fleets (load balancers, health checks, outlier ejection, outages).
    const POLICIES: bool;
    /// The checks on every hop that policies alone do not need: deadlines at services, load
    /// shedding, concurrency limits, faults and error probabilities.
    const EXTRAS: bool;
}

/// No policy, fleet, shedding, deadline, fault or error probability: plain calls (timeouts
/// and simple retries) between round-robin services.
pub struct Lean;
/// Call policies and fleets, but nothing of `Full`'s.
pub struct Policies;
/// Everything.
pub struct Full;

impl Tier for Lean {
    const KIND: TierKind = TierKind::Lean;
    const POLICIES: bool = false;
    const EXTRAS: bool = false;
}

impl Tier for Policies {
    const KIND: TierKind = TierKind::Policies;
    const POLICIES: bool = true;
    const EXTRAS: bool = false;
}

impl Tier for Full {
    const KIND: TierKind = TierKind::Full;
    const POLICIES: bool = true;
    const EXTRAS: bool = true;
}

/// A tier as a value, ordered from the fastest (fewest checks) to the most general.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TierKind {
    Lean,
    Policies,
    Full,
}

impl TierKind {
    pub const ALL: [TierKind; 3] = [TierKind::Lean, TierKind::Policies, TierKind::Full];

    pub fn name(self) -> &'static str {
        match self {
            TierKind::Lean => "lean",
            TierKind::Policies => "policies",
            TierKind::Full => "full",
        }
    }
}
