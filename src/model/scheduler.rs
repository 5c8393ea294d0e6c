//! The scheduler: answers API requests by choosing the nearest idle unit.
//!
//! Requests are worked on by a fixed number of workers, each taking a drawn
//! processing time; the rest wait in FIFO order ([`Station`]). A request the
//! API front found malformed is answered with its error once processed.
//! Otherwise the scheduler checks the device's `AppId`, then acts on what the
//! device holds ([`Holding`]):
//!
//! - `Start` / `PreSchedule` locate the device by its client IP, walk the
//!   regions from nearest to farthest (regions on the device's own ISP
//!   first), take an idle unit of the right kind from the first region that
//!   has one in the scheduler's view, and ask its node to activate or lock
//!   it. A node that refuses (the unit was taken meanwhile) makes the
//!   scheduler try the next candidate, up to `max_attempts`.
//! - `Confirm` asks the node to turn the lock into a placement; the node
//!   refuses if the lock expired on the way.
//! - `Stop` and `Cancel` free the unit at once and tell its node.
//! - `Console` answers with the placement, running commands on the node first
//!   if the request has any.
//!
//! A repeated `Start` or `PreSchedule` answers with the same unit and
//! `RequestRepeated` true; no second unit is taken.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

use super::network::FifoLinks;
use super::station::Station;
use super::{Actor, Addr, Ctx, Msg, NodeAnswer, NodeCall, NodeOp, Observation, Placing};
use crate::api::{Action, AppId, Detail, DeviceId, Field, Outcome, Reply, Request};
use crate::fleet::{Fleet, PodId, RegionId, UnitKind};
use crate::geo::{CityId, GeoIp, Isp, distance_km};
use crate::time::SimDuration;

/// `Scheduler::located` code: the IP was not looked up yet.
const NOT_LOOKED_UP: u32 = u32::MAX;
/// `Scheduler::located` code: the IP has no location.
const NOWHERE: u32 = u32::MAX - 1;

/// What a device holds, as its scheduler records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// Nothing.
    Nothing,
    /// Nothing: its last lock expired.
    Expired,
    /// A `Start` or `PreSchedule` is being placed.
    Placing(UnitKind),
    /// An active pod.
    Pod(PodId),
    /// A locked instance.
    Locked(PodId),
    /// A locked instance whose `Confirm` is on its way to the node.
    Confirming(PodId),
    /// A confirmed instance.
    Instance(PodId),
}

impl Holding {
    /// The unit held, if any.
    pub fn unit(self) -> Option<PodId> {
        match self {
            Holding::Pod(p)
            | Holding::Locked(p)
            | Holding::Confirming(p)
            | Holding::Instance(p) => Some(p),
            _ => None,
        }
    }
}

/// A scheduler replica.
pub struct Scheduler {
    id: u16,
    rng: Pcg64Mcg,
    workers: Station<Request>,
    /// Candidate idle units per region and kind (`region * 2 + kind`), drawn
    /// at random; an entry counts only while `view_idle` agrees.
    idle: Vec<Vec<PodId>>,
    /// Whether this scheduler believes each unit idle.
    view_idle: Vec<bool>,
    /// Port ranges open per instance, for the security-group limit.
    open_ranges: Vec<u16>,
    holding: Vec<Holding>,
    /// Per device: the client IP last seen and where it is (see `locate`).
    located: Vec<(u32, u32)>,
    owner: Vec<AppId>,
    next_request_id: u64,
    /// The links to the nodes, which deliver in order.
    to_nodes: FifoLinks,
    /// Region search order per (city, ISP), built on first use.
    order: Vec<Option<Box<[RegionId]>>>,
}

