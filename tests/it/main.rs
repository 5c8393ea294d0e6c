//! Integration tests: the simulator against theory, its determinism, and the
//! command line as a user meets it.

mod api;
mod cli;
mod contention;
mod determinism;
mod erlang;
mod flows;
mod load;
mod planning;
mod reports;
mod retry;
mod support;
mod trace;
