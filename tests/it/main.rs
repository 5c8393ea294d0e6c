//! Integration tests: the simulator against theory, its determinism, and the
//! command line as a user meets it.

mod api;
mod cli;
mod determinism;
mod erlang;
mod flows;
mod load;
mod retry;
mod support;
mod trace;
