//! The recorder: the one place every engine sends its observations.
//!
//! Latency histograms are kept per (action, outcome) in nanoseconds, with the
//! exact sum and maximum beside them; pod occupancy is integrated over time
//! per region. Only what happens after the warm-up counts: a request counts if
//! it was sent after the warm-up, an arrival if it came after it.
//!
//! When asked to, the recorder also cuts the run into intervals of simulated
//! time ([`Interval`]) from time zero, warm-up included, so that the fill-up
//! shows. Each interval's figures are kept as a small fixed record and its
//! histograms are reset, so memory grows with the number of intervals times
//! the number of regions, not with the number of events.

use hdrhistogram::Histogram;

use crate::api::{Action, Outcome};
use crate::fleet::{Fleet, RegionId};
use crate::model::{Observation, UnitPhase};
use crate::time::{SimDuration, SimTime};

/// A histogram with the exact sum and maximum beside it.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Values, 3 significant digits.
    pub histogram: Histogram<u64>,
    /// Exact sum.
    pub sum: u128,
    /// Exact maximum.
    pub max: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            histogram: Histogram::new(3).expect("3 significant digits is valid"),
            sum: 0,
            max: 0,
        }
    }
}

impl Stats {
    /// Adds one value.
    pub fn record(&mut self, value: u64) {
        if self.histogram.record(value).is_err() {
            self.histogram.saturating_record(value);
        }
        self.sum += u128::from(value);
        self.max = self.max.max(value);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Stats) {
        if self.histogram.add(&other.histogram).is_err() {
            for v in other.histogram.iter_recorded() {
                self.histogram
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Exact mean.
    pub fn mean(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.sum as f64 / self.count() as f64
        }
    }

    /// The `q` quantile, never above the exact maximum.
    pub fn quantile(&self, q: f64) -> u64 {
        self.histogram.value_at_quantile(q).min(self.max)
    }
}

/// Latencies of one (action, outcome), in nanoseconds.
#[derive(Clone, Debug)]
pub struct LatencyStats {
    /// The action.
    pub action: Action,
    /// The outcome.
    pub outcome: Outcome,
    /// The latencies.
    pub stats: Stats,
}

impl LatencyStats {
    /// Number of answers.
    pub fn count(&self) -> u64 {
        self.stats.count()
    }

    /// Exact mean, in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        self.stats.mean() / 1e6
    }

    /// The `q` quantile in milliseconds, never above the exact maximum.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.stats.quantile(q) as f64 / 1e6
    }

    /// Exact maximum, in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.stats.max as f64 / 1e6
    }
}

/// What lock contention is measured by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockMetric {
    /// Units tried per placement.
    Attempts,
    /// Refusals met per placement.
    Conflicts,
    /// Time an operation waited for a node's lock manager, ns.
    Wait,
    /// Time from grant to the end of a hold, ns.
    Hold,
}

impl LockMetric {
    /// Every metric, in report order.
    pub const ALL: [LockMetric; 4] = [
        LockMetric::Attempts,
        LockMetric::Conflicts,
        LockMetric::Wait,
        LockMetric::Hold,
    ];

    /// The name reports use, with its unit.
    pub fn name(self) -> &'static str {
        match self {
            LockMetric::Attempts => "lock_attempts",
            LockMetric::Conflicts => "conflicts",
            LockMetric::Wait => "lock_wait_ms",
            LockMetric::Hold => "lock_hold_ms",
        }
    }

    /// True if the metric is measured for requests of `action`: placements
    /// (`Start`, `PreSchedule`) have all four, other node operations only
    /// the wait.
    pub fn applies_to(self, action: Action) -> bool {
        matches!(action, Action::Start | Action::PreSchedule) || self == LockMetric::Wait
    }

    /// What one recorded unit is worth in the report's unit.
    pub fn scale(self) -> f64 {
        match self {
            LockMetric::Attempts | LockMetric::Conflicts => 1.0,
            LockMetric::Wait | LockMetric::Hold => 1e-6,
        }
    }
}