impl Scheduler {
    /// A scheduler that sees every unit of `fleet` idle, with `devices`
    /// devices of application `app` known in advance.
    pub fn new(
        id: u16,
        fleet: &Fleet,
        workers: u32,
        devices: u32,
        app: AppId,
        rng: Pcg64Mcg,
    ) -> Scheduler {
        let mut idle = vec![Vec::new(); fleet.regions().len() * 2];
        for (r, region) in fleet.regions().iter().enumerate() {
            for pod in (region.pods.0..region.pods.1).rev() {
                idle[r * 2 + fleet.unit_kind(pod).index()].push(pod);
            }
        }
        Scheduler {
            id,
            rng,
            workers: Station::new(workers),
            idle,
            view_idle: vec![true; fleet.pod_count()],
            open_ranges: vec![0; fleet.instance_count()],
            holding: vec![Holding::Nothing; devices as usize],
            owner: vec![app; devices as usize],
            located: vec![(0, NOT_LOOKED_UP); devices as usize],
            next_request_id: 0,
            to_nodes: FifoLinks::new(fleet.node_count()),
            order: Vec::new(),
        }
    }

    /// Idle units of `kind` per region, as this scheduler sees them.
    pub fn idle_counts(&self, kind: UnitKind) -> Vec<usize> {
        self.idle
            .iter()
            .skip(kind.index())
            .step_by(2)
            .map(Vec::len)
            .collect()
    }

    /// What `device` holds.
    pub fn holding(&self, device: DeviceId) -> Holding {
        self.holding
            .get(device as usize)
            .copied()
            .unwrap_or(Holding::Nothing)
    }

    fn set_holding(&mut self, device: DeviceId, h: Holding) {
        self.holding[device as usize] = h;
    }

    fn new_request_id(&mut self) -> u64 {
        self.next_request_id += 1;
        (u64::from(self.id) << 48) | self.next_request_id
    }

    /// Works on `request` and, while processing takes no time, on the
    /// requests queued behind it.
    fn work(&mut self, mut request: Request, ctx: &mut Ctx<'_>) {
        loop {
            let t = ctx.env.processing.sample(&mut self.rng);
            if !t.is_zero() {
                return ctx.send(Addr::Scheduler(self.id), t, Msg::Processed(request));
            }
            self.process(request, ctx);
            match self.workers.depart(ctx.now) {
                Some((next, _waited)) => request = next,
                None => return,
            }
        }
    }

    /// Where the client IP of `request` is. The answer depends on the IP
    /// alone, so it is kept per device and looked up again only when the
    /// device comes from another address.
    fn locate(&mut self, request: &Request, geo: &GeoIp) -> Option<(CityId, Isp)> {
        let Some(slot) = self.located.get_mut(request.device as usize) else {
            return geo.locate(request.client_ip);
        };
        if slot.1 == NOT_LOOKED_UP || slot.0 != request.client_ip {
            let code = geo
                .locate(request.client_ip)
                .map_or(NOWHERE, |(c, i)| c * 4 + i.index() as u32);
            *slot = (request.client_ip, code);
        }
        match slot.1 {
            NOWHERE => None,
            code => Some((code / 4, Isp::ALL[(code % 4) as usize])),
        }
    }

    fn reply(
        &mut self,
        p: &Placing,
        outcome: Outcome,
        detail: Detail,
        pod: Option<PodId>,
        results: u16,
        ctx: &mut Ctx<'_>,
    ) {
        let city = self.locate(&p.request, &ctx.env.geo).map(|(c, _)| c);
        let delay = match city {
            Some(c) => ctx.env.network.device_delay(c, &mut self.rng),
            None => SimDuration::ZERO,
        };
        let reply = Reply {
            action: p.request.action,
            outcome,
            detail,
            pod,
            command_results: results,
            sent_at: p.request.sent_at,
            request_id: p.request_id,
        };
        ctx.send(Addr::Device(p.request.device), delay, Msg::Reply(reply));
    }

    fn fail(&mut self, p: &Placing, outcome: Outcome, detail: Detail, ctx: &mut Ctx<'_>) {
        self.reply(p, outcome, detail, None, 0, ctx);
    }

    fn call_node(&mut self, op: NodeOp, pod: PodId, placing: Placing, ctx: &mut Ctx<'_>) {
        let fleet = &ctx.env.fleet;
        let drawn = ctx
            .env
            .network
            .region_delay(fleet.pod_region(pod), &mut self.rng);
        let delay = self
            .to_nodes
            .delay(fleet.pod_node(pod) as usize, ctx.now, drawn);
        ctx.send(
            Addr::Node(fleet.pod_node(pod)),
            delay,
            Msg::ToNode(NodeCall { op, pod, placing }),
        );
    }

