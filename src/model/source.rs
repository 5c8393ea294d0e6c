//! The session source: decides when sessions begin and on which device.
//!
//! It runs one of three kinds of load ([`Load`]):
//!
//! - **Open**: an arrival process ([`super::arrival`]) plus any flash crowds.
//!   Each arrival starts a session on a device drawn uniformly from the idle
//!   devices of a group; an arrival that finds its group all busy is lost.
//!   Groups are cities with their own rate multiplier plus one group for the
//!   rest: an arrival picks a group with probability proportional to the
//!   group's population share times its multiplier, which splits the process
//!   into one stream per group at those rates.
//! - **Closed**: a fixed set of `users` devices, each beginning a session a
//!   think time after its previous session ended (and a think time after
//!   time zero for its first), so at most `users` sessions are ever in flight.
//! - **Trace**: arrivals come from outside, as [`Msg::TraceArrival`] messages
//!   that the engine reads from a trace file ([`crate::trace`]), so this actor
//!   stays free of I/O.

use rand::RngExt;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_pcg::Pcg64Mcg;

use super::arrival::{ArrivalClock, Flash, FlashClock, Process};
use super::{Actor, Addr, Ctx, Msg, Observation, SessionSpec};
use crate::api::DeviceId;
use crate::dist::Dist;
use crate::time::{SimDuration, SimTime};

/// What drives the sessions of a run.
#[derive(Clone, Debug)]
pub enum Load {
    /// An open arrival process with flash crowds on top.
    Open {
        /// The process, its rates already multiplied by the cities' multipliers.
        process: Process,
        /// Flash crowds.
        flashes: Vec<Flash>,
    },
    /// A closed population.
    Closed {
        /// Devices that take part.
        users: u32,
        /// Time between the end of a session and the next.
        think: Dist,
    },
    /// Arrivals injected by the engine from a trace.
    Trace,
}

/// Idle devices, by group.
pub struct IdlePools {
    /// Idle devices of each group.
    pools: Vec<Vec<DeviceId>>,
    /// Each device's place in its group's pool, or `NONE` when busy.
    slot: Vec<u32>,
    /// Each device's group; empty when there is one group.
    group_of: Vec<u16>,
    /// Draws a group; none when there is one group.
    pick: Option<WeightedIndex<f64>>,
}

const NONE: u32 = u32::MAX;

impl IdlePools {
    /// Every device idle, in one group.
    pub fn single(devices: u32) -> IdlePools {
        IdlePools {
            pools: vec![(0..devices).collect()],
            slot: (0..devices).collect(),
            group_of: Vec::new(),
            pick: None,
        }
    }

    /// Every device idle, device `d` in group `group_of[d]`; arrivals pick
    /// group `g` with weight `weights[g]`.
    pub fn grouped(group_of: Vec<u16>, weights: &[f64]) -> IdlePools {
        let mut pools = vec![Vec::new(); weights.len()];
        let mut slot = Vec::with_capacity(group_of.len());
        for (d, &g) in group_of.iter().enumerate() {
            slot.push(pools[g as usize].len() as u32);
            pools[g as usize].push(d as DeviceId);
        }
        IdlePools {
            pools,
            slot,
            group_of,
            pick: Some(WeightedIndex::new(weights).expect("checked: positive weights")),
        }
    }

    fn group(&self, device: DeviceId) -> usize {
        self.group_of
            .get(device as usize)
            .map_or(0, |&g| g as usize)
    }

    /// Takes a uniformly drawn idle device of a drawn group.
    fn take(&mut self, rng: &mut Pcg64Mcg) -> Option<DeviceId> {
        let g = self.pick.as_ref().map_or(0, |w| w.sample(rng));
        if self.pools[g].is_empty() {
            return None;
        }
        let i = rng.random_range(0..self.pools[g].len());
        Some(self.remove(g, i))
    }

    /// Takes `device` if it is idle.
    fn take_this(&mut self, device: DeviceId) -> bool {
        match self.slot.get(device as usize) {
            Some(&i) if i != NONE => {
                self.remove(self.group(device), i as usize);
                true
            }
            _ => false,
        }
    }

    fn remove(&mut self, g: usize, i: usize) -> DeviceId {
        let pool = &mut self.pools[g];
        let device = pool.swap_remove(i);
        if let Some(&moved) = pool.get(i) {
            self.slot[moved as usize] = i as u32;
        }
        self.slot[device as usize] = NONE;
        device
    }

    fn put(&mut self, device: DeviceId) {
        if self.slot[device as usize] == NONE {
            let g = self.group(device);
            let pool = &mut self.pools[g];
            self.slot[device as usize] = pool.len() as u32;
            pool.push(device);
        }
    }
}

