//! Replications: the same scenario under several seeds, run in parallel.
//!
//! Replication `i` runs with seed `scenario.seed + i`, so replications are
//! independent and a sweep's points share their seeds (common random
//! numbers, which sharpen comparisons between points). The result keeps the
//! merged measurements (histograms of all replications together) and, for
//! every figure, its mean and 95% interval across replications.

use std::collections::BTreeMap;

use crate::engine::EngineKind;
use crate::figures::{Figures, figures, is_count_like};
use crate::metrics::Measurements;
use crate::run::{RunError, RunOutput, run};
use crate::scenario::Scenario;
use crate::stats::{Estimate, estimate};

/// What N replications produced.
pub struct Replicated {
    /// The seeds run, in order.
    pub seeds: Vec<u64>,
    /// All replications' measurements merged.
    pub merged: Measurements,
    /// Each replication's figures, in seed order.
    pub per_seed: Vec<Figures>,
    /// Mean and 95% interval of every figure across replications.
    pub estimates: BTreeMap<String, Estimate>,
    /// The first replication's full output, for its world and environment.
    pub first: RunOutput,
    /// Events delivered over all replications.
    pub events: u64,
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

/// Runs `n` replications of `scenario` on up to `threads` threads.
pub fn replicate(
    scenario: &Scenario,
    engine: EngineKind,
    n: u32,
    threads: usize,
) -> Result<Replicated, RunError> {
    let seeds: Vec<u64> = (0..u64::from(n.max(1)))
        .map(|i| scenario.seed.wrapping_add(i))
        .collect();
    let threads = threads.clamp(1, seeds.len());
    let chunk = seeds.len().div_ceil(threads);
    let mut outputs: Vec<Result<RunOutput, RunError>> = std::thread::scope(|s| {
        let handles: Vec<_> = seeds
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&seed| {
                            let mut sc = scenario.clone();
                            sc.seed = seed;
                            run(&sc, engine)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a replication thread panicked"))
            .collect()
    });
    let first = outputs.remove(0)?;
    let rest: Vec<RunOutput> = outputs.into_iter().collect::<Result<_, _>>()?;

    let mut merged = first.measurements.clone();
    let mut per_seed = vec![figures(&first.measurements)];
    let mut events = first.events;
    for out in &rest {
        merged.merge(&out.measurements);
        per_seed.push(figures(&out.measurements));
        events += out.events;
    }
    let estimates = estimate_all(&per_seed);
    Ok(Replicated {
        seeds,
        merged,
        per_seed,
        estimates,
        first,
        events,
    })
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