    fn process(&mut self, request: Request, ctx: &mut Ctx<'_>) {
        let p = Placing {
            request,
            request_id: self.new_request_id(),
            attempt: 0,
            first_region: 0,
        };
        if let Some(outcome) = request.rejected {
            return self.fail(&p, outcome, Detail::None, ctx);
        }
        let slot = request.device as usize;
        if slot >= self.holding.len() {
            self.holding.resize(slot + 1, Holding::Nothing);
            self.owner.resize(slot + 1, 0);
            self.located.resize(slot + 1, (0, NOT_LOOKED_UP));
        }
        if self.owner[slot] == 0 {
            self.owner[slot] = request.app;
        } else if self.owner[slot] != request.app {
            return self.fail(&p, Outcome::NoPermission, Detail::OtherApp, ctx);
        }
        let held = self.holding[slot];
        match request.action {
            Action::Start => self.place(p, UnitKind::Pod, held, ctx),
            Action::PreSchedule => self.place(p, UnitKind::Instance, held, ctx),
            Action::Confirm => self.confirm(p, held, ctx),
            Action::Cancel => self.cancel(p, held, ctx),
            Action::Stop => self.stop(p, held, ctx),
            Action::Console => self.console(p, held, ctx),
        }
    }

    /// Draws the injected failures of a call that reaches the backend.
    fn injected_failure(&mut self, ctx: &Ctx<'_>) -> Option<(Outcome, Detail)> {
        let f = ctx.env.faults;
        if f.backend_error > 0.0 && self.rng.random_bool(f.backend_error) {
            return Some((Outcome::BackendError, Detail::BackendFailed));
        }
        if f.call_interface > 0.0 && self.rng.random_bool(f.call_interface) {
            return Some((Outcome::CallInterface, Detail::DependencyFailed));
        }
        None
    }

    fn place(&mut self, p: Placing, kind: UnitKind, held: Holding, ctx: &mut Ctx<'_>) {
        match (kind, held) {
            (UnitKind::Pod, Holding::Pod(pod))
            | (
                UnitKind::Instance,
                Holding::Locked(pod) | Holding::Confirming(pod) | Holding::Instance(pod),
            ) => {
                return self.reply(&p, Outcome::Repeated, Detail::None, Some(pod), 0, ctx);
            }
            (_, Holding::Placing(k)) if k == kind => {
                return self.reply(&p, Outcome::Repeated, Detail::None, None, 0, ctx);
            }
            (
                UnitKind::Pod,
                Holding::Placing(_)
                | Holding::Locked(_)
                | Holding::Confirming(_)
                | Holding::Instance(_),
            ) => {
                return self.fail(&p, Outcome::InvalidParameter, Detail::HoldsInstance, ctx);
            }
            (UnitKind::Instance, Holding::Placing(_) | Holding::Pod(_)) => {
                return self.fail(&p, Outcome::InvalidParameter, Detail::HoldsPod, ctx);
            }
            (_, Holding::Nothing | Holding::Expired) => {}
        }
        if self.locate(&p.request, &ctx.env.geo).is_none() {
            return self.fail(
                &p,
                Outcome::InvalidField(Field::ClientIp),
                Detail::UnknownAddress,
                ctx,
            );
        }
        if let Some((outcome, detail)) = self.injected_failure(ctx) {
            return self.fail(&p, outcome, detail, ctx);
        }
        self.set_holding(p.request.device, Holding::Placing(kind));
        self.attempt(p, kind, ctx);
    }

    /// Records how a placement that tried `p.attempt` units ended.
    fn record_attempts(&self, p: &Placing, granted: bool, ctx: &mut Ctx<'_>) {
        if p.attempt > 0 {
            ctx.record(Observation::Attempts {
                region: p.first_region,
                action: p.request.action,
                attempts: p.attempt,
                conflicts: p.attempt - u8::from(granted),
            });
        }
    }

