//! Figures: a run's results as named numbers, the vocabulary that service
//! levels, replications, sweeps and regression checks share.
//!
//! Names are dotted:
//!
//! - `Start.Ok.p99_ms`: one (action, outcome) row of `summary.csv`, with the
//!   stats `count`, `rate_per_s`, `mean_ms`, `p50_ms`, `p90_ms`, `p99_ms`,
//!   `p999_ms`, `max_ms`, and `rate`, the share of the action's answers that
//!   ended so;
//! - `Start.p99_ms`: every answer to the action, whatever the outcome;
//! - `NoIdleResource.rate`: an outcome over the actions that can end so
//!   (`NoIdleResource` and `Repeated` over `Start` and `PreSchedule`
//!   answers; `LockExpired` over `PreSchedule` locks granted; the rest over
//!   every answer), and `NoIdleResource.count`;
//! - `lock_wait.p99_ms`, `lock_hold.mean_ms`, `lock_attempts.mean`,
//!   `conflicts.max`: lock contention over the whole fleet;
//! - `arrivals`, `arrival_rate_per_s`: sessions.

use std::collections::BTreeMap;

use crate::api::{Action, Outcome};
use crate::metrics::{LockMetric, Measurements, Stats};

/// A run's figures by name, in name order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures(pub BTreeMap<String, f64>);

impl Figures {
    /// The figure called `name`, if the run has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).copied()
    }

    fn put(&mut self, name: String, value: f64) {
        self.0.insert(name, value);
    }

    fn put_latency(&mut self, prefix: &str, s: &Stats, secs: f64) {
        let ms = |ns: u64| ns as f64 / 1e6;
        self.put(format!("{prefix}.count"), s.count() as f64);
        self.put(
            format!("{prefix}.rate_per_s"),
            if secs > 0.0 {
                s.count() as f64 / secs
            } else {
                0.0
            },
        );
        self.put(format!("{prefix}.mean_ms"), s.mean() / 1e6);
        for (q, name) in QUANTILES {
            self.put(format!("{prefix}.{name}_ms"), ms(s.quantile(q)));
        }
        self.put(format!("{prefix}.max_ms"), ms(s.max));
    }
}

const QUANTILES: [(f64, &str); 4] = [(0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p999")];

/// The actions whose answers an outcome's `rate` is a share of.
pub fn rate_base(outcome: Outcome) -> &'static [Action] {
    match outcome {
        Outcome::NoIdleResource | Outcome::Repeated | Outcome::SecurityGroupLimit => {
            &[Action::Start, Action::PreSchedule]
        }
        _ => &Action::ALL,
    }
}

/// Short name of a lock metric in figure names.
fn lock_name(metric: LockMetric) -> &'static str {
    match metric {
        LockMetric::Attempts => "lock_attempts",
        LockMetric::Conflicts => "conflicts",
        LockMetric::Wait => "lock_wait",
        LockMetric::Hold => "lock_hold",
    }
}