/// Lock contention: per region, action and metric, and per node.
#[derive(Clone, Debug, Default)]
pub struct Contention {
    /// `slots[(region * actions + action) * metrics + metric]`.
    slots: Vec<Option<Stats>>,
    /// Lock wait per node.
    pub node_wait: Vec<Option<Stats>>,
    /// Refusals per node.
    pub node_refusals: Vec<u64>,
}

fn contention_slot(region: RegionId, action: Action, metric: LockMetric) -> usize {
    (region as usize * Action::ALL.len() + action as usize) * LockMetric::ALL.len()
        + metric as usize
}

impl Contention {
    fn new(regions: usize, nodes: usize) -> Contention {
        Contention {
            slots: vec![None; regions * Action::ALL.len() * LockMetric::ALL.len()],
            node_wait: vec![None; nodes],
            node_refusals: vec![0; nodes],
        }
    }

    fn record(&mut self, region: RegionId, action: Action, metric: LockMetric, value: u64) {
        self.slots[contention_slot(region, action, metric)]
            .get_or_insert_with(Stats::default)
            .record(value);
    }

    /// The stats of one region, action and metric, if any were recorded.
    pub fn get(&self, region: RegionId, action: Action, metric: LockMetric) -> Option<&Stats> {
        self.slots
            .get(contention_slot(region, action, metric))?
            .as_ref()
    }

    /// Regions that saw any contention data.
    pub fn regions(&self) -> Vec<RegionId> {
        let per_region = Action::ALL.len() * LockMetric::ALL.len();
        (0..self.slots.len() / per_region)
            .filter(|r| {
                self.slots[r * per_region..(r + 1) * per_region]
                    .iter()
                    .any(Option::is_some)
            })
            .map(|r| r as RegionId)
            .collect()
    }

    fn merge(&mut self, other: &Contention) {
        for (a, b) in self.slots.iter_mut().zip(&other.slots) {
            if let Some(b) = b {
                a.get_or_insert_with(Stats::default).merge(b);
            }
        }
        for (a, b) in self.node_wait.iter_mut().zip(&other.node_wait) {
            if let Some(b) = b {
                a.get_or_insert_with(Stats::default).merge(b);
            }
        }
        for (a, b) in self.node_refusals.iter_mut().zip(&other.node_refusals) {
            *a += b;
        }
    }

    /// One metric of one action over all regions.
    pub fn total(&self, action: Action, metric: LockMetric) -> Option<Stats> {
        let regions = self.slots.len() / (Action::ALL.len() * LockMetric::ALL.len());
        let mut total: Option<Stats> = None;
        for r in 0..regions {
            if let Some(s) = self.get(r as RegionId, action, metric) {
                total.get_or_insert_with(Stats::default).merge(s);
            }
        }
        total
    }
}

impl LatencyStats {
    fn new(action: Action, outcome: Outcome) -> LatencyStats {
        LatencyStats {
            action,
            outcome,
            stats: Stats::default(),
        }
    }

    fn record(&mut self, latency: u64) {
        self.stats.record(latency);
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
    /// Most units busy (locked or active) at once after the warm-up.
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

/// Outcomes grouped into the kinds the time series counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeKind {
    /// `Ok`.
    Ok,
    /// `Repeated`: the same placement again.
    Repeated,
    /// `NoIdleResource`.
    NoIdleResource,
    /// A `PreSchedule` lock that expired.
    LockExpired,
    /// `LimitExceeded.SecurityGroup`.
    LimitExceeded,
    /// The request was refused: `MissingParameter`, `NoPermission`,
    /// `InvalidParameter` or `InvalidParameter.<Field>`.
    Invalid,
    /// A backend failed: `ens.interface.error` or `CallInterface`.
    BackendFailure,
}

impl OutcomeKind {
    /// Every kind, in report order.
    pub const ALL: [OutcomeKind; 7] = [
        OutcomeKind::Ok,
        OutcomeKind::Repeated,
        OutcomeKind::NoIdleResource,
        OutcomeKind::LockExpired,
        OutcomeKind::LimitExceeded,
        OutcomeKind::Invalid,
        OutcomeKind::BackendFailure,
    ];

