//! Engine throughput on the Erlang B loss system (issue 2).
//!
//! One run of `cargo bench --bench engines` simulates `scenarios/erlang-b.toml`
//! three ways and prints simulated arrivals per wall-clock second for each,
//! with the ratios:
//!
//! - `reference`: a bare binary-heap event loop over the same loss system
//!   (c servers, Poisson arrivals, exponential holding, blocked arrivals
//!   lost), written here only as the speed limit;
//! - `default`: `ensim::run::run` with the plain event loop;
//! - `actix`: `ensim::run::run` with every actor hosted by actix.
//!
//! The aim is the default engine within 2x of the reference loop.
//!
//! Each stage runs in its own child process (the bench binary starts itself
//! again with `ENSIM_BENCH_STAGE` set), so the peak resident memory it
//! reports (`VmHWM` from `/proc/self/status`) belongs to that stage alone
//! rather than being a high-water mark across stages. In a child, the stage
//! runs once briefly to warm up, then `ENSIM_BENCH_REPS` times; the fastest
//! run is reported, and every run must give the same counts.
//!
//! Sizes come from the environment:
//!
//! - `ENSIM_BENCH_ARRIVALS` (default 2,000,000): arrivals simulated by the
//!   default engine and the reference loop;
//! - `ENSIM_BENCH_ACTIX_ARRIVALS` (default a tenth of that): arrivals
//!   simulated by the actix engine, which is much slower; rates are per
//!   second, so they compare all the same;
//! - `ENSIM_BENCH_REPS` (default 2): timed runs per stage;
//! - `ENSIM_BENCH_SCENARIO` (default `scenarios/erlang-b.toml`).
//!
//! Each engine's duration is scaled so that `arrivals / arrival_rate` seconds
//! are simulated, and the warm-up of the scenario is set to zero so that every
//! arrival, request and answer of the run is counted.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use ensim::api::{Action, Outcome};
use ensim::engine::EngineKind;
use ensim::scenario::Scenario;
use ensim::time::SimDuration;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use rand_pcg::Pcg64Mcg;

/// The stages, in the order they run and are printed.
const STAGES: [&str; 3] = ["reference", "default", "actix"];

/// Timed runs of the reference loop at the least.
const REFERENCE_MIN_REPS: u32 = 5;

/// Marks the one line of a child's stdout that carries its result.
const RESULT_TAG: &str = "ensim-bench-result";

/// The bench's settings, from the environment.
struct Config {
    scenario: PathBuf,
    arrivals: u64,
    actix_arrivals: u64,
    reps: u32,
}

impl Config {
    fn from_env() -> Result<Config, String> {
        let arrivals = env_number("ENSIM_BENCH_ARRIVALS")?.unwrap_or(2_000_000);
        let actix_arrivals = env_number("ENSIM_BENCH_ACTIX_ARRIVALS")?.unwrap_or(arrivals / 10);
        let reps = env_number("ENSIM_BENCH_REPS")?.unwrap_or(2);
        let scenario = match std::env::var_os("ENSIM_BENCH_SCENARIO") {
            Some(p) => PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/erlang-b.toml"),
        };
        if arrivals == 0 || actix_arrivals == 0 || reps == 0 {
            return Err("ENSIM_BENCH_ARRIVALS, ENSIM_BENCH_ACTIX_ARRIVALS and ENSIM_BENCH_REPS must be at least 1".into());
        }
        let reps = u32::try_from(reps).map_err(|_| "ENSIM_BENCH_REPS is too large".to_string())?;
        Ok(Config {
            scenario,
            arrivals,
            actix_arrivals,
            reps,
        })
    }

    /// Timed runs of `stage`: the reference loop takes a fraction of a
    /// second, so it runs at least `REFERENCE_MIN_REPS` times to steady it.
    fn reps_for(&self, stage: &str) -> u32 {
        if stage == "reference" {
            self.reps.max(REFERENCE_MIN_REPS)
        } else {
            self.reps
        }
    }

    /// Arrivals that `stage` simulates.
    fn arrivals_for(&self, stage: &str) -> u64 {
        if stage == "actix" {
            self.actix_arrivals
        } else {
            self.arrivals
        }
    }
}

