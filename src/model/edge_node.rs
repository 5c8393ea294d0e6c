//! The edge node: owns the true state of its units and grants them.
//!
//! Operations that change a unit (activate, lock, confirm, cancel, release)
//! go through the node's lock manager one at a time, each taking a drawn
//! service time, so a burst of requests queues at a hot node. A unit that is
//! not in the state an operation needs is refused: that is how schedulers
//! with stale views find out they chose a unit that is taken. Locks carry
//! their timeout, and the node frees a unit whose lock was neither confirmed
//! nor cancelled in time.
//!
//! The node also keeps the schedulers' views fresh: it tells every other
//! scheduler of each change as it happens, or reports all its idle units at
//! an interval, as the scenario says.

use rand_pcg::Pcg64Mcg;

use super::station::Station;
use super::{
    Actor, Addr, Ctx, Msg, NodeAnswer, NodeCall, NodeOp, Observation, UnitPhase, ViewRefresh,
};
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
        /// When the lock was granted.
        since: SimTime,
    },
    /// Serving `device`.
    Active {
        /// The device.
        device: DeviceId,
        /// When a `Start` activated it; `None` for a confirmed instance.
        started: Option<SimTime>,
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

/// How the locks of a node ended, counted over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LockLedger {
    /// `PreSchedule` locks granted.
    pub granted: u64,
    /// Locks turned into placements by `Confirm`.
    pub confirmed: u64,
    /// Locks dropped by `Cancel`.
    pub cancelled: u64,
    /// Locks that reached their timeout.
    pub expired: u64,
    /// Pods activated for `Start`.
    pub activated: u64,
    /// Units freed by `Stop`.
    pub released: u64,
}

/// An edge node hosting a contiguous run of units.
pub struct EdgeNode {
    id: NodeId,
    region: RegionId,
    first_pod: PodId,
    units: Vec<Unit>,
    lock_manager: Station<NodeCall>,
    ledger: LockLedger,
    rng: Pcg64Mcg,
}

impl EdgeNode {
    /// Node `id` with units `pods.0 .. pods.1`, all idle.
    pub fn new(id: NodeId, region: RegionId, pods: (PodId, PodId), rng: Pcg64Mcg) -> EdgeNode {
        EdgeNode {
            id,
            region,
            first_pod: pods.0,
            units: vec![Unit::Idle; (pods.1 - pods.0) as usize],
            lock_manager: Station::new(1),
            ledger: LockLedger::default(),
            rng,
        }
    }

    /// Every unit, from the node's first.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// The node's region.
    pub fn region(&self) -> RegionId {
        self.region
    }

    /// How its locks ended so far.
    pub fn ledger(&self) -> LockLedger {
        self.ledger
    }

    fn unit(&self, pod: PodId) -> Unit {
        self.units[(pod - self.first_pod) as usize]
    }

    /// Changes a unit, and tells the schedulers other than `by` when their
    /// views refresh on every change.
    fn set(&mut self, pod: PodId, to: Unit, by: u16, ctx: &mut Ctx<'_>) {
        let slot = &mut self.units[(pod - self.first_pod) as usize];
        let from = slot.phase();
        *slot = to;
        if from == to.phase() {
            return;
        }
        ctx.record(Observation::Unit {
            region: self.region,
            from,
            to: to.phase(),
        });
        if ctx.env.view_refresh == ViewRefresh::OnChange && ctx.env.schedulers > 1 {
            let idle = to == Unit::Idle;
            for s in (0..ctx.env.schedulers).filter(|&s| s != by) {
                let delay = ctx.env.network.region_delay(self.region, &mut self.rng);
                ctx.send(Addr::Scheduler(s), delay, Msg::UnitChanged { pod, idle });
            }
        }
    }

    fn end_hold(&mut self, action: Action, since: SimTime, ctx: &mut Ctx<'_>) {
        let held = ctx.now.since(since);
        ctx.record(Observation::LockHold {
            node: self.id,
            action,
            held,
        });
    }

    fn commands_time(&mut self, n: u16, ctx: &Ctx<'_>) -> SimDuration {
        (0..n).fold(SimDuration::ZERO, |t, _| {
            t + ctx.env.command_time.sample(&mut self.rng)
        })
    }

    fn answer(&mut self, call: NodeCall, granted: bool, work: SimDuration, ctx: &mut Ctx<'_>) {
        let scheduler = scheduler_of(call.placing.request_id);
        let delay = work + ctx.env.network.region_delay(self.region, &mut self.rng);
        ctx.send(
            Addr::Scheduler(scheduler),
            delay,
            Msg::FromNode(NodeAnswer { call, granted }),
        );
    }

    /// The lock manager takes up `call` after it waited `waited` in the
    /// queue; it is carried out when the drawn service time has passed.
    fn take_up(&mut self, call: NodeCall, waited: SimDuration, ctx: &mut Ctx<'_>) {
        let action = call.placing.request.action;
        ctx.record(Observation::LockWait {
            node: self.id,
            action,
            wait: waited,
        });
        let t = ctx.env.lock_service.sample(&mut self.rng);
        if t.is_zero() {
            self.serve(call, ctx);
            if let Some((next, waited)) = self.lock_manager.depart(ctx.now) {
                self.take_up(next, waited, ctx);
            }
        } else {
            ctx.send(ctx.me, t, Msg::LockServed(call));
        }
    }

