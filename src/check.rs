//! Regression checks: two result folders compared figure by figure.
//!
//! Each folder's `figures.csv` holds every figure of its run (with the 95%
//! interval when it ran replications). A figure has moved when the change is
//! larger than its tolerance, `max(absolute, relative x |baseline|)`, and,
//! when both sides have intervals, the intervals do not overlap. A move for
//! the worse is a regression; a move for the better means the baseline is
//! stale. Either fails the check unless improvements are allowed, so that a
//! committed baseline always describes what the code does now.

use std::collections::BTreeMap;
use std::path::Path;

use crate::figures::{Figures, higher_is_better, is_count_like};
use crate::stats::Interval;

/// The columns of `figures.csv`.
pub const FIGURES_COLUMNS: [&str; 5] = ["figure", "value", "ci95_low", "ci95_high", "replications"];

/// One figure as a folder records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recorded {
    /// The value, or the mean over replications.
    pub value: f64,
    /// The 95% interval, with replications.
    pub interval: Option<Interval>,
}

/// `figures.csv` of one run (`replications` = 1, no interval) or of several.
pub fn figures_csv(
    values: &Figures,
    intervals: &BTreeMap<String, Interval>,
    replications: usize,
) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(FIGURES_COLUMNS).expect("writing to memory");
    for (name, value) in &values.0 {
        let (lo, hi) = intervals
            .get(name)
            .map_or((String::new(), String::new()), |i| {
                (format!("{:.9}", i.low), format!("{:.9}", i.high))
            });
        w.write_record([
            name.clone(),
            format!("{value:.9}"),
            lo,
            hi,
            replications.to_string(),
        ])
        .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// A check that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A folder has no readable `figures.csv`.
    #[error("{path}: {why}; run `ensim run` to make a results folder")]
    Folder {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A tolerance is malformed.
    #[error(
        "--tolerance {0:?} is not FIGURE=RELATIVE[:ABSOLUTE] with a figure named as in README.md, \"Figures\", e.g. Start.p99_ms=0.1:5"
    )]
    Tolerance(String),
}

/// Reads a folder's `figures.csv`.
pub fn read_figures(dir: &Path) -> Result<BTreeMap<String, Recorded>, CheckError> {
    let path = dir.join("figures.csv");
    let shown = path.display().to_string();
    let err = |why: String| CheckError::Folder {
        path: shown.clone(),
        why,
    };
    let bytes = std::fs::read(&path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    let header = r.headers().map_err(|e| err(e.to_string()))?.clone();
    if header.iter().collect::<Vec<_>>() != FIGURES_COLUMNS {
        return Err(err(format!(
            "its columns are not {}",
            FIGURES_COLUMNS.join(",")
        )));
    }
    let mut out = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let num = |k: usize| {
            rec.get(k)
                .filter(|s| !s.is_empty())
                .map(str::parse::<f64>)
                .transpose()
        };
        let bad = |_| err(format!("row {} has a value that is not a number", i + 2));
        let value = num(1)
            .map_err(bad)?
            .ok_or_else(|| err(format!("row {} has no value", i + 2)))?;
        let interval = match (num(2).map_err(bad)?, num(3).map_err(bad)?) {
            (Some(low), Some(high)) => Some(Interval { low, high }),
            _ => None,
        };
        out.insert(
            rec.get(0).unwrap_or_default().to_string(),
            Recorded { value, interval },
        );
    }
    Ok(out)
}

/// How much a figure may move.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Share of the baseline value.
    pub relative: f64,
    /// Absolute amount, in the figure's unit.
    pub absolute: f64,
}

/// Tolerances: defaults by kind of figure, and overrides by name.
#[derive(Clone, Debug)]
pub struct Tolerances {
    /// Share of the baseline every figure may move by.
    pub relative: f64,
    /// Overrides by figure name.
    pub by_name: BTreeMap<String, Tolerance>,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            relative: 0.05,
            by_name: BTreeMap::new(),
        }
    }
}

impl Tolerances {
    /// Reads `FIGURE=RELATIVE[:ABSOLUTE]`.
    pub fn add(&mut self, spec: &str) -> Result<(), CheckError> {
        let bad = || CheckError::Tolerance(spec.to_string());
        let (name, v) = spec.split_once('=').ok_or_else(bad)?;
        let (rel, abs) = v.split_once(':').unwrap_or((v, "0"));
        let relative: f64 = rel.trim().parse().map_err(|_| bad())?;
        let absolute: f64 = abs.trim().parse().map_err(|_| bad())?;
        if !(relative >= 0.0 && absolute >= 0.0 && crate::figures::is_known(name.trim())) {
            return Err(bad());
        }
        self.by_name
            .insert(name.trim().to_string(), Tolerance { relative, absolute });
        Ok(())
    }