/// A whole number from the environment, with `_` or `,` allowed as separators.
fn env_number(name: &str) -> Result<Option<u64>, String> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("{name}: {e}")),
        Ok(v) => {
            let digits: String = v.chars().filter(|c| !matches!(c, '_' | ',')).collect();
            digits
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}={v:?} is not a whole number"))
        }
    }
}

/// The loss system that the scenario describes, for the reference loop and the
/// Erlang B check.
struct LossSystem {
    servers: u32,
    arrival_rate_per_s: f64,
    mean_holding_s: f64,
    seed: u64,
}

impl LossSystem {
    fn of(scenario: &Scenario) -> Result<LossSystem, String> {
        let mean_holding_ms =
            scenario.raw.workload.holding.mean_ms().ok_or(
                "the holding time has no closed-form mean; use an exponential holding time",
            )?;
        Ok(LossSystem {
            servers: u32::try_from(scenario.fleet.pod_count()).map_err(|_| "too many pods")?,
            arrival_rate_per_s: scenario.workload.arrival_rate_per_s,
            mean_holding_s: mean_holding_ms / 1e3,
            seed: scenario.seed,
        })
    }

    fn erlangs(&self) -> f64 {
        self.arrival_rate_per_s * self.mean_holding_s
    }

    /// Simulated time that holds `arrivals` arrivals on average.
    fn duration_for(&self, arrivals: u64) -> SimDuration {
        SimDuration::from_secs_f64(arrivals as f64 / self.arrival_rate_per_s)
    }
}

/// What one stage measured (its fastest run).
struct StageResult {
    arrivals: u64,
    wall_s: f64,
    /// `Start` plus `Stop` answers; none for the reference loop.
    requests: Option<u64>,
    events: u64,
    /// Blocked arrivals (reference) or `Start` answered `NoIdleResource`.
    blocked: u64,
    /// Arrivals (reference) or `Start` answers.
    offered: u64,
    /// VmHWM after loading the scenario, before the stage ran, in KiB.
    base_kib: Option<u64>,
    /// VmHWM at the end of the stage, in KiB.
    peak_kib: Option<u64>,
}

impl StageResult {
    fn to_line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        format!(
            "{RESULT_TAG} {} {} {} {} {} {} {} {}",
            self.arrivals,
            self.wall_s,
            opt(self.requests),
            self.events,
            self.blocked,
            self.offered,
            opt(self.base_kib),
            opt(self.peak_kib)
        )
    }

    fn from_line(line: &str) -> Option<StageResult> {
        let f: Vec<&str> = line.strip_prefix(RESULT_TAG)?.split_whitespace().collect();
        if f.len() != 8 {
            return None;
        }
        let num = |i: usize| f[i].parse::<u64>().ok();
        let opt = |i: usize| {
            if f[i] == "-" {
                Some(None)
            } else {
                num(i).map(Some)
            }
        };
        Some(StageResult {
            arrivals: num(0)?,
            wall_s: f[1].parse().ok()?,
            requests: opt(2)?,
            events: num(3)?,
            blocked: num(4)?,
            offered: num(5)?,
            base_kib: opt(6)?,
            peak_kib: opt(7)?,
        })
    }

    fn per_s(&self, count: u64) -> f64 {
        count as f64 / self.wall_s
    }

    fn arrivals_per_s(&self) -> f64 {
        self.per_s(self.arrivals)
    }

    fn blocking(&self) -> f64 {
        if self.offered == 0 {
            f64::NAN
        } else {
            self.blocked as f64 / self.offered as f64
        }
    }
}

/// The peak resident set size of this process so far (`VmHWM`), in KiB.
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Counts of one reference run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct ReferenceCounts {
    arrivals: u64,
    blocked: u64,
    events: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Arrival,
    Departure,
}

