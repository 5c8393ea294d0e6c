//! The recorder: the one place every engine sends its observations.
//!
//! Latency histograms are kept per (action, outcome) in nanoseconds, with the
//! exact sum and maximum beside them; pod occupancy is integrated over time
//! per region. Only what happens after the warm-up counts: a request counts if
//! it was sent after the warm-up, an arrival if it came after it.

use hdrhistogram::Histogram;

use crate::api::{Action, Outcome};
use crate::fleet::Fleet;
use crate::model::{Observation, UnitPhase};
use crate::time::{SimDuration, SimTime};

/// Latencies of one (action, outcome).
#[derive(Clone, Debug)]
pub struct LatencyStats {
    /// The action.
    pub action: Action,
    /// The outcome.
    pub outcome: Outcome,
    /// Latencies in nanoseconds, 3 significant digits.
    pub histogram: Histogram<u64>,
    /// Exact sum, in nanoseconds.
    pub sum_ns: u128,
    /// Exact maximum, in nanoseconds.
    pub max_ns: u64,
}

impl LatencyStats {
    fn new(action: Action, outcome: Outcome) -> LatencyStats {
        LatencyStats {
            action,
            outcome,
            histogram: Histogram::new(3).expect("3 significant digits is valid"),
            sum_ns: 0,
            max_ns: 0,
        }
    }

    /// Number of answers.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Exact mean, in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count() as f64 / 1e6
        }
    }

    /// The `q` quantile in milliseconds, never above the exact maximum.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.histogram.value_at_quantile(q).min(self.max_ns) as f64 / 1e6
    }

    /// Exact maximum, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.max_ns as f64 / 1e6
    }
}

impl LatencyStats {
    fn record(&mut self, latency: u64) {
        if self.histogram.record(latency).is_err() {
            self.histogram.saturating_record(latency);
        }
        self.sum_ns += u128::from(latency);
        self.max_ns = self.max_ns.max(latency);
    }
}

/// Latencies of retry chains that ended in one (action, outcome): from the
/// first attempt's send to the answer that was not retried.
#[derive(Clone, Debug)]
pub struct ChainStats {
    /// The chains' latencies, under the final answer's action and outcome.
    pub latency: LatencyStats,
    /// Retries (attempts after the first) of these chains, in total.
    pub retries: u64,
}

/// Unit occupancy of one region.
#[derive(Clone, Debug, Default)]
pub struct RegionOccupancy {
    /// Units locked now.
    pub locked: u32,
    /// Units active now.
    pub active: u32,
    /// Most units busy (locked or active) at once.
    pub peak_busy: u32,
    /// Integral of locked units over measured time, in unit-nanoseconds.
    pub locked_area: u128,
    /// Integral of active units over measured time, in unit-nanoseconds.
    pub active_area: u128,
    since: SimTime,
}

impl RegionOccupancy {
    fn count(&mut self, phase: UnitPhase) -> Option<&mut u32> {
        match phase {
            UnitPhase::Idle => None,
            UnitPhase::Locked => Some(&mut self.locked),
            UnitPhase::Active => Some(&mut self.active),
        }
    }
}

/// Collects observations during a run.
pub struct Recorder {
    warmup: SimTime,
    answers: Vec<Option<LatencyStats>>,
    arrivals: u64,
    arrivals_lost: u64,
    regions: Vec<RegionOccupancy>,
    chains: Vec<Option<ChainStats>>,
}

fn slot(action: Action, outcome: Outcome) -> usize {
    action as usize * Outcome::ALL.len() + outcome.index()
}

impl Recorder {
    /// A recorder for a run over `fleet` that ignores the first `warmup`.
    pub fn new(fleet: &Fleet, warmup: SimDuration) -> Recorder {
        Recorder {
            warmup: SimTime::ZERO + warmup,
            answers: vec![None; Action::ALL.len() * Outcome::ALL.len()],
            arrivals: 0,
            arrivals_lost: 0,
            regions: vec![RegionOccupancy::default(); fleet.regions().len()],
            chains: vec![None; Action::ALL.len() * Outcome::ALL.len()],
        }
    }

