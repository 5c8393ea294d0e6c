//! Trace replay: every session of the window is replayed, counted here
//! straight from the files, and a bad trace is refused with its line.

use std::path::Path;

use ensim::api::{Action, Outcome};
use ensim::engine::EngineKind;
use ensim::model::device::Phase;
use ensim::scenario::{RawTrace, Scenario, parse_toml};
use ensim::trace::TraceFormat;

use crate::support::{build, raw};

fn data(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(file)
        .display()
        .to_string()
}

/// Seconds of `HH:MM:SS.fraction` in a `YYYY-MM-DD HH:MM:SS.fraction`
/// timestamp, in units of 100 ns (the trace's resolution). Every row of the
/// shipped LLM traces falls on one day.
fn tenths_of_us(stamp: &str) -> i64 {
    let time = stamp.split(' ').nth(1).unwrap();
    let (hms, frac) = time.split_once('.').unwrap();
    let s: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let frac: i64 = format!("{frac:0<7}")[..7].parse().unwrap();
    ((s[0] * 60 + s[1]) * 60 + s[2]) * 10_000_000 + frac
}

/// Rows of an LLM trace whose offset from the first row is in [from, to] s.
fn llm_rows_in(file: &str, from: f64, to: f64) -> u64 {
    let text = std::fs::read_to_string(data(file)).unwrap();
    let stamps: Vec<i64> = text
        .lines()
        .skip(1)
        .map(|l| tenths_of_us(l.split(',').next().unwrap()))
        .collect();
    let (lo, hi) = ((from * 1e7) as i64, (to * 1e7) as i64);
    stamps
        .iter()
        .filter(|&&t| (lo..=hi).contains(&(t - stamps[0])))
        .count() as u64
}

fn run(s: &Scenario) -> ensim::metrics::Measurements {
    ensim::run::run(s, EngineKind::Default)
        .unwrap()
        .measurements
}

#[test]
fn the_conv_scenario_replays_every_row_of_conv_csv() {
    let mut r = raw("azure-conv");
    r.warmup_s = 0.0;
    let s = build(r, "azure-conv");
    let rows = llm_rows_in("azure-llm-inference-2023/conv.csv", 0.0, 3600.0);
    assert_eq!(rows, 19_366, "the whole hour is in the window");
    assert_eq!(s.workload.trace.as_ref().unwrap().sessions, rows);
    let m = run(&s);
    assert_eq!(m.arrivals, rows);
    assert_eq!(m.arrivals_lost, 0);
    assert_eq!(m.total(Action::Start), rows);
}

#[test]
fn a_window_of_the_code_trace_sped_up_replays_the_rows_in_it() {
    let mut r = raw("azure-conv");
    r.warmup_s = 0.0;
    r.duration_s = 600.0;
    let t = r.workload.trace.as_mut().unwrap();
    t.path = data("azure-llm-inference-2023/code.csv").into();
    t.window_start_s = 900.0;
    t.speedup = 2.5;
    // 600 s of simulated time at 2.5x: 1500 s of the trace, from 900 s.
    let rows = llm_rows_in("azure-llm-inference-2023/code.csv", 900.0, 2400.0);
    assert!(rows > 1000, "{rows}");
    let m = run(&build(r, "azure-conv"));
    assert_eq!(m.arrivals, rows);
}

/// VMs in the `azure-vm` trace's intervals that lie wholly in the window
/// `[from, from + length]` seconds after its first interval.
fn vms_in(from: f64, length: f64) -> u64 {
    let text = std::fs::read_to_string(data("azure-vm-2017/v1.test.c2591400.txt")).unwrap();
    let mut first = None;
    let mut n = 0;
    for line in text.lines() {
        let (start, vms) = line.split_once(' ').unwrap();
        let start: f64 = start.parse().unwrap();
        let offset = start - *first.get_or_insert(start);
        if offset >= from && offset + 300.0 <= from + length {
            n += vms
                .split(',')
                .filter(|e| e.starts_with('U') || e.starts_with('C'))
                .count() as u64;
        }
    }
    n
}

