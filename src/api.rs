//! The `RunServiceSchedule` API as the actors speak it: actions, outcomes,
//! requests and replies in compact, typed form.
//!
//! Simulated devices build [`Request`]s directly and nothing on the hot path
//! allocates a string. The JSON form of the API, with its parameter checks and
//! response fields, is in [`crate::call`]; a malformed request reaches the
//! scheduler as a [`Request`] whose `rejected` names the error the API front
//! found, so that rejecting it costs scheduler time like any other request.

use std::fmt;

use crate::fleet::{PodId, RegionId};
use crate::time::SimTime;

/// A device's identity within the run (the API's `Uuid`).
pub type DeviceId = u32;
/// An application (`AppId`), numbered from 1; 0 means none yet.
pub type AppId = u32;

/// A `ServiceAction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Container scenario: take the nearest idle pod.
    Start,
    /// Container scenario: give the pod back (also ends a confirmed VM).
    Stop,
    /// Either scenario: answer with the current placement.
    Console,
    /// VM scenario: lock the nearest idle instance for a while.
    PreSchedule,
    /// VM scenario: turn the lock into a placement.
    Confirm,
    /// VM scenario: drop the lock.
    Cancel,
}

impl Action {
    /// Every action, in report order.
    pub const ALL: [Action; 6] = [
        Action::Start,
        Action::Stop,
        Action::Console,
        Action::PreSchedule,
        Action::Confirm,
        Action::Cancel,
    ];

    /// The API's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Start => "Start",
            Action::Stop => "Stop",
            Action::Console => "Console",
            Action::PreSchedule => "PreSchedule",
            Action::Confirm => "Confirm",
            Action::Cancel => "Cancel",
        }
    }

    /// The action called `name`, exactly as the API spells it.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A request parameter, as named in `InvalidParameter.<Field>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `AppId`.
    AppId,
    /// `Uuid`.
    Uuid,
    /// `ClientIp`.
    ClientIp,
    /// `ServiceAction`.
    ServiceAction,
    /// `PodConfigName`.
    PodConfigName,
    /// `PreLockedTimeout`.
    PreLockedTimeout,
    /// `Directorys`.
    Directorys,
    /// `ServiceCommands`.
    ServiceCommands,
    /// `ScheduleStrategy`.
    ScheduleStrategy,
}

impl Field {
    /// Every field, in the reference's order.
    pub const ALL: [Field; 9] = [
        Field::AppId,
        Field::Uuid,
        Field::ClientIp,
        Field::ServiceAction,
        Field::PodConfigName,
        Field::PreLockedTimeout,
        Field::Directorys,
        Field::ServiceCommands,
        Field::ScheduleStrategy,
    ];

    /// The parameter's name.
    pub fn name(self) -> &'static str {
        match self {
            Field::AppId => "AppId",
            Field::Uuid => "Uuid",
            Field::ClientIp => "ClientIp",
            Field::ServiceAction => "ServiceAction",
            Field::PodConfigName => "PodConfigName",
            Field::PreLockedTimeout => "PreLockedTimeout",
            Field::Directorys => "Directorys",
            Field::ServiceCommands => "ServiceCommands",
            Field::ScheduleStrategy => "ScheduleStrategy",
        }
    }
}

