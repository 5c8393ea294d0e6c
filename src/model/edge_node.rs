//! The edge node: owns the true state of its units and grants them.
//!
//! Operations that change a unit (activate, lock, confirm, cancel, release)
//! go through the node's lock manager one at a time, each taking a drawn
//! service time, so a burst of requests queues at a hot node. A unit that is
//! not in the state an operation needs is refused: that is how two schedulers
//! with stale views find out they chose the same unit. Locks carry their
//! timeout, and the node frees a unit whose lock was neither confirmed nor
//! cancelled in time.

use rand_pcg::Pcg64Mcg;

use super::station::Station;
use super::{Actor, Addr, Ctx, Msg, NodeAnswer, NodeCall, NodeOp, Observation, UnitPhase};
use crate::api::{Action, DeviceId, Outcome};
use crate::fleet::{NodeId, PodId, RegionId};
use crate::time::{SimDuration, SimTime};

/// A unit as its node sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Free.
    Idle,
    /// Locked for `device` by the `PreSchedule` whose `RequestId` is `lock`.
    Locked {
        /// The device.
        device: DeviceId,
        /// The lock's id.
        lock: u64,
    },
    /// Serving `device`.
    Active {
        /// The device.
        device: DeviceId,
    },
}

impl Unit {
    /// The phase reports count.
    pub fn phase(self) -> UnitPhase {
        match self {
            Unit::Idle => UnitPhase::Idle,
            Unit::Locked { .. } => UnitPhase::Locked,
            Unit::Active { .. } => UnitPhase::Active,
        }
    }
}

/// An edge node hosting a contiguous run of units.
pub struct EdgeNode {
    region: RegionId,
    first_pod: PodId,
    units: Vec<Unit>,
    lock_manager: Station<NodeCall>,
    rng: Pcg64Mcg,
}

impl EdgeNode {
    /// Node `id` with units `pods.0 .. pods.1`, all idle.
    pub fn new(_id: NodeId, region: RegionId, pods: (PodId, PodId), rng: Pcg64Mcg) -> EdgeNode {
        EdgeNode {
            region,
            first_pod: pods.0,
            units: vec![Unit::Idle; (pods.1 - pods.0) as usize],
            lock_manager: Station::new(1),
            rng,
        }
    }

    /// Every unit, from the node's first.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The first unit's id.
    pub fn first_pod(&self) -> PodId {
        self.first_pod
    }

    fn unit(&self, pod: PodId) -> Unit {
        self.units[(pod - self.first_pod) as usize]
    }

    fn set(&mut self, pod: PodId, to: Unit, ctx: &mut Ctx<'_>) {
        let slot = &mut self.units[(pod - self.first_pod) as usize];
        let from = slot.phase();
        *slot = to;
        if from != to.phase() {
            ctx.record(Observation::Unit {
                region: self.region,
                from,
                to: to.phase(),
            });
        }
    }

    fn commands_time(&mut self, n: u16, ctx: &Ctx<'_>) -> SimDuration {
        (0..n).fold(SimDuration::ZERO, |t, _| {
            t + ctx.env.command_time.sample(&mut self.rng)
        })
    }

    fn answer(&mut self, call: NodeCall, granted: bool, work: SimDuration, ctx: &mut Ctx<'_>) {
        let scheduler = (call.placing.request_id >> 48) as u16;
        let delay = work + ctx.env.network.region_delay(self.region, &mut self.rng);
        ctx.send(
            Addr::Scheduler(scheduler),
            delay,
            Msg::FromNode(NodeAnswer { call, granted }),
        );
    }

    fn serve_later(&mut self, call: NodeCall, ctx: &mut Ctx<'_>) {
        let t = ctx.env.lock_service.sample(&mut self.rng);
        ctx.send(ctx.me, t, Msg::LockServed(call));
    }

    /// Carries out a unit operation, once the lock manager gets to it.
    fn serve(&mut self, call: NodeCall, ctx: &mut Ctx<'_>) {
        let request = call.placing.request;
        let device = request.device;
        let unit = self.unit(call.pod);
        match call.op {
            NodeOp::Activate if unit == Unit::Idle => {
                self.set(call.pod, Unit::Active { device }, ctx);
                let work = ctx.env.activation.sample(&mut self.rng)
                    + self.commands_time(request.commands, ctx);
                self.answer(call, true, work, ctx);
            }
            NodeOp::Lock if unit == Unit::Idle => {
                let lock = call.placing.request_id;
                self.set(call.pod, Unit::Locked { device, lock }, ctx);
                let timeout = SimDuration::from_secs(u64::from(request.lock_timeout_s));
                ctx.send(
                    ctx.me,
                    timeout,
                    Msg::LockTimeout {
                        pod: call.pod,
                        lock,
                        locked_at: ctx.now,
                    },
                );
                self.answer(call, true, SimDuration::ZERO, ctx);
            }
            NodeOp::Confirm if matches!(unit, Unit::Locked { device: d, .. } if d == device) => {
                self.set(call.pod, Unit::Active { device }, ctx);
                let work = self.commands_time(request.commands, ctx);
                self.answer(call, true, work, ctx);
            }
            NodeOp::Activate | NodeOp::Lock | NodeOp::Confirm => {
                self.answer(call, false, SimDuration::ZERO, ctx)
            }
            NodeOp::Cancel if matches!(unit, Unit::Locked { device: d, .. } if d == device) => {
                self.set(call.pod, Unit::Idle, ctx)
            }
            NodeOp::Release if unit == (Unit::Active { device }) => {
                self.set(call.pod, Unit::Idle, ctx)
            }
            NodeOp::Cancel | NodeOp::Release | NodeOp::Run => {}
        }
    }

    fn on_lock_timeout(&mut self, pod: PodId, lock: u64, locked_at: SimTime, ctx: &mut Ctx<'_>) {
        let Unit::Locked { device, lock: held } = self.unit(pod) else {
            return;
        };
        if held != lock {
            return;
        }
        self.set(pod, Unit::Idle, ctx);
        ctx.record(Observation::Answer {
            action: Action::PreSchedule,
            outcome: Outcome::LockExpired,
            sent_at: locked_at,
        });
        let delay = ctx.env.network.region_delay(self.region, &mut self.rng);
        ctx.send(
            Addr::Scheduler((lock >> 48) as u16),
            delay,
            Msg::LockExpired { pod, device },
        );
    }
}

impl Actor for EdgeNode {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::ToNode(call) if call.op == NodeOp::Run => {
                let held = matches!(self.unit(call.pod), Unit::Active { device } | Unit::Locked { device, .. } if device == call.placing.request.device);
                let work = self.commands_time(call.placing.request.commands, ctx);
                self.answer(call, held, work, ctx);
            }
            Msg::ToNode(call) => {
                if ctx.env.lock_service.is_zero() {
                    self.serve(call, ctx);
                } else if let Some(call) = self.lock_manager.arrive(call, ctx.now) {
                    self.serve_later(call, ctx);
                }
            }
            Msg::LockServed(call) => {
                self.serve(call, ctx);
                if let Some((next, _waited)) = self.lock_manager.depart(ctx.now) {
                    self.serve_later(next, ctx);
                }
            }
            Msg::LockTimeout {
                pod,
                lock,
                locked_at,
            } => self.on_lock_timeout(pod, lock, locked_at, ctx),
            _ => {}
        }
    }
}