    /// Records how a placement was decided: `pod` granted, or none and
    /// `NoIdleResource`.
    fn record_placement(&mut self, p: &Placing, pod: Option<PodId>, ctx: &mut Ctx<'_>) {
        let Some((city, isp)) = self.locate(&p.request, &ctx.env.geo) else {
            return;
        };
        let fleet = &ctx.env.fleet;
        let key = self.cache_region_order(city, isp, fleet, &ctx.env.geo);
        let allowed = p
            .request
            .strategy
            .map(|s| &ctx.env.strategies[s as usize].regions);
        let order = self.order[key].as_deref().unwrap_or_default();
        let Some(&home) = order.iter().find(|r| allowed.is_none_or(|a| a.contains(r))) else {
            return;
        };
        let placed = pod.map(|pod| fleet.pod_region(pod));
        let distance_km = placed.map_or(0.0, |r| {
            let c = &ctx.env.geo.cities()[city as usize];
            let region = &fleet.regions()[r as usize];
            distance_km(c.latitude, c.longitude, region.lat, region.lon)
        });
        ctx.record(Observation::Placement {
            action: p.request.action,
            home,
            placed,
            distance_km,
        });
    }

    /// Takes the nearest idle unit from the view and asks its node for it.
    fn attempt(&mut self, mut p: Placing, kind: UnitKind, ctx: &mut Ctx<'_>) {
        let Some(pod) = self.take_nearest(&p.request, kind, ctx) else {
            self.record_attempts(&p, false, ctx);
            self.record_placement(&p, None, ctx);
            self.set_holding(p.request.device, Holding::Nothing);
            return self.fail(&p, Outcome::NoIdleResource, Detail::None, ctx);
        };
        let inst = ctx.env.fleet.instance_of(pod) as usize;
        if let Some(limit) = ctx.env.security_group_limit
            && u32::from(self.open_ranges[inst]) >= limit
        {
            self.mark_idle(pod, ctx);
            self.record_attempts(&p, false, ctx);
            self.set_holding(p.request.device, Holding::Nothing);
            return self.fail(
                &p,
                Outcome::SecurityGroupLimit,
                Detail::SecurityGroupFull,
                ctx,
            );
        }
        if p.attempt == 0 {
            p.first_region = ctx.env.fleet.pod_region(pod);
        }
        p.attempt += 1;
        self.open_ranges[inst] += 1;
        let op = if kind == UnitKind::Pod {
            NodeOp::Activate
        } else {
            NodeOp::Lock
        };
        self.call_node(op, pod, p, ctx);
    }

    fn take_nearest(&mut self, request: &Request, kind: UnitKind, ctx: &Ctx<'_>) -> Option<PodId> {
        let (city, isp) = self.locate(request, &ctx.env.geo)?;
        let allowed = request
            .strategy
            .map(|s| &ctx.env.strategies[s as usize].regions);
        let key = self.cache_region_order(city, isp, &ctx.env.fleet, &ctx.env.geo);
        let order = self.order[key].as_deref().unwrap_or_default();
        for &r in order
            .iter()
            .filter(|r| allowed.is_none_or(|a| a.contains(r)))
        {
            let pool = &mut self.idle[r as usize * 2 + kind.index()];
            // A unit drawn at random, so that replicas with the same view do
            // not all reach for the same one; entries the view has since seen
            // taken are dropped on the way.
            while !pool.is_empty() {
                let pod = pool.swap_remove(self.rng.random_range(0..pool.len()));
                if self.view_idle[pod as usize] {
                    self.view_idle[pod as usize] = false;
                    return Some(pod);
                }
            }
        }
        None
    }

    /// Marks `pod` idle in the view.
    fn mark_idle(&mut self, pod: PodId, ctx: &Ctx<'_>) {
        if !self.view_idle[pod as usize] {
            self.view_idle[pod as usize] = true;
            let fleet = &ctx.env.fleet;
            self.idle[fleet.pod_region(pod) as usize * 2 + fleet.unit_kind(pod).index()].push(pod);
        }
    }

    /// Returns `pod` to the view's idle pool and closes its port range.
    fn give_back(&mut self, pod: PodId, ctx: &Ctx<'_>) {
        let inst = ctx.env.fleet.instance_of(pod) as usize;
        self.open_ranges[inst] = self.open_ranges[inst].saturating_sub(1);
        self.mark_idle(pod, ctx);
    }

