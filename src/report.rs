//! Reports: the files of a results folder, written whole or not at all.
//!
//! Every CSV has a header whose columns are listed here as constants (the
//! tests check the files and the README against them); a column's name ends
//! in its unit (`_ms`, `_s`, `_per_s`, `_km`) unless it is a count, a share
//! from 0 to 1 or a name. Every file but `run.json` depends on the scenario
//! and seed alone, so the same seed gives the same bytes on every engine;
//! `run.json` records the run itself (wall-clock time, memory, partial).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::api::Action;
use crate::fleet::Fleet;
use crate::metrics::{Interval, LatencyStats, LockMetric, Measurements, Stats};
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
    let secs = m.measured.as_secs_f64();
    for s in &m.answers {
        w.write_record(latency_record(s, secs, None))
            .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// One row of latencies, as `summary.csv` and `chains.csv` write it: action,
/// outcome, count, the retries if given, the rate over `secs`, then the mean,
/// the percentiles and the maximum in milliseconds.
fn latency_record(s: &LatencyStats, secs: f64, retries: Option<u64>) -> Vec<String> {
    let rate = if secs > 0.0 {
        s.count() as f64 / secs
    } else {
        0.0
    };
    let mut fields = vec![
        s.action.name().to_string(),
        s.outcome.name().to_string(),
        s.count().to_string(),
    ];
    fields.extend(retries.map(|r| r.to_string()));
    fields.push(format!("{rate:.4}"));
    let ms = [
        s.mean_ms(),
        s.quantile_ms(0.5),
        s.quantile_ms(0.9),
        s.quantile_ms(0.99),
        s.quantile_ms(0.999),
        s.max_ms(),
    ];
    fields.extend(ms.map(|v| format!("{v:.3}")));
    fields
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

/// The columns of `latency_percentiles.csv`, in order: HdrHistogram's
/// percentile distribution (value, percentile, total count, 1/(1-percentile))
/// per action and outcome.
pub const LATENCY_PERCENTILES_COLUMNS: [&str; 6] = [
    "action",
    "outcome",
    "value_ms",
    "percentile",
    "total_count",
    "one_over_one_minus_percentile",
];

/// `latency_percentiles.csv` as bytes: for each (action, outcome) of
/// `summary.csv`, the steps of HdrHistogram's quantile iteration with five
/// ticks per half distance, as its tools print them. Values are clamped to
/// the exact maximum; the last step (percentile 1) has no 1/(1-percentile).
pub fn latency_percentiles_csv(m: &Measurements) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(LATENCY_PERCENTILES_COLUMNS)
        .expect("writing to memory");
    for s in &m.answers {
        let mut total = 0u64;
        for v in s.stats.histogram.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = v.value_iterated_to().min(s.stats.max);
            let inverse = if q < 1.0 {
                format!("{:.2}", 1.0 / (1.0 - q))
            } else {
                String::new()
            };
            w.write_record([
                s.action.name().to_string(),
                s.outcome.name().to_string(),
                format!("{:.3}", value as f64 / 1e6),
                format!("{q:.12}"),
                total.to_string(),
                inverse,
            ])
            .expect("writing to memory");
        }
    }
    w.into_inner().expect("writing to memory")
}

/// The first columns of `timeseries.csv`, in order: the whole fleet. Then
/// come [`TIMESERIES_ACTION_COLUMNS`] for each action answered in the run
/// and [`TIMESERIES_REGION_COLUMNS`] for each region.
pub const TIMESERIES_COLUMNS: [&str; 19] = [
    "start_s",
    "end_s",
    "arrivals",
    "arrivals_lost",
    "in_session",
    "answers",
    "answers_per_s",
    "ok",
    "repeated",
    "no_idle_resource",
    "lock_expired",
    "limit_exceeded",
    "invalid",
    "backend_failure",
    "placements",
    "idle_units",
    "locked_units",
    "active_units",
    "utilisation",
];

/// The columns of `timeseries.csv` for each action answered in the run,
/// each named `<action>:<column>`, such as `Start:p99_ms`, in the order of
/// the actions in `summary.csv`.
pub const TIMESERIES_ACTION_COLUMNS: [&str; 4] = ["answers", "p50_ms", "p99_ms", "max_ms"];

/// The columns of `timeseries.csv` for each region of the fleet, each named
/// `<region>:<column>`, such as `cn-hangzhou-1:active_units`, in the order
/// of `regions.csv`.
pub const TIMESERIES_REGION_COLUMNS: [&str; 3] = ["idle_units", "locked_units", "active_units"];