/// Every figure of a run.
pub fn figures(m: &Measurements) -> Figures {
    let mut f = Figures::default();
    let secs = m.measured.as_secs_f64();
    let answers = |a: Action| -> u64 {
        m.answers
            .iter()
            .filter(|s| s.action == a && s.outcome != Outcome::LockExpired)
            .map(|s| s.count())
            .sum()
    };

    for s in &m.answers {
        let prefix = format!("{}.{}", s.action.name(), s.outcome.name());
        f.put_latency(&prefix, &s.stats, secs);
        let base = if s.outcome == Outcome::LockExpired {
            m.count(Action::PreSchedule, Outcome::Ok)
        } else {
            answers(s.action)
        };
        f.put(format!("{prefix}.rate"), ratio(s.count(), base));
    }
    for action in Action::ALL {
        let mut all = Stats::default();
        for s in m
            .answers
            .iter()
            .filter(|s| s.action == action && s.outcome != Outcome::LockExpired)
        {
            all.merge(&s.stats);
        }
        if all.count() > 0 {
            f.put_latency(action.name(), &all, secs);
        }
    }
    for outcome in Outcome::ALL {
        let count: u64 = m
            .answers
            .iter()
            .filter(|s| s.outcome == outcome)
            .map(|s| s.count())
            .sum();
        let base: u64 = if outcome == Outcome::LockExpired {
            m.count(Action::PreSchedule, Outcome::Ok)
        } else {
            rate_base(outcome).iter().map(|&a| answers(a)).sum()
        };
        if base > 0 || count > 0 {
            f.put(format!("{}.count", outcome.name()), count as f64);
            f.put(format!("{}.rate", outcome.name()), ratio(count, base));
        }
    }
    for metric in LockMetric::ALL {
        let mut all = Stats::default();
        for action in Action::ALL {
            if let Some(s) = m.contention.total(action, metric) {
                all.merge(&s);
            }
        }
        if all.count() == 0 {
            continue;
        }
        let name = lock_name(metric);
        match metric {
            LockMetric::Wait | LockMetric::Hold => f.put_latency(name, &all, secs),
            LockMetric::Attempts | LockMetric::Conflicts => {
                f.put(format!("{name}.count"), all.count() as f64);
                f.put(format!("{name}.mean"), all.mean());
                for (q, qn) in QUANTILES {
                    f.put(format!("{name}.{qn}"), all.quantile(q) as f64);
                }
                f.put(format!("{name}.max"), all.max as f64);
            }
        }
    }
    f.put("arrivals".into(), m.arrivals as f64);
    f.put(
        "arrival_rate_per_s".into(),
        if secs > 0.0 {
            m.arrivals as f64 / secs
        } else {
            0.0
        },
    );
    f
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// True for figures where a larger value is better (successes, arrivals);
/// for the rest (latencies, failures, contention) smaller is better.
pub fn higher_is_better(name: &str) -> bool {
    let ok = [
        ".Ok.count",
        ".Ok.rate",
        ".Ok.rate_per_s",
        "Ok.count",
        "Ok.rate",
    ];
    name == "arrivals"
        || name == "arrival_rate_per_s"
        || ok
            .iter()
            .any(|s| name.ends_with(s) && !name.contains("_ms"))
}

/// True for figures that count events (so a missing figure means zero).
pub fn is_count_like(name: &str) -> bool {
    name.ends_with(".count") || name.ends_with(".rate") || name.ends_with(".rate_per_s")
}

/// The stats of a latency figure: the columns of `summary.csv` after the
/// action and the outcome.
const LATENCY_STATS: &[&str] = crate::report::SUMMARY_COLUMNS.split_at(2).1;
const COUNT_STATS: [&str; 7] = ["count", "mean", "p50", "p90", "p99", "p999", "max"];

/// True if `name` is a figure some report can have, whether or not this one
/// measured it: a typo is never a figure.
pub fn is_known(name: &str) -> bool {
    if name == "arrivals" || name == "arrival_rate_per_s" {
        return true;
    }
    let Some((prefix, stat)) = name.rsplit_once('.') else {
        return false;
    };
    let outcome = |s: &str| Outcome::ALL.iter().any(|o| o.name() == s);
    let latency = LATENCY_STATS.contains(&stat);
    match prefix {
        "lock_wait" | "lock_hold" => latency,
        "lock_attempts" | "conflicts" => COUNT_STATS.contains(&stat),
        p if Action::parse(p).is_some() => latency,
        p if outcome(p) => stat == "count" || stat == "rate",
        p => p.split_once('.').is_some_and(|(a, o)| {
            Action::parse(a).is_some() && outcome(o) && (latency || stat == "rate")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_follow_the_grammar_and_typos_do_not() {
        for name in [
            "Start.Ok.p99_ms",
            "Start.NoIdleResource.rate",
            "PreSchedule.ens.interface.error.count",
            "Start.InvalidParameter.ClientIp.rate",
            "Start.p99_ms",
            "NoIdleResource.rate",
            "LimitExceeded.SecurityGroup.count",
            "lock_wait.p99_ms",
            "conflicts.mean",
            "arrivals",
        ] {
            assert!(is_known(name), "{name}");
        }
        for name in [
            "Strat.p99_ms",
            "Start.p98_ms",
            "Start.Okay.count",
            "NoIdleResource.p99_ms",
            "conflicts.mean_ms",
            "x",
        ] {
            assert!(!is_known(name), "{name}");
        }
    }
}