/// The reference: a bare binary-heap event loop over the loss system, events
/// ordered by (time in ns, sequence number), until `end_ns` like the engines.
fn reference_loop(sys: &LossSystem, end_ns: u64) -> ReferenceCounts {
    let mut rng = Pcg64Mcg::seed_from_u64(sys.seed);
    let interarrival = Exp::new(sys.arrival_rate_per_s).expect("a positive arrival rate");
    let holding = Exp::new(1.0 / sys.mean_holding_s).expect("a positive mean holding time");
    let ns = |secs: f64| (secs * 1e9).round() as u64;
    let mut heap: BinaryHeap<Reverse<(u64, u64, Kind)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut busy = 0u32;
    let mut counts = ReferenceCounts {
        arrivals: 0,
        blocked: 0,
        events: 0,
    };
    heap.push(Reverse((
        ns(interarrival.sample(&mut rng)),
        seq,
        Kind::Arrival,
    )));
    while let Some(Reverse((now, _, kind))) = heap.pop() {
        if now > end_ns {
            break;
        }
        counts.events += 1;
        match kind {
            Kind::Arrival => {
                counts.arrivals += 1;
                if busy < sys.servers {
                    busy += 1;
                    seq += 1;
                    heap.push(Reverse((
                        now + ns(holding.sample(&mut rng)),
                        seq,
                        Kind::Departure,
                    )));
                } else {
                    counts.blocked += 1;
                }
                seq += 1;
                heap.push(Reverse((
                    now + ns(interarrival.sample(&mut rng)),
                    seq,
                    Kind::Arrival,
                )));
            }
            Kind::Departure => busy -= 1,
        }
    }
    counts
}

/// Runs one stage `reps` times after a brief warm-up; returns the fastest run.
fn run_stage(stage: &str, cfg: &Config) -> Result<StageResult, String> {
    let mut scenario = Scenario::load(&cfg.scenario).map_err(|e| e.to_string())?;
    let sys = LossSystem::of(&scenario)?;
    let base_kib = vm_hwm_kib();
    scenario.warmup = SimDuration::ZERO;
    let arrivals = cfg.arrivals_for(stage);

    let once = |scenario: &mut Scenario, arrivals: u64| -> Result<StageResult, String> {
        let duration = sys.duration_for(arrivals);
        scenario.duration = duration;
        // One time-series interval for the whole run: the bench measures the
        // engines, not the cost of a row per simulated second (README, Speed).
        scenario.report_interval = duration;
        let started = Instant::now();
        let result = match stage {
            "reference" => {
                let c = reference_loop(&sys, duration.as_nanos());
                let wall_s = started.elapsed().as_secs_f64();
                StageResult {
                    arrivals: c.arrivals,
                    wall_s,
                    requests: None,
                    events: c.events,
                    blocked: c.blocked,
                    offered: c.arrivals,
                    base_kib,
                    peak_kib: None,
                }
            }
            "default" | "actix" => {
                let engine = if stage == "default" {
                    EngineKind::Default
                } else {
                    EngineKind::Actix
                };
                let out = ensim::run::run(scenario, engine).map_err(|e| e.to_string())?;
                let wall_s = started.elapsed().as_secs_f64();
                let m = &out.measurements;
                StageResult {
                    arrivals: m.arrivals,
                    wall_s,
                    requests: Some(m.total(Action::Start) + m.total(Action::Stop)),
                    events: out.events,
                    blocked: m.count(Action::Start, Outcome::NoIdleResource),
                    offered: m.total(Action::Start),
                    base_kib,
                    peak_kib: None,
                }
            }
            _ => return Err(format!("no stage {stage:?}; the stages are {STAGES:?}")),
        };
        Ok(result)
    };

    once(&mut scenario, (arrivals / 10).max(1))?;
    let mut best: Option<StageResult> = None;
    for _ in 0..cfg.reps_for(stage) {
        let r = once(&mut scenario, arrivals)?;
        if let Some(b) = &best {
            let same = (b.arrivals, b.requests, b.events, b.blocked)
                == (r.arrivals, r.requests, r.events, r.blocked);
            if !same {
                return Err(format!(
                    "{stage}: two runs of the same scenario and seed gave different counts"
                ));
            }
        }
        if best.as_ref().is_none_or(|b| r.wall_s < b.wall_s) {
            best = Some(r);
        }
    }
    let mut best = best.expect("at least one rep");
    best.peak_kib = vm_hwm_kib();
    Ok(best)
}