    /// Takes one observation made at `now`.
    pub fn observe(&mut self, now: SimTime, obs: Observation) {
        match obs {
            Observation::Answer {
                action,
                outcome,
                sent_at,
            } => {
                if sent_at < self.warmup {
                    return;
                }
                let latency = now.since(sent_at).as_nanos();
                let stats = self.answers[slot(action, outcome)]
                    .get_or_insert_with(|| LatencyStats::new(action, outcome));
                if stats.histogram.record(latency).is_err() {
                    stats.histogram.saturating_record(latency);
                }
                stats.sum_ns += u128::from(latency);
                stats.max_ns = stats.max_ns.max(latency);
            }
            Observation::Unit { region, from, to } => {
                let warmup = self.warmup;
                let r = &mut self.regions[region as usize];
                advance(r, now, warmup);
                if let Some(n) = r.count(from) {
                    *n -= 1;
                }
                if let Some(n) = r.count(to) {
                    *n += 1;
                }
                r.peak_busy = r.peak_busy.max(r.locked + r.active);
            }
            Observation::Chain {
                action,
                outcome,
                started_at,
                retries,
            } => {
                if started_at < self.warmup {
                    return;
                }
                let chain = self.chains[slot(action, outcome)].get_or_insert_with(|| ChainStats {
                    latency: LatencyStats::new(action, outcome),
                    retries: 0,
                });
                chain.latency.record(now.since(started_at).as_nanos());
                chain.retries += u64::from(retries);
            }
            Observation::Arrival if now >= self.warmup => self.arrivals += 1,
            Observation::ArrivalLost if now >= self.warmup => self.arrivals_lost += 1,
            Observation::Arrival | Observation::ArrivalLost => {}
        }
    }

    /// Closes the integrals at `end` and hands over the figures.
    pub fn finish(mut self, end: SimTime) -> Measurements {
        let warmup = self.warmup;
        for r in &mut self.regions {
            advance(r, end, warmup);
        }
        Measurements {
            measured: end.since(warmup),
            answers: self.answers.into_iter().flatten().collect(),
            arrivals: self.arrivals,
            arrivals_lost: self.arrivals_lost,
            regions: self.regions,
            chains: self.chains.into_iter().flatten().collect(),
        }
    }
}

fn advance(r: &mut RegionOccupancy, now: SimTime, warmup: SimTime) {
    let from = r.since.max(warmup);
    if now > from {
        let span = u128::from(now.since(from).as_nanos());
        r.locked_area += u128::from(r.locked) * span;
        r.active_area += u128::from(r.active) * span;
    }
    r.since = now;
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Measurements {
    /// Measured span: the run less the warm-up.
    pub measured: SimDuration,
    /// Latencies per (action, outcome) that occurred, in report order.
    pub answers: Vec<LatencyStats>,
    /// Sessions that arrived.
    pub arrivals: u64,
    /// Sessions that found every device busy.
    pub arrivals_lost: u64,
    /// Occupancy per region, by region id.
    pub regions: Vec<RegionOccupancy>,
    /// Retry chains per (action, outcome) of the final answer, in report
    /// order; only classes that retry record them.
    pub chains: Vec<ChainStats>,
}

impl Measurements {
    /// The stats of one (action, outcome), if it occurred.
    pub fn answer(&self, action: Action, outcome: Outcome) -> Option<&LatencyStats> {
        self.answers
            .iter()
            .find(|s| s.action == action && s.outcome == outcome)
    }

    /// Number of answers of `action` with `outcome`.
    pub fn count(&self, action: Action, outcome: Outcome) -> u64 {
        self.answer(action, outcome).map_or(0, LatencyStats::count)
    }

    /// Number of answers of `action`, whatever the outcome.
    pub fn total(&self, action: Action) -> u64 {
        self.answers
            .iter()
            .filter(|s| s.action == action)
            .map(LatencyStats::count)
            .sum()
    }

    /// Retries counted in the measured chains.
    pub fn retries(&self) -> u64 {
        self.chains.iter().map(|c| c.retries).sum()
    }

    /// Time-average of busy (locked or active) units over the measured
    /// span, in region `region`.
    pub fn mean_busy(&self, region: usize) -> f64 {
        let span = self.measured.as_nanos();
        let r = &self.regions[region];
        if span == 0 {
            0.0
        } else {
            (r.locked_area + r.active_area) as f64 / span as f64
        }
    }
}
