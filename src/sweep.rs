//! Sweeps: one scenario at several values of one key, each point with
//! replications; the smallest value that meets the service levels; shards of
//! a sweep run apart and merged.
//!
//! A point is the scenario file with one dotted key (such as
//! `fleet.pods_per_instance`) set to a value, checked like any scenario. The
//! points are numbered in the order the values are given, and every point
//! runs the same seeds, so shards can run anywhere and merge into exactly the
//! file the whole sweep writes.

use std::path::Path;

use crate::engine::EngineKind;
use crate::replicate::{Replicated, replicate};
use crate::scenario::{Scenario, ScenarioError, parse_toml};
use crate::slo::{ServiceLevel, SloError, Verdict};
use crate::stats::Estimate;

/// Figures every `sweep.csv` has, whether or not a point measured them.
pub const MAIN_FIGURES: [&str; 8] = [
    "Start.count",
    "Start.mean_ms",
    "Start.p99_ms",
    "NoIdleResource.rate",
    "PreSchedule.p99_ms",
    "conflicts.mean",
    "lock_wait.p99_ms",
    "arrival_rate_per_s",
];

/// A sweep that cannot be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// `--vary` is malformed.
    #[error("--vary {0:?}: {1}")]
    Vary(String, String),
    /// `--shard` is malformed.
    #[error("--shard {0:?} is not of the form i/n with 1 <= i <= n, e.g. 2/8")]
    Shard(String),
    /// A point's scenario is invalid.
    #[error("at {key} = {value}: {source}")]
    Point {
        /// The varied key.
        key: String,
        /// The value.
        value: String,
        /// Why the scenario is invalid.
        source: Box<ScenarioError>,
    },
    /// A service level does not fit the report.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// A run failed.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    /// Sweep files to merge do not fit together.
    #[error("{0}")]
    Merge(String),
}

/// The key to vary and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    /// Dotted key in the scenario file, such as `fleet.pods_per_instance`.
    pub key: String,
    /// The values, in point order.
    pub values: Vec<toml::Value>,
}

impl std::str::FromStr for Vary {
    type Err = SweepError;

