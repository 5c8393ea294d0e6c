//! Reports: CSV files written whole into a results folder, or not at all.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::api::Action;
use crate::fleet::Fleet;
use crate::metrics::{LockMetric, Measurements, Stats};
use crate::run::RunOutput;

/// The columns of `summary.csv`, in order.
pub const SUMMARY_COLUMNS: [&str; 10] = [
    "action",
    "outcome",
    "count",
    "rate_per_s",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
];

/// One row of `summary.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// The API action.
    pub action: &'static str,
    /// `Ok` or the error code.
    pub outcome: &'static str,
    /// Answers counted.
    pub count: u64,
    /// Answers per second of measured time.
    pub rate_per_s: f64,
    /// Exact mean latency.
    pub mean_ms: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Exact maximum.
    pub max_ms: f64,
}

/// The rows of `summary.csv`: one per (action, outcome) that occurred.
pub fn summary_rows(m: &Measurements) -> Vec<SummaryRow> {
    let secs = m.measured.as_secs_f64();
    m.answers
        .iter()
        .map(|s| SummaryRow {
            action: s.action.name(),
            outcome: s.outcome.name(),
            count: s.count(),
            rate_per_s: if secs > 0.0 {
                s.count() as f64 / secs
            } else {
                0.0
            },
            mean_ms: s.mean_ms(),
            p50_ms: s.quantile_ms(0.5),
            p90_ms: s.quantile_ms(0.9),
            p99_ms: s.quantile_ms(0.99),
            p999_ms: s.quantile_ms(0.999),
            max_ms: s.max_ms(),
        })
        .collect()
}

/// `summary.csv` as bytes.
pub fn summary_csv(m: &Measurements) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(SUMMARY_COLUMNS).expect("writing to memory");
    for r in summary_rows(m) {
        let ms = |v: f64| format!("{v:.3}");
        w.write_record([
            r.action.to_string(),
            r.outcome.to_string(),
            r.count.to_string(),
            format!("{:.4}", r.rate_per_s),
            ms(r.mean_ms),
            ms(r.p50_ms),
            ms(r.p90_ms),
            ms(r.p99_ms),
            ms(r.p999_ms),
            ms(r.max_ms),
        ])
        .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// The columns of `contention.csv`, in order. The unit of `mean` to `max`
/// is the one the metric's name ends in (`_ms`), or a plain count.
pub const CONTENTION_COLUMNS: [&str; 12] = [
    "scope", "region", "node", "action", "metric", "count", "mean", "p50", "p90", "p99", "p999",
    "max",
];

fn stats_fields(stats: Option<&Stats>, scale: f64) -> [String; 7] {
    let s = stats.cloned().unwrap_or_default();
    let v = |x: f64| format!("{:.3}", x * scale);
    [
        s.count().to_string(),
        v(s.mean()),
        v(s.quantile(0.5) as f64),
        v(s.quantile(0.9) as f64),
        v(s.quantile(0.99) as f64),
        v(s.quantile(0.999) as f64),
        v(s.max as f64),
    ]
}

/// `contention.csv` as bytes: the four lock metrics per action for the whole
/// fleet (`scope` all) and for every region that saw placements or lock
/// operations (`scope` region), then the nodes with any lock traffic, the
/// most refusals first (`scope` node), so the hottest nodes lead.
pub fn contention_csv(m: &Measurements, fleet: &Fleet) -> Vec<u8> {
    let c = &m.contention;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CONTENTION_COLUMNS)
        .expect("writing to memory");
    let mut row =
        |scope: &str, region: &str, node: &str, action: &str, metric: &str, fields: [String; 7]| {
            let head = [scope, region, node, action, metric].map(str::to_string);
            w.write_record(head.iter().chain(fields.iter()))
                .expect("writing to memory");
        };
    let regions = c.regions();
    for action in Action::ALL {
        if !regions.iter().any(|&r| {
            LockMetric::ALL
                .iter()
                .any(|&k| c.get(r, action, k).is_some())
        }) {
            continue;
        }
        for metric in LockMetric::ALL.into_iter().filter(|k| k.applies_to(action)) {
            let total = c.total(action, metric);
            row(
                "all",
                "all",
                "",
                action.name(),
                metric.name(),
                stats_fields(total.as_ref(), metric.scale()),
            );
        }
    }
    for &r in &regions {
        let id = &fleet.regions()[r as usize].id;
        for action in Action::ALL {
            if LockMetric::ALL
                .iter()
                .all(|&k| c.get(r, action, k).is_none())
            {
                continue;
            }
            for metric in LockMetric::ALL.into_iter().filter(|k| k.applies_to(action)) {
                row(
                    "region",
                    id,
                    "",
                    action.name(),
                    metric.name(),
                    stats_fields(c.get(r, action, metric), metric.scale()),
                );
            }
        }
    }
    let mut nodes: Vec<usize> = (0..c.node_wait.len())
        .filter(|&n| c.node_wait[n].is_some() || c.node_refusals[n] > 0)
        .collect();
    let p99 = |n: usize| c.node_wait[n].as_ref().map_or(0, |s| s.quantile(0.99));
    nodes.sort_by_key(|&n| {
        (
            std::cmp::Reverse(c.node_refusals[n]),
            std::cmp::Reverse(p99(n)),
            n,
        )
    });
    for n in nodes {
        let region = &fleet.regions()[fleet.node_region(n as u32) as usize].id;
        let node = n.to_string();
        row(
            "node",
            region,
            &node,
            "all",
            "refusals",
            [
                c.node_refusals[n].to_string(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ],
        );
        row(
            "node",
            region,
            &node,
            "all",
            LockMetric::Wait.name(),
            stats_fields(c.node_wait[n].as_ref(), LockMetric::Wait.scale()),
        );
    }
    w.into_inner().expect("writing to memory")
}

/// Every file of a run's results folder, by name.
pub fn result_files(out: &RunOutput) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("summary.csv", summary_csv(&out.measurements)),
        (
            "contention.csv",
            contention_csv(&out.measurements, &out.env.fleet),
        ),
    ]
}

/// Writes `files` into the folder `dir`, replacing it whole: they are
/// written into a sibling folder first, which is then renamed into place, so
/// a reader sees the old folder or the new one, never half of one.
pub fn write_folder(dir: &Path, files: &[(&str, Vec<u8>)]) -> io::Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)?;
    let name = dir
        .file_name()
        .ok_or_else(|| io::Error::other("the results folder has no name"))?
        .to_string_lossy()
        .into_owned();
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}.partial-{pid}"));
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir(&staging)?;
    let written = files.iter().try_for_each(|(file, bytes)| {
        let path = staging.join(file);
        let mut f = fs::File::create(&path)?;
        io::Write::write_all(&mut f, bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    let old = parent.join(format!(".{name}.old-{pid}"));
    if dir.exists() {
        fs::rename(dir, &old)?;
    }
    if let Err(e) = fs::rename(&staging, dir) {
        let _ = fs::rename(&old, dir);
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}
