//! Engines: what delivers messages to the actors in virtual time.
//!
//! Both engines share the [`Driver`]: one event queue ordered by (time,
//! sequence), one recorder, one rule for applying an actor's effects. They
//! differ only in where the actors live: [`plain`] keeps them in vectors and
//! calls them directly; [`actix_host`] hosts each one in an actix actor and
//! awaits its answer. Because the queue decides the order and each actor
//! draws from its own random stream, both give the same results.
//!
//! A trace replay adds a [`Feed`] to the driver: before each event, the
//! driver moves every trace arrival due by then into the queue, so the file
//! is read as the run goes and no actor does I/O (see [`crate::trace`]).

pub mod actix_host;
pub mod plain;
pub mod world;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::metrics::Recorder;
use crate::model::{Addr, Effect, Msg};
use crate::queue::EventQueue;
use crate::time::{SimDuration, SimTime};
use crate::trace::{Feed, TraceArrival, TraceError};

pub use world::World;

/// Which engine runs the actors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineKind {
    /// Actors called directly by a plain event loop.
    #[default]
    Default,
    /// Every actor hosted by actix, on the same virtual clock.
    Actix,
}

impl EngineKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Default => "default",
            EngineKind::Actix => "actix",
        }
    }
}

/// Events between two looks at the [`Watch`]: the driver calls the
/// progress callback and reads the stop flag once every this many events.
pub const WATCH_EVERY: u64 = 1 << 16;

/// Who watches a run from outside: a progress callback, told the simulated
/// instant and the events delivered so far, and a flag that stops the run
/// early when set. The driver looks at both every [`WATCH_EVERY`] events,
/// so watching costs one counter test per event; neither reads a clock.
#[derive(Default)]
pub struct Watch {
    /// Called with (simulated now, events delivered).
    pub progress: Option<Box<dyn FnMut(SimTime, u64)>>,
    /// Set (by a signal handler, say) to stop the run.
    pub stop: Option<Arc<AtomicBool>>,
}

/// The clock, the pending events and the recorder of a run.
pub struct Driver {
    queue: EventQueue<(Addr, Msg)>,
    end: SimTime,
    /// Where observations go.
    pub recorder: Recorder,
    /// Events delivered so far.
    pub events: u64,
    watch: Watch,
    stopped: bool,
    /// Trace arrivals still to come, if the run replays a trace.
    feed: Option<Box<dyn Feed>>,
    /// The feed's next arrival.
    feed_next: Option<TraceArrival>,
    /// Its instant, or the end of time when there is none.
    feed_at: SimTime,
    /// Why the feed stopped early, if it did.
    feed_error: Option<TraceError>,
}

const NEVER: SimTime = SimTime::from_nanos(u64::MAX);

impl Driver {
    /// A driver that runs until `end` and starts by sending [`Msg::Init`] to
    /// each of `starters`.
    pub fn new(recorder: Recorder, end: SimTime, starters: &[Addr]) -> Driver {
        let mut queue = EventQueue::new();
        for &to in starters {
            queue.push(SimDuration::ZERO, (to, Msg::Init));
        }
        Driver {
            queue,
            end,
            recorder,
            events: 0,
            watch: Watch::default(),
            stopped: false,
            feed: None,
            feed_next: None,
            feed_at: NEVER,
            feed_error: None,
        }
    }

    /// Replays `feed`: its arrivals go to the session source as they fall due.
    pub fn set_feed(&mut self, feed: Box<dyn Feed>) {
        self.feed = Some(feed);
        self.pull_feed();
    }

    /// Why the trace feed stopped early, if it did.
    pub fn take_feed_error(&mut self) -> Option<TraceError> {
        self.feed_error.take()
    }

    fn pull_feed(&mut self) {
        let next = match self.feed.as_mut().map(|f| f.next_arrival()) {
            Some(Ok(next)) => next,
            Some(Err(e)) => {
                self.feed_error = Some(e);
                None
            }
            None => None,
        };
        if next.is_none() {
            self.feed = None;
        }
        self.feed_at = next.map_or(NEVER, |a| a.at);
        self.feed_next = next;
    }

    /// Moves every trace arrival due by the next queued event into the queue.
    #[cold]
    fn inject_feed(&mut self) {
        let horizon = self.queue.peek_time().unwrap_or(NEVER).min(self.end);
        while self.feed_at <= horizon {
            let a = self
                .feed_next
                .take()
                .expect("feed_at is set with feed_next");
            let msg = Msg::TraceArrival {
                device: a.device,
                spec: a.spec,
            };
            self.queue.push_at(a.at, (Addr::Source, msg));
            self.pull_feed();
        }
    }

    /// Lets `watch` follow the run and stop it.
    pub fn watched(mut self, watch: Watch) -> Driver {
        self.watch = watch;
        self
    }

    /// The next event due no later than the end, with its instant; none
    /// once the stop flag is seen.
    #[inline]
    pub fn next_event(&mut self) -> Option<(SimTime, Addr, Msg)> {
        if self.events.is_multiple_of(WATCH_EVERY) && self.look() {
            return None;
        }
        if self.feed_at <= self.end {
            self.inject_feed();
        }
        if self.queue.peek_time()? > self.end {
            return None;
        }
        let (now, (to, msg)) = self.queue.pop()?;
        self.events += 1;
        Some((now, to, msg))
    }

    /// Reports progress; true if the run is to stop.
    #[cold]
    fn look(&mut self) -> bool {
        if let Some(progress) = self.watch.progress.as_mut() {
            progress(self.queue.now(), self.events);
        }
        let stop = self
            .watch
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed));
        self.stopped |= stop;
        stop
    }

    /// True if the stop flag ended the run before its end.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Applies (and empties) the effects an actor produced at `now`.
    #[inline]
    pub fn apply(&mut self, now: SimTime, effects: &mut Vec<Effect>) {
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, delay, msg } => self.queue.push(delay, (to, msg)),
                Effect::Record(obs) => self.recorder.observe(now, obs),
            }
        }
    }

    /// Moves the end of the run (for runs driven step by step).
    pub fn set_end(&mut self, end: SimTime) {
        self.end = end;
    }

    /// Schedules `msg` for `to` at `at` (or now, if `at` has passed).
    pub fn inject(&mut self, at: SimTime, to: Addr, msg: Msg) {
        self.queue.push_at(at, (to, msg));
    }

    /// The instant of the last event delivered.
    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// The end of the run.
    pub fn end(&self) -> SimTime {
        self.end
    }
}