    /// Applies a node's report of which of its units are idle.
    fn apply_report(&mut self, node: crate::fleet::NodeId, word: u32, idle: u64, ctx: &Ctx<'_>) {
        let (first, end) = ctx.env.fleet.node_pods(node);
        let from = first + 64 * word;
        for pod in from..end.min(from + 64) {
            if idle & (1 << (pod - from)) != 0 {
                self.mark_idle(pod, ctx);
            } else {
                self.view_idle[pod as usize] = false;
            }
        }
    }

    fn confirm(&mut self, p: Placing, held: Holding, ctx: &mut Ctx<'_>) {
        match held {
            Holding::Locked(pod) => {
                if let Some((outcome, detail)) = self.injected_failure(ctx) {
                    return self.fail(&p, outcome, detail, ctx);
                }
                self.set_holding(p.request.device, Holding::Confirming(pod));
                self.call_node(NodeOp::Confirm, pod, p, ctx);
            }
            Holding::Confirming(pod) | Holding::Instance(pod) => {
                self.reply(&p, Outcome::Repeated, Detail::None, Some(pod), 0, ctx)
            }
            Holding::Expired => self.fail(&p, Outcome::InvalidParameter, Detail::LockExpired, ctx),
            _ => self.fail(&p, Outcome::InvalidParameter, Detail::NoLock, ctx),
        }
    }

    fn cancel(&mut self, p: Placing, held: Holding, ctx: &mut Ctx<'_>) {
        match held {
            Holding::Locked(pod) => {
                self.set_holding(p.request.device, Holding::Nothing);
                self.give_back(pod, ctx);
                self.call_node(NodeOp::Cancel, pod, p, ctx);
                self.reply(&p, Outcome::Ok, Detail::None, Some(pod), 0, ctx);
            }
            Holding::Expired => self.fail(&p, Outcome::InvalidParameter, Detail::LockExpired, ctx),
            _ => self.fail(&p, Outcome::InvalidParameter, Detail::NoLock, ctx),
        }
    }

    fn stop(&mut self, p: Placing, held: Holding, ctx: &mut Ctx<'_>) {
        match held {
            Holding::Pod(pod) | Holding::Instance(pod) => {
                self.set_holding(p.request.device, Holding::Nothing);
                self.give_back(pod, ctx);
                self.call_node(NodeOp::Release, pod, p, ctx);
                self.reply(&p, Outcome::Ok, Detail::None, Some(pod), 0, ctx);
            }
            Holding::Locked(_) | Holding::Confirming(_) => {
                self.fail(&p, Outcome::InvalidParameter, Detail::OnlyLocked, ctx)
            }
            _ => self.fail(&p, Outcome::InvalidParameter, Detail::NoPlacement, ctx),
        }
    }

    fn console(&mut self, p: Placing, held: Holding, ctx: &mut Ctx<'_>) {
        match held.unit() {
            Some(pod) if p.request.commands > 0 => self.call_node(NodeOp::Run, pod, p, ctx),
            Some(pod) => self.reply(&p, Outcome::Ok, Detail::None, Some(pod), 0, ctx),
            None if matches!(held, Holding::Placing(_)) => {
                self.reply(&p, Outcome::Ok, Detail::None, None, 0, ctx)
            }
            None => self.fail(&p, Outcome::InvalidParameter, Detail::NotScheduled, ctx),
        }
    }

