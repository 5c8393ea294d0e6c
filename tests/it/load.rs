//! Load models: each arrival process against its configured rate, per-city
//! streams, flash crowds, and closed populations.
//!
//! How the tolerances are derived. A (possibly non-homogeneous) Poisson
//! process has a Poisson count in any window, with variance equal to its mean
//! `mu` (the integral of the rate over the window), so a count must lie within
//! `Z sqrt(mu)` of `mu`. Counts in disjoint windows are independent, so each
//! window is checked on its own; with `Z = 5` a correct model fails one
//! window with probability under 6e-7, and the seeds are fixed, so a passing
//! test always passes. Other processes have their own variance, derived where
//! they are tested.

use ensim::api::DeviceId;
use ensim::engine::{Driver, EngineKind, World};
use ensim::metrics::{Measurements, Recorder};
use ensim::model::device::Phase;
use ensim::model::{Addr, Ctx, Effect, Msg, Observation};
use ensim::report::summary_csv;
use ensim::scenario::{Scenario, parse_toml};
use ensim::time::SimTime;

const Z: f64 = 5.0;

/// A fleet big enough that nothing is turned away, no delays anywhere, and
/// short sessions; `load` adds the keys under test.
fn scenario(duration_s: f64, load: &str) -> Scenario {
    let text = format!(
        r#"
duration_s = {duration_s}
seed = 3
[fleet]
regions = ["cn-hangzhou-1"]
nodes_per_region = 1
instances_per_node = 10
pods_per_instance = 100
[devices]
count = 20000
cities = ["Shanghai", "Beijing", "Chengdu"]
[latency]
network_base = {{ dist = "constant", ms = 0 }}
network_per_km_ms = 0
network_jitter = {{ dist = "constant", ms = 0 }}
scheduler_processing = {{ dist = "constant", ms = 0 }}
pod_activation = {{ dist = "constant", ms = 0 }}
[workload]
holding = {{ dist = "constant", ms = 100 }}
{load}
"#
    );
    let raw = parse_toml(&text, "load.toml").unwrap();
    Scenario::from_raw(raw, "load.toml", std::path::Path::new("."), None).unwrap()
}

/// What a run showed, event by event.
struct Observed {
    /// Instants of session arrivals, seconds.
    arrivals: Vec<f64>,
    /// Devices sessions were started on, with the instant.
    begun: Vec<(f64, DeviceId)>,
    /// Most devices in a session at once.
    max_in_flight: usize,
    measurements: Measurements,
    world: World,
}

/// Runs `s` with the plain loop, watching every delivery.
fn observe(s: &Scenario) -> Observed {
    let (mut world, env) = World::build(s);
    let end = SimTime::ZERO + s.duration;
    let starters = world.starters(true);
    let mut driver = Driver::new(Recorder::new(&s.fleet, s.warmup), end, &starters);
    let mut effects = Vec::new();
    let mut arrivals = Vec::new();
    let mut begun = Vec::new();
    let (mut in_flight, mut max_in_flight) = (0usize, 0usize);
    while let Some((now, to, msg)) = driver.next_event() {
        let before = match to {
            Addr::Device(d) => world.devices[d as usize].phase(),
            _ => Phase::Idle,
        };
        let mut ctx = Ctx::new(now, to, &env, &mut effects);
        world.deliver(to, msg, &mut ctx);
        if let Addr::Device(d) = to {
            let after = world.devices[d as usize].phase();
            match (before == Phase::Idle, after == Phase::Idle) {
                (true, false) => in_flight += 1,
                (false, true) => in_flight -= 1,
                _ => {}
            }
            max_in_flight = max_in_flight.max(in_flight);
        }
        for e in &effects {
            match *e {
                Effect::Record(Observation::Arrival) => arrivals.push(now.as_secs_f64()),
                Effect::Send {
                    to: Addr::Device(d),
                    msg: Msg::BeginSession(_),
                    ..
                } => begun.push((now.as_secs_f64(), d)),
                _ => {}
            }
        }
        driver.apply(now, &mut effects);
    }
    Observed {
        arrivals,
        begun,
        max_in_flight,
        measurements: driver.recorder.finish(end),
        world,
    }
}

