//! The device: runs sessions of `Start`, a holding time, then `Stop`.

use rand_pcg::Pcg64Mcg;

use super::{Actor, Addr, Ctx, Msg, Observation};
use crate::api::{Action, DeviceId, Outcome, Reply, Request};
use crate::geo::CityId;

/// Where a device is in its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No session.
    Idle,
    /// `Start` sent, no answer yet.
    Starting,
    /// Holding a pod.
    Holding,
    /// `Stop` sent, no answer yet.
    Stopping,
}

/// A simulated device.
pub struct Device {
    id: DeviceId,
    ip: u32,
    city: CityId,
    phase: Phase,
    rng: Pcg64Mcg,
}

impl Device {
    /// A device with its address and city, idle.
    pub fn new(id: DeviceId, ip: u32, city: CityId, rng: Pcg64Mcg) -> Device {
        Device {
            id,
            ip,
            city,
            phase: Phase::Idle,
            rng,
        }
    }

    /// Its client IP.
    pub fn ip(&self) -> u32 {
        self.ip
    }

    /// Where it is in its session.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn send(&mut self, action: Action, ctx: &mut Ctx<'_>) {
        let request = Request {
            device: self.id,
            client_ip: self.ip,
            action,
            strategy: if action == Action::Start {
                ctx.env.start_strategy
            } else {
                None
            },
            sent_at: ctx.now,
        };
        let delay = ctx.env.network.device_delay(self.city, &mut self.rng);
        ctx.send(ctx.env.scheduler_for(self.id), delay, Msg::Request(request));
    }

    fn end_session(&mut self, ctx: &mut Ctx<'_>) {
        self.phase = Phase::Idle;
        ctx.send(
            Addr::Source,
            crate::time::SimDuration::ZERO,
            Msg::SessionOver(self.id),
        );
    }

    fn on_reply(&mut self, reply: Reply, ctx: &mut Ctx<'_>) {
        ctx.record(Observation::Answer {
            action: reply.action,
            outcome: reply.outcome,
            sent_at: reply.sent_at,
        });
        match (self.phase, reply.action, reply.outcome) {
            (Phase::Starting, Action::Start, Outcome::Ok) => {
                self.phase = Phase::Holding;
                let hold = ctx.env.holding.sample(&mut self.rng);
                ctx.send(Addr::Device(self.id), hold, Msg::HoldingDone);
            }
            (Phase::Starting, Action::Start, _) | (Phase::Stopping, Action::Stop, _) => {
                self.end_session(ctx)
            }
            _ => {}
        }
    }
}

impl Actor for Device {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::BeginSession if self.phase == Phase::Idle => {
                self.phase = Phase::Starting;
                self.send(Action::Start, ctx);
            }
            Msg::HoldingDone if self.phase == Phase::Holding => {
                self.phase = Phase::Stopping;
                self.send(Action::Stop, ctx);
            }
            Msg::Reply(reply) => self.on_reply(reply, ctx),
            _ => {}
        }
    }
}