fn units_of(fleet: &Fleet, region: usize) -> u64 {
    let (first, end) = fleet.regions()[region].pods;
    u64::from(end - first)
}

/// The header of `timeseries.csv` for a run whose answered actions are
/// `actions`.
pub fn timeseries_header(actions: &[Action], fleet: &Fleet) -> Vec<String> {
    let mut header: Vec<String> = TIMESERIES_COLUMNS.iter().map(|c| c.to_string()).collect();
    for a in actions {
        header.extend(
            TIMESERIES_ACTION_COLUMNS
                .iter()
                .map(|c| format!("{}:{c}", a.name())),
        );
    }
    for r in fleet.regions() {
        header.extend(
            TIMESERIES_REGION_COLUMNS
                .iter()
                .map(|c| format!("{}:{c}", r.id)),
        );
    }
    header
}

/// Writes the cells of one CSV row into a reused buffer, numbers in fixed
/// point without the float formatter, so that long time series write fast.
struct Cells<'a> {
    w: &'a mut csv::Writer<Vec<u8>>,
    cell: String,
}

impl Cells<'_> {
    fn put(&mut self) {
        self.w
            .write_field(self.cell.as_bytes())
            .expect("writing to memory");
        self.cell.clear();
    }

    fn int(&mut self, v: u64) {
        use std::fmt::Write;
        write!(self.cell, "{v}").expect("writing to a string");
        self.put();
    }

    /// `v` with `decimals` (at most 6) digits after the point.
    fn fixed(&mut self, v: f64, decimals: usize) {
        use std::fmt::Write;
        let scale = 10u64.pow(decimals as u32);
        if v.is_finite() && (0.0..1e12).contains(&v) {
            let m = (v * scale as f64).round() as u64;
            write!(self.cell, "{}.{:0decimals$}", m / scale, m % scale)
        } else {
            write!(self.cell, "{v:.decimals$}")
        }
        .expect("writing to a string");
        self.put();
    }

    fn ms(&mut self, ns: u64) {
        self.fixed(ns as f64 / 1e6, 3);
    }

    fn empty(&mut self) {
        self.put();
    }

    fn end(&mut self) {
        self.w
            .write_record(None::<&[u8]>)
            .expect("writing to memory");
    }
}

fn timeseries_row(c: &mut Cells<'_>, i: &Interval, actions: &[Action], fleet: &Fleet) {
    let span_s = i.end.since(i.start).as_secs_f64().max(1e-9);
    c.fixed(i.start.as_secs_f64(), 3);
    c.fixed(i.end.as_secs_f64(), 3);
    c.int(i.arrivals);
    c.int(i.arrivals_lost);
    c.int(i.in_session);
    let answers: u64 = i.kinds.iter().sum();
    c.int(answers);
    c.fixed(answers as f64 / span_s, 3);
    for &k in &i.kinds {
        c.int(k);
    }

    let (locked, active) = i
        .regions
        .iter()
        .fold((0.0, 0.0), |(l, a), r| (l + r.locked, a + r.active));
    let units: u64 = (0..i.regions.len()).map(|r| units_of(fleet, r)).sum();
    c.int(i.regions.iter().map(|r| u64::from(r.placements)).sum());
    c.fixed((units as f64 - locked - active).max(0.0), 3);
    c.fixed(locked, 3);
    c.fixed(active, 3);
    c.fixed((locked + active) / units.max(1) as f64, 4);

    for a in actions {
        match i.actions.iter().find(|(x, _)| x == a) {
            Some((_, w)) => {
                c.int(w.count);
                c.ms(w.p50);
                c.ms(w.p99);
                c.ms(w.max);
            }
            None => {
                c.int(0);
                c.empty();
                c.empty();
                c.empty();
            }
        }
    }
    for (r, region) in i.regions.iter().enumerate() {
        let idle = (units_of(fleet, r) as f64 - region.locked - region.active).max(0.0);
        c.fixed(idle, 2);
        c.fixed(region.locked, 2);
        c.fixed(region.active, 2);
    }
    c.end();
}

/// `timeseries.csv` as bytes: one row per interval of simulated time from
/// time zero, warm-up included, with the whole fleet's figures, then each
/// answered action's, then each region's. An action's latency cells are
/// empty in an interval without its answers. Only a header if no time
/// series was recorded.
pub fn timeseries_csv(m: &Measurements, fleet: &Fleet) -> Vec<u8> {
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| {
            m.series
                .iter()
                .any(|i| i.actions.iter().any(|(x, _)| x == a))
        })
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(timeseries_header(&actions, fleet))
        .expect("writing to memory");
    let mut cells = Cells {
        w: &mut w,
        cell: String::new(),
    };
    for i in &m.series {
        timeseries_row(&mut cells, i, actions.as_slice(), fleet);
    }
    w.into_inner().expect("writing to memory")
}