/// How a request ended, as every report counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Carried out.
    Ok,
    /// Carried out before: the same placement again, `RequestRepeated` true.
    Repeated,
    /// No idle resource within the strategy.
    NoIdleResource,
    /// A `PreSchedule` lock that was neither confirmed nor cancelled in time.
    LockExpired,
    /// `MissingParameter`: a required parameter is absent or empty.
    MissingParameter,
    /// `NoPermission`: the device belongs to another `AppId`.
    NoPermission,
    /// `InvalidParameter.<Field>`: a malformed parameter.
    InvalidField(Field),
    /// `InvalidParameter`: well-formed but impossible now.
    InvalidParameter,
    /// `LimitExceeded.SecurityGroup`: the instance has no room for another port range.
    SecurityGroupLimit,
    /// `ens.interface.error`: a backend call failed.
    BackendError,
    /// `CallInterface`: a dependent interface failed or timed out.
    CallInterface,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 19] = [
        Outcome::Ok,
        Outcome::Repeated,
        Outcome::NoIdleResource,
        Outcome::LockExpired,
        Outcome::MissingParameter,
        Outcome::NoPermission,
        Outcome::InvalidField(Field::AppId),
        Outcome::InvalidField(Field::Uuid),
        Outcome::InvalidField(Field::ClientIp),
        Outcome::InvalidField(Field::ServiceAction),
        Outcome::InvalidField(Field::PodConfigName),
        Outcome::InvalidField(Field::PreLockedTimeout),
        Outcome::InvalidField(Field::Directorys),
        Outcome::InvalidField(Field::ServiceCommands),
        Outcome::InvalidField(Field::ScheduleStrategy),
        Outcome::InvalidParameter,
        Outcome::SecurityGroupLimit,
        Outcome::BackendError,
        Outcome::CallInterface,
    ];

    /// Position in [`Outcome::ALL`].
    pub fn index(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::Repeated => 1,
            Outcome::NoIdleResource => 2,
            Outcome::LockExpired => 3,
            Outcome::MissingParameter => 4,
            Outcome::NoPermission => 5,
            Outcome::InvalidField(f) => 6 + f as usize,
            Outcome::InvalidParameter => 15,
            Outcome::SecurityGroupLimit => 16,
            Outcome::BackendError => 17,
            Outcome::CallInterface => 18,
        }
    }

    /// The name reports use: `Ok`, `Repeated`, `NoIdleResource`,
    /// `LockExpired`, or the API's error code.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "Ok",
            Outcome::Repeated => "Repeated",
            Outcome::NoIdleResource => "NoIdleResource",
            Outcome::LockExpired => "LockExpired",
            Outcome::MissingParameter => "MissingParameter",
            Outcome::NoPermission => "NoPermission",
            Outcome::InvalidField(f) => match f {
                Field::AppId => "InvalidParameter.AppId",
                Field::Uuid => "InvalidParameter.Uuid",
                Field::ClientIp => "InvalidParameter.ClientIp",
                Field::ServiceAction => "InvalidParameter.ServiceAction",
                Field::PodConfigName => "InvalidParameter.PodConfigName",
                Field::PreLockedTimeout => "InvalidParameter.PreLockedTimeout",
                Field::Directorys => "InvalidParameter.Directorys",
                Field::ServiceCommands => "InvalidParameter.ServiceCommands",
                Field::ScheduleStrategy => "InvalidParameter.ScheduleStrategy",
            },
            Outcome::InvalidParameter => "InvalidParameter",
            Outcome::SecurityGroupLimit => "LimitExceeded.SecurityGroup",
            Outcome::BackendError => "ens.interface.error",
            Outcome::CallInterface => "CallInterface",
        }
    }

    /// True for the answers that carry a placement (`Ok`, `Repeated`).
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Repeated)
    }

    /// The HTTP status of the answer: 200, or 400 for every error.
    pub fn http_status(self) -> u16 {
        if self.is_success() { 200 } else { 400 }
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

/// The default `PreLockedTimeout`, in seconds.
pub const DEFAULT_LOCK_TIMEOUT_S: u32 = 300;

/// A request from a device to the scheduler.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request {
    /// The application (`AppId`).
    pub app: AppId,
    /// Who asks (`Uuid`).
    pub device: DeviceId,
    /// The device's address (`ClientIp`).
    pub client_ip: u32,
    /// What it asks for (`ServiceAction`).
    pub action: Action,
    /// `PreLockedTimeout`, in seconds.
    pub lock_timeout_s: u32,
    /// Number of commands in `ServiceCommands`.
    pub commands: u16,
    /// Index of its `ScheduleStrategy` in the run's strategy table.
    pub strategy: Option<u16>,
    /// The error the API front found in the request, if it is malformed.
    pub rejected: Option<Outcome>,
    /// When the device meant to send it: latency is measured from here.
    pub sent_at: SimTime,
}

impl Request {
    /// A well-formed request with no optional parameters.
    pub fn new(
        app: AppId,
        device: DeviceId,
        client_ip: u32,
        action: Action,
        sent_at: SimTime,
    ) -> Request {
        Request {
            app,
            device,
            client_ip,
            action,
            lock_timeout_s: DEFAULT_LOCK_TIMEOUT_S,
            commands: 0,
            strategy: None,
            rejected: None,
            sent_at,
        }
    }
}

/// Why a well-formed request could not be carried out (`InvalidParameter`),
/// or why it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detail {
    /// Nothing to add.
    None,
    /// `Stop` with no placement.
    NoPlacement,
    /// `Confirm` or `Cancel` with no lock.
    NoLock,
    /// `Confirm` or `Cancel` after the lock expired.
    LockExpired,
    /// `PreSchedule` while the device holds a pod.
    HoldsPod,
    /// `Start` while the device holds or locks a whole instance.
    HoldsInstance,
    /// `Stop` while the device only holds a lock.
    OnlyLocked,
    /// `Console` for a device not in the scheduling state.
    NotScheduled,
    /// The device belongs to another application.
    OtherApp,
    /// The client IP is in no known ISP range.
    UnknownAddress,
    /// The chosen instance's security group is full.
    SecurityGroupFull,
    /// An injected backend failure.
    BackendFailed,
    /// An injected failure of a dependent interface.
    DependencyFailed,
}

impl Detail {
    /// A sentence for the answer's `Message`.
    pub fn message(self) -> &'static str {
        match self {
            Detail::None => "",
            Detail::NoPlacement => "the device holds no placement to stop",
            Detail::NoLock => "the device holds no PreSchedule lock",
            Detail::LockExpired => "the device's PreSchedule lock expired",
            Detail::HoldsPod => "the device holds a pod; Stop it first",
            Detail::HoldsInstance => {
                "the device holds or locks an instance; Cancel or Stop it first"
            }
            Detail::OnlyLocked => "the device only holds a lock; Confirm or Cancel it",
            Detail::NotScheduled => "the device is not in the scheduling state",
            Detail::OtherApp => "the device belongs to another AppId",
            Detail::UnknownAddress => "ClientIp is in no known ISP range, so it has no location",
            Detail::SecurityGroupFull => {
                "the instance's security group holds its limit of port ranges"
            }
            Detail::BackendFailed => "a backend call failed",
            Detail::DependencyFailed => "a call to a dependent interface timed out",
        }
    }
}

/// The scheduler's answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reply {
    /// The request's action.
    pub action: Action,
    /// How it ended.
    pub outcome: Outcome,
    /// Why, for an error.
    pub detail: Detail,
    /// The placement, when the answer carries one.
    pub pod: Option<PodId>,
    /// Results of `ServiceCommands` commands run (one each).
    pub command_results: u16,
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

/// The `RequestId` string of request number `id`: a UUID-shaped hex string.
pub fn request_id_string(id: u64) -> String {
    let a = crate::fleet::splitmix64(id);
    let b = crate::fleet::splitmix64(a ^ id.rotate_left(17));
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a as u16,
        (b >> 48) as u16,
        b & 0xFFFF_FFFF_FFFF
    )
}
