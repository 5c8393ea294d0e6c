//! Retries: each attempt is an answer in `summary.csv`, each chain of
//! attempts one row count in `chains.csv`, with its whole latency.

use ensim::api::{Action, Outcome};
use ensim::engine::EngineKind;
use ensim::metrics::Measurements;
use ensim::scenario::{Scenario, parse_toml};

const Z: f64 = 5.0;

/// No delays anywhere, so a chain's latency is exactly its backoffs.
/// Arrivals stop 100 s before the end, so every chain is over by then and
/// the counts add up exactly.
fn scenario(extra: &str) -> Scenario {
    let text = format!(
        r#"
duration_s = 3000
seed = 9
[fleet]
regions = ["cn-hangzhou-1"]
nodes_per_region = 1
instances_per_node = 10
pods_per_instance = 100
[devices]
count = 5000
[latency]
network_base = {{ dist = "constant", ms = 0 }}
network_per_km_ms = 0
network_jitter = {{ dist = "constant", ms = 0 }}
scheduler_processing = {{ dist = "constant", ms = 0 }}
pod_activation = {{ dist = "constant", ms = 0 }}
[workload.arrivals]
process = "steps"
steps = [{{ at_s = 0, rate_per_s = 5 }}, {{ at_s = 2900, rate_per_s = 0 }}]
[workload]
holding = {{ dist = "constant", ms = 1000 }}
{extra}
"#
    );
    let raw = parse_toml(&text, "retry.toml").unwrap();
    Scenario::from_raw(raw, "retry.toml", std::path::Path::new("."), None).unwrap()
}

fn run(s: &Scenario) -> Measurements {
    ensim::run::run(s, EngineKind::Default)
        .unwrap()
        .measurements
}

fn chain(
    m: &Measurements,
    action: Action,
    outcome: Outcome,
) -> Option<&ensim::metrics::ChainStats> {
    m.chains
        .iter()
        .find(|c| c.latency.action == action && c.latency.outcome == outcome)
}

#[test]
fn backend_errors_are_retried_with_doubling_backoff_and_the_chain_is_timed_whole() {
    let s = scenario(
        r#"[[workload.class]]
name = "phone"
retry = { max_retries = 3, base_ms = 100, cap_ms = 10000, jitter = "none" }
[faults]
backend_error_rate = 0.3"#,
    );
    let m = run(&s);
    let ok = chain(&m, Action::Start, Outcome::Ok).unwrap();
    let failed = chain(&m, Action::Start, Outcome::BackendError).unwrap();
    let chains = ok.latency.count() + failed.latency.count();

    // Every attempt is an answer: attempts = chains + retries.
    assert_eq!(m.total(Action::Start), chains + ok.retries + failed.retries);
    assert_eq!(
        m.retries(),
        ok.retries + failed.retries + chain(&m, Action::Stop, Outcome::Ok).unwrap().retries
    );

    // A chain that fails has used all 3 retries, after backoffs of 100, 200
    // and 400 ms: 700 ms from its first send, exactly.
    assert_eq!(failed.retries, 3 * failed.latency.count());
    assert_eq!(failed.latency.stats.max, 700_000_000);
    assert_eq!(failed.latency.mean_ms(), 700.0);
    // A chain that succeeds took 0, 1, 2 or 3 retries: 0, 100, 300 or 700 ms.
    assert!(ok.latency.stats.max <= 700_000_000);

    // Each attempt fails independently with p = 0.3, so a chain fails with
    // p^4 and takes k retries with p^k (1 - p) if it succeeds: the failed
    // share is binomial, the mean retries of a chain is p + p^2 + p^3.
    let p: f64 = 0.3;
    let n = chains as f64;
    let share = failed.latency.count() as f64 / n;
    let pf = p.powi(4);
    assert!(
        (share - pf).abs() <= Z * (pf * (1.0 - pf) / n).sqrt(),
        "{share} of chains failed; expected {pf}"
    );
    let retries = (ok.retries + failed.retries) as f64 / n;
    let mean = p + p * p + p * p * p;
    // Retries per chain take 0..3; their variance is E[R^2] - mean^2.
    let second = p + 3.0 * p * p + 5.0 * p.powi(3);
    let sd = ((second - mean * mean) / n).sqrt();
    assert!(
        (retries - mean).abs() <= Z * sd,
        "{retries} retries per chain; expected {mean}"
    );

    // Stops never fail: one attempt per chain, no retries.
    let stops = chain(&m, Action::Stop, Outcome::Ok).unwrap();
    assert_eq!(stops.retries, 0);
    assert_eq!(stops.latency.stats.max, 0);
}

