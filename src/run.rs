//! A run: one scenario, one seed, one engine, to measurements. This is the
//! library entry point that the command line, tests, benchmarks and sweeps
//! call.

use std::sync::Arc;

use crate::engine::{self, Driver, EngineKind, Watch, World};
use crate::metrics::{Measurements, Recorder};
use crate::model::Env;
use crate::scenario::Scenario;
use crate::time::SimTime;

/// A run that failed after the scenario was accepted.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An actix mailbox closed under the driver.
    #[error("the actix engine lost an actor: {0}")]
    Mailbox(#[from] actix::MailboxError),
    /// The trace could not be read to the end of the window.
    #[error("the trace replay stopped: {0}")]
    Trace(#[from] crate::trace::TraceError),
}

/// What a run produced.
pub struct RunOutput {
    /// Scenario name.
    pub scenario: String,
    /// The seed used.
    pub seed: u64,
    /// The engine used.
    pub engine: EngineKind,
    /// The figures.
    pub measurements: Measurements,
    /// Events delivered.
    pub events: u64,
    /// True if the run was stopped before its end; the measurements then
    /// cover time zero to [`Measurements::end`].
    pub partial: bool,
    /// The actors as the run left them.
    pub world: World,
    /// What they shared.
    pub env: Arc<Env>,
}

/// Runs `scenario` with `engine` from time zero to its duration.
pub fn run(scenario: &Scenario, engine: EngineKind) -> Result<RunOutput, RunError> {
    run_watched(scenario, engine, Watch::default())
}

/// Runs `scenario` with `engine` while `watch` follows it. If the watch's
/// stop flag is set, the run stops within [`engine::WATCH_EVERY`] events and
/// its output covers the simulated time reached, marked partial.
pub fn run_watched(
    scenario: &Scenario,
    engine: EngineKind,
    watch: Watch,
) -> Result<RunOutput, RunError> {
    let (world, env) = World::build(scenario);
    let env = Arc::new(env);
    let end = SimTime::ZERO + scenario.duration;
    let recorder =
        Recorder::new(&scenario.fleet, scenario.warmup).with_series(scenario.report_interval);
    let mut driver = Driver::new(recorder, end, &world.starters(true)).watched(watch);
    if let Some(trace) = &scenario.workload.trace {
        let rng = crate::model::stream(scenario.seed, crate::model::Stream::Trace, 0);
        driver.set_feed(crate::trace::open(trace, rng)?);
    }
    let world = match engine {
        EngineKind::Default => engine::plain::run(world, &env, &mut driver),
        EngineKind::Actix => engine::actix_host::run(world, env.clone(), &mut driver)?,
    };
    let partial = driver.stopped();
    let reached = if partial { driver.now() } else { end };
    if let Some(e) = driver.take_feed_error() {
        return Err(e.into());
    }
    let events = driver.events;
    Ok(RunOutput {
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        engine,
        measurements: driver.recorder.finish(reached),
        events,
        partial,
        world,
        env,
    })
}
