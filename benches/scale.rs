//! Scale benchmark (issue 5): a million devices for a simulated hour.
//!
//! `cargo bench --bench scale` loads `scenarios/million.toml` (or the file in
//! `ENSIM_SCALE_SCENARIO`), then in this one process:
//!
//! 1. builds the world (every device, the session source, the scheduler and
//!    the nodes) and measures how much resident memory that took, per
//!    device: `VmRSS` after the build less `VmRSS` before, over the device
//!    count. It includes the fleet's share, which it prints beside;
//! 2. runs the simulation with the default engine, as `ensim::run::run` does
//!    (the same steps, timed apart from the build);
//! 3. prints the simulated requests (every answer a device got: `Start`,
//!    `Stop`, `Console`, ...) per wall-clock second of the simulation, events
//!    per second, and the process's peak resident memory (`VmHWM` from
//!    `/proc/self/status`), which covers the scenario, the world and the run.
//!
//! The warm-up of the scenario is set to zero so that every answer counts.
//! The aim of the issue: more than 1,000,000 requests per second and a peak
//! under 1 GB, on 2 cores.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ensim::engine::{Driver, World};
use ensim::metrics::Recorder;
use ensim::model::{Device, Env};
use ensim::scenario::Scenario;
use ensim::time::{SimDuration, SimTime};

/// A field of `/proc/self/status` in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// CPU seconds (user + system) this process has used, from
/// `/proc/self/stat` (in clock ticks, assumed 100 a second as on Linux).
fn cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line; the name (field 2) is skipped above.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// `1234567.8` as `1,234,568`.
fn grouped(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn run() -> Result<(), String> {
    let path = match std::env::var_os("ENSIM_SCALE_SCENARIO") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/million.toml"),
    };
    let mut scenario = Scenario::load(&path).map_err(|e| e.to_string())?;
    scenario.warmup = SimDuration::ZERO;
    let devices = u64::from(scenario.population.count);
    let units = scenario.fleet.pod_count() as u64;

    let rss_before = status_kib("VmRSS:").ok_or("no VmRSS in /proc/self/status")?;
    let started = Instant::now();
    let (world, env) = World::build(&scenario);
    let build_s = started.elapsed().as_secs_f64();
    let rss_after = status_kib("VmRSS:").ok_or("no VmRSS in /proc/self/status")?;
    let per_device = (rss_after.saturating_sub(rss_before) * 1024) as f64 / devices as f64;

    let end = SimTime::ZERO + scenario.duration;
    let starters = world.starters(true);
    let mut driver = Driver::new(
        Recorder::new(&scenario.fleet, scenario.warmup),
        end,
        &starters,
    );
    let started = Instant::now();
    let cpu_before = cpu_s();
    let world = ensim::engine::plain::run(world, &env, &mut driver);
    let run_s = started.elapsed().as_secs_f64();
    let run_cpu_s = cpu_s().zip(cpu_before).map(|(a, b)| a - b);
    let events = driver.events;
    let m = driver.recorder.finish(end);
    let requests: u64 = m.answers.iter().map(|a| a.count()).sum();
    let peak = status_kib("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;

    println!(
        "ensim scale benchmark: {} ({} devices, {} units, {} s simulated, seed {})",
        path.display(),
        grouped(devices as f64),
        grouped(units as f64),
        scenario.duration.as_secs_f64(),
        scenario.seed
    );
    println!(
        "world build:  {build_s:.2} s wall, {} resident, {per_device:.0} bytes per device \
         (the fleet's units included; a device is {} bytes, its source and scheduler entries {} more)",
        mib(rss_after.saturating_sub(rss_before)),
        std::mem::size_of::<Device>(),
        per_device_side_bytes(&env),
    );
    println!(
        "simulation:   {run_s:.2} s wall, {} sessions, {} requests answered, {} events",
        grouped(m.arrivals as f64),
        grouped(requests as f64),
        grouped(events as f64)
    );
    println!(
        "throughput:   {} simulated requests per wall-clock second ({} events/s; {} with the build)",
        grouped(requests as f64 / run_s),
        grouped(events as f64 / run_s),
        grouped(requests as f64 / (run_s + build_s)),
    );
    if let Some(cpu) = run_cpu_s.filter(|c| *c > 0.0) {
        println!(
            "cpu time:     {cpu:.2} s for the simulation, {} requests per CPU second \
             (wall time above this means the machine was busy with other work)",
            grouped(requests as f64 / cpu)
        );
    }
    println!("peak memory:  {} (VmHWM of the whole process)", mib(peak));
    drop(world);
    Ok(())
}

/// Bytes per device outside `Device`: the source's idle pool and slot, and
/// the scheduler's holding, owner and location entries.
fn per_device_side_bytes(_env: &Env) -> usize {
    use std::mem::size_of;
    let source = 2 * size_of::<u32>();
    let scheduler = size_of::<ensim::model::scheduler::Holding>()
        + size_of::<ensim::api::AppId>()
        + 2 * size_of::<u32>();
    source + scheduler
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale bench: {e}");
            ExitCode::FAILURE
        }
    }
}