fn count_in(times: &[f64], from: f64, to: f64) -> f64 {
    times.iter().filter(|&&t| t >= from && t < to).count() as f64
}

/// Checks that the count in `[from, to)` is Poisson with mean `mu`.
fn assert_poisson_count(times: &[f64], from: f64, to: f64, mu: f64) {
    let n = count_in(times, from, to);
    let tol = Z * mu.sqrt();
    assert!(
        (n - mu).abs() <= tol,
        "{n} arrivals in [{from}, {to}) s; expected {mu} +- {tol}"
    );
}

#[test]
fn poisson_arrivals_come_at_the_configured_rate() {
    let s = scenario(
        2000.0,
        "[workload.arrivals]\nprocess = \"poisson\"\nrate_per_s = 20",
    );
    let o = observe(&s);
    // Rate 20/s: mu = 20 x window in every window.
    for w in 0..4 {
        let from = f64::from(w) * 500.0;
        assert_poisson_count(&o.arrivals, from, from + 500.0, 20.0 * 500.0);
    }
    assert_eq!(o.measurements.arrivals_lost, 0);
}

#[test]
fn the_arrival_rate_shorthand_is_the_poisson_process() {
    let table = scenario(
        600.0,
        "[workload.arrivals]\nprocess = \"poisson\"\nrate_per_s = 7",
    );
    let short = scenario(600.0, "arrival_rate_per_s = 7");
    let run = |s: &Scenario| {
        summary_csv(
            &ensim::run::run(s, EngineKind::Default)
                .unwrap()
                .measurements,
        )
    };
    assert_eq!(run(&table), run(&short));
    assert_eq!(short.workload.arrival_rate_per_s, 7.0);
}

#[test]
fn constant_arrivals_are_evenly_spaced_at_the_rate() {
    let s = scenario(
        1000.0,
        "[workload.arrivals]\nprocess = \"constant\"\nrate_per_s = 7.3",
    );
    let o = observe(&s);
    // Deterministic: arrival k at k / 7.3 s, so 7300 by 1000 s.
    assert!(
        (o.arrivals.len() as f64 - 7300.0).abs() <= 1.0,
        "{}",
        o.arrivals.len()
    );
    let gap = 1.0 / 7.3;
    for w in o.arrivals.windows(2) {
        assert!((w[1] - w[0] - gap).abs() < 2e-9, "gap {}", w[1] - w[0]);
    }
}

#[test]
fn a_ramp_follows_its_linear_rate() {
    let s = scenario(
        1500.0,
        "[workload.arrivals]\nprocess = \"ramp\"\nfrom_per_s = 10\nto_per_s = 50\nramp_s = 1000\nstart_s = 200",
    );
    let o = observe(&s);
    // Rate 10 until 200 s, then 10 + 0.04 (t - 200) until 1200 s, then 50:
    // the mean count in [a, b) is the integral of that rate.
    let rate = |t: f64| 10.0 + 0.04 * (t.clamp(200.0, 1200.0) - 200.0);
    for w in 0..15 {
        let (a, b) = (f64::from(w) * 100.0, f64::from(w + 1) * 100.0);
        // Linear on each 100 s window: the mean is the midpoint rule, exact.
        let mu = 100.0 * (rate(a) + rate(b)) / 2.0;
        assert_poisson_count(&o.arrivals, a, b, mu);
    }
}

#[test]
fn steps_change_the_rate_at_their_instants() {
    let s = scenario(
        1000.0,
        r#"[workload.arrivals]
process = "steps"
steps = [ { at_s = 0, rate_per_s = 5 }, { at_s = 300, rate_per_s = 40 }, { at_s = 600, rate_per_s = 0 }, { at_s = 700, rate_per_s = 20 } ]"#,
    );
    let o = observe(&s);
    assert_poisson_count(&o.arrivals, 0.0, 300.0, 5.0 * 300.0);
    assert_poisson_count(&o.arrivals, 300.0, 600.0, 40.0 * 300.0);
    assert_eq!(
        count_in(&o.arrivals, 600.0, 700.0),
        0.0,
        "rate 0 gives none"
    );
    assert_poisson_count(&o.arrivals, 700.0, 1000.0, 20.0 * 300.0);
}

