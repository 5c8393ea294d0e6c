//! The scheduling model: actors, the messages they exchange, and what they
//! share.
//!
//! Each actor is a state machine. It reacts to one [`Msg`] at one instant
//! through [`Actor::handle`] and answers with [`Effect`]s: messages to send
//! after a delay, and observations for the metrics. It reads no clock and does
//! no I/O, so the same code runs under the plain event loop, under actix, and
//! later under a wall clock. Randomness comes from each actor's own stream,
//! seeded from the run's seed and the actor's address, so results do not
//! depend on how an engine interleaves actors.

pub mod arrival;
pub mod device;
pub mod edge_node;
pub mod network;
pub mod scheduler;
pub mod source;
pub mod station;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::api::{Action, AppId, DeviceId, Outcome, Reply, Request, Strategy};
use crate::dist::Dist;
use crate::fleet::{Fleet, NodeId, PodId, RegionId};
use crate::geo::{CityId, GeoIp};
use crate::time::{SimDuration, SimTime};

pub use device::{Class, Device, Flow, Jitter, Malformed, Retry};
pub use edge_node::EdgeNode;
pub use network::Network;
pub use scheduler::Scheduler;
pub use source::{IdlePools, Load, SessionSource};

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// The session source, which starts sessions on idle devices.
    Source,
    /// A device.
    Device(DeviceId),
    /// A scheduler replica.
    Scheduler(u16),
    /// An edge node.
    Node(NodeId),
}

/// A message between actors (or from an actor to itself, as a timer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Msg {
    /// Sent once at time zero to every actor that acts on its own.
    Init,
    /// Source timer: the next session arrives.
    NextArrival,
    /// Source timer, closed population: this device's think time is over.
    ThinkOver(DeviceId),
    /// Engine to source: a session of a trace arrives.
    TraceArrival {
        /// The device the trace names, if it names one.
        device: Option<DeviceId>,
        /// What the trace says about the session.
        spec: SessionSpec,
    },
    /// Source to device: begin a session.
    BeginSession(SessionSpec),
    /// Device timer for session number `session`.
    Timer {
        /// What is due.
        kind: DeviceTimer,
        /// The session that set it; a timer of an earlier session is ignored.
        session: u32,
    },
    /// Device to source: the session ended; the device is idle again.
    SessionOver(DeviceId),
    /// Device to scheduler: an API request.
    Request(Request),
    /// Scheduler timer: processing of this request is done.
    Processed(Request),
    /// Scheduler timer: try placing this request again.
    Retry(Placing),
    /// Scheduler to node: an operation on one of its units.
    ToNode(NodeCall),
    /// Node timer: the lock manager finished serving this call.
    LockServed(NodeCall),
    /// Node timer: the lock `lock` on `pod` reaches its timeout.
    LockTimeout {
        /// The locked unit.
        pod: PodId,
        /// The `RequestId` of the `PreSchedule` that took the lock.
        lock: u64,
        /// When the lock was granted.
        locked_at: SimTime,
    },
    /// Node to scheduler: how an operation went.
    FromNode(NodeAnswer),
    /// Node to scheduler: a lock expired and its unit is idle again.
    LockExpired {
        /// The unit.
        pod: PodId,
        /// The device that held the lock.
        device: DeviceId,
    },
    /// Scheduler to device: the API's answer.
    Reply(Reply),
    /// Node to scheduler, when views refresh on every change: `pod` turned
    /// idle or busy.
    UnitChanged {
        /// The unit.
        pod: PodId,
        /// Its new state.
        idle: bool,
    },
    /// Node timer: time to report to the schedulers.
    ReportDue,
    /// Node to scheduler, when views refresh periodically: which of 64 of
    /// the node's units are idle. A node with more units sends one report
    /// per 64, all with the same delay.
    ViewReport {
        /// The reporting node.
        node: NodeId,
        /// Bit k stands for the node's unit `64 * word + k`.
        word: u32,
        /// Idle units, one bit each.
        idle: u64,
    },
}

/// What a session's arrival may fix about it; `None` leaves the device's own.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SessionSpec {
    /// The device class to run (an index into [`Env::classes`]).
    pub class: Option<u8>,
    /// The holding time, instead of a draw from the class's distribution.
    pub holding: Option<SimDuration>,
    /// The client IP the device comes from.
    pub client_ip: Option<u32>,
    /// Sessions begun before this one, set by the source; round-robin
    /// routing uses it.
    pub turn: u32,
}

/// Timers a device sets for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceTimer {
    /// The holding time is over: `Stop`.
    HoldingDone,
    /// The think time after `PreSchedule` is over: `Confirm`, `Cancel` or nothing.
    ThinkDone,
    /// Time for the next `Console` poll.
    ConsoleDue,
    /// An abandoned lock has surely expired: the session is over.
    LockLapsed,
    /// The backoff before a retry is over: send the request again.
    RetryDue,
}

