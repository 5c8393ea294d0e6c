//! Lock contention between scheduler replicas, and the accounting of locks
//! and units at the end of every shipped scenario.

use ensim::api::Action;
use ensim::engine::EngineKind;
use ensim::metrics::LockMetric;
use ensim::model::{Routing, UnitPhase};
use ensim::report::contention_csv;
use ensim::run::{RunOutput, run};

use crate::support::{build, mean_sd, raw, replicate, t_999};

fn flash_crowd(schedulers: u16, refresh_ms: f64, seed: u64) -> RunOutput {
    let mut r = raw("flash-crowd");
    r.schedulers.count = schedulers;
    r.schedulers.routing = Routing::RoundRobin;
    r.schedulers.view_refresh_ms = refresh_ms;
    r.seed = seed;
    run(&build(r, "flash-crowd"), EngineKind::Default).unwrap()
}

fn total(out: &RunOutput, action: Action, metric: LockMetric) -> (u64, u128) {
    let s = out
        .measurements
        .contention
        .total(action, metric)
        .unwrap_or_default();
    (s.count(), s.sum)
}

#[test]
fn one_scheduler_with_a_fresh_view_meets_no_conflicts() {
    let out = flash_crowd(1, 0.0, 1);
    let (placements, conflicts) = total(&out, Action::Start, LockMetric::Conflicts);
    assert!(placements > 1000, "the crowd must be placed: {placements}");
    assert_eq!(conflicts, 0);
    assert!(
        out.measurements
            .contention
            .node_refusals
            .iter()
            .all(|&n| n == 0)
    );
}

#[test]
fn conflicts_rise_as_the_views_get_staler() {
    // Mean conflicts per placement over independent replications at three
    // refresh intervals; each step up must exceed its 99.9% t margin.
    let reps = 10;
    let staleness = [100.0, 1000.0, 5000.0];
    let means: Vec<(f64, f64)> = staleness
        .iter()
        .map(|&ms| {
            let per_rep = replicate(0..reps, |seed| {
                let (n, sum) = total(
                    &flash_crowd(4, ms, 100 + seed),
                    Action::Start,
                    LockMetric::Conflicts,
                );
                sum as f64 / n as f64
            });
            let (mean, sd) = mean_sd(&per_rep);
            (mean, sd / (reps as f64).sqrt())
        })
        .collect();
    let t = t_999(reps as usize - 1);
    for (w, ms) in means.windows(2).zip(staleness.windows(2)) {
        let (a, b) = (w[0], w[1]);
        let margin = t * (a.1 * a.1 + b.1 * b.1).sqrt();
        assert!(
            b.0 - a.0 > margin,
            "refresh {} ms: {:.4}; {} ms: {:.4}; margin {margin:.4}",
            ms[0],
            a.0,
            ms[1],
            b.0
        );
    }
}

#[test]
fn contention_csv_has_the_four_metrics_for_every_region_that_saw_requests() {
    let out = flash_crowd(4, 1000.0, 3);
    let csv = String::from_utf8(contention_csv(&out.measurements, &out.env.fleet)).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "scope,region,node,action,metric,count,mean,p50,p90,p99,p999,max"
    );
    let fleet = &out.env.fleet;
    let mut regions_with_traffic = 0;
    for (r, region) in fleet.regions().iter().enumerate() {
        let nodes = region.nodes.0..region.nodes.1;
        let busy = nodes.clone().any(|n| {
            let l = out.world.nodes[n as usize].ledger();
            l.activated > 0 || out.measurements.contention.node_refusals[n as usize] > 0
        });
        if !busy {
            continue;
        }
        regions_with_traffic += 1;
        for metric in LockMetric::ALL {
            let prefix = format!("region,{},,Start,{},", region.id, metric.name());
            assert!(
                csv.lines().any(|l| l.starts_with(&prefix)),
                "no {} row for region {} ({r})",
                metric.name(),
                region.id
            );
        }
    }
    assert!(
        regions_with_traffic >= 4,
        "the crowd spreads over several regions: {regions_with_traffic}"
    );
    // The hottest node leads the node rows.
    let first_node = csv.lines().find(|l| l.starts_with("node,")).unwrap();
    let most = out
        .measurements
        .contention
        .node_refusals
        .iter()
        .max()
        .unwrap();
    assert!(
        first_node.ends_with(&format!(",refusals,{most},,,,,,")),
        "{first_node}"
    );
}

#[test]
fn one_scheduler_fresh_view_and_instant_locks_give_zero_wait_and_one_attempt() {
    let mut r = raw("flash-crowd");
    r.schedulers.count = 1;
    r.schedulers.view_refresh_ms = 0.0;
    r.latency.node_lock_service = ensim::dist::DistSpec::zero();
    let out = run(&build(r, "flash-crowd"), EngineKind::Default).unwrap();
    let c = &out.measurements.contention;
    let attempts = c.total(Action::Start, LockMetric::Attempts).unwrap();
    assert!(attempts.count() > 1000);
    assert_eq!(
        (attempts.quantile(0.0), attempts.max),
        (1, 1),
        "every placement takes exactly one attempt"
    );
    for action in Action::ALL {
        if let Some(wait) = c.total(action, LockMetric::Wait) {
            assert_eq!(wait.max, 0, "{action}: lock wait must be zero");
        }
    }
}

/// Every shipped scenario, cut to at most ten simulated minutes.
fn shipped_scenarios() -> Vec<(String, ensim::scenario::Scenario)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let mut r = raw(&name);
            r.duration_s = r.duration_s.min(600.0);
            r.warmup_s = r.warmup_s.min(r.duration_s / 2.0);
            (name.clone(), build(r, &name))
        })
        .collect()
}

#[test]
fn the_accounting_identities_hold_on_every_shipped_scenario() {
    let scenarios = shipped_scenarios();
    assert!(scenarios.len() >= 5);
    for (name, scenario) in scenarios {
        let out = run(&scenario, EngineKind::Default).unwrap();
        let fleet = &out.env.fleet;
        for (r, region) in fleet.regions().iter().enumerate() {
            let nodes = &out.world.nodes[region.nodes.0 as usize..region.nodes.1 as usize];
            let units = nodes.iter().flat_map(|n| n.units().iter());
            let count = |phase| units.clone().filter(|u| u.phase() == phase).count() as u64;
            let (idle, locked, active) = (
                count(UnitPhase::Idle),
                count(UnitPhase::Locked),
                count(UnitPhase::Active),
            );
            let pods = u64::from(region.pods.1 - region.pods.0);
            assert_eq!(
                idle + locked + active,
                pods,
                "{name} {}: every unit is idle, locked or active",
                region.id
            );

            let sum = |f: fn(&ensim::model::edge_node::LockLedger) -> u64| {
                nodes.iter().map(|n| f(&n.ledger())).sum::<u64>()
            };
            let granted = sum(|l| l.granted);
            let ended = sum(|l| l.confirmed) + sum(|l| l.cancelled) + sum(|l| l.expired);
            assert_eq!(
                granted,
                ended + locked,
                "{name} {}: granted = confirmed + cancelled + expired + held",
                region.id
            );
            let placed = sum(|l| l.activated) + sum(|l| l.confirmed);
            assert_eq!(
                placed,
                sum(|l| l.released) + active,
                "{name} {}: placements = releases + active",
                region.id
            );

            // The recorder's running counts agree with the nodes.
            let occ = &out.measurements.regions[r];
            assert_eq!(
                (u64::from(occ.locked), u64::from(occ.active)),
                (locked, active),
                "{name} {}",
                region.id
            );
        }
    }
}