#[test]
fn a_daily_profile_follows_the_hour_of_day_across_midnight() {
    let hourly: Vec<f64> = (0..24).map(|h| 1.0 + f64::from(h % 6)).collect();
    let list = hourly
        .iter()
        .map(f64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let s = scenario(
        5.0 * 3600.0,
        &format!(
            "[workload.arrivals]\nprocess = \"daily\"\nhourly_per_s = [{list}]\nstart_hour = 21.5"
        ),
    );
    let o = observe(&s);
    // Simulated time t is hour of day (21.5 + t/3600) mod 24; check each
    // piece of constant rate: 21:30-22:00, then whole hours 22, 23, 0, 1,
    // then 2:00-2:30.
    let mut from = 0.0;
    for (hour, len) in [
        (21, 1800.0),
        (22, 3600.0),
        (23, 3600.0),
        (0, 3600.0),
        (1, 3600.0),
        (2, 1800.0),
    ] {
        assert_poisson_count(&o.arrivals, from, from + len, hourly[hour] * len);
        from += len;
    }
}

#[test]
fn a_markov_modulated_process_has_its_mean_rate_and_is_bursty() {
    let (r, m): ([f64; 2], [f64; 2]) = ([0.5, 5.0], [20.0, 20.0]);
    let t = 40_000.0;
    let s = scenario(
        t,
        "[workload.arrivals]\nprocess = \"mmpp\"\nrates_per_s = [0.5, 5.0]\nmean_stay_s = [20, 20]",
    );
    let o = observe(&s);
    // Stationary start: E N(t) = mean rate x t. Given the state path, N(t)
    // is Poisson with mean L = the integral of the rate, so Var N = E L +
    // Var L. The rate r(X) of the two-state chain has variance
    // s2 = p0 p1 (r0 - r1)^2 and autocovariance s2 exp(-g u), with
    // g = 1/m0 + 1/m1, so Var L = 2 s2 / g (t - (1 - exp(-g t)) / g).
    let p0 = m[0] / (m[0] + m[1]);
    let p1 = 1.0 - p0;
    let mean_rate = p0 * r[0] + p1 * r[1];
    let g = 1.0 / m[0] + 1.0 / m[1];
    let s2 = p0 * p1 * (r[0] - r[1]).powi(2);
    let var = mean_rate * t + 2.0 * s2 / g * (t - (1.0 - (-g * t).exp()) / g);
    let n = o.arrivals.len() as f64;
    assert!(
        (n - mean_rate * t).abs() <= Z * var.sqrt(),
        "{n} arrivals; expected {} +- {}",
        mean_rate * t,
        Z * var.sqrt()
    );
    // Burstiness: in 400 windows of 100 s, a Poisson process has counts with
    // variance/mean = 1, and the sample ratio's standard error is about
    // sqrt(2 / 399) = 0.071. This process must be far above that.
    let counts: Vec<f64> = (0..400)
        .map(|w| count_in(&o.arrivals, f64::from(w) * 100.0, f64::from(w + 1) * 100.0))
        .collect();
    let (mean, sd) = crate::support::mean_sd(&counts);
    let dispersion = sd * sd / mean;
    assert!(
        dispersion > 1.0 + Z * (2.0f64 / 399.0).sqrt(),
        "variance/mean of window counts is {dispersion}: not burstier than Poisson"
    );
}

#[test]
fn a_flash_crowd_adds_its_sessions_within_its_window() {
    let s = scenario(
        1000.0,
        "arrival_rate_per_s = 5\n[[workload.flash]]\nat_s = 500\nextra = 2000\nwindow_s = 50",
    );
    let o = observe(&s);
    // In the window: exactly 2000 extra plus a Poisson(5 x 50) base count.
    let n = count_in(&o.arrivals, 500.0, 550.0 + 1e-9) - 2000.0;
    assert!(
        (n - 250.0).abs() <= Z * 250f64.sqrt(),
        "{n} base arrivals in the window"
    );
    assert_poisson_count(&o.arrivals, 0.0, 500.0, 2500.0);
    assert_poisson_count(&o.arrivals, 550.0 + 1e-9, 1000.0, 5.0 * 450.0);
}

#[test]
fn a_city_multiplier_raises_that_citys_stream_and_only_its_own_devices_serve_it() {
    let s = scenario(
        2000.0,
        "arrival_rate_per_s = 10\n[[workload.city]]\nname = \"Shanghai\"\nrate_multiplier = 3",
    );
    let o = observe(&s);
    assert_eq!(o.measurements.arrivals_lost, 0);
    // City c's stream: 10/s x its population share x its multiplier.
    let pop = &s.population.cities;
    let total: f64 = pop.iter().map(|c| c.1).sum();
    for &(city, weight) in pop {
        let name = &s.geo.cities()[city as usize].name;
        let multiplier = if name == "Shanghai" { 3.0 } else { 1.0 };
        let times: Vec<f64> = o
            .begun
            .iter()
            .filter(|(_, d)| o.world.devices[*d as usize].city() == city)
            .map(|b| b.0)
            .collect();
        assert_poisson_count(
            &times,
            0.0,
            2000.0 + 1e-9,
            10.0 * weight / total * multiplier * 2000.0,
        );
    }
    assert_eq!(o.begun.len(), o.arrivals.len());
}

#[test]
fn a_closed_population_never_has_more_sessions_in_flight_than_users() {
    // Real delays and injected backend faults, which end some sessions early.
    let text = r#"
duration_s = 1800
seed = 4
[fleet]
regions = ["cn-hangzhou-1", "cn-shanghai-telecom-2"]
nodes_per_region = 1
instances_per_node = 10
pods_per_instance = 10
[devices]
count = 3000
[workload]
holding = { dist = "exponential", mean_ms = 30000 }
[workload.arrivals]
process = "closed"
users = 120
think = { dist = "exponential", mean_ms = 1000 }
[faults]
backend_error_rate = 0.02
"#;
    let raw = parse_toml(text, "closed.toml").unwrap();
    let s = Scenario::from_raw(raw, "closed.toml", std::path::Path::new("."), None).unwrap();
    let o = observe(&s);
    assert!(o.max_in_flight <= 120, "{} in flight", o.max_in_flight);
    // The bound is tight, not met by luck: a user thinks about 1/31 of the
    // time, so all 120 are in a session at once with probability about
    // (30/31)^120 = 2% at any instant, and the run passes through many
    // such instants.
    assert_eq!(o.max_in_flight, 120);
    let users: std::collections::HashSet<DeviceId> = o.begun.iter().map(|b| b.1).collect();
    assert_eq!(users.len(), 120, "the same 120 devices take every session");
    use ensim::api::{Action, Outcome};
    assert!(o.measurements.count(Action::Start, Outcome::BackendError) > 0);
}

#[test]
fn a_closed_population_has_throughput_users_over_think_plus_session() {
    // No delays: a session lasts exactly its holding time H, so each user
    // is a renewal process with cycle Z + H (think + hold), and the
    // throughput is X = N / (E Z + E H) (renewal-reward). After the warm-up
    // (20 cycles) the processes are stationary; a stationary renewal count
    // over t has variance t sd^2 / mean^3 of the cycle, and the N users are
    // independent, so Var = N t (var Z + var H) / (E Z + E H)^3.
    let (users, think, hold) = (200.0, 20.0, 10.0);
    let s = scenario(
        6000.0,
        "[workload.arrivals]\nprocess = \"closed\"\nusers = 200\nthink = { dist = \"exponential\", mean_ms = 20000 }",
    );
    let mut raw = s.raw.clone();
    raw.warmup_s = 600.0;
    raw.workload.holding = ensim::dist::DistSpec::Exponential { mean_ms: 10_000.0 };
    let s = Scenario::from_raw(raw, "closed.toml", std::path::Path::new("."), None).unwrap();
    let out = ensim::run::run(&s, EngineKind::Default).unwrap();
    let m = &out.measurements;
    let t = m.measured.as_secs_f64();
    let cycle = think + hold;
    let expected = users / cycle * t;
    let sd = (users * t * (think * think + hold * hold) / cycle.powi(3)).sqrt();
    let n = m.arrivals as f64;
    assert!(
        (n - expected).abs() <= Z * sd,
        "{n} sessions in {t} s; N/(Z+H) gives {expected} +- {}",
        Z * sd
    );
}

/// The one-line error for a scenario with `load` as its load keys.
fn error_for(load: &str) -> String {
    let text = format!(
        "duration_s = 100\n[devices]\ncount = 100\ncities = [\"Shanghai\"]\n[workload]\nholding = {{ dist = \"constant\", ms = 1 }}\n{load}\n"
    );
    let e = match parse_toml(&text, "bad.toml") {
        Err(e) => e,
        Ok(raw) => Scenario::from_raw(raw, "bad.toml", std::path::Path::new("."), None)
            .err()
            .expect("the scenario must be refused"),
    };
    let e = e.to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("bad.toml"), "{e}");
    e
}

