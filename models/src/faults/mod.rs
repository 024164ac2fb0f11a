//! Faults: the catalogue of what can be injected (`catalogue`) and what is broken at the
//! present instant (`state`). Event-free: the model applies the transitions and asks the state.
//!
//! # When a fault acts
//!
//! A fault acts over `[start, start + duration)`. Its start and end are transitions on a
//! timeline kept beside the event queue, not events in it: before the model handles the first
//! event at or after a transition's instant, it applies every transition due by then. So at an
//! instant `t`, every event sees the faults with `start <= t < end`, whatever order the events
//! at `t` were scheduled in, and transitions are not counted as events.

pub mod catalogue;
pub mod dns;
pub mod memory;
pub mod network;
pub mod noise;
pub mod random;
pub mod state;

pub use catalogue::{CpuStress, FaultKind, FaultSpec, FaultTarget, Link, Pick, RandomFault};
pub use state::FaultState;
