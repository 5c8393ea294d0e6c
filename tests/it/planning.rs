//! Capacity planning: replications against Erlang B, the smallest pod count
//! that meets a service level, and sharded sweeps.

use std::path::Path;

use ensim::engine::EngineKind;
use ensim::erlang::erlang_b;
use ensim::replicate::replicate;
use ensim::slo::ServiceLevel;
use ensim::sweep::{
    Point, Shard, SweepOptions, Vary, find_min, merge_csv, reported_figures, run_point, sweep_csv,
};

use crate::support::{build, raw, shipped};

#[test]
fn the_95_percent_interval_of_ten_replications_contains_erlang_b() {
    let s = build(raw("erlang-b"), "erlang-b");
    let r = replicate(&s, EngineKind::Default, 10, 2, None).unwrap();
    let e = r.estimates["NoIdleResource.rate"];
    let i = e.interval.unwrap();
    let b = erlang_b(10, 5.0);
    assert_eq!(e.n, 10);
    assert!(
        i.low <= b && b <= i.high,
        "B = {b:.6} outside [{:.6}, {:.6}]",
        i.low,
        i.high
    );
    // The merged histograms hold every replication's answers.
    let starts: f64 = r
        .per_seed
        .iter()
        .map(|f| f.get("Start.count").unwrap())
        .sum();
    assert_eq!(r.merged.total(ensim::api::Action::Start) as f64, starts);
}

fn options(levels: &[&str], replications: u32) -> SweepOptions {
    SweepOptions {
        replications,
        threads: 2,
        engine: EngineKind::Default,
        levels: levels
            .iter()
            .map(|l| l.parse::<ServiceLevel>().unwrap())
            .collect(),
        seed: None,
    }
}

#[test]
fn find_min_returns_the_smallest_pod_count_under_the_service_level() {
    // Under 1% blocking at 5 Erlangs: B(10, 5) = 0.0184 misses, B(11, 5) = 0.0083 meets.
    assert!(erlang_b(10, 5.0) > 0.01 && erlang_b(11, 5.0) < 0.01);
    let vary: Vary = "fleet.pods_per_instance=1..20".parse().unwrap();
    let (points, found) = find_min(
        &shipped("erlang-b"),
        &vary,
        &options(&["NoIdleResource.rate < 0.01"], 10),
    )
    .unwrap();
    let found = &points[found.expect("some pod count meets 1%")];
    assert_eq!(found.value, toml::Value::Integer(11));
    assert!(found.surely_met());
    let ten = points
        .iter()
        .find(|p| p.value == toml::Value::Integer(10))
        .expect("bisection tries 10");
    assert!(
        !ten.verdicts[0].met,
        "10 pods must miss: {:?}",
        ten.verdicts[0]
    );
}

fn sweep_file(path: &Path, vary: &Vary, opts: &SweepOptions, shard: Option<Shard>) -> Vec<u8> {
    let points: Vec<Point> = (0..vary.values.len())
        .filter(|&i| shard.is_none_or(|s| s.owns(i)))
        .map(|i| run_point(path, vary, i, opts).unwrap())
        .collect();
    sweep_csv(
        &vary.key,
        &reported_figures(&opts.levels),
        &points,
        vary.values.len(),
    )
}

#[test]
fn sharded_sweeps_merge_into_the_unsharded_file() {
    let path = shipped("erlang-b");
    let vary: Vary = "fleet.pods_per_instance=8..12".parse().unwrap();
    let opts = options(&["Start.p99_ms < 1"], 3);
    let whole = sweep_file(&path, &vary, &opts, None);
    let parts: Vec<(String, Vec<u8>)> = ["2/3", "1/3", "3/3"]
        .iter()
        .map(|s| {
            (
                s.to_string(),
                sweep_file(&path, &vary, &opts, Some(s.parse().unwrap())),
            )
        })
        .collect();
    assert_eq!(
        String::from_utf8(merge_csv(&parts).unwrap()).unwrap(),
        String::from_utf8(whole.clone()).unwrap()
    );
    assert_eq!(
        String::from_utf8(whole).unwrap().lines().count(),
        6,
        "a header and one row per point"
    );
}

