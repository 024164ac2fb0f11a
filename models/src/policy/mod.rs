//! Resilience policies as small state machines that take `now` as an argument: backoff,
//! retry budgets, circuit breakers. Each cites the section of
//! `shared/reference/resilience.md` it models and is tested alone, without a simulation.

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod bulkhead;
pub mod throttle;
pub mod window;
