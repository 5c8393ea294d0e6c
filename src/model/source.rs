//! The session source: a Poisson stream of sessions, each started on a
//! device drawn uniformly from those not in a session.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use rand_pcg::Pcg64Mcg;

use super::{Actor, Addr, Ctx, Msg, Observation};
use crate::api::DeviceId;
use crate::time::SimDuration;

/// Starts sessions at exponential intervals.
pub struct SessionSource {
    rng: Pcg64Mcg,
    /// Devices not in a session; `slot[d]` is d's place here, or `NONE`.
    idle: Vec<DeviceId>,
    slot: Vec<u32>,
    /// Sessions begun so far.
    sessions: u32,
}

const NONE: u32 = u32::MAX;

impl SessionSource {
    /// A source over `devices` idle devices.
    pub fn new(devices: u32, rng: Pcg64Mcg) -> SessionSource {
        SessionSource {
            rng,
            idle: (0..devices).collect(),
            slot: (0..devices).collect(),
            sessions: 0,
        }
    }

    fn schedule_next(&mut self, ctx: &mut Ctx<'_>) {
        let unit: f64 = Exp1.sample(&mut self.rng);
        let gap = SimDuration::from_nanos(
            (unit * ctx.env.mean_interarrival.as_nanos() as f64).round() as u64,
        );
        ctx.send(Addr::Source, gap, Msg::NextArrival);
    }

    fn take_idle(&mut self) -> Option<DeviceId> {
        if self.idle.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..self.idle.len());
        let device = self.idle.swap_remove(i);
        if let Some(&moved) = self.idle.get(i) {
            self.slot[moved as usize] = i as u32;
        }
        self.slot[device as usize] = NONE;
        Some(device)
    }

    fn put_idle(&mut self, device: DeviceId) {
        if self.slot[device as usize] == NONE {
            self.slot[device as usize] = self.idle.len() as u32;
            self.idle.push(device);
        }
    }
}

impl Actor for SessionSource {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::Init => self.schedule_next(ctx),
            Msg::NextArrival => {
                ctx.record(Observation::Arrival);
                match self.take_idle() {
                    Some(d) => {
                        let turn = self.sessions;
                        self.sessions = self.sessions.wrapping_add(1);
                        ctx.send(
                            Addr::Device(d),
                            SimDuration::ZERO,
                            Msg::BeginSession { turn },
                        )
                    }
                    None => ctx.record(Observation::ArrivalLost),
                }
                self.schedule_next(ctx);
            }
            Msg::SessionOver(d) => self.put_idle(d),
            _ => {}
        }
    }
}
