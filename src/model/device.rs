//! The device: runs sessions of its class's flow.
//!
//! A container session is `Start`, optional `Console` polls while holding,
//! then `Stop`. A VM session is `PreSchedule`, a think time, then `Confirm`
//! (with probability `confirm_p`), `Cancel` (`cancel_p`) or nothing, which
//! lets the lock expire; a confirmed instance is held, then stopped. A share
//! of sessions repeats its first request, and a share sends it malformed.
//!
//! A class with a [`Retry`] policy sends a request again when it fails with
//! one of the policy's outcomes (`NoIdleResource`, `ens.interface.error`,
//! `CallInterface`), after an exponential backoff with jitter, up to its
//! limit. Each attempt is observed as an answer like any other; the chain of
//! attempts, from the first send to the answer that is not retried, is
//! observed once more as an [`Observation::Chain`](super::Observation::Chain)
//! with its number of retries.

use rand::RngExt;
use rand_pcg::Pcg64Mcg;

use super::{Actor, Addr, Ctx, DeviceTimer, Msg, SessionSpec};
use crate::api::{Action, DeviceId, Field, Outcome, Reply, Request};
use crate::dist::Dist;
use crate::geo::CityId;
use crate::time::{SimDuration, SimTime};

/// A kind of device and what its sessions do.
#[derive(Clone, Debug)]
pub struct Class {
    /// Its name in the scenario.
    pub name: String,
    /// The session flow.
    pub flow: Flow,
    /// Holding time of a placement.
    pub holding: Dist,
    /// Share of sessions that send their first request twice.
    pub repeat_share: f64,
    /// Share of sessions whose first request is malformed, per kind.
    pub malformed: Vec<(Malformed, f64)>,
    /// `ServiceCommands` commands sent with `Start`, `Confirm` and `Console`.
    pub commands: u16,
    /// How failed requests are retried; none: never.
    pub retry: Option<Retry>,
}

/// When and how a device sends a failed request again.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Retries per request at most (attempts = 1 + this).
    pub max_retries: u8,
    /// Backoff before the first retry, before jitter, in ms; it doubles
    /// with each retry.
    pub base_ms: f64,
    /// The backoff never exceeds this, before jitter, in ms.
    pub cap_ms: f64,
    /// How the backoff is randomised.
    pub jitter: Jitter,
    /// The outcomes that are retried.
    pub on: Vec<Outcome>,
}

/// Randomisation of a retry backoff `b = min(cap, base x 2^(k-1))` before
/// retry `k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// Uniform on `[0, b]`.
    Full,
    /// `b / 2` plus uniform on `[0, b / 2]`.
    Equal,
    /// Exactly `b`.
    None,
}

impl Retry {
    /// The backoff before retry number `k` (from 1).
    pub fn backoff<R: rand::Rng + ?Sized>(&self, k: u8, rng: &mut R) -> SimDuration {
        let doubling = 2f64.powi(i32::from(k.max(1)) - 1);
        let b = (self.base_ms * doubling).min(self.cap_ms);
        let ms = match self.jitter {
            Jitter::Full => b * rng.random::<f64>(),
            Jitter::Equal => b / 2.0 + b / 2.0 * rng.random::<f64>(),
            Jitter::None => b,
        };
        SimDuration::from_millis_f64(ms)
    }
}

/// A session flow.
#[derive(Clone, Debug)]
pub enum Flow {
    /// `Start`, `Console` polls, `Stop`.
    Container {
        /// `Console` polls while holding.
        console_polls: u16,
        /// Time before each poll.
        console_interval: Dist,
    },
    /// `PreSchedule`, think, `Confirm` / `Cancel` / nothing, hold, `Stop`.
    Vm {
        /// Time between the lock and the decision.
        think: Dist,
        /// Probability of `Confirm`.
        confirm_p: f64,
        /// Probability of `Cancel`.
        cancel_p: f64,
        /// `PreLockedTimeout`, seconds.
        lock_timeout_s: u32,
    },
}

/// How a malformed request is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// A required parameter is missing.
    MissingParameter,
    /// The device uses another application's `AppId`.
    OtherApp,
    /// A parameter is malformed.
    Field(Field),
}

/// Where a device is in its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No session.
    Idle,
    /// `Start` sent.
    Starting,
    /// `PreSchedule` sent.
    Locking,
    /// Holding a lock, deciding.
    Thinking,
    /// `Confirm` sent.
    Confirming,
    /// `Cancel` sent.
    Cancelling,
    /// Left its lock to expire.
    Abandoned,
    /// Holding a pod or instance.
    Holding,
    /// `Stop` sent.
    Stopping,
}