/// A request being placed: which attempt this is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placing {
    /// The `Start` or `PreSchedule`.
    pub request: Request,
    /// Its `RequestId`.
    pub request_id: u64,
    /// Attempts made so far (1 for the first).
    pub attempt: u8,
    /// The region of the first unit tried.
    pub first_region: RegionId,
}

/// What a scheduler asks a node to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeOp {
    /// Take an idle pod and activate it (`Start`).
    Activate,
    /// Take an idle instance under a lock (`PreSchedule`).
    Lock,
    /// Turn the device's lock into a placement (`Confirm`).
    Confirm,
    /// Drop the device's lock (`Cancel`).
    Cancel,
    /// Free the device's unit (`Stop`).
    Release,
    /// Run commands on the device's unit (`Console` with `ServiceCommands`).
    Run,
}

/// A scheduler's call to a node.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeCall {
    /// The operation.
    pub op: NodeOp,
    /// The unit.
    pub pod: PodId,
    /// The request behind it, with its `RequestId` and attempt.
    pub placing: Placing,
}

/// A node's answer to a [`NodeCall`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeAnswer {
    /// The call answered.
    pub call: NodeCall,
    /// True if the node did it; false if the unit was not in the state the
    /// operation needs (taken by another device, or the lock gone).
    pub granted: bool,
}

/// What a unit is doing, as its node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnitPhase {
    /// Free.
    Idle,
    /// Held under a `PreSchedule` lock.
    Locked,
    /// Serving a device (an activated pod or a confirmed instance).
    Active,
}

/// Something measured, handed to the run's recorder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observation {
    /// A device got an answer; its latency runs from `sent_at` to now.
    Answer {
        /// The request's action.
        action: Action,
        /// How it ended.
        outcome: Outcome,
        /// When the device sent it.
        sent_at: SimTime,
    },
    /// A unit changed phase at its node.
    Unit {
        /// The unit's region.
        region: RegionId,
        /// Its phase before.
        from: UnitPhase,
        /// Its phase now.
        to: UnitPhase,
    },
    /// A node's lock manager took up an operation after it waited `wait`.
    LockWait {
        /// The node.
        node: NodeId,
        /// The action behind the operation.
        action: Action,
        /// Time in the lock manager's queue.
        wait: SimDuration,
    },
    /// A hold ended: a `Start` activation at `Stop`, a `PreSchedule` lock at
    /// `Confirm`, `Cancel` or expiry.
    LockHold {
        /// The node.
        node: NodeId,
        /// `Start` or `PreSchedule`.
        action: Action,
        /// From grant to end.
        held: SimDuration,
    },
    /// A node refused a unit a scheduler chose.
    Refused {
        /// The node.
        node: NodeId,
        /// `Start` or `PreSchedule`.
        action: Action,
    },
    /// A placement ended after `attempts` units were tried, `conflicts` of
    /// them refused.
    Attempts {
        /// Region of the first unit tried.
        region: RegionId,
        /// `Start` or `PreSchedule`.
        action: Action,
        /// Units tried.
        attempts: u8,
        /// Refusals met.
        conflicts: u8,
    },
    /// A chain of attempts at one request ended with an answer that is not
    /// retried (recorded for classes that retry); its latency runs from
    /// `started_at` (the first attempt) to now.
    Chain {
        /// The request's action.
        action: Action,
        /// The final answer's outcome.
        outcome: Outcome,
        /// When the first attempt was sent.
        started_at: SimTime,
        /// Attempts after the first.
        retries: u8,
    },
    /// A session arrived.
    Arrival,
    /// A session arrived while every device was busy, and was lost.
    ArrivalLost,
    /// A device began a session.
    SessionBegun,
    /// A device's session ended; the device is idle again.
    SessionOver,
    /// A scheduler decided a placement (`Start` or `PreSchedule`): a unit
    /// was granted, or the request is answered `NoIdleResource`.
    Placement {
        /// `Start` or `PreSchedule`.
        action: Action,
        /// The device's home region: the first its scheduler tries (on-net,
        /// nearest, allowed by the strategy), whether or not it had room.
        home: RegionId,
        /// The region of the granted unit; `None` for `NoIdleResource`.
        placed: Option<RegionId>,
        /// Great-circle distance from the device's city to `placed`, in km;
        /// zero when nothing was placed.
        distance_km: f64,
    },
}

/// What an actor does in response to a message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    /// Deliver `msg` to `to` after `delay`.
    Send {
        /// Recipient.
        to: Addr,
        /// Delay from now.
        delay: SimDuration,
        /// The message.
        msg: Msg,
    },
    /// Record an observation at the current instant.
    Record(Observation),
}