    /// The kind of `outcome`.
    pub fn of(outcome: Outcome) -> OutcomeKind {
        match outcome {
            Outcome::Ok => OutcomeKind::Ok,
            Outcome::Repeated => OutcomeKind::Repeated,
            Outcome::NoIdleResource => OutcomeKind::NoIdleResource,
            Outcome::LockExpired => OutcomeKind::LockExpired,
            Outcome::SecurityGroupLimit => OutcomeKind::LimitExceeded,
            Outcome::MissingParameter
            | Outcome::NoPermission
            | Outcome::InvalidField(_)
            | Outcome::InvalidParameter => OutcomeKind::Invalid,
            Outcome::BackendError | Outcome::CallInterface => OutcomeKind::BackendFailure,
        }
    }

    /// The column that counts it.
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Ok => "ok",
            OutcomeKind::Repeated => "repeated",
            OutcomeKind::NoIdleResource => "no_idle_resource",
            OutcomeKind::LockExpired => "lock_expired",
            OutcomeKind::LimitExceeded => "limit_exceeded",
            OutcomeKind::Invalid => "invalid",
            OutcomeKind::BackendFailure => "backend_failure",
        }
    }
}

/// Placement figures of one region, after the warm-up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionPlacements {
    /// Placements decided for devices whose home region this is (the first
    /// region their scheduler tries).
    pub requests: u64,
    /// Of those, placed in this region.
    pub placed_home: u64,
    /// Of those, answered `NoIdleResource`.
    pub no_idle: u64,
    /// Units granted in this region, to devices from anywhere.
    pub placements: u64,
    /// Sum of the distances from those devices' cities to this region, km.
    pub distance_km_sum: f64,
}

impl RegionPlacements {
    /// Requests from this home region placed in another region.
    pub fn spilled(&self) -> u64 {
        self.requests - self.placed_home - self.no_idle
    }

    /// Mean distance of the devices placed here, km; zero if none were.
    pub fn mean_distance_km(&self) -> f64 {
        if self.placements == 0 {
            0.0
        } else {
            self.distance_km_sum / self.placements as f64
        }
    }
}

/// The answers of one action received within one interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    /// Answers.
    pub count: u64,
    /// Median latency, ns, never above `max`.
    pub p50: u64,
    /// 99th percentile latency, ns, never above `max`.
    pub p99: u64,
    /// Exact maximum latency, ns.
    pub max: u64,
}

/// Unit occupancy and placements of one region within one interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RegionWindow {
    /// Time-average of locked units.
    pub locked: f64,
    /// Time-average of active units.
    pub active: f64,
    /// Units granted.
    pub placements: u32,
}

/// The figures of one interval of simulated time, `(start, end]`; the first
/// one also holds what happened at time zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// Its start.
    pub start: SimTime,
    /// Its end: `start` plus the interval, or the end of the run.
    pub end: SimTime,
    /// Sessions that arrived.
    pub arrivals: u64,
    /// Of those, lost because every device was busy.
    pub arrivals_lost: u64,
    /// Devices in a session at the end.
    pub in_session: u64,
    /// Answers of every action per [`OutcomeKind`], in its order.
    pub kinds: [u64; OutcomeKind::ALL.len()],
    /// Answers per action, for the actions answered in it, in report order.
    pub actions: Vec<(Action, Window)>,
    /// Per region, by region id.
    pub regions: Vec<RegionWindow>,
}

/// A [`Window`] being filled.
#[derive(Clone, Debug)]
struct WindowStats {
    latency: Histogram<u64>,
    max: u64,
}