/// A simulated device: 64 bytes, aligned to a cache line, since a run with a
/// million of them touches each at random.
#[repr(align(64))]
pub struct Device {
    id: DeviceId,
    ip: u32,
    city: CityId,
    class: u8,
    /// The scheduler of the current session.
    scheduler: u16,
    phase: Phase,
    session: u32,
    polls_left: u16,
    repeat_pending: bool,
    /// This session's holding time, when its arrival fixed one.
    /// (An `Option` would take 16 bytes and push the device past a 64-byte
    /// cache line; with a million devices that line is the cost.)
    hold_for: SimDuration,
    /// Whether `hold_for` applies to this session.
    hold_fixed: bool,
    /// Whether a chain of attempts is open, when it began, and its retries.
    chain_open: bool,
    retries: u8,
    chain_start: SimTime,
    rng: Pcg64Mcg,
}

impl Device {
    /// An idle device of class number `class`, with its address and city.
    pub fn new(id: DeviceId, ip: u32, city: CityId, class: u8, rng: Pcg64Mcg) -> Device {
        Device {
            id,
            ip,
            city,
            class,
            scheduler: 0,
            phase: Phase::Idle,
            session: 0,
            polls_left: 0,
            repeat_pending: false,
            hold_for: SimDuration::ZERO,
            hold_fixed: false,
            chain_open: false,
            retries: 0,
            chain_start: SimTime::ZERO,
            rng,
        }
    }

    /// Its client IP.
    pub fn ip(&self) -> u32 {
        self.ip
    }

    /// The city it is in.
    pub fn city(&self) -> CityId {
        self.city
    }