/// The columns of `regions.csv`, in order.
pub const REGIONS_COLUMNS: [&str; 14] = [
    "region",
    "units",
    "requests",
    "requests_per_s",
    "placed_home",
    "spilled",
    "no_idle_resource",
    "placements",
    "placements_per_s",
    "peak_busy_units",
    "peak_utilisation",
    "mean_busy_units",
    "mean_utilisation",
    "mean_distance_km",
];

/// `regions.csv` as bytes: one row per region of the fleet, in fleet order,
/// over the measured span. Requests are attributed to the device's home
/// region (the first its scheduler tries); placements to the region of the
/// unit granted.
pub fn regions_csv(m: &Measurements, fleet: &Fleet) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(REGIONS_COLUMNS).expect("writing to memory");
    let secs = m.measured.as_secs_f64();
    let rate = |n: u64| {
        if secs > 0.0 {
            format!("{:.4}", n as f64 / secs)
        } else {
            "0.0000".to_string()
        }
    };
    for (r, region) in fleet.regions().iter().enumerate() {
        let units = u64::from(region.pods.1 - region.pods.0);
        let share = |busy: f64| format!("{:.4}", busy / units.max(1) as f64);
        let p = &m.placements[r];
        let occ = &m.regions[r];
        let mean_busy = m.mean_busy(r);
        w.write_record([
            region.id.clone(),
            units.to_string(),
            p.requests.to_string(),
            rate(p.requests),
            p.placed_home.to_string(),
            p.spilled().to_string(),
            p.no_idle.to_string(),
            p.placements.to_string(),
            rate(p.placements),
            occ.peak_busy.to_string(),
            share(f64::from(occ.peak_busy)),
            format!("{mean_busy:.3}"),
            share(mean_busy),
            format!("{:.1}", p.mean_distance_km()),
        ])
        .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// The tag of an (action, outcome) histogram in `histograms.hlog`.
pub fn hlog_tag(action: &str, outcome: &str) -> String {
    format!("{action}/{outcome}")
}

/// `histograms.hlog` as bytes: an HdrHistogram interval log (V2, deflate
/// compressed) holding one histogram per (action, outcome) of
/// `summary.csv`, tagged `Action/Outcome`, over the measured span. Values
/// are nanoseconds of latency; timestamps are simulated seconds (BaseTime
/// 0); the max column is in milliseconds.
pub fn histograms_hlog(m: &Measurements, scenario: &str, seed: u64) -> Vec<u8> {
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use std::time::{Duration, UNIX_EPOCH};

    let mut buf = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "ensim {}: {scenario}, seed {seed}",
            env!("CARGO_PKG_VERSION")
        ))
        .add_comment("latency per action/outcome in nanoseconds of simulated time")
        .add_comment("timestamps are simulated seconds; one interval: the measured span")
        .with_base_time(UNIX_EPOCH)
        .begin_log_with(&mut buf, &mut serializer)
        .expect("writing to memory");
    buf.extend_from_slice(
        b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
    );
    let start = m.end.as_nanos().saturating_sub(m.measured.as_nanos());
    let mut log = IntervalLogWriterBuilder::new()
        .with_max_value_divisor(1e6)
        .begin_log_with(&mut buf, &mut serializer)
        .expect("writing to memory");
    for s in &m.answers {
        let tag = hlog_tag(s.action.name(), s.outcome.name());
        log.write_histogram(
            &s.stats.histogram,
            Duration::from_nanos(start),
            Duration::from_nanos(m.measured.as_nanos()),
            Tag::new(&tag),
        )
        .expect("an action and outcome name make a valid tag");
    }
    buf
}