    /// Carries out a unit operation.
    fn serve(&mut self, call: NodeCall, ctx: &mut Ctx<'_>) {
        let request = call.placing.request;
        let device = request.device;
        let by = scheduler_of(call.placing.request_id);
        let unit = self.unit(call.pod);
        let held_by_device = |u: Unit| match u {
            Unit::Locked { device: d, .. } | Unit::Active { device: d, .. } => d == device,
            Unit::Idle => false,
        };
        match (call.op, unit) {
            (NodeOp::Activate, Unit::Idle) => {
                self.ledger.activated += 1;
                self.set(
                    call.pod,
                    Unit::Active {
                        device,
                        started: Some(ctx.now),
                    },
                    by,
                    ctx,
                );
                let work = ctx.env.activation.sample(&mut self.rng)
                    + self.commands_time(request.commands, ctx);
                self.answer(call, true, work, ctx);
            }
            (NodeOp::Lock, Unit::Idle) => {
                self.ledger.granted += 1;
                let lock = call.placing.request_id;
                self.set(
                    call.pod,
                    Unit::Locked {
                        device,
                        lock,
                        since: ctx.now,
                    },
                    by,
                    ctx,
                );
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
            (NodeOp::Confirm, Unit::Locked { since, .. }) if held_by_device(unit) => {
                self.ledger.confirmed += 1;
                self.end_hold(Action::PreSchedule, since, ctx);
                self.set(
                    call.pod,
                    Unit::Active {
                        device,
                        started: None,
                    },
                    by,
                    ctx,
                );
                let work = self.commands_time(request.commands, ctx);
                self.answer(call, true, work, ctx);
            }
            (NodeOp::Activate | NodeOp::Lock | NodeOp::Confirm, _) => {
                self.answer(call, false, SimDuration::ZERO, ctx)
            }
            (NodeOp::Cancel, Unit::Locked { since, .. }) if held_by_device(unit) => {
                self.ledger.cancelled += 1;
                self.end_hold(Action::PreSchedule, since, ctx);
                self.set(call.pod, Unit::Idle, by, ctx);
            }
            (NodeOp::Release, Unit::Active { started, .. }) if held_by_device(unit) => {
                self.ledger.released += 1;
                if let Some(since) = started {
                    self.end_hold(Action::Start, since, ctx);
                }
                self.set(call.pod, Unit::Idle, by, ctx);
            }
            (NodeOp::Cancel | NodeOp::Release | NodeOp::Run, _) => {}
        }
    }

    fn on_lock_timeout(&mut self, pod: PodId, lock: u64, locked_at: SimTime, ctx: &mut Ctx<'_>) {
        let Unit::Locked {
            device,
            lock: held,
            since,
        } = self.unit(pod)
        else {
            return;
        };
        if held != lock {
            return;
        }
        self.ledger.expired += 1;
        self.end_hold(Action::PreSchedule, since, ctx);
        let by = scheduler_of(lock);
        self.set(pod, Unit::Idle, by, ctx);
        ctx.record(Observation::Answer {
            action: Action::PreSchedule,
            outcome: Outcome::LockExpired,
            sent_at: locked_at,
        });
        let delay = ctx.env.network.region_delay(self.region, &mut self.rng);
        ctx.send(Addr::Scheduler(by), delay, Msg::LockExpired { pod, device });
    }

    /// Sends every scheduler the node's idle units, and sets the next report.
    fn report(&mut self, every: SimDuration, ctx: &mut Ctx<'_>) {
        let mut words = vec![0u64; self.units.len().div_ceil(64)];
        for (k, _) in self
            .units
            .iter()
            .enumerate()
            .filter(|(_, u)| **u == Unit::Idle)
        {
            words[k / 64] |= 1 << (k % 64);
        }
        for s in 0..ctx.env.schedulers {
            let delay = ctx.env.network.region_delay(self.region, &mut self.rng);
            for (word, &idle) in words.iter().enumerate() {
                let report = Msg::ViewReport {
                    node: self.id,
                    word: word as u32,
                    idle,
                };
                ctx.send(Addr::Scheduler(s), delay, report);
            }
        }
        ctx.send(ctx.me, every, Msg::ReportDue);
    }
}

/// The scheduler that issued `request_id`: its id is in the top 16 bits.
pub fn scheduler_of(request_id: u64) -> u16 {
    (request_id >> 48) as u16
}

impl Actor for EdgeNode {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::Init => {
                if let ViewRefresh::Every(every) = ctx.env.view_refresh {
                    // Nodes report in turn, spread evenly over the interval.
                    let nodes = ctx.env.fleet.node_count().max(1) as u64;
                    let offset = every.as_nanos() / nodes * u64::from(self.id);
                    ctx.send(ctx.me, SimDuration::from_nanos(offset), Msg::ReportDue);
                }
            }
            Msg::ReportDue => {
                if let ViewRefresh::Every(every) = ctx.env.view_refresh {
                    self.report(every, ctx);
                }
            }
            Msg::ToNode(call) if call.op == NodeOp::Run => {
                let device = call.placing.request.device;
                let held = matches!(self.unit(call.pod), Unit::Active { device: d, .. } | Unit::Locked { device: d, .. } if d == device);
                let work = self.commands_time(call.placing.request.commands, ctx);
                self.answer(call, held, work, ctx);
            }
            Msg::ToNode(call) => {
                if let Some(call) = self.lock_manager.arrive(call, ctx.now) {
                    self.take_up(call, SimDuration::ZERO, ctx);
                }
            }
            Msg::LockServed(call) => {
                self.serve(call, ctx);
                if let Some((next, waited)) = self.lock_manager.depart(ctx.now) {
                    self.take_up(next, waited, ctx);
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