impl WindowStats {
    fn new() -> WindowStats {
        WindowStats {
            latency: Histogram::new(2).expect("2 significant digits is valid"),
            max: 0,
        }
    }

    fn record(&mut self, latency: u64) {
        if self.latency.record(latency).is_err() {
            self.latency.saturating_record(latency);
        }
        self.max = self.max.max(latency);
    }

    /// The window so far; starts a new one.
    fn take(&mut self) -> Window {
        let count = self.latency.len();
        if count == 0 {
            return Window::default();
        }
        let q = |q: f64| self.latency.value_at_quantile(q).min(self.max);
        let w = Window {
            count,
            p50: q(0.5),
            p99: q(0.99),
            max: self.max,
        };
        self.latency.reset();
        self.max = 0;
        w
    }
}

/// Per-region state of the interval being filled.
#[derive(Clone, Debug, Default)]
struct RegionSpan {
    locked_area: u128,
    active_area: u128,
    since: SimTime,
    placements: u32,
}

/// The time series being recorded.
struct Series {
    every: SimDuration,
    start: SimTime,
    end: SimTime,
    arrivals: u64,
    arrivals_lost: u64,
    kinds: [u64; OutcomeKind::ALL.len()],
    actions: Vec<Option<WindowStats>>,
    regions: Vec<RegionSpan>,
    done: Vec<Interval>,
}

impl Series {
    fn new(every: SimDuration, regions: usize) -> Series {
        Series {
            every,
            start: SimTime::ZERO,
            end: SimTime::ZERO + every,
            arrivals: 0,
            arrivals_lost: 0,
            kinds: [0; OutcomeKind::ALL.len()],
            actions: vec![None; Action::ALL.len()],
            regions: vec![RegionSpan::default(); regions],
            done: Vec::new(),
        }
    }

    /// Adds the occupancy of `region` from its last change to `now`.
    fn integrate(&mut self, region: usize, occ: &RegionOccupancy, now: SimTime) {
        let r = &mut self.regions[region];
        let span = u128::from(now.since(r.since).as_nanos());
        r.locked_area += u128::from(occ.locked) * span;
        r.active_area += u128::from(occ.active) * span;
        r.since = now;
    }

    /// Closes the interval being filled at `end`, and starts the next.
    fn close(&mut self, end: SimTime, occupancy: &[RegionOccupancy], in_session: u64) {
        let span = end.since(self.start).as_nanos().max(1) as f64;
        let mut regions = Vec::with_capacity(self.regions.len());
        for (i, occ) in occupancy.iter().enumerate() {
            self.integrate(i, occ, end);
            let r = &mut self.regions[i];
            regions.push(RegionWindow {
                locked: r.locked_area as f64 / span,
                active: r.active_area as f64 / span,
                placements: r.placements,
            });
            *r = RegionSpan {
                since: end,
                ..RegionSpan::default()
            };
        }
        let actions = Action::ALL
            .iter()
            .zip(&mut self.actions)
            .filter_map(|(&a, w)| w.as_mut().map(|w| (a, w.take())))
            .filter(|(_, w)| w.count > 0)
            .collect();
        self.done.push(Interval {
            start: self.start,
            end,
            arrivals: std::mem::take(&mut self.arrivals),
            arrivals_lost: std::mem::take(&mut self.arrivals_lost),
            in_session,
            kinds: std::mem::take(&mut self.kinds),
            actions,
            regions,
        });
        self.start = end;
        self.end = end + self.every;
    }
}