/// What an actor sees while it handles a message.
pub struct Ctx<'a> {
    /// The current instant.
    pub now: SimTime,
    /// The actor handling the message.
    pub me: Addr,
    /// What every actor shares.
    pub env: &'a Env,
    out: &'a mut Vec<Effect>,
}

impl<'a> Ctx<'a> {
    /// A context whose effects are appended to `out`.
    pub fn new(now: SimTime, me: Addr, env: &'a Env, out: &'a mut Vec<Effect>) -> Ctx<'a> {
        Ctx { now, me, env, out }
    }

    /// Sends `msg` to `to`, due after `delay`.
    pub fn send(&mut self, to: Addr, delay: SimDuration, msg: Msg) {
        self.out.push(Effect::Send { to, delay, msg });
    }

    /// Records an observation now.
    pub fn record(&mut self, obs: Observation) {
        self.out.push(Effect::Record(obs));
    }
}

/// A state machine that reacts to messages.
pub trait Actor {
    /// Handles `msg` at `ctx.now`, emitting effects through `ctx`.
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>);
}

/// Everything actors share and never change during a run.
pub struct Env {
    /// The fleet layout.
    pub fleet: std::sync::Arc<Fleet>,
    /// The client-IP database.
    pub geo: std::sync::Arc<GeoIp>,
    /// Network delays.
    pub network: Network,
    /// Scheduler work per request.
    pub processing: Dist,
    /// Requests a scheduler works on at once.
    pub workers: u32,
    /// Time a node's lock manager spends on one operation.
    pub lock_service: Dist,
    /// Placement attempts per request before `NoIdleResource`.
    pub max_attempts: u8,
    /// Wait before another placement attempt.
    pub retry_backoff: Dist,
    /// Pod activation time.
    pub activation: Dist,
    /// Time one `ServiceCommands` command takes.
    pub command_time: Dist,
    /// Port ranges an instance may have open at once.
    pub security_group_limit: Option<u32>,
    /// Injected failures.
    pub faults: Faults,
    /// Device classes; a device's class is fixed when it is built.
    pub classes: Vec<Class>,
    /// Placement constraints requests may name.
    pub strategies: Vec<Strategy>,
    /// The strategy every simulated `Start` and `PreSchedule` carries.
    pub start_strategy: Option<u16>,
    /// The `AppId` of every simulated device.
    pub app: AppId,
    /// Scheduler replicas.
    pub schedulers: u16,
    /// How sessions are routed to them.
    pub routing: Routing,
    /// How their views of idle units are refreshed.
    pub view_refresh: ViewRefresh,
    /// The scheduler of each city's devices under [`Routing::RegionGroup`].
    pub city_scheduler: Vec<u16>,
}

/// How sessions are routed to scheduler replicas. The requests of one
/// session all go to the scheduler its first request went to, which keeps
/// the session's placement record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// By the device's city: the regions are split into one group per
    /// scheduler, west to east, and a device goes to the scheduler of its
    /// nearest region's group.
    #[default]
    RegionGroup,
    /// Each new session to the next scheduler in turn, as a load balancer
    /// does.
    RoundRobin,
}

/// How a scheduler's view of idle units is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewRefresh {
    /// Every node tells every other scheduler of each change as it happens.
    OnChange,
    /// Every node reports its idle units to every scheduler at this interval;
    /// in between, a scheduler knows only its own decisions.
    Every(SimDuration),
}

/// Probabilities of injected failures, per request that reaches a backend.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// `ens.interface.error`.
    pub backend_error: f64,
    /// `CallInterface`.
    pub call_interface: f64,
}

impl Env {
    /// The scheduler for the `turn`-th session, begun by a device in `city`.
    pub fn route(&self, city: CityId, turn: u32) -> u16 {
        match self.routing {
            Routing::RoundRobin => (turn % u32::from(self.schedulers)) as u16,
            Routing::RegionGroup => self.city_scheduler.get(city as usize).copied().unwrap_or(0),
        }
    }
}

/// Kinds of random stream, so that no two actors share one.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Stream {
    /// The session source.
    Source = 1,
    /// A device.
    Device = 2,
    /// A scheduler.
    Scheduler = 3,
    /// An edge node.
    Node = 4,
    /// Building the device population.
    Population = 5,
    /// Reading a trace (draws within its intervals and bins).
    Trace = 6,
}

/// The random stream of actor `index` of kind `kind` in a run seeded `seed`.
pub fn stream(seed: u64, kind: Stream, index: u64) -> Pcg64Mcg {
    use crate::fleet::splitmix64;
    let key = splitmix64(splitmix64(seed ^ ((kind as u64) << 56)) ^ index);
    Pcg64Mcg::seed_from_u64(key)
}