#[test]
fn bad_load_keys_are_refused_with_the_key_and_the_fix() {
    let cases = [
        ("", "give exactly one of arrival_rate_per_s"),
        (
            "arrival_rate_per_s = 1\n[workload.arrivals]\nprocess = \"poisson\"\nrate_per_s = 1",
            "workload: give exactly one",
        ),
        (
            "[workload.arrivals]\nprocess = \"daily\"\nhourly_per_s = [1, 2]",
            "workload.arrivals.hourly_per_s: 2 values given; give 24",
        ),
        (
            "[workload.arrivals]\nprocess = \"steps\"\nsteps = [{ at_s = 10, rate_per_s = 1 }, { at_s = 5, rate_per_s = 2 }]",
            "workload.arrivals.steps[1].at_s",
        ),
        (
            "[workload.arrivals]\nprocess = \"mmpp\"\nrates_per_s = [0, 0]\nmean_stay_s = [1, 1]",
            "workload.arrivals.rates_per_s: both rates are 0",
        ),
        (
            "[workload.arrivals]\nprocess = \"ramp\"\nfrom_per_s = 1\nto_per_s = 2\nramp_s = -1",
            "workload.arrivals.ramp_s",
        ),
        (
            "[workload.arrivals]\nprocess = \"closed\"\nusers = 500\nthink = { dist = \"constant\", ms = 1 }",
            "workload.arrivals.users: 500 users but only 100 devices",
        ),
        (
            "[workload.arrivals]\nprocess = \"closed\"\nusers = 5\nthink = { dist = \"constant\", ms = 1 }\n[[workload.flash]]\nat_s = 1\nextra = 1\nwindow_s = 1",
            "workload.flash: flash crowds go with an open arrival process",
        ),
        (
            "arrival_rate_per_s = 1\n[[workload.city]]\nname = \"Beijing\"\nrate_multiplier = 2",
            "workload.city[0].name: \"Beijing\" is not among the cities devices live in",
        ),
        (
            "arrival_rate_per_s = 1\n[[workload.flash]]\nat_s = 1\nextra = 0\nwindow_s = 1",
            "workload.flash[0].extra",
        ),
        (
            "[workload.arrivals]\nprocess = \"poisson\"\nrate = 1",
            "unknown field `rate`",
        ),
        (
            "[workload.arrivals]\nprocess = \"hawkes\"",
            "unknown variant `hawkes`",
        ),
    ];
    for (load, want) in cases {
        let e = error_for(load);
        assert!(e.contains(want), "{load:?}: {e}");
    }
}