/// Collects observations during a run.
pub struct Recorder {
    warmup: SimTime,
    answers: Vec<Option<LatencyStats>>,
    arrivals: u64,
    arrivals_lost: u64,
    in_session: u64,
    regions: Vec<RegionOccupancy>,
    placements: Vec<RegionPlacements>,
    contention: Contention,
    node_region: Vec<RegionId>,
    series: Option<Series>,
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
            in_session: 0,
            regions: vec![RegionOccupancy::default(); fleet.regions().len()],
            placements: vec![RegionPlacements::default(); fleet.regions().len()],
            contention: Contention::new(fleet.regions().len(), fleet.node_count()),
            node_region: (0..fleet.node_count() as u32)
                .map(|n| fleet.node_region(n))
                .collect(),
            series: None,
            chains: vec![None; Action::ALL.len() * Outcome::ALL.len()],
        }
    }

    /// Also records a time series in intervals of `every` (at least 1 ns).
    pub fn with_series(mut self, every: SimDuration) -> Recorder {
        let every = every.max(SimDuration::from_nanos(1));
        self.series = Some(Series::new(every, self.regions.len()));
        self
    }

    /// Closes every interval of the time series that ended before `now`.
    #[inline]
    fn roll(&mut self, now: SimTime) {
        if let Some(s) = self.series.as_mut() {
            while now > s.end {
                let end = s.end;
                s.close(end, &self.regions, self.in_session);
            }
        }
    }

    /// Takes one observation made at `now`.
    pub fn observe(&mut self, now: SimTime, obs: Observation) {
        self.roll(now);
        self.observe_series(now, &obs);
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
                self.answers[slot(action, outcome)]
                    .get_or_insert_with(|| LatencyStats {
                        action,
                        outcome,
                        stats: Stats::default(),
                    })
                    .stats
                    .record(latency);
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
                if now >= warmup {
                    r.peak_busy = r.peak_busy.max(r.locked + r.active);
                }
            }
            Observation::SessionBegun => self.in_session += 1,
            Observation::SessionOver => self.in_session = self.in_session.saturating_sub(1),
            _ if now < self.warmup => {}
            Observation::LockWait { node, action, wait } => {
                let region = self.node_region[node as usize];
                self.contention
                    .record(region, action, LockMetric::Wait, wait.as_nanos());
                let n = &mut self.contention.node_wait[node as usize];
                n.get_or_insert_with(Stats::default).record(wait.as_nanos());
            }
            Observation::LockHold { node, action, held } => {
                let region = self.node_region[node as usize];
                self.contention
                    .record(region, action, LockMetric::Hold, held.as_nanos());
            }
            Observation::Refused { node, .. } => self.contention.node_refusals[node as usize] += 1,
            Observation::Attempts {
                region,
                action,
                attempts,
                conflicts,
            } => {
                self.contention
                    .record(region, action, LockMetric::Attempts, u64::from(attempts));
                self.contention
                    .record(region, action, LockMetric::Conflicts, u64::from(conflicts));
            }
            Observation::Placement {
                home,
                placed,
                distance_km,
                ..
            } => {
                let h = &mut self.placements[home as usize];
                h.requests += 1;
                match placed {
                    None => h.no_idle += 1,
                    Some(r) => {
                        h.placed_home += u64::from(r == home);
                        let p = &mut self.placements[r as usize];
                        p.placements += 1;
                        p.distance_km_sum += distance_km;
                    }
                }
            }
            Observation::Arrival => self.arrivals += 1,
            Observation::ArrivalLost => self.arrivals_lost += 1,
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
        }
    }

    /// The time series' share of an observation, warm-up or not.
    fn observe_series(&mut self, now: SimTime, obs: &Observation) {
        let Some(s) = self.series.as_mut() else {
            return;
        };
        match *obs {
            Observation::Answer {
                action,
                outcome,
                sent_at,
            } => {
                s.kinds[OutcomeKind::of(outcome) as usize] += 1;
                s.actions[action as usize]
                    .get_or_insert_with(WindowStats::new)
                    .record(now.since(sent_at).as_nanos());
            }
            Observation::Unit { region, .. } => {
                s.integrate(region as usize, &self.regions[region as usize], now);
            }
            Observation::Placement {
                placed: Some(r), ..
            } => s.regions[r as usize].placements += 1,
            Observation::Arrival => s.arrivals += 1,
            Observation::ArrivalLost => s.arrivals_lost += 1,
            _ => {}
        }
    }

    /// Closes the integrals and the time series at `end` and hands over the
    /// figures.
    pub fn finish(mut self, end: SimTime) -> Measurements {
        let warmup = self.warmup;
        for r in &mut self.regions {
            advance(r, end, warmup);
        }
        let mut series = Vec::new();
        let mut interval = None;
        if let Some(mut s) = self.series.take() {
            while s.end < end {
                let at = s.end;
                s.close(at, &self.regions, self.in_session);
            }
            if end > s.start {
                s.close(end, &self.regions, self.in_session);
            }
            interval = Some(s.every);
            series = s.done;
        }
        Measurements {
            measured: end.since(warmup),
            end,
            answers: self.answers.into_iter().flatten().collect(),
            arrivals: self.arrivals,
            arrivals_lost: self.arrivals_lost,
            in_session: self.in_session,
            regions: self.regions,
            placements: self.placements,
            contention: self.contention,
            interval,
            series,
            chains: self.chains.into_iter().flatten().collect(),
        }
    }
}

