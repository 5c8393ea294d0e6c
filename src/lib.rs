//! ensim: a simulator and load tester for an edge-cloud device scheduler.
//!
//! Devices call the `RunServiceSchedule` API to get the nearest idle pod; ensim
//! models that exchange in virtual time and measures it.
//!
//! How data flows through a run:
//!
//! 1. [`scenario`] reads a TOML file and checks it into a [`scenario::Scenario`]:
//!    the fleet ([`fleet`]) built from real regions, the device population
//!    placed by the client-IP database ([`geo`]), the workload and the latency
//!    model ([`dist`]).
//! 2. [`engine::World`] builds the actors of [`model`] (devices, the session
//!    source, schedulers, edge nodes), each a state machine written once.
//! 3. An engine ([`engine::plain`] or [`engine::actix_host`]) delivers their
//!    messages in (time, sequence) order from the [`queue`], on the clock of
//!    [`time`], and feeds every observation to the one [`metrics`] recorder.
//! 4. [`run::run`] returns the measurements; [`report`] writes them as CSV
//!    files, an HdrHistogram log and `run.json` into one results folder, and
//!    [`plot`] draws SVG charts from those files.
//!
//! Load: the session source ([`model::source`]) runs an open arrival process
//! ([`model::arrival`]), a closed population, or a trace that the engine
//! reads as a stream ([`trace`]).
//!
//! [`call`] answers single API requests given as JSON lines (`ensim call`),
//! with the same scheduler and nodes. [`erlang`] holds the queueing formulas that the tests check results against.

pub mod api;
pub mod call;
pub mod check;
pub mod dist;
pub mod engine;
pub mod erlang;
pub mod figures;
pub mod fleet;
pub mod geo;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod queue;
pub mod replicate;
pub mod report;
pub mod run;
pub mod scenario;
pub mod slo;
pub mod stats;
pub mod sweep;
pub mod time;
pub mod trace;
