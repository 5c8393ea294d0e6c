//! The results folder as people read it: every CSV against its documented
//! columns, percentiles never above their maximum, the HdrHistogram log read
//! back, the time series adding up to the run, the charts rendered, and an
//! interrupted run leaving a consistent, partial folder.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ensim::engine::EngineKind;
use ensim::report::{
    self, CSV_FILES, SUMMARY_COLUMNS, TIMESERIES_ACTION_COLUMNS, TIMESERIES_COLUMNS,
    TIMESERIES_REGION_COLUMNS,
};
use ensim::run::{RunOutput, run};

use crate::support::{build, raw, shipped};

/// The mixed scenario (every action and many outcomes) cut to 20 minutes.
fn mixed() -> RunOutput {
    let mut r = raw("mixed");
    r.duration_s = 1200.0;
    r.warmup_s = 120.0;
    run(&build(r, "mixed"), EngineKind::Default).unwrap()
}

fn files(out: &RunOutput) -> HashMap<&'static str, String> {
    report::result_files(out)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".csv"))
        .map(|(name, bytes)| (name, String::from_utf8(bytes).unwrap()))
        .collect()
}

/// A CSV file as header and rows.
fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn number(cell: &str) -> f64 {
    cell.parse()
        .unwrap_or_else(|_| panic!("{cell:?} is not a number"))
}