fn advance(r: &mut RegionOccupancy, now: SimTime, warmup: SimTime) {
    if r.since < warmup && now >= warmup {
        r.peak_busy = r.peak_busy.max(r.locked + r.active);
    }
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
    /// Where the run ended: its duration, or earlier if it was interrupted.
    pub end: SimTime,
    /// Latencies per (action, outcome) that occurred, in report order.
    pub answers: Vec<LatencyStats>,
    /// Sessions that arrived.
    pub arrivals: u64,
    /// Sessions that found every device busy.
    pub arrivals_lost: u64,
    /// Devices in a session at the end.
    pub in_session: u64,
    /// Occupancy per region, by region id.
    pub regions: Vec<RegionOccupancy>,
    /// Placements per region, by region id.
    pub placements: Vec<RegionPlacements>,
    /// Lock contention.
    pub contention: Contention,
    /// The time series' interval, if one was recorded.
    pub interval: Option<SimDuration>,
    /// The time series, in time order; empty if none was recorded.
    pub series: Vec<Interval>,
    /// Retry chains per (action, outcome) of the final answer, in report
    /// order; only classes that retry record them.
    pub chains: Vec<ChainStats>,
}

impl Measurements {
    /// Adds another run's figures, as if the two runs were one: counts and
    /// histograms add, measured time adds, peaks take the larger. Time
    /// series do not add up that way, so a merge keeps none.
    pub fn merge(&mut self, other: &Measurements) {
        self.measured = self.measured + other.measured;
        self.end = self.end.max(other.end);
        self.in_session += other.in_session;
        for (a, b) in self.placements.iter_mut().zip(&other.placements) {
            a.requests += b.requests;
            a.placed_home += b.placed_home;
            a.no_idle += b.no_idle;
            a.placements += b.placements;
            a.distance_km_sum += b.distance_km_sum;
        }
        for s in &other.answers {
            match self
                .answers
                .iter_mut()
                .find(|a| a.action == s.action && a.outcome == s.outcome)
            {
                Some(a) => a.stats.merge(&s.stats),
                None => self.answers.push(s.clone()),
            }
        }
        self.answers.sort_by_key(|s| (s.action, s.outcome.index()));
        self.arrivals += other.arrivals;
        self.arrivals_lost += other.arrivals_lost;
        for (a, b) in self.regions.iter_mut().zip(&other.regions) {
            a.locked += b.locked;
            a.active += b.active;
            a.peak_busy = a.peak_busy.max(b.peak_busy);
            a.locked_area += b.locked_area;
            a.active_area += b.active_area;
        }
        self.contention.merge(&other.contention);
    }

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