    /// Where it is in its session.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn class<'e>(&self, ctx: &Ctx<'e>) -> &'e Class {
        &ctx.env.classes[self.class as usize]
    }

    fn request(&self, action: Action, ctx: &Ctx<'_>) -> Request {
        let class = self.class(ctx);
        let mut r = Request::new(ctx.env.app, self.id, self.ip, action, ctx.now);
        if matches!(action, Action::Start | Action::PreSchedule) {
            r.strategy = ctx.env.start_strategy;
        }
        if matches!(action, Action::Start | Action::Confirm | Action::Console) {
            r.commands = class.commands;
        }
        if let Flow::Vm { lock_timeout_s, .. } = class.flow {
            r.lock_timeout_s = lock_timeout_s;
        }
        r
    }

    fn send(&mut self, request: Request, ctx: &mut Ctx<'_>) {
        let delay = ctx.env.network.device_delay(self.city, &mut self.rng);
        ctx.send(
            Addr::Scheduler(self.scheduler),
            delay,
            Msg::Request(request),
        );
    }

    fn timer(&mut self, kind: DeviceTimer, after: SimDuration, ctx: &mut Ctx<'_>) {
        ctx.send(
            Addr::Device(self.id),
            after,
            Msg::Timer {
                kind,
                session: self.session,
            },
        );
    }

    /// Takes on what the arrival fixed: a class, a holding time, an address
    /// (and the city it belongs to, if it has one).
    fn apply(&mut self, spec: SessionSpec, ctx: &Ctx<'_>) {
        if let Some(class) = spec.class {
            self.class = class;
        }
        if let Some(ip) = spec.client_ip {
            self.ip = ip;
            if let Some((city, _)) = ctx.env.geo.locate(ip) {
                self.city = city;
            }
        }
        self.hold_fixed = spec.holding.is_some();
        self.hold_for = spec.holding.unwrap_or(SimDuration::ZERO);
    }

    fn begin(&mut self, spec: SessionSpec, ctx: &mut Ctx<'_>) {
        self.apply(spec, ctx);
        let class = self.class(ctx);
        self.session += 1;
        self.scheduler = ctx.env.route(self.city, spec.turn);
        self.repeat_pending = class.repeat_share > 0.0 && self.rng.random_bool(class.repeat_share);
        let (action, phase) = match class.flow {
            Flow::Container { console_polls, .. } => {
                self.polls_left = console_polls;
                (Action::Start, Phase::Starting)
            }
            Flow::Vm { .. } => (Action::PreSchedule, Phase::Locking),
        };
        let mut request = self.request(action, ctx);
        if let Some(kind) = self.draw_malformed(class) {
            match kind {
                Malformed::MissingParameter => request.rejected = Some(Outcome::MissingParameter),
                Malformed::OtherApp => request.app = ctx.env.app + 1,
                Malformed::Field(f) => request.rejected = Some(Outcome::InvalidField(f)),
            }
        }
        self.phase = phase;
        ctx.record(super::Observation::SessionBegun);
        self.send_first(request, ctx);
    }

    /// Sends the first attempt of a request that moves the session on.
    fn send_first(&mut self, request: Request, ctx: &mut Ctx<'_>) {
        self.chain_open = true;
        self.retries = 0;
        self.chain_start = ctx.now;
        self.send(request, ctx);
    }

    /// The action of the request this phase waits for, if any.
    fn awaited(&self) -> Option<Action> {
        match self.phase {
            Phase::Starting => Some(Action::Start),
            Phase::Locking => Some(Action::PreSchedule),
            Phase::Confirming => Some(Action::Confirm),
            Phase::Cancelling => Some(Action::Cancel),
            Phase::Stopping => Some(Action::Stop),
            _ => None,
        }
    }

    /// Schedules another attempt if the class retries `outcome` and the
    /// chain has retries left.
    fn retry(&mut self, outcome: Outcome, ctx: &mut Ctx<'_>) -> bool {
        let Some(policy) = &self.class(ctx).retry else {
            return false;
        };
        if !self.chain_open || self.retries >= policy.max_retries || !policy.on.contains(&outcome) {
            return false;
        }
        self.retries += 1;
        let wait = policy.backoff(self.retries, &mut self.rng);
        self.timer(DeviceTimer::RetryDue, wait, ctx);
        true
    }

    /// Observes the end of the open chain, for classes that retry.
    fn close_chain(&mut self, reply: &Reply, ctx: &mut Ctx<'_>) {
        if !self.chain_open {
            return;
        }
        self.chain_open = false;
        if self.class(ctx).retry.is_some() {
            ctx.record(super::Observation::Chain {
                action: reply.action,
                outcome: reply.outcome,
                started_at: self.chain_start,
                retries: self.retries,
            });
        }
    }

    fn draw_malformed(&mut self, class: &Class) -> Option<Malformed> {
        if class.malformed.is_empty() {
            return None;
        }
        let mut u: f64 = self.rng.random();
        for &(kind, share) in &class.malformed {
            if u < share {
                return Some(kind);
            }
            u -= share;
        }
        None
    }

    fn end_session(&mut self, ctx: &mut Ctx<'_>) {
        self.phase = Phase::Idle;
        ctx.record(super::Observation::SessionOver);
        ctx.send(Addr::Source, SimDuration::ZERO, Msg::SessionOver(self.id));
    }

    fn hold(&mut self, ctx: &mut Ctx<'_>) {
        let class = self.class(ctx);
        self.phase = Phase::Holding;
        let hold = if self.hold_fixed {
            self.hold_for
        } else {
            class.holding.sample(&mut self.rng)
        };
        self.timer(DeviceTimer::HoldingDone, hold, ctx);
        if let Flow::Container {
            console_interval, ..
        } = &class.flow
            && self.polls_left > 0
        {
            let wait = console_interval.sample(&mut self.rng);
            self.timer(DeviceTimer::ConsoleDue, wait, ctx);
        }
    }

    fn on_reply(&mut self, reply: Reply, ctx: &mut Ctx<'_>) {
        ctx.record(super::Observation::Answer {
            action: reply.action,
            outcome: reply.outcome,
            sent_at: reply.sent_at,
        });
        if self.awaited() == Some(reply.action) {
            if self.retry(reply.outcome, ctx) {
                return;
            }
            self.close_chain(&reply, ctx);
        }
        let ok = reply.outcome.is_success();
        match (self.phase, reply.action) {
            (Phase::Starting, Action::Start) | (Phase::Locking, Action::PreSchedule)
                if ok && self.repeat_pending =>
            {
                self.repeat_pending = false;
                let again = self.request(reply.action, ctx);
                self.send(again, ctx);
            }
            (Phase::Starting, Action::Start) | (Phase::Confirming, Action::Confirm) if ok => {
                self.hold(ctx)
            }
            (Phase::Locking, Action::PreSchedule) if ok => {
                self.phase = Phase::Thinking;
                if let Flow::Vm { think, .. } = &self.class(ctx).flow {
                    let wait = think.sample(&mut self.rng);
                    self.timer(DeviceTimer::ThinkDone, wait, ctx);
                }
            }
            (Phase::Starting, Action::Start)
            | (Phase::Locking, Action::PreSchedule)
            | (Phase::Confirming, Action::Confirm)
            | (Phase::Cancelling, Action::Cancel)
            | (Phase::Stopping, Action::Stop) => self.end_session(ctx),
            _ => {}
        }
    }

    fn on_timer(&mut self, kind: DeviceTimer, ctx: &mut Ctx<'_>) {
        match (kind, self.phase) {
            (DeviceTimer::HoldingDone, Phase::Holding) => {
                self.phase = Phase::Stopping;
                let r = self.request(Action::Stop, ctx);
                self.send_first(r, ctx);
            }
            (DeviceTimer::RetryDue, _) => {
                if let Some(action) = self.awaited() {
                    let r = self.request(action, ctx);
                    self.send(r, ctx);
                }
            }
            (DeviceTimer::ConsoleDue, Phase::Holding) if self.polls_left > 0 => {
                self.polls_left -= 1;
                let r = self.request(Action::Console, ctx);
                self.send(r, ctx);
                if let Flow::Container {
                    console_interval, ..
                } = &self.class(ctx).flow
                    && self.polls_left > 0
                {
                    let wait = console_interval.sample(&mut self.rng);
                    self.timer(DeviceTimer::ConsoleDue, wait, ctx);
                }
            }
            (DeviceTimer::ThinkDone, Phase::Thinking) => self.decide(ctx),
            (DeviceTimer::LockLapsed, Phase::Abandoned) => self.end_session(ctx),
            _ => {}
        }
    }

    fn decide(&mut self, ctx: &mut Ctx<'_>) {
        let Flow::Vm {
            confirm_p,
            cancel_p,
            lock_timeout_s,
            ..
        } = self.class(ctx).flow
        else {
            return;
        };
        let u: f64 = self.rng.random();
        if u < confirm_p {
            self.phase = Phase::Confirming;
            let r = self.request(Action::Confirm, ctx);
            self.send_first(r, ctx);
        } else if u < confirm_p + cancel_p {
            self.phase = Phase::Cancelling;
            let r = self.request(Action::Cancel, ctx);
            self.send_first(r, ctx);
        } else {
            // Nothing: the lock expires. The device starts no new session
            // until that has surely happened.
            self.phase = Phase::Abandoned;
            let wait = SimDuration::from_secs(u64::from(lock_timeout_s) + 1);
            self.timer(DeviceTimer::LockLapsed, wait, ctx);
        }
    }
}