#[test]
fn the_vm_scenario_replays_every_vm_of_its_window() {
    let mut r = raw("azure-vm");
    r.duration_s = 4.0 * 3600.0;
    r.workload.trace.as_mut().unwrap().window_start_s = 86_400.0;
    let vms = vms_in(86_400.0, 4.0 * 3600.0);
    assert!(vms > 5000, "{vms}");
    let out = ensim::run::run(&build(r, "azure-vm"), EngineKind::Default).unwrap();
    let m = &out.measurements;
    assert_eq!(m.arrivals, vms);
    assert_eq!(m.arrivals_lost, 0);
    // Each VM sends one PreSchedule: answered (placed or turned away), or
    // still on its way when the run ends.
    let on_the_way = out
        .world
        .devices
        .iter()
        .filter(|d| d.phase() == Phase::Locking)
        .count() as u64;
    assert_eq!(m.total(Action::PreSchedule) + on_the_way, vms);
    // Every lock is confirmed, unless the run ended first.
    let deciding = out
        .world
        .devices
        .iter()
        .filter(|d| matches!(d.phase(), Phase::Thinking | Phase::Confirming))
        .count() as u64;
    assert_eq!(
        m.count(Action::Confirm, Outcome::Ok) + deciding,
        m.count(Action::PreSchedule, Outcome::Ok)
    );
    // Censored VMs and long lifetimes hold on: fewer Stops than placements.
    assert!(m.total(Action::Stop) < m.count(Action::PreSchedule, Outcome::Ok));
}

#[test]
fn the_shipped_vm_scenario_covers_its_first_day() {
    let s = build(raw("azure-vm"), "azure-vm");
    assert_eq!(
        s.workload.trace.as_ref().unwrap().sessions,
        vms_in(0.0, 86_400.0)
    );
}

#[test]
fn the_vm_replay_is_the_same_for_the_same_seed_and_differs_for_another() {
    let mut r = raw("azure-vm");
    r.duration_s = 3600.0;
    let csv = |seed: u64| {
        let mut r = r.clone();
        r.seed = seed;
        ensim::report::summary_csv(&run(&build(r, "azure-vm")))
    };
    assert_eq!(csv(1), csv(1));
    assert_ne!(csv(1), csv(2));
}

/// A scenario replaying a `csv` trace written to a temporary folder.
fn csv_scenario(dir: &Path, rows: &str, duration_s: f64) -> Result<Scenario, String> {
    std::fs::write(dir.join("sessions.csv"), rows).unwrap();
    let text = format!(
        r#"
duration_s = {duration_s}
[fleet]
regions = ["cn-hangzhou-1", "cn-chengdu-26"]
vm_instances_per_node = 2
[devices]
count = 50
[latency]
network_jitter = {{ dist = "constant", ms = 0 }}
[workload]
holding = {{ dist = "constant", ms = 1000 }}
[[workload.class]]
name = "phone"
[[workload.class]]
name = "gamer"
share = 0
flow = "vm"
think = {{ dist = "constant", ms = 10 }}
confirm_p = 1
cancel_p = 0
[workload.trace]
format = "csv"
path = "sessions.csv"
"#
    );
    let shown = dir.join("trace.toml").display().to_string();
    let raw = parse_toml(&text, &shown).map_err(|e| e.to_string())?;
    Scenario::from_raw(raw, &shown, dir, None).map_err(|e| e.to_string())
}