    fn on_node_answer(&mut self, answer: NodeAnswer, ctx: &mut Ctx<'_>) {
        let NodeCall {
            op,
            pod,
            placing: p,
        } = answer.call;
        let device = p.request.device;
        let results = p.request.commands;
        match (op, answer.granted) {
            (NodeOp::Activate, true) => {
                self.record_attempts(&p, true, ctx);
                self.record_placement(&p, Some(pod), ctx);
                self.set_holding(device, Holding::Pod(pod));
                self.reply(&p, Outcome::Ok, Detail::None, Some(pod), results, ctx);
            }
            (NodeOp::Lock, true) => {
                self.record_attempts(&p, true, ctx);
                self.record_placement(&p, Some(pod), ctx);
                self.set_holding(device, Holding::Locked(pod));
                self.reply(&p, Outcome::Ok, Detail::None, Some(pod), 0, ctx);
            }
            (NodeOp::Activate | NodeOp::Lock, false) => {
                // Taken by someone else: the unit is not idle, so it stays out of the view.
                let fleet = &ctx.env.fleet;
                let inst = fleet.instance_of(pod) as usize;
                self.open_ranges[inst] = self.open_ranges[inst].saturating_sub(1);
                let node = fleet.pod_node(pod);
                ctx.record(Observation::Refused {
                    node,
                    action: p.request.action,
                });
                if p.attempt >= ctx.env.max_attempts {
                    self.record_attempts(&p, false, ctx);
                    self.record_placement(&p, None, ctx);
                    self.set_holding(device, Holding::Nothing);
                    self.fail(&p, Outcome::NoIdleResource, Detail::None, ctx);
                } else {
                    let backoff = ctx.env.retry_backoff.sample(&mut self.rng);
                    ctx.send(Addr::Scheduler(self.id), backoff, Msg::Retry(p));
                }
            }
            (NodeOp::Confirm, true) => {
                self.set_holding(device, Holding::Instance(pod));
                self.reply(&p, Outcome::Ok, Detail::None, Some(pod), results, ctx);
            }
            (NodeOp::Confirm, false) => {
                self.set_holding(device, Holding::Expired);
                self.fail(&p, Outcome::InvalidParameter, Detail::LockExpired, ctx);
            }
            (NodeOp::Run, _) => self.reply(&p, Outcome::Ok, Detail::None, Some(pod), results, ctx),
            (NodeOp::Cancel | NodeOp::Release, _) => {}
        }
    }

    fn on_lock_expired(&mut self, pod: PodId, device: DeviceId, ctx: &mut Ctx<'_>) {
        if matches!(self.holding(device), Holding::Locked(p) | Holding::Confirming(p) if p == pod) {
            self.give_back(pod, ctx);
            if self.holding(device) == Holding::Locked(pod) {
                self.set_holding(device, Holding::Expired);
            }
        }
    }

    /// Makes sure `self.order` has the regions from nearest to farthest for a
    /// device in `city` on `isp`, those serving `isp` on-net first, and
    /// returns where.
    fn cache_region_order(&mut self, city: CityId, isp: Isp, fleet: &Fleet, geo: &GeoIp) -> usize {
        let key = city as usize * Isp::ALL.len() + isp.index();
        if key >= self.order.len() {
            self.order.resize(key + 1, None);
        }
        if self.order[key].is_some() {
            return key;
        }
        let c = &geo.cities()[city as usize];
        let mut regions: Vec<(bool, f64, RegionId)> = fleet
            .regions()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    !r.serves.contains(isp),
                    distance_km(c.latitude, c.longitude, r.lat, r.lon),
                    i as RegionId,
                )
            })
            .collect();
        regions.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        self.order[key] = Some(regions.into_iter().map(|r| r.2).collect());
        key
    }
}

impl Actor for Scheduler {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::Request(request) => {
                if let Some(request) = self.workers.arrive(request, ctx.now) {
                    self.work(request, ctx);
                }
            }
            Msg::Processed(request) => {
                self.process(request, ctx);
                if let Some((next, _waited)) = self.workers.depart(ctx.now) {
                    self.work(next, ctx);
                }
            }
            Msg::Retry(p) => {
                let kind = if p.request.action == Action::Start {
                    UnitKind::Pod
                } else {
                    UnitKind::Instance
                };
                self.attempt(p, kind, ctx);
            }
            Msg::FromNode(answer) => self.on_node_answer(answer, ctx),
            Msg::LockExpired { pod, device } => self.on_lock_expired(pod, device, ctx),
            Msg::UnitChanged { pod, idle: true } => self.mark_idle(pod, ctx),
            Msg::UnitChanged { pod, idle: false } => self.view_idle[pod as usize] = false,
            Msg::ViewReport { node, word, idle } => self.apply_report(node, word, idle, ctx),
            _ => {}
        }
    }
}