    /// `key=1,2,5`, `key=10..20` (integers, inclusive) or `key=0.5..2.0:0.5`.
    fn from_str(s: &str) -> Result<Vary, SweepError> {
        let err = |why: &str| SweepError::Vary(s.to_string(), why.to_string());
        let (key, spec) = s
            .split_once('=')
            .ok_or_else(|| err("give key=values, e.g. fleet.pods_per_instance=8..12"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(err("the key is empty or has an empty part"));
        }
        let values = match spec.split_once("..") {
            Some((from, rest)) => range(from, rest).ok_or_else(|| {
                err("a range is from..to or from..to:step, with step > 0 and at most 10000 values")
            })?,
            None => spec.split(',').map(|v| scalar(v.trim())).collect(),
        };
        if values.is_empty() || values.len() > 10_000 {
            return Err(err("give from 1 to 10000 values"));
        }
        Ok(Vary {
            key: key.to_string(),
            values,
        })
    }
}

fn scalar(v: &str) -> toml::Value {
    format!("v = {v}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()))
}

/// Most values one `--vary` may give.
const MAX_VALUES: usize = 10_000;

fn range(from: &str, rest: &str) -> Option<Vec<toml::Value>> {
    let (to, step) = match rest.split_once(':') {
        Some((to, step)) => (to, Some(step)),
        None => (rest, None),
    };
    let (from, to, step) = (
        scalar(from.trim()),
        scalar(to.trim()),
        step.map(|s| scalar(s.trim())),
    );
    // A range of more than MAX_VALUES values is refused before it is built.
    let too_many = |a: f64, b: f64, k: f64| (b - a) / k >= MAX_VALUES as f64;
    match (from, to, step) {
        (toml::Value::Integer(a), toml::Value::Integer(b), None)
            if too_many(a as f64, b as f64, 1.0) =>
        {
            None
        }
        (toml::Value::Integer(a), toml::Value::Integer(b), None) if a <= b => {
            Some((a..=b).map(toml::Value::Integer).collect())
        }
        (toml::Value::Integer(a), toml::Value::Integer(b), Some(toml::Value::Integer(k)))
            if a <= b && k > 0 && !too_many(a as f64, b as f64, k as f64) =>
        {
            Some(
                (a..=b)
                    .step_by(k as usize)
                    .map(toml::Value::Integer)
                    .collect(),
            )
        }
        (a, b, Some(k)) => {
            let (a, b, k) = (
                a.as_float().or(a.as_integer().map(|i| i as f64))?,
                b.as_float().or(b.as_integer().map(|i| i as f64))?,
                k.as_float().or(k.as_integer().map(|i| i as f64))?,
            );
            if !(k > 0.0 && a <= b) || too_many(a, b, k) {
                return None;
            }
            let n = ((b - a) / k + 1e-9).floor() as usize;
            Some(
                (0..=n)
                    .map(|i| toml::Value::Float(a + k * i as f64))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// The `i`-th of `n` slices of a sweep (1-based), as `--shard i/n` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 1.
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = SweepError;

    fn from_str(s: &str) -> Result<Shard, SweepError> {
        let bad = || SweepError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// True if point number `point` belongs to this slice.
    pub fn owns(self, point: usize) -> bool {
        point % self.count == self.index - 1
    }
}

/// The scenario file `path` with `key` set to `value`.
pub fn point_scenario(path: &Path, key: &str, value: &toml::Value) -> Result<Scenario, SweepError> {
    let shown = path.display().to_string();
    let point_err = |source: ScenarioError| SweepError::Point {
        key: key.to_string(),
        value: value.to_string(),
        source: Box::new(source),
    };
    let text = std::fs::read_to_string(path).map_err(|source| {
        point_err(ScenarioError::Read {
            path: shown.clone(),
            source,
        })
    })?;
    // Parse once as the schema, so that syntax errors name the file's lines.
    parse_toml(&text, &shown).map_err(point_err)?;
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        point_err(ScenarioError::Syntax {
            path: shown.clone(),
            line: 0,
            column: 0,
            message: e.message().to_string(),
        })
    })?;
    set_dotted(&mut table, key, value.clone()).map_err(|message| {
        point_err(ScenarioError::Value {
            path: shown.clone(),
            key: key.to_string(),
            message,
        })
    })?;
    let changed = toml::to_string(&table).map_err(|e| {
        point_err(ScenarioError::Value {
            path: shown.clone(),
            key: key.to_string(),
            message: e.to_string(),
        })
    })?;
    let raw =
        parse_toml(&changed, &format!("{shown} with {key} = {value}")).map_err(|e| match e {
            // Lines of the rewritten text mean nothing to the user: keep the message only.
            ScenarioError::Syntax { message, .. } => point_err(ScenarioError::Value {
                path: shown.clone(),
                key: key.to_string(),
                message,
            }),
            other => point_err(other),
        })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let mut s = Scenario::from_raw(raw, &shown, path.parent().unwrap_or(Path::new(".")), stem)
        .map_err(point_err)?;
    s.path = Some(path.to_path_buf());
    Ok(s)
}

fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut t = table;
    for p in parts {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{p} is not a table, so {key} cannot be set"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// One point of a sweep.
pub struct Point {
    /// Its number, in the order of the values.
    pub index: usize,
    /// The value of the varied key.
    pub value: toml::Value,
    /// Its replications.
    pub result: Replicated,
    /// How its service levels fared.
    pub verdicts: Vec<Verdict>,
}

impl Point {
    /// True if every service level is met with 95% confidence.
    pub fn surely_met(&self) -> bool {
        self.verdicts.iter().all(|v| v.sure)
    }
}

/// How to run the points.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Replications per point.
    pub replications: u32,
    /// Threads to run replications on.
    pub threads: usize,
    /// Engine.
    pub engine: EngineKind,
    /// Service levels to check at each point.
    pub levels: Vec<ServiceLevel>,
    /// Seed override, if any.
    pub seed: Option<u64>,
}

/// Runs point number `index` (value `value`) of the sweep of `path`.
pub fn run_point(
    path: &Path,
    vary: &Vary,
    index: usize,
    opts: &SweepOptions,
) -> Result<Point, SweepError> {
    let value = vary.values[index].clone();
    let mut scenario = point_scenario(path, &vary.key, &value)?;
    if let Some(seed) = opts.seed {
        scenario.seed = seed;
    }
    let result = replicate(
        &scenario,
        opts.engine,
        opts.replications,
        opts.threads,
        None,
    )?;
    let means = result.mean_figures();
    let verdicts = opts
        .levels
        .iter()
        .map(|l| {
            l.check_interval(
                &means,
                result.estimates.get(&l.figure).and_then(|e| e.interval),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Point {
        index,
        value,
        result,
        verdicts,
    })
}

/// The figures a sweep's file reports: the main ones, then those its service
/// levels name.
pub fn reported_figures(levels: &[ServiceLevel]) -> Vec<String> {
    let mut names: Vec<String> = MAIN_FIGURES.iter().map(|s| s.to_string()).collect();
    for l in levels {
        if !names.contains(&l.figure) {
            names.push(l.figure.clone());
        }
    }
    names
}

/// `sweep.csv`: one row per point, with each figure's mean and 95% interval.
pub fn sweep_csv(key: &str, figures: &[String], points: &[Point], total_points: usize) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "point".to_string(),
        "points".to_string(),
        key.to_string(),
        "replications".to_string(),
    ];
    for f in figures {
        header.extend([
            format!("{f}_mean"),
            format!("{f}_ci95_low"),
            format!("{f}_ci95_high"),
        ]);
    }
    header.push("service_levels".into());
    w.write_record(&header).expect("writing to memory");
    for p in points {
        let mut row = vec![
            p.index.to_string(),
            total_points.to_string(),
            value_text(&p.value),
            p.result.seeds.len().to_string(),
        ];
        for f in figures {
            row.extend(estimate_cells(p.result.estimates.get(f)));
        }
        row.push(verdict_text(&p.verdicts));
        w.write_record(&row).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

fn estimate_cells(e: Option<&Estimate>) -> [String; 3] {
    match e {
        None => [String::new(), String::new(), String::new()],
        Some(e) => {
            let (lo, hi) = e.interval.map_or((String::new(), String::new()), |i| {
                (format!("{:.6}", i.low), format!("{:.6}", i.high))
            });
            [format!("{:.6}", e.mean), lo, hi]
        }
    }
}

/// `met`, `missed`, `unsure` (met on the mean, but the interval crosses the
/// target), or empty without service levels.
pub fn verdict_text(verdicts: &[Verdict]) -> String {
    if verdicts.is_empty() {
        String::new()
    } else if verdicts.iter().all(|v| v.sure) {
        "met".into()
    } else if verdicts.iter().all(|v| v.met) {
        "unsure".into()
    } else {
        "missed".into()
    }
}

/// A value as the sweep file writes it.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Merges the `sweep.csv` files of shards into the whole sweep's file:
/// the same header, rows ordered by point, no point twice.
pub fn merge_csv(parts: &[(String, Vec<u8>)]) -> Result<Vec<u8>, SweepError> {
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<(usize, csv::StringRecord)> = Vec::new();
    for (name, bytes) in parts {
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let h = r
            .headers()
            .map_err(|e| SweepError::Merge(format!("{name}: {e}")))?
            .clone();
        match &header {
            None => header = Some(h),
            Some(first) if *first != h => {
                return Err(SweepError::Merge(format!(
                    "{name}: its columns differ from the first file's; merge shards of one sweep only"
                )));
            }
            Some(_) => {}
        }
        for rec in r.records() {
            let rec = rec.map_err(|e| SweepError::Merge(format!("{name}: {e}")))?;
            let point: usize = rec
                .get(0)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| SweepError::Merge(format!("{name}: a row has no point number")))?;
            if rows.iter().any(|(p, _)| *p == point) {
                return Err(SweepError::Merge(format!(
                    "{name}: point {point} appears in two files"
                )));
            }
            rows.push((point, rec));
        }
    }
    let header = header.ok_or_else(|| SweepError::Merge("no files to merge".into()))?;
    rows.sort_by_key(|(p, _)| *p);
    let column = |rec: &csv::StringRecord, k: usize| rec.get(k).unwrap_or_default().to_string();
    for (k, what) in [(1, "the number of points"), (3, "replications")] {
        if rows
            .windows(2)
            .any(|w| column(&w[0].1, k) != column(&w[1].1, k))
        {
            return Err(SweepError::Merge(format!(
                "the files differ in {what}; merge shards of one sweep only"
            )));
        }
    }
    let total: usize = rows
        .first()
        .and_then(|r| r.1.get(1)?.parse().ok())
        .unwrap_or(0);
    let missing: Vec<String> = (0..total)
        .filter(|p| !rows.iter().any(|r| r.0 == *p))
        .map(|p| p.to_string())
        .collect();
    if !missing.is_empty() || rows.len() != total {
        return Err(SweepError::Merge(format!(
            "points {} of {total} are missing; merge the files of every shard",
            missing.join(", ")
        )));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).expect("writing to memory");
    for (_, rec) in rows {
        w.write_record(&rec).expect("writing to memory");
    }
    Ok(w.into_inner().expect("writing to memory"))
}

/// The smallest value of `vary` (taken in ascending order) whose point meets
/// every service level with 95% confidence, found by bisection on the
/// assumption that a larger value never does worse. Returns the points
/// evaluated, in value order, and the index among them of the answer.
pub fn find_min(
    path: &Path,
    vary: &Vary,
    opts: &SweepOptions,
) -> Result<(Vec<Point>, Option<usize>), SweepError> {
    let mut order: Vec<usize> = (0..vary.values.len()).collect();
    let number = |v: &toml::Value| v.as_float().or(v.as_integer().map(|i| i as f64));
    if order.iter().any(|&i| number(&vary.values[i]).is_none()) {
        return Err(SweepError::Vary(
            vary.key.clone(),
            "--find-min needs numeric values".into(),
        ));
    }
    order.sort_by(|&a, &b| {
        number(&vary.values[a])
            .unwrap_or(0.0)
            .total_cmp(&number(&vary.values[b]).unwrap_or(0.0))
    });
    let mut evaluated: Vec<Point> = Vec::new();
    let (mut lo, mut hi) = (0usize, order.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let point = run_point(path, vary, order[mid], opts)?;
        let ok = point.surely_met();
        evaluated.push(point);
        if ok {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    evaluated.sort_by(|a, b| {
        number(&a.value)
            .unwrap_or(0.0)
            .total_cmp(&number(&b.value).unwrap_or(0.0))
    });
    let found = (lo < order.len())
        .then(|| evaluated.iter().position(|p| p.index == order[lo]))
        .flatten();
    Ok((evaluated, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_reads_lists_and_ranges() {
        let v: Vary = "fleet.pods_per_instance=8..11".parse().unwrap();
        assert_eq!(v.key, "fleet.pods_per_instance");
        assert_eq!(
            v.values,
            (8..=11).map(toml::Value::Integer).collect::<Vec<_>>()
        );
        let v: Vary = "workload.arrival_rate_per_s=1.5,2,3".parse().unwrap();
        assert_eq!(
            v.values,
            vec![
                toml::Value::Float(1.5),
                toml::Value::Integer(2),
                toml::Value::Integer(3)
            ]
        );
        let v: Vary = "a.b=0.5..1.5:0.5".parse().unwrap();
        assert_eq!(
            v.values,
            vec![
                toml::Value::Float(0.5),
                toml::Value::Float(1.0),
                toml::Value::Float(1.5)
            ]
        );
        assert_eq!("a=2..10:4".parse::<Vary>().unwrap().values.len(), 3);
        assert!("noequals".parse::<Vary>().is_err());
        assert!("a=5..1".parse::<Vary>().is_err());
        assert!("a.=1".parse::<Vary>().is_err());
    }

    #[test]
    fn shards_split_the_points_between_them() {
        let shards: Vec<Shard> = (1..=3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for point in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.owns(point)).count(), 1);
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
    }

    #[test]
    fn merging_refuses_duplicates_and_mismatched_columns() {
        let a = (
            String::from("a"),
            b"point,points,x,replications\n0,2,1,3\n".to_vec(),
        );
        let b = (
            String::from("b"),
            b"point,points,x,replications\n1,2,2,3\n".to_vec(),
        );
        assert_eq!(
            merge_csv(&[b.clone(), a.clone()]).unwrap(),
            b"point,points,x,replications\n0,2,1,3\n1,2,2,3\n".to_vec()
        );
        assert!(
            merge_csv(std::slice::from_ref(&a)).is_err(),
            "a shard is missing"
        );
        let other_reps = (
            String::from("c"),
            b"point,points,x,replications\n1,2,2,5\n".to_vec(),
        );
        assert!(merge_csv(&[a.clone(), other_reps]).is_err());
        assert!(merge_csv(&[a.clone(), a.clone()]).is_err());
        assert!(merge_csv(&[a, (String::from("c"), b"point,y\n2,2\n".to_vec())]).is_err());
    }
}