/// Runs `stage` in a child process of this binary and reads its result.
fn run_child(stage: &str) -> Result<StageResult, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
    let out = Command::new(exe)
        .env("ENSIM_BENCH_STAGE", stage)
        .output()
        .map_err(|e| format!("cannot start the {stage} stage: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the {stage} stage failed ({}): {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    stdout
        .lines()
        .find_map(StageResult::from_line)
        .ok_or_else(|| format!("the {stage} stage printed no result: {}", stdout.trim()))
}

/// `1234567.8` as `1,234,568`.
fn grouped(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn report(cfg: &Config) -> Result<(), String> {
    let scenario = Scenario::load(&cfg.scenario).map_err(|e| e.to_string())?;
    let sys = LossSystem::of(&scenario)?;
    let erlang_b = ensim::erlang::erlang_b(sys.servers, sys.erlangs());
    println!(
        "ensim engine benchmark: {} (c = {} pods, {} arrivals/s, mean holding {} s, a = {} Erlangs, seed {})",
        cfg.scenario.display(),
        sys.servers,
        sys.arrival_rate_per_s,
        sys.mean_holding_s,
        sys.erlangs(),
        sys.seed
    );
    println!(
        "sizes: {} arrivals for reference and default, {} for actix (ENSIM_BENCH_ARRIVALS, ENSIM_BENCH_ACTIX_ARRIVALS); \
         warm-up run of a tenth, then best of {} (ENSIM_BENCH_REPS; the reference best of {})",
        grouped(cfg.arrivals as f64),
        grouped(cfg.actix_arrivals as f64),
        cfg.reps,
        cfg.reps_for("reference")
    );

    let mut results = Vec::new();
    for stage in STAGES {
        eprintln!("running {stage} ...");
        results.push((stage, run_child(stage)?));
    }
    let reference = results[0].1.arrivals_per_s();

    println!();
    println!(
        "{:<10} {:>10} {:>8} {:>12} {:>12} {:>12} {:>7} {:>9} {:>9} {:>9}",
        "engine",
        "arrivals",
        "wall s",
        "arrivals/s",
        "requests/s",
        "events/s",
        "ev/arr",
        "ref ratio",
        "blocking",
        "peak MiB"
    );
    for (stage, r) in &results {
        println!(
            "{:<10} {:>10} {:>8.3} {:>12} {:>12} {:>12} {:>7.2} {:>9} {:>9.6} {:>9}",
            stage,
            grouped(r.arrivals as f64),
            r.wall_s,
            grouped(r.arrivals_per_s()),
            r.requests
                .map_or_else(|| "-".into(), |q| grouped(r.per_s(q))),
            grouped(r.per_s(r.events)),
            r.events as f64 / r.arrivals as f64,
            format!("{:.2}x", reference / r.arrivals_per_s()),
            r.blocking(),
            mib(r.peak_kib),
        );
    }
    println!();
    println!(
        "ref ratio: the reference loop's arrivals/s over the row's, so how many times slower the row is; \
         ev/arr: events delivered per arrival"
    );
    println!(
        "blocking: Erlang B({}, {}) = {erlang_b:.6}; engines count Start answered NoIdleResource / Start answers, \
         the reference blocked / arrivals",
        sys.servers,
        sys.erlangs()
    );
    println!(
        "peak MiB: VmHWM of each stage's own child process (not cumulative); it includes the loaded scenario, \
         {} MiB before the stage ran",
        results
            .iter()
            .map(|(s, r)| format!("{s} {}", mib(r.base_kib)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "wall s: run::run (world build, simulation, measurements) for the engines; the loop alone for the reference"
    );
    let reference_events = results[0].1.per_s(results[0].1.events);
    let default = &results[1].1;
    let actix = &results[2].1;
    println!(
        "per event: default engine is {:.2}x slower than the reference loop ({:.2} events per arrival against {:.2})",
        reference_events / default.per_s(default.events),
        default.events as f64 / default.arrivals as f64,
        results[0].1.events as f64 / results[0].1.arrivals as f64
    );
    println!(
        "actix engine is {:.2}x slower than the default engine",
        default.arrivals_per_s() / actix.arrivals_per_s()
    );
    println!(
        "default engine is {:.2}x slower than the reference loop (aim: under 2x)",
        reference / default.arrivals_per_s()
    );
    Ok(())
}

fn main() -> ExitCode {
    let result = Config::from_env().and_then(|cfg| match std::env::var("ENSIM_BENCH_STAGE") {
        Ok(stage) => run_stage(&stage, &cfg).map(|r| println!("{}", r.to_line())),
        Err(_) => report(&cfg),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engines bench: {e}");
            ExitCode::FAILURE
        }
    }
}