/// The README's section on `file`: from its `### `file`` heading to the
/// next heading.
fn readme_section(file: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let heading = format!("### `{file}`");
    let start = readme
        .find(&heading)
        .unwrap_or_else(|| panic!("README.md has no section {heading}"));
    let rest = &readme[start + heading.len()..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn every_csv_header_is_the_documented_one_and_the_readme_explains_each_column() {
    let out = mixed();
    let files = files(&out);
    assert_eq!(files.len(), CSV_FILES.len(), "one entry per CSV file");
    for (file, columns) in CSV_FILES {
        let (header, rows) = table(&files[file]);
        assert!(!rows.is_empty(), "{file} has no rows");
        let section = readme_section(file);
        for c in columns {
            assert!(
                section.contains(&format!("`{c}`")),
                "README.md does not explain column `{c}` of {file}"
            );
        }
        if file != "timeseries.csv" {
            assert_eq!(header, columns, "{file}");
            continue;
        }
        // timeseries.csv: the fleet's columns, then per action, then per region.
        assert_eq!(&header[..columns.len()], columns, "{file}");
        let actions = [
            "Start",
            "Stop",
            "Console",
            "PreSchedule",
            "Confirm",
            "Cancel",
        ];
        let mut expected: Vec<String> = TIMESERIES_COLUMNS.iter().map(|c| c.to_string()).collect();
        for a in actions {
            expected.extend(TIMESERIES_ACTION_COLUMNS.iter().map(|c| format!("{a}:{c}")));
        }
        for r in out.env.fleet.regions() {
            expected.extend(
                TIMESERIES_REGION_COLUMNS
                    .iter()
                    .map(|c| format!("{}:{c}", r.id)),
            );
        }
        assert_eq!(header, expected, "{file}: every action occurs in mixed");
        for c in TIMESERIES_ACTION_COLUMNS {
            assert!(section.contains(&format!("`<action>:{c}`")), "{c}");
        }
        for c in TIMESERIES_REGION_COLUMNS {
            assert!(section.contains(&format!("`<region>:{c}`")), "{c}");
        }
    }
    let json = readme_section("run.json");
    let info: serde_json::Value = serde_json::to_value(report::RunInfo {
        ensim_version: String::new(),
        scenario: String::new(),
        scenario_file: String::new(),
        scenario_sha256: String::new(),
        seed: 0,
        engine: String::new(),
        overrides: Vec::new(),
        duration_s: 0.0,
        warmup_s: 0.0,
        interval_s: 0.0,
        simulated_s: 0.0,
        wall_clock_s: 0.0,
        started_unix_s: 0,
        events: 0,
        events_per_s: 0.0,
        peak_memory_bytes: None,
        partial: false,
    })
    .unwrap();
    for key in info.as_object().unwrap().keys() {
        assert!(
            json.contains(&format!("`{key}`")),
            "README.md does not explain `{key}` of run.json"
        );
    }
}

/// Asserts that no cell of `columns` in `rows` is above the cell of `max`.
fn at_most_max(file: &str, header: &[String], rows: &[Vec<String>], columns: &[&str], max: &str) {
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let m = col(max);
    for row in rows {
        if row[m].is_empty() {
            continue;
        }
        for c in columns {
            let v = &row[col(c)];
            if !v.is_empty() {
                assert!(
                    number(v) <= number(&row[m]),
                    "{file}: {c} = {v} above {max} = {} in {row:?}",
                    row[m]
                );
            }
        }
    }
}

#[test]
fn no_percentile_is_above_its_maximum() {
    let out = mixed();
    let files = files(&out);

    let (h, rows) = table(&files["summary.csv"]);
    at_most_max(
        "summary.csv",
        &h,
        &rows,
        &["mean_ms", "p50_ms", "p90_ms", "p99_ms", "p999_ms"],
        "max_ms",
    );
    let max_of: HashMap<(String, String), f64> = rows
        .iter()
        .map(|r| ((r[0].clone(), r[1].clone()), number(&r[9])))
        .collect();

    let (h, rows) = table(&files["contention.csv"]);
    at_most_max(
        "contention.csv",
        &h,
        &rows,
        &["mean", "p50", "p90", "p99", "p999"],
        "max",
    );

    let (_, rows) = table(&files["latency_percentiles.csv"]);
    let mut last: HashMap<(String, String), (f64, f64)> = HashMap::new();
    for r in &rows {
        let key = (r[0].clone(), r[1].clone());
        let (value, percentile) = (number(&r[2]), number(&r[3]));
        assert!(
            value <= max_of[&key],
            "latency_percentiles.csv: {r:?} above the maximum {}",
            max_of[&key]
        );
        if let Some(&(v, p)) = last.get(&key) {
            assert!(value >= v && percentile >= p, "not ascending at {r:?}");
        }
        last.insert(key, (value, percentile));
    }
    for (key, (value, percentile)) in &last {
        assert_eq!(*percentile, 1.0, "{key:?} ends at percentile 1");
        assert_eq!(*value, max_of[key], "{key:?} ends at its maximum");
    }

    let (h, rows) = table(&files["timeseries.csv"]);
    for a in [
        "Start",
        "Stop",
        "Console",
        "PreSchedule",
        "Confirm",
        "Cancel",
    ] {
        let (p50, p99, max) = (
            format!("{a}:p50_ms"),
            format!("{a}:p99_ms"),
            format!("{a}:max_ms"),
        );
        at_most_max("timeseries.csv", &h, &rows, &[&p50, &p99], &max);
        at_most_max("timeseries.csv", &h, &rows, &[&p50], &p99);
    }
}

#[test]
fn histograms_hlog_reads_back_to_the_counts_of_summary_csv() {
    use base64::Engine as _;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    let out = mixed();
    let summary = String::from_utf8(report::summary_csv(&out.measurements)).unwrap();
    let (_, rows) = table(&summary);
    let expected: HashMap<String, (u64, f64)> = rows
        .iter()
        .map(|r| {
            (
                report::hlog_tag(&r[0], &r[1]),
                (r[2].parse().unwrap(), number(&r[9])),
            )
        })
        .collect();

    let log = report::histograms_hlog(&out.measurements, "mixed", out.seed);
    let mut seen = HashMap::new();
    for entry in IntervalLogIterator::new(&log) {
        let LogEntry::Interval(h) = entry.unwrap() else {
            continue;
        };
        let tag = h
            .tag()
            .expect("every histogram is tagged")
            .as_str()
            .to_string();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .unwrap();
        let histogram: hdrhistogram::Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .unwrap();
        let (count, max_ms) = expected[&tag];
        assert_eq!(histogram.len(), count, "{tag}: count");
        assert!(
            (h.max() - max_ms).abs() <= max_ms * 1e-3 + 1e-3,
            "{tag}: the log's max {} ms, summary.csv's {max_ms} ms",
            h.max()
        );
        assert_eq!(
            h.duration(),
            Duration::from_secs(1080),
            "{tag}: measured span"
        );
        assert_eq!(
            h.start_timestamp(),
            Duration::from_secs(120),
            "{tag}: warm-up"
        );
        seen.insert(tag, histogram.len());
    }
    assert_eq!(seen.len(), expected.len(), "one histogram per summary row");
}

#[test]
fn the_time_series_adds_up_to_the_whole_run() {
    // flash-crowd has no warm-up, so every interval is measured.
    let s = build(raw("flash-crowd"), "flash-crowd");
    let out = run(&s, EngineKind::Default).unwrap();
    let m = &out.measurements;
    assert_eq!(m.series.len(), 15, "fifteen 1-s intervals");
    assert_eq!(m.series.last().unwrap().end, m.end);
    let sum = |f: &dyn Fn(&ensim::metrics::Interval) -> u64| m.series.iter().map(f).sum::<u64>();
    assert_eq!(sum(&|i| i.arrivals), m.arrivals);
    assert_eq!(sum(&|i| i.arrivals_lost), m.arrivals_lost);
    let answers: u64 = m.answers.iter().map(|a| a.count()).sum();
    assert_eq!(sum(&|i| i.kinds.iter().sum()), answers);
    for action in ensim::api::Action::ALL {
        let n: u64 = m
            .series
            .iter()
            .flat_map(|i| &i.actions)
            .filter(|(a, _)| *a == action)
            .map(|(_, w)| w.count)
            .sum();
        assert_eq!(n, m.total(action), "{action}");
    }
    assert_eq!(m.series.last().unwrap().in_session, m.in_session);
    for r in 0..out.env.fleet.regions().len() {
        let busy: f64 = m
            .series
            .iter()
            .map(|i| {
                let span = i.end.since(i.start).as_secs_f64();
                (i.regions[r].locked + i.regions[r].active) * span
            })
            .sum();
        let expected = m.mean_busy(r) * m.measured.as_secs_f64();
        assert!(
            (busy - expected).abs() <= 1e-6 * expected.max(1.0),
            "region {r}: {busy} unit-seconds in the series, {expected} in total"
        );
        let placed: u64 = m
            .series
            .iter()
            .map(|i| u64::from(i.regions[r].placements))
            .sum();
        assert_eq!(placed, m.placements[r].placements, "region {r}");
    }
    let (requests, turned_away): (u64, u64) = m
        .placements
        .iter()
        .fold((0, 0), |(a, b), p| (a + p.requests, b + p.no_idle));
    let placed: u64 = m.placements.iter().map(|p| p.placements).sum();
    assert_eq!(
        requests,
        placed + turned_away,
        "every request is placed or turned away"
    );
}

#[test]
fn a_scenario_can_set_the_interval_and_a_bad_one_is_named() {
    let mut r = raw("flash-crowd");
    r.report.interval_s = 2.5;
    let out = run(&build(r, "flash-crowd"), EngineKind::Default).unwrap();
    let starts: Vec<f64> = out
        .measurements
        .series
        .iter()
        .map(|i| i.start.as_secs_f64())
        .collect();
    assert_eq!(starts, [0.0, 2.5, 5.0, 7.5, 10.0, 12.5]);

    for bad in [0.0, -1.0, f64::NAN, 1e-6] {
        let mut r = raw("flash-crowd");
        r.report.interval_s = bad;
        let err = ensim::scenario::Scenario::from_raw(r, "x.toml", Path::new("."), None)
            .err()
            .unwrap_or_else(|| panic!("interval {bad} accepted"))
            .to_string();
        assert!(
            err.starts_with("x.toml: report.interval_s: ") && !err.contains('\n'),
            "{err}"
        );
    }
}

fn ensim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ensim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Checks that `svg` is XML with a title and axis labels, and renders it to
/// PNG with rsvg-convert where that is installed.
fn check_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{}: not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(texts.len() >= 2, "{}: a title and more", path.display());
    if Command::new("rsvg-convert")
        .arg("--version")
        .output()
        .is_err()
    {
        println!(
            "note: rsvg-convert is not installed; {} was only parsed",
            path.display()
        );
        return;
    }
    let png = path.with_extension("png");
    let out = Command::new("rsvg-convert")
        .arg(path)
        .arg("-o")
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "rsvg-convert {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "{}", png.display());
}

const CHARTS: [&str; 4] = [
    "latency_percentiles.svg",
    "utilisation.svg",
    "outcomes.svg",
    "contention.svg",
];

#[test]
fn run_with_plot_writes_charts_that_render_and_plot_redraws_them() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = shipped("quickstart");
    let out = ensim(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--plot",
            "--out",
            "q",
            "--quiet",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let folder = dir.path().join("q");
    for chart in CHARTS {
        check_svg(&folder.join(chart));
    }

    // `ensim plot` draws the same charts from the CSV files alone.
    let first = std::fs::read(folder.join("outcomes.svg")).unwrap();
    for chart in CHARTS {
        std::fs::remove_file(folder.join(chart)).unwrap();
    }
    let out = ensim(&["plot", "q"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for chart in CHARTS {
        assert!(folder.join(chart).exists(), "{chart} redrawn");
    }
    assert_eq!(std::fs::read(folder.join("outcomes.svg")).unwrap(), first);

    // A folder of an older run, with summary.csv alone, still gets its
    // spectrum, and a note on what it lacks.
    let old = dir.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::copy(folder.join("summary.csv"), old.join("summary.csv")).unwrap();
    let out = ensim(&["plot", "old"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_svg(&old.join("latency_percentiles.svg"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timeseries.csv"));

    let out = ensim(&["plot", "nowhere"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nowhere") && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn runs_with_other_seeds_or_engines_go_to_their_own_folders() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "duration_s = 20\nseed = 3\n[fleet]\nregions = [\"cn-hangzhou-1\"]\n\
                [workload]\narrival_rate_per_s = 1.0\n\
                holding = { dist = \"exponential\", mean_ms = 1000 }\n";
    std::fs::write(dir.path().join("tiny.toml"), toml).unwrap();
    for (args, folder) in [
        (&[][..], "tiny"),
        (&["--seed", "3"][..], "tiny"),
        (&["--seed", "7"][..], "tiny-seed7"),
        (
            &["--seed", "7", "--engine", "actix"][..],
            "tiny-seed7-actix",
        ),
        (&["--interval-s", "0.5"][..], "tiny-interval0.5s"),
    ] {
        let mut all = vec!["run", "tiny.toml", "--quiet"];
        all.extend(args);
        let out = ensim(&all, dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run_json = dir.path().join("results").join(folder).join("run.json");
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&run_json).unwrap()).unwrap();
        assert_eq!(info["partial"], false);
        assert_eq!(info["scenario_file"], "tiny.toml");
        assert_eq!(info["scenario_sha256"].as_str().unwrap().len(), 64);
    }
    let mut folders: Vec<String> = std::fs::read_dir(dir.path().join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(
        folders,
        [
            "tiny",
            "tiny-interval0.5s",
            "tiny-seed7",
            "tiny-seed7-actix"
        ]
    );
    // The engine changes run.json, not the results.
    let read = |f: &str| std::fs::read(dir.path().join("results").join(f).join("timeseries.csv"));
    assert_eq!(
        read("tiny-seed7").unwrap(),
        read("tiny-seed7-actix").unwrap()
    );

    let out = ensim(&["run", "tiny.toml", "--interval-s", "0"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tiny.toml") && err.contains("report.interval_s") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn an_interrupted_long_run_leaves_a_consistent_partial_folder() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped("quickstart")).unwrap();
    let long = text.replace("duration_s = 3600", "duration_s = 10000000")
        + "\n[report]\ninterval_s = 100\n";
    assert_ne!(long, text);
    std::fs::write(dir.path().join("long.toml"), long).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ensim"))
        .args(["run", "long.toml", "--out", "out"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("the run did not stop within 2 minutes of Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");

    let folder = dir.path().join("out");
    for file in [
        "summary.csv",
        "latency_percentiles.csv",
        "timeseries.csv",
        "regions.csv",
        "contention.csv",
        "histograms.hlog",
        "run.json",
    ] {
        assert!(folder.join(file).is_file(), "{file} missing");
    }
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["partial"], true);
    let simulated = info["simulated_s"].as_f64().unwrap();
    assert!(
        simulated > 0.0 && simulated < 1e7,
        "simulated {simulated} s"
    );
    assert!(info["events"].as_u64().unwrap() > 0);

    let (header, rows) = table(&std::fs::read_to_string(folder.join("summary.csv")).unwrap());
    assert_eq!(header, SUMMARY_COLUMNS);
    for r in &rows {
        assert!(r[2].parse::<u64>().unwrap() > 0);
        for cell in &r[3..] {
            number(cell);
        }
    }
    let (_, rows) = table(&std::fs::read_to_string(folder.join("timeseries.csv")).unwrap());
    let last_end = number(&rows.last().unwrap()[1]);
    assert!(
        (last_end - simulated).abs() < 1e-3,
        "the time series ends where the run stopped: {last_end} vs {simulated}"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "staging folders left: {leftovers:?}");
}
