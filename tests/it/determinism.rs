//! Same scenario and seed: the same bytes, whichever engine runs it.

use ensim::engine::EngineKind;

use crate::support::{build, raw};

/// Every file of the results folder that the seed decides (all but
/// run.json), one after the other with its name.
fn quickstart_files(seed: u64, engine: EngineKind) -> Vec<u8> {
    let mut r = raw("quickstart");
    r.seed = seed;
    r.duration_s = 1500.0;
    r.warmup_s = 300.0;
    let out = ensim::run::run(&build(r, "quickstart"), engine).unwrap();
    let mut all = Vec::new();
    for (name, bytes) in ensim::report::result_files(&out) {
        all.extend_from_slice(name.as_bytes());
        all.push(b'\n');
        all.extend_from_slice(&bytes);
    }
    all
}

#[test]
fn the_same_seed_gives_byte_identical_reports() {
    assert_eq!(
        quickstart_files(7, EngineKind::Default),
        quickstart_files(7, EngineKind::Default)
    );
}

#[test]
fn another_seed_gives_other_figures() {
    assert_ne!(
        quickstart_files(7, EngineKind::Default),
        quickstart_files(8, EngineKind::Default)
    );
}

#[test]
fn the_actix_engine_gives_the_same_reports_as_the_default_engine() {
    let plain = quickstart_files(3, EngineKind::Default);
    let actix = quickstart_files(3, EngineKind::Actix);
    assert!(
        String::from_utf8_lossy(&plain).lines().count() >= 3,
        "too few rows to compare"
    );
    assert_eq!(
        String::from_utf8_lossy(&plain),
        String::from_utf8_lossy(&actix)
    );
}

#[test]
fn the_engines_agree_with_several_schedulers_and_stale_views() {
    let s = build(raw("flash-crowd"), "flash-crowd");
    assert_eq!(files(&s, EngineKind::Default), files(&s, EngineKind::Actix));
}

/// Every results file of `scenario` on `engine`.
fn files(scenario: &ensim::scenario::Scenario, engine: EngineKind) -> Vec<(&'static str, Vec<u8>)> {
    ensim::report::result_files(&ensim::run::run(scenario, engine).unwrap())
}

#[test]
fn bursts_city_streams_and_retries_give_the_same_files_on_both_engines() {
    let text = r#"
duration_s = 900
seed = 21
[fleet]
regions = ["cn-hangzhou-1", "cn-shanghai-telecom-2", "cn-chengdu-26"]
nodes_per_region = 1
instances_per_node = 2
pods_per_instance = 8
[devices]
count = 2000
top_cities = 20
[workload]
holding = { dist = "gamma", shape = 2, scale_ms = 20000 }
[workload.arrivals]
process = "mmpp"
rates_per_s = [0.2, 3]
mean_stay_s = [60, 20]
[[workload.flash]]
at_s = 300
extra = 200
window_s = 30
[[workload.city]]
name = "Shanghai"
rate_multiplier = 4
[[workload.class]]
name = "phone"
retry = { max_retries = 3, base_ms = 500, jitter = "equal" }
[faults]
backend_error_rate = 0.05
"#;
    let raw = ensim::scenario::parse_toml(text, "bursts.toml").unwrap();
    let s = build(raw, "bursts");
    let plain = files(&s, EngineKind::Default);
    let names: Vec<&str> = plain.iter().map(|f| f.0).collect();
    assert!(
        names.contains(&"capacity.csv") && names.contains(&"chains.csv"),
        "{names:?}"
    );
    assert_eq!(plain, files(&s, EngineKind::Default));
    assert_eq!(plain, files(&s, EngineKind::Actix));
}

#[test]
fn a_trace_replay_gives_the_same_files_on_both_engines() {
    let mut r = raw("azure-vm");
    r.duration_s = 3600.0;
    r.devices.count = 3000;
    let s = build(r, "azure-vm");
    assert_eq!(files(&s, EngineKind::Default), files(&s, EngineKind::Actix));
}
