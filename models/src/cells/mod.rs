//! Cells and their routers, event-free: how a request's partition key (its customer id) maps
//! to a cell. The model asks a [`Router`] at each attempt of a routed call; nothing here
//! schedules events.

pub mod route;

pub use route::{Migration, RouteKind, RouteSpec, Router};
