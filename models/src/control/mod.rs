//! The controllers of reference section 4 ("Autoscaling", "AZ evacuation and zonal shift"):
//! event-free state machines fed `now` and observations. The model runs them from its
//! periodic ticks and turns their answers into actions (launches, replica counts, traffic
//! weights); nothing here schedules events or reads a clock.
//!
//! - [`alarm`]: the one detector, a CloudWatch-style M-of-N threshold alarm.
//! - [`hpa`]: Kubernetes' Horizontal Pod Autoscaler.
//! - [`target_tracking`]: EC2 Auto Scaling target tracking, on two alarms.
//! - [`zonal_shift`]: ARC zonal shift and autoshift, as per-zone traffic weights.
//! - [`replacement`]: an auto scaling group's launches (health replacement and scale-out),
//!   boot time, insufficient-capacity retries, and its zone balancing.
//! - [`rollout`]: a deployment rolled through cells in waves with a bake time, halted by an
//!   alarm, rolled back (issue 13; not yet in the format).

pub mod alarm;
pub mod hpa;
pub mod replacement;
pub mod rollout;
pub mod target_tracking;
pub mod zonal_shift;
