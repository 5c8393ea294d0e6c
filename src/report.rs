//! Reports: CSV files written whole into a results folder, or not at all.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::metrics::Measurements;
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

/// Every file of a run's results folder, by name.
pub fn result_files(out: &RunOutput) -> Vec<(&'static str, Vec<u8>)> {
    let mut files = vec![
        ("summary.csv", summary_csv(&out.measurements)),
        (
            "capacity.csv",
            capacity_csv(&out.measurements, &out.env.fleet),
        ),
    ];
    if out.env.classes.iter().any(|c| c.retry.is_some()) {
        files.push(("chains.csv", chains_csv(&out.measurements)));
    }
    files
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

/// The columns of `capacity.csv`, in order.
pub const CAPACITY_COLUMNS: [&str; 7] = [
    "region",
    "pods",
    "instances",
    "peak_busy",
    "mean_busy",
    "mean_locked",
    "mean_active",
];

/// `capacity.csv`: per region, its units (container pods and whole
/// instances), the most units busy (locked or active) at once, and the
/// time-averages over the measured span; then a row `total` with the sums.
/// A region's `peak_busy` is the capacity it needed to serve what reached it;
/// the total row sums the regions' peaks, which need not fall at one instant.
pub fn capacity_csv(m: &Measurements, fleet: &crate::fleet::Fleet) -> Vec<u8> {
    use crate::fleet::UnitKind;
    let span = m.measured.as_nanos() as f64;
    let per_span = |area: u128| {
        if span > 0.0 { area as f64 / span } else { 0.0 }
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CAPACITY_COLUMNS).expect("writing to memory");
    let mut total = (0u64, 0u64, 0u64, 0.0, 0.0, 0.0);
    for (region, occ) in fleet.regions().iter().zip(&m.regions) {
        let (lo, hi) = region.pods;
        let instances = (lo..hi)
            .filter(|&p| fleet.unit_kind(p) == UnitKind::Instance)
            .count() as u64;
        let pods = u64::from(hi - lo) - instances;
        let locked = per_span(occ.locked_area);
        let active = per_span(occ.active_area);
        total.0 += pods;
        total.1 += instances;
        total.2 += u64::from(occ.peak_busy);
        total.3 += locked + active;
        total.4 += locked;
        total.5 += active;
        w.write_record([
            region.id.clone(),
            pods.to_string(),
            instances.to_string(),
            occ.peak_busy.to_string(),
            format!("{:.3}", locked + active),
            format!("{locked:.3}"),
            format!("{active:.3}"),
        ])
        .expect("writing to memory");
    }
    w.write_record([
        "total".to_string(),
        total.0.to_string(),
        total.1.to_string(),
        total.2.to_string(),
        format!("{:.3}", total.3),
        format!("{:.3}", total.4),
        format!("{:.3}", total.5),
    ])
    .expect("writing to memory");
    w.into_inner().expect("writing to memory")
}

/// The columns of `chains.csv`, in order: those of `summary.csv` with
/// `retries` after `count`.
pub const CHAIN_COLUMNS: [&str; 11] = [
    "action",
    "outcome",
    "count",
    "retries",
    "rate_per_s",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
];

/// `chains.csv`: one row per (action, outcome) that ended a chain of
/// attempts, for classes that retry. `count` is chains, `retries` the
/// attempts after the first in them, and the latency runs from the first
/// attempt's send to the final answer.
pub fn chains_csv(m: &Measurements) -> Vec<u8> {
    let secs = m.measured.as_secs_f64();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CHAIN_COLUMNS).expect("writing to memory");
    for c in &m.chains {
        let s = &c.latency;
        let ms = |v: f64| format!("{v:.3}");
        let rate = if secs > 0.0 {
            s.count() as f64 / secs
        } else {
            0.0
        };
        w.write_record([
            s.action.name().to_string(),
            s.outcome.name().to_string(),
            s.count().to_string(),
            c.retries.to_string(),
            format!("{rate:.4}"),
            ms(s.mean_ms()),
            ms(s.quantile_ms(0.5)),
            ms(s.quantile_ms(0.9)),
            ms(s.quantile_ms(0.99)),
            ms(s.quantile_ms(0.999)),
            ms(s.max_ms()),
        ])
        .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}
