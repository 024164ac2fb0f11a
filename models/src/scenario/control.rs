//! The controllers' tables: `[zonal_shift]` and a service's `autoscaling`.

use crate::units::{Duration, Loc};
use schemars::JsonSchema;
use serde::Deserialize;

/// Moving traffic out of a zone: every service placed in more than one zone takes its
/// instances there out of service, gradually over `drain`, and back when the shift ends.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZonalShiftSection {
    /// How long the traffic takes to move out (in-flight connections draining). Default 2m.
    pub drain: Option<Loc<Duration>>,
    /// Shifts by hand.
    #[serde(default, rename = "shift")]
    pub shifts: Vec<Loc<ShiftSection>>,
    /// Zonal autoshift: a shift starts when a zone's alarm goes off and ends when it clears.
    pub auto: Option<Loc<AutoshiftSection>>,
}

/// A shift by hand: traffic out of `zone` from `start` until `expires_after` later.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftSection {
    pub zone: Loc<String>,
    pub start: Loc<Duration>,
    /// From 1 minute to 72 hours (ARC's bounds).
    pub expires_after: Loc<Duration>,
}

/// A zone's alarm: the error rate of the jobs its instances served, per `period`, above
/// `error_rate` in `datapoints` of the last `evaluation_periods` periods (a CloudWatch
/// alarm).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoshiftSection {
    /// A share, from 0 to 1.
    pub error_rate: Loc<f64>,
    /// Default 1m (CloudWatch's usual alarm period).
    pub period: Option<Loc<Duration>>,
    /// Default 3.
    pub datapoints: Option<Loc<u32>>,
    /// Default: `datapoints`.
    pub evaluation_periods: Option<Loc<u32>>,
}

/// Which autoscaling controller a service has.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AutoscalerKind {
    /// Kubernetes' Horizontal Pod Autoscaler.
    Hpa,
    /// EC2 Auto Scaling target tracking.
    TargetTracking,
}

/// A service's autoscaling on its instances' mean utilisation.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscalingSection {
    pub kind: AutoscalerKind,
    /// Bounds on the instances in service; `instances` is how many start.
    pub min: Loc<u32>,
    pub max: Loc<u32>,
    /// The mean utilisation of the in-service instances' workers it keeps, in percent.
    pub target_utilisation: Loc<f64>,
    /// From a launch to the instance in service. Default 30s (hpa: a pod's start), 3m
    /// (target-tracking: an EC2 instance's).
    pub boot_time: Option<Loc<Duration>>,
    /// hpa: how often it computes (default 15s), its tolerance (default 0.1), and its
    /// scale-down stabilization window (default 5m).
    pub sync_period: Option<Loc<Duration>>,
    pub tolerance: Option<Loc<f64>>,
    pub stabilization: Option<Loc<Duration>>,
    /// target-tracking: the metric's period (default 1m), the instance warm-up (default
    /// 5m), the scale-in cooldown (default 5m), and whether it scales in (default true).
    pub period: Option<Loc<Duration>>,
    pub warmup: Option<Loc<Duration>>,
    pub cooldown: Option<Loc<Duration>>,
    pub scale_in: Option<bool>,
}
