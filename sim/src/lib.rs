//! The cellsim engine: simulated time, the event queue, seeded random streams, bounded slabs
//! and the run loop with its budgets.
//!
//! The engine knows nothing of services, cells, requests or faults. A model implements
//! [`Model`] over its own compact, `Copy` event type; [`run`] pops events in time order and
//! hands them to the model until the queue drains or a budget ends the run.
//!
//! # Guarantees
//!
//! - Time is an integer count of nanoseconds ([`Nanos`]); no floating-point clock exists.
//! - Events at the same instant are delivered in the order they were scheduled.
//! - A random stream is a pure function of the master seed, an entity name and a purpose,
//!   so adding an entity never shifts the numbers another entity draws.
//! - Nothing here reads the wall clock or iterates a hash map.
//! - The hot path does not allocate once the queue and slabs have grown to their working size.

mod queue;
mod rng;
mod run;
mod slab;
mod time;

pub use queue::EventQueue;
pub use rng::{derive_seed, Stream};
pub use run::{run, Budget, Model, RunOutcome};
pub use slab::{Handle, Slab};
pub use time::{format_ns, Nanos, NS_PER_MS, NS_PER_S, NS_PER_US};