    /// The tolerance of `figure`: its override, else the relative default
    /// with an absolute floor by unit (1 ms, 0.002 for a share, 0.01 for a
    /// mean count, 0.5 for a count).
    pub fn of(&self, figure: &str) -> Tolerance {
        if let Some(t) = self.by_name.get(figure) {
            return *t;
        }
        let absolute = if figure.ends_with("_ms") {
            1.0
        } else if figure.ends_with(".rate") {
            0.002
        } else if figure.ends_with(".count") || figure == "arrivals" {
            0.5
        } else {
            0.01
        };
        Tolerance {
            relative: self.relative,
            absolute,
        }
    }
}

/// How a figure compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Within tolerance.
    Same,
    /// Moved for the worse.
    Regressed,
    /// Moved for the better.
    Improved,
}

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// The figure.
    pub figure: String,
    /// Its baseline value.
    pub baseline: f64,
    /// Its current value.
    pub current: f64,
    /// The verdict.
    pub change: Change,
}

/// Compares every figure both folders have (a count or share missing on one
/// side is zero there).
pub fn compare(
    current: &BTreeMap<String, Recorded>,
    baseline: &BTreeMap<String, Recorded>,
    tol: &Tolerances,
) -> Vec<Line> {
    let names: std::collections::BTreeSet<&String> =
        current.keys().chain(baseline.keys()).collect();
    let zero = Recorded {
        value: 0.0,
        interval: None,
    };
    names
        .into_iter()
        .filter_map(|name| {
            let (c, b) = match (current.get(name), baseline.get(name)) {
                (Some(c), Some(b)) => (*c, *b),
                (Some(c), None) if is_count_like(name) => (*c, zero),
                (None, Some(b)) if is_count_like(name) => (zero, *b),
                _ => return None,
            };
            let t = tol.of(name);
            let moved = (c.value - b.value).abs() > t.absolute.max(t.relative * b.value.abs());
            let apart = match (c.interval, b.interval) {
                (Some(ci), Some(bi)) => ci.high < bi.low || bi.high < ci.low,
                _ => true,
            };
            let change = if !(moved && apart) {
                Change::Same
            } else if (c.value > b.value) == higher_is_better(name) {
                Change::Improved
            } else {
                Change::Regressed
            };
            Some(Line {
                figure: name.clone(),
                baseline: b.value,
                current: c.value,
                change,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: f64) -> Recorded {
        Recorded {
            value: v,
            interval: None,
        }
    }

    #[test]
    fn moves_beyond_tolerance_are_regressions_or_improvements() {
        let base = BTreeMap::from([
            ("Start.p99_ms".to_string(), rec(100.0)),
            ("Start.Ok.count".to_string(), rec(1000.0)),
        ]);
        let cur = BTreeMap::from([
            ("Start.p99_ms".to_string(), rec(120.0)),
            ("Start.Ok.count".to_string(), rec(1020.0)),
            ("NoIdleResource.count".to_string(), rec(5.0)),
        ]);
        let lines = compare(&cur, &base, &Tolerances::default());
        let of = |n: &str| lines.iter().find(|l| l.figure == n).unwrap().change;
        assert_eq!(of("Start.p99_ms"), Change::Regressed);
        assert_eq!(of("Start.Ok.count"), Change::Same);
        assert_eq!(of("NoIdleResource.count"), Change::Regressed);
        let lines = compare(&base, &cur, &Tolerances::default());
        assert_eq!(
            lines
                .iter()
                .find(|l| l.figure == "Start.p99_ms")
                .unwrap()
                .change,
            Change::Improved
        );
    }

    #[test]
    fn overlapping_intervals_are_no_change() {
        let i = |lo, hi| Some(Interval { low: lo, high: hi });
        let base = BTreeMap::from([(
            "x.mean_ms".to_string(),
            Recorded {
                value: 100.0,
                interval: i(90.0, 110.0),
            },
        )]);
        let cur = BTreeMap::from([(
            "x.mean_ms".to_string(),
            Recorded {
                value: 108.0,
                interval: i(100.0, 116.0),
            },
        )]);
        assert_eq!(
            compare(&cur, &base, &Tolerances::default())[0].change,
            Change::Same
        );
    }

    #[test]
    fn tolerances_parse_and_apply_by_name() {
        let mut t = Tolerances::default();
        t.add("Start.p99_ms=0.5:10").unwrap();
        assert_eq!(
            t.of("Start.p99_ms"),
            Tolerance {
                relative: 0.5,
                absolute: 10.0
            }
        );
        assert_eq!(t.of("Stop.p99_ms").absolute, 1.0);
        assert!(t.add("nope").is_err());
        assert!(t.add("x=-1").is_err());
    }
}
