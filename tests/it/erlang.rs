//! The loss system of `erlang-b.toml` against Erlang B and Little's law.
//!
//! Each check runs independent replications (seeds) and accepts the result
//! when theory lies within the 99.9% Student-t interval of the replication
//! means. Blocking comes in bursts, so the spread is estimated from the
//! replications themselves rather than from one run's binomial count.

use ensim::api::{Action, Outcome};
use ensim::engine::EngineKind;
use ensim::erlang::erlang_b;

use crate::support::{build, mean_sd, raw, replicate, t_999};

struct Point {
    blocking: f64,
    mean_busy: f64,
    accepted_rate: f64,
}

fn loss_system(pods: u32, erlangs: f64, duration_s: f64, seed: u64) -> Point {
    let mut r = raw("erlang-b");
    r.fleet.pods_per_instance = pods;
    // Mean holding time is 1 s, so the arrival rate is the offered load.
    r.workload.arrival_rate_per_s = Some(erlangs);
    r.duration_s = duration_s;
    r.seed = seed;
    let out = ensim::run::run(&build(r, "erlang-b"), EngineKind::Default).unwrap();
    let m = &out.measurements;
    let starts = m.total(Action::Start) as f64;
    Point {
        blocking: m.count(Action::Start, Outcome::NoIdleResource) as f64 / starts,
        mean_busy: m.mean_busy(0),
        accepted_rate: m.count(Action::Start, Outcome::Ok) as f64 / m.measured.as_secs_f64(),
    }
}

fn check_point(pods: u32, erlangs: f64, duration_s: f64, expected_b: f64) {
    let reps = 10;
    let points = replicate(0..reps, |seed| {
        loss_system(pods, erlangs, duration_s, 1000 + seed)
    });
    let t = t_999(reps as usize - 1);

    let b = erlang_b(pods, erlangs);
    assert!(
        (b - expected_b).abs() < 1e-6,
        "erlang_b({pods}, {erlangs}) = {b}"
    );
    let (mean, sd) = mean_sd(&points.iter().map(|p| p.blocking).collect::<Vec<_>>());
    let half = t * sd / (reps as f64).sqrt();
    assert!(
        (mean - b).abs() <= half,
        "blocking {mean:.6} +- {half:.6} misses Erlang B {b:.6}"
    );
    // The interval must be narrow enough to tell a wrong model apart.
    assert!(
        half < 0.15 * b,
        "interval +-{half:.6} is too wide to test B = {b:.6}"
    );

    // Little's law: busy pods = accepted rate x mean holding (1 s), and
    // theory says that is the carried load a (1 - B).
    let (busy, busy_sd) = mean_sd(&points.iter().map(|p| p.mean_busy).collect::<Vec<_>>());
    let busy_half = t * busy_sd / (reps as f64).sqrt();
    let carried = erlangs * (1.0 - b);
    assert!(
        (busy - carried).abs() <= busy_half,
        "mean busy {busy:.4} +- {busy_half:.4} misses a(1-B) = {carried:.4}"
    );
    let little: Vec<f64> = points
        .iter()
        .map(|p| p.mean_busy - p.accepted_rate)
        .collect();
    let (diff, diff_sd) = mean_sd(&little);
    let diff_half = t * diff_sd / (reps as f64).sqrt();
    assert!(
        diff.abs() <= diff_half,
        "L - lambda W = {diff:.5} +- {diff_half:.5}"
    );
}

#[test]
fn blocking_matches_erlang_b_at_10_pods_and_5_erlangs() {
    check_point(10, 5.0, 20_000.0, 0.018385);
}

#[test]
fn blocking_matches_erlang_b_at_100_pods_and_90_erlangs() {
    check_point(100, 90.0, 4_000.0, 0.026957);
}

#[test]
fn the_shipped_erlang_b_scenario_is_the_10_pod_point() {
    let s = build(raw("erlang-b"), "erlang-b");
    assert_eq!(s.fleet.pod_count(), 10);
    assert_eq!(s.workload.arrival_rate_per_s, 5.0);
}
