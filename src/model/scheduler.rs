//! The scheduler: answers API requests by choosing the nearest idle pod.
//!
//! Requests are worked on by a fixed number of workers, each taking a drawn
//! processing time; the rest wait in FIFO order. For `Start` the scheduler
//! locates the device by its client IP, walks the regions from nearest to
//! farthest (regions on the device's own ISP first), takes an idle pod of the
//! first region that has one, and has the pod's node activate it before it
//! answers. `Stop` frees the pod at once and tells its node.

use std::collections::VecDeque;

use rand_pcg::Pcg64Mcg;

use super::{Actor, Addr, Ctx, Msg};
use crate::api::{Action, DeviceId, Outcome, Reply, Request};
use crate::fleet::{Fleet, PodId, RegionId};
use crate::geo::{CityId, GeoIp, Isp, distance_km};
use crate::time::SimDuration;

const NO_POD: PodId = PodId::MAX;

/// A scheduler replica.
pub struct Scheduler {
    id: u16,
    rng: Pcg64Mcg,
    busy_workers: u32,
    waiting: VecDeque<Request>,
    /// Idle pods of each region, taken from the back.
    idle: Vec<Vec<PodId>>,
    /// The pod each device holds, or `NO_POD`.
    placement: Vec<PodId>,
    next_request_id: u64,
    /// Region search order per (city, ISP), built on first use.
    order: Vec<Option<Box<[RegionId]>>>,
}

impl Scheduler {
    /// A scheduler that sees every pod of `fleet` idle.
    pub fn new(id: u16, fleet: &Fleet, cities: usize, devices: u32, rng: Pcg64Mcg) -> Scheduler {
        let idle = fleet
            .regions()
            .iter()
            .map(|r| (r.pods.0..r.pods.1).rev().collect())
            .collect();
        Scheduler {
            id,
            rng,
            busy_workers: 0,
            waiting: VecDeque::new(),
            idle,
            placement: vec![NO_POD; devices as usize],
            next_request_id: 0,
            order: vec![None; cities * Isp::ALL.len()],
        }
    }

    /// Idle pods per region, as this scheduler sees them.
    pub fn idle_counts(&self) -> Vec<usize> {
        self.idle.iter().map(Vec::len).collect()
    }

    /// The pod `device` holds, if any.
    pub fn placement_of(&self, device: DeviceId) -> Option<PodId> {
        self.placement
            .get(device as usize)
            .copied()
            .filter(|&p| p != NO_POD)
    }

    fn start_work(&mut self, request: Request, ctx: &mut Ctx<'_>) {
        let t = ctx.env.processing.sample(&mut self.rng);
        ctx.send(Addr::Scheduler(self.id), t, Msg::Processed(request));
    }

    fn answer(
        &mut self,
        request: &Request,
        outcome: Outcome,
        pod: Option<PodId>,
        request_id: u64,
        ctx: &mut Ctx<'_>,
    ) {
        let city = ctx.env.geo.locate(request.client_ip).map(|(c, _)| c);
        let delay = match city {
            Some(c) => ctx.env.network.device_delay(c, &mut self.rng),
            None => SimDuration::ZERO,
        };
        let reply = Reply {
            action: request.action,
            outcome,
            pod,
            sent_at: request.sent_at,
            request_id,
        };
        ctx.send(Addr::Device(request.device), delay, Msg::Reply(reply));
    }

    fn new_request_id(&mut self) -> u64 {
        self.next_request_id += 1;
        (u64::from(self.id) << 48) | self.next_request_id
    }

    fn process(&mut self, request: Request, ctx: &mut Ctx<'_>) {
        let request_id = self.new_request_id();
        match request.action {
            Action::Start => self.start(request, request_id, ctx),
            Action::Stop => self.stop(request, request_id, ctx),
        }
    }

    fn start(&mut self, request: Request, request_id: u64, ctx: &mut Ctx<'_>) {
        let Some((city, isp)) = ctx.env.geo.locate(request.client_ip) else {
            return self.answer(&request, Outcome::InvalidClientIp, None, request_id, ctx);
        };
        let slot = request.device as usize;
        if slot >= self.placement.len() {
            self.placement.resize(slot + 1, NO_POD);
        }
        let allowed = request
            .strategy
            .map(|s| &ctx.env.strategies[s as usize].regions);
        let key = self.cache_region_order(city, isp, &ctx.env.fleet, &ctx.env.geo);
        let order = self.order[key].as_deref().unwrap_or_default();
        let idle = &self.idle;
        let region = order
            .iter()
            .copied()
            .filter(|r| allowed.is_none_or(|a| a.contains(r)))
            .find(|&r| !idle[r as usize].is_empty());
        let Some(region) = region else {
            return self.answer(&request, Outcome::NoIdleResource, None, request_id, ctx);
        };
        let pod = self.idle[region as usize]
            .pop()
            .expect("region has an idle pod");
        self.placement[slot] = pod;
        let node = ctx.env.fleet.pod_node(pod);
        let delay = ctx.env.network.region_delay(region, &mut self.rng);
        ctx.send(
            Addr::Node(node),
            delay,
            Msg::Activate {
                pod,
                request,
                scheduler: self.id,
                request_id,
            },
        );
    }

    fn stop(&mut self, request: Request, request_id: u64, ctx: &mut Ctx<'_>) {
        let Some(pod) = self.placement_of(request.device) else {
            return self.answer(&request, Outcome::InvalidParameter, None, request_id, ctx);
        };
        self.placement[request.device as usize] = NO_POD;
        let region = ctx.env.fleet.pod_region(pod);
        self.idle[region as usize].push(pod);
        let delay = ctx.env.network.region_delay(region, &mut self.rng);
        ctx.send(
            Addr::Node(ctx.env.fleet.pod_node(pod)),
            delay,
            Msg::Release { pod },
        );
        self.answer(&request, Outcome::Ok, Some(pod), request_id, ctx);
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
                if self.busy_workers < ctx.env.workers {
                    self.busy_workers += 1;
                    self.start_work(request, ctx);
                } else {
                    self.waiting.push_back(request);
                }
            }
            Msg::Processed(request) => {
                self.process(request, ctx);
                match self.waiting.pop_front() {
                    Some(next) => self.start_work(next, ctx),
                    None => self.busy_workers -= 1,
                }
            }
            Msg::Activated {
                pod,
                request,
                request_id,
            } => {
                self.answer(&request, Outcome::Ok, Some(pod), request_id, ctx);
            }
            _ => {}
        }
    }
}
