//! The shipped scenario with container and VM flows: every outcome that
//! occurs is reported.

use ensim::api::{Action, Outcome};
use ensim::engine::EngineKind;
use ensim::report::summary_csv;

use crate::support::{build, raw};

#[test]
fn the_mixed_scenario_reports_a_row_for_every_outcome_that_occurred() {
    let out = ensim::run::run(&build(raw("mixed"), "mixed"), EngineKind::Default).unwrap();
    let m = &out.measurements;
    let csv = String::from_utf8(summary_csv(m)).unwrap();
    let rows: Vec<(String, String, u64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap())
        })
        .collect();
    for action in Action::ALL {
        for outcome in Outcome::ALL {
            let n = m.count(action, outcome);
            let row = rows
                .iter()
                .find(|r| r.0 == action.name() && r.1 == outcome.name());
            match row {
                Some(r) => assert_eq!(r.2, n, "{action} {outcome}"),
                None => assert_eq!(n, 0, "{action} {outcome} occurred {n} times but has no row"),
            }
        }
    }
    // The scenario is built to show each of these at least once.
    for (action, outcome) in [
        (Action::Start, Outcome::Ok),
        (Action::Start, Outcome::Repeated),
        (Action::Start, Outcome::MissingParameter),
        (Action::Start, Outcome::NoPermission),
        (Action::Console, Outcome::Ok),
        (Action::PreSchedule, Outcome::Ok),
        (Action::PreSchedule, Outcome::Repeated),
        (Action::PreSchedule, Outcome::LockExpired),
        (Action::Confirm, Outcome::Ok),
        (Action::Cancel, Outcome::Ok),
        (Action::Stop, Outcome::Ok),
    ] {
        assert!(
            m.count(action, outcome) > 0,
            "{action} {outcome} never occurred"
        );
    }
}