/// What `run.json` records about a run.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    /// The version of ensim that ran it.
    pub ensim_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as given on the command line.
    pub scenario_file: String,
    /// SHA-256 of the scenario file's bytes, lowercase hex.
    pub scenario_sha256: String,
    /// The seed used.
    pub seed: u64,
    /// The engine used.
    pub engine: String,
    /// Command-line options that changed the scenario, such as `--seed 7`.
    pub overrides: Vec<String>,
    /// Simulated seconds the scenario asks for.
    pub duration_s: f64,
    /// Simulated seconds of warm-up.
    pub warmup_s: f64,
    /// Simulated seconds per row of `timeseries.csv`.
    pub interval_s: f64,
    /// Simulated seconds reached: `duration_s`, or less if interrupted.
    pub simulated_s: f64,
    /// Wall-clock seconds from the start of the run to its reports.
    pub wall_clock_s: f64,
    /// When it started, in seconds since the Unix epoch.
    pub started_unix_s: u64,
    /// Events delivered.
    pub events: u64,
    /// Events per wall-clock second.
    pub events_per_s: f64,
    /// Peak resident memory (`VmHWM`), bytes; null where unknown.
    pub peak_memory_bytes: Option<u64>,
    /// True if the run was interrupted: the files cover `simulated_s` only.
    pub partial: bool,
}

/// `run.json` as bytes.
pub fn run_json(info: &RunInfo) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(info).expect("a RunInfo serializes");
    bytes.push(b'\n');
    bytes
}

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every CSV of a results folder with its columns.
pub const CSV_FILES: [(&str, &[&str]); 6] = [
    ("summary.csv", &SUMMARY_COLUMNS),
    ("latency_percentiles.csv", &LATENCY_PERCENTILES_COLUMNS),
    ("timeseries.csv", &TIMESERIES_COLUMNS),
    ("regions.csv", &REGIONS_COLUMNS),
    ("contention.csv", &CONTENTION_COLUMNS),
    ("capacity.csv", &CAPACITY_COLUMNS),
];

/// Every file of a run's results folder that the scenario and seed alone
/// decide, by name: the same bytes on every engine. `run.json` is not
/// among them.
pub fn result_files(out: &RunOutput) -> Vec<(&'static str, Vec<u8>)> {
    let m = &out.measurements;
    let fleet = &out.env.fleet;
    let mut files = vec![
        ("summary.csv", summary_csv(m)),
        ("latency_percentiles.csv", latency_percentiles_csv(m)),
        ("timeseries.csv", timeseries_csv(m, fleet)),
        ("regions.csv", regions_csv(m, fleet)),
        ("contention.csv", contention_csv(m, fleet)),
        ("capacity.csv", capacity_csv(m, fleet)),
        (
            "histograms.hlog",
            histograms_hlog(m, &out.scenario, out.seed),
        ),
    ];
    if out.env.classes.iter().any(|c| c.retry.is_some()) {
        files.push(("chains.csv", chains_csv(m)));
    }
    files
}

/// The default results folder of a run of scenario `name`:
/// `results/<name>` when the command line changed nothing, else
/// `results/<name>-<change>-<change>...`, such as `results/quickstart-seed7`
/// or `results/quickstart-seed7-actix`, so that such runs do not overwrite
/// each other.
pub fn run_folder(name: &str, changes: &[String]) -> PathBuf {
    let mut folder = name.to_string();
    for c in changes {
        folder.push('-');
        folder.push_str(c);
    }
    PathBuf::from("results").join(folder)
}

/// Writes `files` into the folder `dir`, replacing it whole: they are
/// written into a sibling folder first, which is then renamed into place, so
/// a reader sees the old folder or the new one, never half of one.
///
/// An existing `dir` is replaced only if it is a folder that ensim wrote
/// (it holds `summary.csv`, `sweep.csv` or `figures.csv`) or an empty one;
/// anything else there is an error, so a mistyped `--out` never deletes a
/// user's files.
pub fn write_folder(dir: &Path, files: &[(&str, Vec<u8>)]) -> io::Result<()> {
    if let Ok(meta) = fs::symlink_metadata(dir) {
        let ours = meta.is_dir()
            && (["summary.csv", "sweep.csv", "figures.csv"]
                .iter()
                .any(|f| dir.join(f).is_file())
                || fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()));
        if !ours {
            return Err(io::Error::other(format!(
                "{} exists and is not a results folder of ensim; name a new folder, or remove it first",
                dir.display()
            )));
        }
    }
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

/// Writes one file whole: into a hidden sibling first, then renamed into
/// place, so a reader never sees half of it.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("the file has no name"))?
        .to_string_lossy()
        .into_owned();
    let staging = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let written = fs::File::create(&staging).and_then(|mut f| {
        io::Write::write_all(&mut f, bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&staging, path)) {
        let _ = fs::remove_file(&staging);
        return Err(e);
    }
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
        w.write_record(latency_record(&c.latency, secs, Some(c.retries)))
            .expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}