#[test]
fn a_csv_trace_starts_its_sessions_on_its_devices_with_its_flows_and_holding() {
    let dir = tempfile::tempdir().unwrap();
    let rows = "offset_ms,device,flow,holding_ms,client_ip\n\
                0,7,,500,1.24.0.5\n\
                1000,,gamer,2000,\n\
                1500,7,phone,,\n\
                2000,3,,100000000,\n\
                2500,9,gamer,,\n\
                99000,,,,\n\
                200000,,,,\n";
    let s = csv_scenario(dir.path(), rows, 100.0).unwrap();
    assert_eq!(
        s.workload.trace.as_ref().unwrap().sessions,
        6,
        "the last row is past the window"
    );
    let out = ensim::run::run(&s, EngineKind::Default).unwrap();
    let m = &out.measurements;
    assert_eq!(m.arrivals, 6);
    assert_eq!(m.arrivals_lost, 0);
    assert_eq!(m.total(Action::Start), 4);
    assert_eq!(m.total(Action::PreSchedule), 2);
    // Device 3 holds for 100,000 s: no Stop within the run; the session at
    // 99 s holds its class's 1 s, past the end. The other four stop.
    assert_eq!(m.total(Action::Stop), 4);
    assert_eq!(ensim::geo::ip_string(out.world.devices[7].ip()), "1.24.0.5");
}

#[test]
fn a_busy_device_named_by_a_csv_trace_loses_the_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let rows = "offset_ms,device,flow,holding_ms\n0,4,,60000\n100,4,,\n";
    let s = csv_scenario(dir.path(), rows, 10.0).unwrap();
    let m = run(&s);
    assert_eq!((m.arrivals, m.arrivals_lost), (2, 1));
}

#[test]
fn a_bad_csv_trace_is_refused_with_its_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("offset,device\n", "sessions.csv:1: the header is"),
        (
            "offset_ms,device,flow,holding_ms\n5,,,\n1,,,\n",
            "sessions.csv:3: offset_ms goes back in time",
        ),
        (
            "offset_ms,device,flow,holding_ms\n5,50,,\n",
            "sessions.csv:2: device \"50\" is not a device number from 0 to 49",
        ),
        (
            "offset_ms,device,flow,holding_ms\n5,,walker,\n",
            "sessions.csv:2: flow \"walker\" is no [[workload.class]] name",
        ),
        (
            "offset_ms,device,flow,holding_ms,client_ip\n5,,,,1.2.3\n",
            "client_ip \"1.2.3\" is not an IPv4 address",
        ),
        (
            "offset_ms,device,flow,holding_ms\n5,,,-1\n",
            "holding_ms \"-1\"",
        ),
    ];
    for (rows, want) in cases {
        let e = csv_scenario(dir.path(), rows, 10.0).err().expect(rows);
        assert!(
            e.contains("trace.toml: workload.trace.path:") && e.contains(want),
            "{rows:?}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn a_vm_trace_needs_a_vm_class_and_a_whole_interval_start() {
    let mut r = raw("azure-vm");
    r.workload.trace.as_mut().unwrap().class = None;
    let e = Scenario::from_raw(r.clone(), "vm.toml", Path::new("scenarios"), None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("workload.trace.class") && e.contains("flow = \"vm\""),
        "{e}"
    );
    r.workload.trace = Some(RawTrace {
        format: TraceFormat::AzureVm,
        path: "../data/azure-vm-2017".into(),
        speedup: 1.0,
        window_start_s: 450.0,
        class: Some("vm".into()),
    });
    let e = Scenario::from_raw(r, "vm.toml", Path::new("scenarios"), None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("workload.trace.window_start_s") && e.contains("multiple of 300"),
        "{e}"
    );
}

#[test]
fn the_shipped_trace_scenarios_run_from_the_command_line_and_write_their_reports() {
    for name in ["azure-conv", "azure-vm"] {
        let dir = tempfile::tempdir().unwrap();
        let scenario = crate::support::shipped(name);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ensim"))
            .args(["run", scenario.to_str().unwrap()])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let folder = dir.path().join("results").join(name);
        for file in ["summary.csv", "capacity.csv"] {
            let text = std::fs::read_to_string(folder.join(file)).unwrap();
            assert!(text.lines().count() > 2, "{name}/{file}: {text}");
        }
    }
}