#[test]
fn no_idle_resource_is_retried_until_a_pod_frees_up() {
    let s = scenario(
        r#"[[workload.class]]
name = "phone"
retry = { max_retries = 5, base_ms = 200, cap_ms = 2000, jitter = "full", on = ["NoIdleResource"] }"#,
    );
    let mut raw = s.raw.clone();
    raw.fleet.instances_per_node = 1;
    raw.fleet.pods_per_instance = 5;
    let m = run(&Scenario::from_raw(raw, "retry.toml", std::path::Path::new("."), None).unwrap());
    // Five pods, 5 sessions a second of 1 s: often full, so some first
    // attempts fail and are rescued by a later one.
    let ok = chain(&m, Action::Start, Outcome::Ok).unwrap();
    assert!(ok.retries > 0);
    assert!(m.count(Action::Start, Outcome::NoIdleResource) > 0);
    assert!(ok.latency.stats.max > 0);
    let attempts = m.total(Action::Start);
    let chains: u64 = m
        .chains
        .iter()
        .filter(|c| c.latency.action == Action::Start)
        .map(|c| c.latency.count())
        .sum();
    assert_eq!(
        attempts,
        chains
            + m.chains
                .iter()
                .filter(|c| c.latency.action == Action::Start)
                .map(|c| c.retries)
                .sum::<u64>()
    );
}

#[test]
fn without_a_retry_policy_nothing_is_retried_and_no_chains_are_kept() {
    let s = scenario("[faults]\nbackend_error_rate = 0.3");
    let out = ensim::run::run(&s, EngineKind::Default).unwrap();
    assert!(out.measurements.chains.is_empty());
    assert!(out.measurements.count(Action::Start, Outcome::BackendError) > 0);
    let names: Vec<&str> = ensim::report::result_files(&out)
        .iter()
        .map(|f| f.0)
        .collect();
    assert!(
        names.contains(&"summary.csv") && !names.contains(&"chains.csv"),
        "{names:?}"
    );
}

#[test]
fn chains_csv_has_the_summary_columns_with_retries() {
    let s = scenario(
        r#"[[workload.class]]
name = "phone"
retry = { max_retries = 2 }
[faults]
call_interface_rate = 0.2"#,
    );
    let out = ensim::run::run(&s, EngineKind::Default).unwrap();
    let files = ensim::report::result_files(&out);
    let chains = String::from_utf8(
        files
            .iter()
            .find(|f| f.0 == "chains.csv")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert_eq!(
        chains.lines().next().unwrap(),
        "action,outcome,count,retries,rate_per_s,mean_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms"
    );
    assert!(
        chains
            .lines()
            .any(|l| l.starts_with("Start,CallInterface,"))
    );
    let summary = String::from_utf8(files[0].1.clone()).unwrap();
    assert_eq!(
        summary.lines().next().unwrap(),
        "action,outcome,count,rate_per_s,mean_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms"
    );
}

#[test]
fn a_retry_policy_naming_another_outcome_is_refused() {
    let text = r#"
duration_s = 10
[workload]
arrival_rate_per_s = 1
holding = { dist = "constant", ms = 1 }
[[workload.class]]
name = "phone"
retry = { on = ["InvalidParameter"] }
"#;
    let raw = parse_toml(text, "bad.toml").unwrap();
    let e = Scenario::from_raw(raw, "bad.toml", std::path::Path::new("."), None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.starts_with("bad.toml: workload.class[0].retry.on: \"InvalidParameter\" is not retried"),
        "{e}"
    );
}