impl Actor for Device {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::BeginSession(spec) if self.phase == Phase::Idle => self.begin(spec, ctx),
            Msg::Timer { kind, session } if session == self.session => self.on_timer(kind, ctx),
            Msg::Reply(reply) => self.on_reply(reply, ctx),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn policy(jitter: Jitter) -> Retry {
        Retry {
            max_retries: 10,
            base_ms: 100.0,
            cap_ms: 1000.0,
            jitter,
            on: vec![Outcome::NoIdleResource],
        }
    }

    #[test]
    fn a_device_fits_in_a_cache_line() {
        // A million devices: each one touched is a memory access, so keep it
        // to one 64-byte line.
        assert_eq!(std::mem::size_of::<Device>(), 64);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let got: Vec<f64> = (1..=6)
            .map(|k| policy(Jitter::None).backoff(k, &mut rng).as_millis_f64())
            .collect();
        assert_eq!(got, [100.0, 200.0, 400.0, 800.0, 1000.0, 1000.0]);
    }

    #[test]
    fn jittered_backoffs_stay_in_their_range_with_the_right_mean() {
        // Full jitter: uniform on [0, b], mean b/2, sd b/sqrt(12); equal
        // jitter: uniform on [b/2, b], mean 3b/4, sd b/(2 sqrt(12)). The mean
        // of n draws is within 5 standard errors, sd/sqrt(n).
        let n = 100_000;
        for (jitter, lo, mean, sd) in [
            (Jitter::Full, 0.0, 0.5, 1.0 / 12f64.sqrt()),
            (Jitter::Equal, 0.5, 0.75, 0.5 / 12f64.sqrt()),
        ] {
            let mut rng = Pcg64Mcg::seed_from_u64(2);
            let b = 400.0;
            let draws: Vec<f64> = (0..n)
                .map(|_| policy(jitter).backoff(3, &mut rng).as_millis_f64())
                .collect();
            assert!(draws.iter().all(|&d| d >= lo * b && d <= b), "{jitter:?}");
            let got = draws.iter().sum::<f64>() / f64::from(n);
            assert!(
                (got - mean * b).abs() <= 5.0 * sd * b / f64::from(n).sqrt(),
                "{jitter:?}: mean {got}"
            );
        }
    }
}