/// Starts sessions on devices.
pub struct SessionSource {
    rng: Pcg64Mcg,
    load: Load,
    idle: IdlePools,
    open: Option<ArrivalClock>,
    /// The open process's next arrival.
    next_open: Option<SimTime>,
    /// Flash crowds with their next arrival.
    flashes: Vec<(FlashClock, Option<SimTime>)>,
    /// Sessions begun so far.
    sessions: u32,
}

impl SessionSource {
    /// Begins a session on `device`, numbering it for round-robin routing.
    fn begin(&mut self, device: DeviceId, mut spec: SessionSpec, ctx: &mut Ctx<'_>) {
        spec.turn = self.sessions;
        self.sessions = self.sessions.wrapping_add(1);
        ctx.send(
            Addr::Device(device),
            SimDuration::ZERO,
            Msg::BeginSession(spec),
        );
    }

    /// A source running `load` over the devices of `idle`.
    pub fn new(load: Load, idle: IdlePools, rng: Pcg64Mcg) -> SessionSource {
        SessionSource {
            rng,
            load,
            idle,
            open: None,
            next_open: None,
            flashes: Vec::new(),
            sessions: 0,
        }
    }

    fn init(&mut self, ctx: &mut Ctx<'_>) {
        match &self.load {
            Load::Open { process, flashes } => {
                let mut clock = process.start(&mut self.rng);
                self.next_open = clock.next(&mut self.rng);
                self.open = Some(clock);
                let flashes = flashes.clone();
                for f in flashes {
                    let mut c = FlashClock::new(f);
                    let next = c.next(&mut self.rng);
                    self.flashes.push((c, next));
                }
                self.schedule(ctx);
            }
            Load::Closed { users, think } => {
                let (users, think) = (*users, think.clone());
                for _ in 0..users {
                    let Some(d) = self.idle.take(&mut self.rng) else {
                        break;
                    };
                    let wait = think.sample(&mut self.rng);
                    ctx.send(Addr::Source, wait, Msg::ThinkOver(d));
                }
            }
            Load::Trace => {}
        }
    }

    /// The next open or flash arrival.
    fn next_due(&self) -> Option<SimTime> {
        self.flashes
            .iter()
            .filter_map(|f| f.1)
            .chain(self.next_open)
            .min()
    }

    fn schedule(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(at) = self.next_due() {
            ctx.send(Addr::Source, at.since(ctx.now), Msg::NextArrival);
        }
    }

    /// Starts every open and flash arrival due by now, then sets the timer
    /// for the next.
    fn on_timer(&mut self, ctx: &mut Ctx<'_>) {
        while self.next_open.is_some_and(|t| t <= ctx.now) {
            self.arrive(ctx);
            if let Some(clock) = self.open.as_mut() {
                self.next_open = clock.next(&mut self.rng);
            }
        }
        for i in 0..self.flashes.len() {
            while self.flashes[i].1.is_some_and(|t| t <= ctx.now) {
                self.arrive(ctx);
                let next = self.flashes[i].0.next(&mut self.rng);
                self.flashes[i].1 = next;
            }
        }
        self.schedule(ctx);
    }

    fn arrive(&mut self, ctx: &mut Ctx<'_>) {
        ctx.record(Observation::Arrival);
        match self.idle.take(&mut self.rng) {
            Some(d) => self.begin(d, SessionSpec::default(), ctx),
            None => ctx.record(Observation::ArrivalLost),
        }
    }

    fn on_trace(&mut self, device: Option<DeviceId>, spec: SessionSpec, ctx: &mut Ctx<'_>) {
        ctx.record(Observation::Arrival);
        let chosen = match device {
            Some(d) => self.idle.take_this(d).then_some(d),
            None => self.idle.take(&mut self.rng),
        };
        match chosen {
            Some(d) => self.begin(d, spec, ctx),
            None => ctx.record(Observation::ArrivalLost),
        }
    }

    fn on_session_over(&mut self, device: DeviceId, ctx: &mut Ctx<'_>) {
        match &self.load {
            Load::Closed { think, .. } => {
                let wait = think.sample(&mut self.rng);
                ctx.send(Addr::Source, wait, Msg::ThinkOver(device));
            }
            Load::Open { .. } | Load::Trace => self.idle.put(device),
        }
    }
}

impl Actor for SessionSource {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::Init => self.init(ctx),
            Msg::NextArrival => self.on_timer(ctx),
            Msg::ThinkOver(d) => {
                ctx.record(Observation::Arrival);
                self.begin(d, SessionSpec::default(), ctx);
            }
            Msg::TraceArrival { device, spec } => self.on_trace(device, spec, ctx),
            Msg::SessionOver(d) => self.on_session_over(d, ctx),
            _ => {}
        }
    }
}
