//! The `RunServiceSchedule` API as the actors speak it: actions, outcomes,
//! requests and replies in compact, typed form.
//!
//! The simulated devices build [`Request`]s directly; nothing on the hot path
//! allocates a string. Names are only produced for reports.

use std::fmt;

use crate::fleet::{PodId, RegionId};
use crate::time::SimTime;

/// A device's identity within the run (the API's `Uuid`).
pub type DeviceId = u32;

/// A `ServiceAction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Container scenario: take the nearest idle pod.
    Start,
    /// Container scenario: give the pod back.
    Stop,
}

impl Action {
    /// Every action, in report order.
    pub const ALL: [Action; 2] = [Action::Start, Action::Stop];

    /// The API's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "Start",
            Action::Stop => "Stop",
        }
    }
}

/// How a request ended, as every report counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Carried out.
    Ok,
    /// No idle resource within the strategy.
    NoIdleResource,
    /// Well-formed but impossible (no placement to stop).
    InvalidParameter,
    /// The client IP belongs to no known ISP.
    InvalidClientIp,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::NoIdleResource,
        Outcome::InvalidParameter,
        Outcome::InvalidClientIp,
    ];

    /// The name reports use: `Ok` or the API's error code.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "Ok",
            Outcome::NoIdleResource => "NoIdleResource",
            Outcome::InvalidParameter => "InvalidParameter",
            Outcome::InvalidClientIp => "InvalidParameter.ClientIp",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A request from a device to the scheduler.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request {
    /// Who asks (`Uuid`).
    pub device: DeviceId,
    /// The device's address (`ClientIp`).
    pub client_ip: u32,
    /// What it asks for (`ServiceAction`).
    pub action: Action,
    /// Index of the `ScheduleStrategy` it carries in the run's strategy
    /// table; `None` for no constraint.
    pub strategy: Option<u16>,
    /// When the device meant to send it: latency is measured from here.
    pub sent_at: SimTime,
}

/// The scheduler's answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    /// The request's action.
    pub action: Action,
    /// How it ended.
    pub outcome: Outcome,
    /// The placement, for a successful `Start`.
    pub pod: Option<PodId>,
    /// When the request was sent.
    pub sent_at: SimTime,
    /// Unique per request in the run (`RequestId`).
    pub request_id: u64,
}

/// A placement constraint: the regions a request may be placed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// Allowed regions.
    pub regions: Vec<RegionId>,
}
