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

pub mod device;
pub mod edge_node;
pub mod network;
pub mod scheduler;
pub mod source;

use rand::SeedableRng;
use rand_pcg::Pcg64Mcg;

use crate::api::{Action, DeviceId, Outcome, Reply, Request, Strategy};
use crate::dist::Dist;
use crate::fleet::{Fleet, NodeId, PodId, RegionId};
use crate::geo::GeoIp;
use crate::time::{SimDuration, SimTime};

pub use device::Device;
pub use edge_node::EdgeNode;
pub use network::Network;
pub use scheduler::Scheduler;
pub use source::SessionSource;

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
    /// Source to device: begin a session.
    BeginSession,
    /// Device timer: the holding time is over.
    HoldingDone,
    /// Device to source: the session ended; the device is idle again.
    SessionOver(DeviceId),
    /// Device to scheduler: an API request.
    Request(Request),
    /// Scheduler timer: processing of this request is done.
    Processed(Request),
    /// Scheduler to node: activate `pod` for `request`.
    Activate {
        /// The pod.
        pod: PodId,
        /// The `Start` it serves.
        request: Request,
        /// The scheduler to answer.
        scheduler: u16,
        /// Its `RequestId`.
        request_id: u64,
    },
    /// Node to scheduler: `pod` is active.
    Activated {
        /// The pod.
        pod: PodId,
        /// The `Start` it serves.
        request: Request,
        /// Its `RequestId`.
        request_id: u64,
    },
    /// Scheduler to node: `pod` is free again.
    Release {
        /// The pod.
        pod: PodId,
    },
    /// Scheduler to device: the API's answer.
    Reply(Reply),
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
    /// A pod turned busy (`true`) or idle (`false`) at its node.
    PodBusy {
        /// The pod's region.
        region: RegionId,
        /// Its new state.
        busy: bool,
    },
    /// A session arrived.
    Arrival,
    /// A session arrived while every device was busy, and was lost.
    ArrivalLost,
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
    /// What every actor shares.
    pub env: &'a Env,
    out: &'a mut Vec<Effect>,
}

impl<'a> Ctx<'a> {
    /// A context whose effects are appended to `out`.
    pub fn new(now: SimTime, env: &'a Env, out: &'a mut Vec<Effect>) -> Ctx<'a> {
        Ctx { now, env, out }
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
    /// Pod activation time.
    pub activation: Dist,
    /// Session holding time.
    pub holding: Dist,
    /// Mean time between session arrivals.
    pub mean_interarrival: SimDuration,
    /// Placement constraints requests may name.
    pub strategies: Vec<Strategy>,
    /// The strategy every simulated `Start` carries.
    pub start_strategy: Option<u16>,
}

impl Env {
    /// The scheduler that serves `device`.
    pub fn scheduler_for(&self, _device: DeviceId) -> Addr {
        Addr::Scheduler(0)
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
}

/// The random stream of actor `index` of kind `kind` in a run seeded `seed`.
pub fn stream(seed: u64, kind: Stream, index: u64) -> Pcg64Mcg {
    use crate::fleet::splitmix64;
    let key = splitmix64(splitmix64(seed ^ ((kind as u64) << 56)) ^ index);
    Pcg64Mcg::seed_from_u64(key)
}
