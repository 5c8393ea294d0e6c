//! Replications: the same scenario under several seeds, run in parallel.
//!
//! Replication `i` runs with seed `scenario.seed + i`, so replications are
//! independent and a sweep's points share their seeds (common random
//! numbers, which sharpen comparisons between points). The result keeps the
//! merged measurements (histograms of all replications together) and, for
//! every figure, its mean and 95% interval across replications.

use std::collections::BTreeMap;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::{EngineKind, Watch};
use crate::figures::{Figures, figures, is_count_like};
use crate::metrics::Measurements;
use crate::run::{RunError, RunOutput, run_watched};
use crate::scenario::Scenario;
use crate::stats::{Estimate, estimate};

/// What N replications produced.
pub struct Replicated {
    /// The seeds run, in order (fewer than asked if stopped).
    pub seeds: Vec<u64>,
    /// All replications' measurements merged; the time series is the first
    /// replication's.
    pub merged: Measurements,
    /// Each replication's figures, in seed order.
    pub per_seed: Vec<Figures>,
    /// Mean and 95% interval of every figure across replications.
    pub estimates: BTreeMap<String, Estimate>,
    /// The first replication's full output, for its world and environment.
    pub first: RunOutput,
    /// Events delivered over all replications.
    pub events: u64,
    /// True if the stop flag ended the replications early.
    pub partial: bool,
}

impl Replicated {
    /// The means, as figures.
    pub fn mean_figures(&self) -> Figures {
        Figures(
            self.estimates
                .iter()
                .map(|(k, e)| (k.clone(), e.mean))
                .collect(),
        )
    }
}

/// What one thread's share of the replications left: only the first
/// replication keeps its world; the others are reduced to their figures and
/// merged as they finish, so memory does not grow with their number.
struct Share {
    first: Option<RunOutput>,
    merged: Option<Measurements>,
    per_seed: Vec<(u64, Figures)>,
    events: u64,
    partial: bool,
}

/// Runs `n` replications of `scenario` on up to `threads` threads. A set
/// `stop` flag ends the replication under way (its measurements count, as a
/// partial run's do) and skips the rest.
pub fn replicate(
    scenario: &Scenario,
    engine: EngineKind,
    n: u32,
    threads: usize,
    stop: Option<Arc<AtomicBool>>,
) -> Result<Replicated, RunError> {
    let seeds: Vec<u64> = (0..u64::from(n.max(1)))
        .map(|i| scenario.seed.wrapping_add(i))
        .collect();
    let threads = threads.clamp(1, seeds.len());
    let chunk = seeds.len().div_ceil(threads);
    let shares: Vec<Result<Share, RunError>> = std::thread::scope(|s| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|part| {
                let stop = stop.clone();
                s.spawn(move || run_share(scenario, engine, part, stop))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a replication thread panicked"))
            .collect()
    });
    let mut first: Option<RunOutput> = None;
    let mut merged: Option<Measurements> = None;
    let mut per_seed = Vec::new();
    let (mut events, mut partial) = (0, false);
    for share in shares {
        let share = share?;
        first = first.or(share.first);
        if let Some(m) = share.merged {
            match merged.as_mut() {
                Some(all) => all.merge(&m),
                None => merged = Some(m),
            }
        }
        per_seed.extend(share.per_seed);
        events += share.events;
        partial |= share.partial;
    }
    let first = first.expect("the first thread runs the first seed");
    let merged = merged.expect("the first replication is merged");
    let seeds: Vec<u64> = per_seed.iter().map(|(s, _)| *s).collect();
    let per_seed: Vec<Figures> = per_seed.into_iter().map(|(_, f)| f).collect();
    let estimates = estimate_all(&per_seed);
    Ok(Replicated {
        seeds,
        merged,
        per_seed,
        estimates,
        first,
        events,
        partial,
    })
}

fn run_share(
    scenario: &Scenario,
    engine: EngineKind,
    seeds: &[u64],
    stop: Option<Arc<AtomicBool>>,
) -> Result<Share, RunError> {
    let mut share = Share {
        first: None,
        merged: None,
        per_seed: Vec::new(),
        events: 0,
        partial: false,
    };
    for (k, &seed) in seeds.iter().enumerate() {
        // The first seed always runs, so that there is a world to report.
        if seed != scenario.seed && stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
            share.partial = true;
            break;
        }
        let mut sc = scenario.clone();
        sc.seed = seed;
        let out = run_watched(
            &sc,
            engine,
            Watch {
                progress: None,
                stop: stop.clone(),
            },
        )?;
        share.partial |= out.partial;
        share.events += out.events;
        share.per_seed.push((seed, figures(&out.measurements)));
        match share.merged.as_mut() {
            Some(all) => all.merge(&out.measurements),
            None => share.merged = Some(out.measurements.clone()),
        }
        if k == 0 && seed == scenario.seed {
            share.first = Some(out);
        }
    }
    Ok(share)
}

/// Mean and 95% interval of each figure across replications. A count or
/// rate missing from a replication was zero there; a latency missing from one
/// had no answers to measure, and that replication is left out of its
/// estimate.
pub fn estimate_all(per_seed: &[Figures]) -> BTreeMap<String, Estimate> {
    let names: std::collections::BTreeSet<&String> =
        per_seed.iter().flat_map(|f| f.0.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let xs: Vec<f64> = per_seed
                .iter()
                .filter_map(|f| {
                    f.get(name)
                        .or(if is_count_like(name) { Some(0.0) } else { None })
                })
                .collect();
            (name.clone(), estimate(&xs, 0.95))
        })
        .collect()
}