#[test]
fn a_point_with_an_impossible_value_names_the_key() {
    let vary: Vary = "fleet.pods_per_instance=0".parse().unwrap();
    let err = run_point(&shipped("erlang-b"), &vary, 0, &options(&[], 1))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("fleet.pods_per_instance") && err.contains("at least one"),
        "{err}"
    );
    let vary: Vary = "fleet.pods_per_node=3".parse().unwrap();
    let err = run_point(&shipped("erlang-b"), &vary, 0, &options(&[], 1))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("pods_per_node"), "{err}");
}

#[test]
fn the_95_percent_intervals_cover_erlang_b_about_95_times_in_100() {
    // 40 blocks of 10 replications, each block's interval from its own seeds.
    // With true 95% coverage, misses ~ Binomial(40, 0.05): P(misses >= 7) = 0.005,
    // so more than 6 misses means the intervals are too narrow (or biased).
    let mut r = raw("erlang-b");
    r.duration_s = 4000.0;
    let blocks = 40;
    let misses = crate::support::replicate(0..blocks, |block| {
        let mut r = r.clone();
        r.seed = 50_000 + block * 10;
        let rep = replicate(&build(r, "erlang-b"), EngineKind::Default, 10, 1, None).unwrap();
        let i = rep.estimates["NoIdleResource.rate"].interval.unwrap();
        !(i.low <= erlang_b(10, 5.0) && erlang_b(10, 5.0) <= i.high)
    })
    .into_iter()
    .filter(|&m| m)
    .count();
    assert!(misses <= 6, "{misses} of {blocks} intervals miss B(10, 5)");
}

fn ensim(args: &[&str], cwd: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ensim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn check_fails_against_fewer_pods_or_a_slower_scheduler_and_passes_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(shipped("erlang-b"))
        .unwrap()
        .replace("duration_s = 20000", "duration_s = 4000");
    let variants = [
        ("same.toml", base.clone()),
        (
            "fewer.toml",
            base.replace("pods_per_instance = 10", "pods_per_instance = 8"),
        ),
        (
            "slower.toml",
            base.replace(
                "scheduler_processing = { dist = \"constant\", ms = 0 }",
                "scheduler_processing = { dist = \"constant\", ms = 20 }",
            ),
        ),
    ];
    for (name, text) in &variants {
        assert!(text != &base || *name == "same.toml", "{name} must differ");
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    for (out, file) in [
        ("a", "same.toml"),
        ("b", "same.toml"),
        ("fewer", "fewer.toml"),
        ("slower", "slower.toml"),
    ] {
        let o = ensim(&["run", file, "--out", out, "--quiet"], dir.path());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let code = |baseline: &str| {
        ensim(&["check", "a", "--baseline", baseline], dir.path())
            .status
            .code()
    };
    assert_eq!(
        code("b"),
        Some(0),
        "a rerun of the same scenario and seed passes"
    );
    assert_eq!(code("fewer"), Some(1), "a baseline with fewer pods differs");
    assert_eq!(
        code("slower"),
        Some(1),
        "a baseline with a slower scheduler differs"
    );
    let o = ensim(&["check", "slower", "--baseline", "a"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("REGRESSED"),
        "a slower scheduler is a regression"
    );
    assert_eq!(
        ensim(&["check", "a", "--baseline", "nowhere"], dir.path())
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_missed_service_level_exits_1_and_an_unknown_one_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let s = shipped("erlang-b");
    let s = s.to_str().unwrap();
    let run = |slo: &str| ensim(&["run", s, "--out", "x", "--slo", slo], dir.path());
    let met = run("NoIdleResource.rate < 0.05");
    assert_eq!(
        met.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&met.stderr)
    );
    assert!(String::from_utf8_lossy(&met.stdout).contains("met"));
    assert_eq!(run("NoIdleResource.rate < 0.01").status.code(), Some(1));
    let unknown = run("Start.p98_ms < 3");
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("names no figure"));
}
