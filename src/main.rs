//! The `ensim` command line: parses arguments, runs, and maps errors to exit
//! codes (0 ok, 1 a check or service level failed, 2 bad input or error,
//! 130 interrupted). Only this file reads the wall clock: for the progress
//! bar and for `run.json`.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use std::collections::BTreeMap;

use ensim::check::{Change, Tolerances, compare, figures_csv, read_figures};
use ensim::engine::{EngineKind, Watch};
use ensim::figures::{Figures, figures};
use ensim::replicate::replicate;
use ensim::report;
use ensim::scenario::Scenario;
use ensim::slo::ServiceLevel;
use ensim::sweep::{
    Shard, SweepOptions, Vary, find_min, merge_csv, reported_figures, run_point, sweep_csv,
    value_text,
};
use ensim::time::{SimDuration, SimTime};

/// The exit code of a run stopped by Ctrl-C, as shells report a process
/// ended by SIGINT.
const INTERRUPTED: u8 = 130;

/// Simulate and load-test an edge-cloud device scheduler in virtual time.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file and write its reports.
    Run(RunArgs),
    /// Answer API requests, one JSON object per stdin line, with the fleet of
    /// a scenario; one JSON answer per stdout line.
    Call {
        /// The scenario file (TOML) whose fleet and latencies to use.
        scenario: PathBuf,
    },
    /// Check a scenario file and describe what it would simulate.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
    /// Draw the SVG charts of a results folder from its CSV files.
    Plot {
        /// The results folder, such as results/quickstart.
        folder: PathBuf,
    },
    /// Run a scenario at several values of one key, each with replications,
    /// and write sweep.csv; with --find-min, find the smallest value that
    /// meets every service level.
    Sweep(SweepArgs),
    /// Merge the sweep.csv files of shards (folders or files) into one.
    Merge {
        /// The shards' folders or sweep.csv files.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Folder to write the merged sweep.csv into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Compare a results folder with a baseline folder, figure by figure;
    /// exit 1 if a figure moved beyond its tolerance.
    Check(CheckArgs),
}

#[derive(clap::Args)]
struct SweepArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// The key and its values: key=1,2,5 or key=8..16 or key=0.5..2:0.5,
    /// such as fleet.pods_per_instance=8..16.
    #[arg(long)]
    vary: String,
    /// Replications per point.
    #[arg(long, default_value_t = 5)]
    replications: u32,
    /// A service level, such as "NoIdleResource.rate < 0.01"; may repeat;
    /// added to the scenario's.
    #[arg(long)]
    slo: Vec<String>,
    /// Find the smallest value of the key (which must be the varied one)
    /// that meets every service level with 95% confidence.
    #[arg(long, value_name = "KEY")]
    find_min: Option<String>,
    /// Run only slice i of n of the points, e.g. 2/8.
    #[arg(long)]
    shard: Option<String>,
    /// Seed of the first replication, instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// Which engine runs the actors.
    #[arg(long, value_enum, default_value_t = EngineKind::Default)]
    engine: EngineKind,
    /// Folder for sweep.csv [default: results/<scenario>-sweep-<key>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The results folder to check.
    run: PathBuf,
    /// The results folder to compare with.
    #[arg(long)]
    baseline: PathBuf,
    /// Tolerance of one figure, FIGURE=RELATIVE[:ABSOLUTE], e.g.
    /// Start.p99_ms=0.1:5; may repeat.
    #[arg(long)]
    tolerance: Vec<String>,
    /// Share of the baseline any figure may move by.
    #[arg(long, default_value_t = 0.05)]
    relative: f64,
    /// Let figures that moved for the better pass.
    #[arg(long)]
    allow_improvements: bool,
    /// List every figure, not only those that moved.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Seed of every random stream, instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// Which engine runs the actors.
    #[arg(long, value_enum, default_value_t = EngineKind::Default)]
    engine: EngineKind,
    /// Results folder [default: results/<scenario name>, with a suffix for
    /// each option that changes the scenario, such as -seed7 or -actix].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Simulated seconds per row of timeseries.csv, instead of the
    /// scenario's `[report] interval_s`.
    #[arg(long, value_name = "SECONDS")]
    interval_s: Option<f64>,
    /// Also draw the SVG charts into the results folder.
    #[arg(long)]
    plot: bool,
    /// Run this many seeds (the scenario's, then the next ones) in parallel
    /// and report each figure's mean and 95% interval in figures.csv.
    #[arg(long, default_value_t = 1)]
    replications: u32,
    /// A service level, such as "Start.p99_ms < 1500"; may repeat; added to
    /// the scenario's `service_levels`.
    #[arg(long)]
    slo: Vec<String>,
    /// Print nothing but errors: no progress bar, no table.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenario } => validate(&scenario),
        Command::Call { scenario } => call(&scenario),
        Command::Plot { folder } => plot(&folder),
        Command::Sweep(args) => sweep(args),
        Command::Merge { parts, out } => merge(&parts, &out),
        Command::Check(args) => check(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Errors that quote their source already say it: skip the repeat.
            let mut chain: Vec<String> = Vec::new();
            for cause in e.chain().map(ToString::to_string) {
                if !chain.last().is_some_and(|said| said.contains(&cause)) {
                    chain.push(cause);
                }
            }
            eprintln!("ensim: error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    let show_bar = !args.quiet && std::io::stderr().is_terminal();
    // With a bar, the bar itself says that the run is stopping.
    on_interrupt(stop.clone(), !args.quiet && !show_bar)?;
    let started = Instant::now();
    let started_unix_s = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());

    let shown = args.scenario.display().to_string();
    let mut scenario = Scenario::load(&args.scenario)?;
    let bytes = std::fs::read(&args.scenario)
        .with_context(|| format!("{shown}: cannot read the scenario file"))?;
    let (changes, overrides) = apply_options(&args, &mut scenario, &shown)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| report::run_folder(&scenario.name, &changes));

    let bar = show_bar.then(|| progress_bar(scenario.duration));
    let levels = service_levels(&scenario, &args.slo)?;
    anyhow::ensure!(args.replications >= 1, "--replications 0: give at least 1");
    let (out, estimates) = if args.replications > 1 {
        if let Some(b) = &bar {
            b.set_message(format!("{} replications", args.replications));
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let rep = replicate(
            &scenario,
            args.engine,
            args.replications,
            threads,
            Some(stop),
        )?;
        let mut out = rep.first;
        out.measurements = rep.merged;
        out.events = rep.events;
        out.partial = rep.partial;
        (out, Some(rep.estimates))
    } else {
        let watch = Watch {
            progress: bar
                .as_ref()
                .map(|b| progress_callback(b.clone(), stop.clone())),
            stop: Some(stop),
        };
        (
            ensim::run::run_watched(&scenario, args.engine, watch)?,
            None,
        )
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    let mut files = report::result_files(&out);
    let (values, intervals) = match &estimates {
        None => (figures(&out.measurements), BTreeMap::new()),
        Some(e) => (
            Figures(e.iter().map(|(k, x)| (k.clone(), x.mean)).collect()),
            e.iter()
                .filter_map(|(k, x)| x.interval.map(|i| (k.clone(), i)))
                .collect(),
        ),
    };
    files.push((
        "figures.csv",
        figures_csv(&values, &intervals, args.replications.max(1) as usize),
    ));
    let wall = started.elapsed().as_secs_f64();
    let info = report::RunInfo {
        ensim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: scenario.name.clone(),
        scenario_file: shown,
        scenario_sha256: report::sha256_hex(&bytes),
        seed: scenario.seed,
        engine: args.engine.name().to_string(),
        overrides,
        duration_s: scenario.duration.as_secs_f64(),
        warmup_s: scenario.warmup.as_secs_f64(),
        interval_s: scenario.report_interval.as_secs_f64(),
        simulated_s: out.measurements.end.as_secs_f64(),
        wall_clock_s: wall,
        started_unix_s,
        events: out.events,
        events_per_s: if wall > 0.0 {
            out.events as f64 / wall
        } else {
            0.0
        },
        peak_memory_bytes: peak_memory_bytes(),
        partial: out.partial,
    };
    files.push(("run.json", report::run_json(&info)));
    if args.plot {
        let charts =
            ensim::plot::charts(|name| files.iter().find(|f| f.0 == name).map(|f| f.1.clone()))?;
        files.extend(charts.files);
    }
    report::write_folder(&dir, &files)
        .with_context(|| format!("cannot write the results folder {}", dir.display()))?;

    if !args.quiet {
        print_table(&out, &info);
        println!("wrote {}", dir.join("summary.csv").display());
        let others: Vec<&str> = files
            .iter()
            .map(|f| f.0)
            .filter(|&f| f != "summary.csv")
            .collect();
        println!("  and {}", others.join(", "));
    }
    let verdicts = levels
        .iter()
        .map(|l| l.check_interval(&values, intervals.get(&l.figure).copied()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("the reports are in {}", dir.display()))?;
    if !verdicts.is_empty() && !args.quiet {
        print_verdicts(&verdicts);
    }
    if out.partial {
        eprintln!(
            "ensim: interrupted at {:.3} s of {} s simulated; {} holds the reports so far, marked partial in run.json",
            info.simulated_s,
            info.duration_s,
            dir.display()
        );
        return Ok(ExitCode::from(INTERRUPTED));
    }
    if verdicts.iter().any(|v| !v.met) {
        eprintln!("ensim: a service level was missed");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The scenario's service levels and those of `--slo`.
fn service_levels(scenario: &Scenario, extra: &[String]) -> anyhow::Result<Vec<ServiceLevel>> {
    let mut levels = scenario.service_levels.clone();
    for s in extra {
        levels.push(s.parse().with_context(|| format!("--slo {s:?}"))?);
    }
    Ok(levels)
}

/// A table of service levels: met, missed, or met on the mean only.
fn print_verdicts(verdicts: &[ensim::slo::Verdict]) {
    println!("service levels:");
    for v in verdicts {
        let interval = v
            .interval
            .map_or(String::new(), |i| format!(" [{:.4}, {:.4}]", i.low, i.high));
        let word = match (v.met, v.sure) {
            (true, true) => "met",
            (true, false) => "met on the mean; the 95% interval crosses the target",
            _ => "MISSED",
        };
        println!(
            "  {:<40} {:>12.4}{interval}  {word}",
            v.level.to_string(),
            v.value
        );
    }
}

fn sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    let vary: Vary = args.vary.parse()?;
    let base = Scenario::load(&args.scenario)?;
    let levels = service_levels(&base, &args.slo)?;
    let opts = SweepOptions {
        replications: args.replications.max(1),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        engine: args.engine,
        levels: levels.clone(),
        seed: args.seed,
    };
    let dir = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!(
            "{}-sweep-{}",
            base.name,
            vary.key.replace('.', "_")
        ))
    });
    let figures_reported = reported_figures(&levels);
    let (points, found) = match &args.find_min {
        Some(key) => {
            anyhow::ensure!(
                *key == vary.key,
                "--find-min {key} must name the varied key, {}",
                vary.key
            );
            anyhow::ensure!(
                !levels.is_empty(),
                "--find-min needs service levels: give --slo or the scenario's service_levels"
            );
            anyhow::ensure!(
                args.shard.is_none(),
                "--find-min searches one machine's points; drop --shard"
            );
            find_min(&args.scenario, &vary, &opts)?
        }
        None => {
            let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;
            let mut points = Vec::new();
            for i in (0..vary.values.len()).filter(|&i| shard.is_none_or(|s| s.owns(i))) {
                if !args.quiet {
                    eprintln!(
                        "ensim: point {i}: {} = {}",
                        vary.key,
                        value_text(&vary.values[i])
                    );
                }
                points.push(run_point(&args.scenario, &vary, i, &opts)?);
            }
            (points, None)
        }
    };
    let csv = sweep_csv(&vary.key, &figures_reported, &points, vary.values.len());
    let mut files = vec![("sweep.csv", csv.clone())];
    if let Ok(chart) = ensim::plot::sweep_chart(&vary.key, &csv) {
        files.push(("sweep.svg", chart));
    }
    report::write_folder(&dir, &files)
        .with_context(|| format!("cannot write {}", dir.display()))?;
    if !args.quiet {
        println!(
            "wrote {} and {}",
            dir.join("sweep.csv").display(),
            dir.join("sweep.svg").display()
        );
    }
    if args.find_min.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    let Some(found) = found else {
        println!(
            "no value of {} meets every service level with 95% confidence",
            vary.key
        );
        return Ok(ExitCode::from(1));
    };
    let p = &points[found];
    println!(
        "smallest {} that meets every service level: {}",
        vary.key,
        value_text(&p.value)
    );
    for v in &p.verdicts {
        let i = v.interval.map_or(String::new(), |i| {
            format!(", 95% interval [{:.4}, {:.4}]", i.low, i.high)
        });
        println!(
            "  {}: {:.4}{i} ({} replications)",
            v.level,
            v.value,
            p.result.seeds.len()
        );
    }
    if found > 0 {
        let below = &points[found - 1];
        let how = if below.verdicts.iter().all(|v| v.met) {
            "meets on the mean, but not surely"
        } else {
            "misses"
        };
        println!("  at {} = {} it {how}", vary.key, value_text(&below.value));
    }
    Ok(ExitCode::SUCCESS)
}

fn merge(parts: &[PathBuf], out: &Path) -> anyhow::Result<ExitCode> {
    let mut read = Vec::new();
    for p in parts {
        let file = if p.is_dir() {
            p.join("sweep.csv")
        } else {
            p.clone()
        };
        let bytes =
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        read.push((file.display().to_string(), bytes));
    }
    let merged = merge_csv(&read)?;
    let key = csv::Reader::from_reader(merged.as_slice())
        .headers()
        .ok()
        .and_then(|h| h.get(2).map(str::to_string))
        .unwrap_or_default();
    let mut files = vec![("sweep.csv", merged.clone())];
    if let Ok(chart) = ensim::plot::sweep_chart(&key, &merged) {
        files.push(("sweep.svg", chart));
    }
    report::write_folder(out, &files).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {}", out.join("sweep.csv").display());
    Ok(ExitCode::SUCCESS)
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let mut tol = Tolerances {
        relative: args.relative,
        ..Tolerances::default()
    };
    anyhow::ensure!(
        args.relative >= 0.0,
        "--relative {} must be zero or more",
        args.relative
    );
    for t in &args.tolerance {
        tol.add(t)?;
    }
    let scenario_of = |dir: &Path| {
        let json = std::fs::read(dir.join("run.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
        v.get("scenario")?.as_str().map(str::to_string)
    };
    if let (Some(a), Some(b)) = (scenario_of(&args.run), scenario_of(&args.baseline))
        && a != b
    {
        eprintln!("ensim: note: comparing a run of {a} with a baseline of {b}");
    }
    let current = read_figures(&args.run)?;
    let baseline = read_figures(&args.baseline)?;
    let lines = compare(&current, &baseline, &tol);
    let moved: Vec<&ensim::check::Line> =
        lines.iter().filter(|l| l.change != Change::Same).collect();
    println!(
        "{:<44} {:>14} {:>14} {:>9}  verdict",
        "figure", "baseline", "current", "change"
    );
    for l in lines
        .iter()
        .filter(|l| args.verbose || l.change != Change::Same)
    {
        let change = if l.baseline != 0.0 {
            format!(
                "{:+.1}%",
                100.0 * (l.current - l.baseline) / l.baseline.abs()
            )
        } else {
            "new".into()
        };
        let verdict = match l.change {
            Change::Same => "same",
            Change::Regressed => "REGRESSED",
            Change::Improved => "improved (baseline is stale)",
        };
        println!(
            "{:<44} {:>14.4} {:>14.4} {:>9}  {verdict}",
            l.figure, l.baseline, l.current, change
        );
    }
    let regressed = moved
        .iter()
        .filter(|l| l.change == Change::Regressed)
        .count();
    let improved = moved.len() - regressed;
    println!(
        "{} figures compared: {regressed} regressed, {improved} improved, {} within tolerance",
        lines.len(),
        lines.len() - moved.len()
    );
    let failed = regressed > 0 || (improved > 0 && !args.allow_improvements);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Applies `--seed` and `--interval-s` to `scenario`. Returns the suffixes
/// of the default results folder (one per option that changed the
/// scenario or the engine) and the options as `run.json` records them.
fn apply_options(
    args: &RunArgs,
    scenario: &mut Scenario,
    shown: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let mut changes = Vec::new();
    let mut overrides = Vec::new();
    if let Some(seed) = args.seed {
        overrides.push(format!("--seed {seed}"));
        if seed != scenario.seed {
            changes.push(format!("seed{seed}"));
        }
        scenario.seed = seed;
    }
    if let Some(interval_s) = args.interval_s {
        overrides.push(format!("--interval-s {interval_s}"));
        if SimDuration::from_secs_f64(interval_s) != scenario.report_interval {
            changes.push(format!("interval{interval_s}s"));
        }
        scenario
            .set_report_interval(interval_s, shown)
            .context("--interval-s")?;
    }
    if args.engine != EngineKind::Default {
        overrides.push(format!("--engine {}", args.engine.name()));
        changes.push(args.engine.name().to_string());
    }
    if args.replications > 1 {
        overrides.push(format!("--replications {}", args.replications));
        changes.push(format!("reps{}", args.replications));
    }
    for s in &args.slo {
        overrides.push(format!("--slo {s:?}"));
    }
    Ok((changes, overrides))
}

/// The message shown once Ctrl-C is seen.
const STOPPING: &str = "stopping; writing the reports so far (Ctrl-C again quits at once)";

/// Makes Ctrl-C set `stop`, so that the run ends cleanly with the reports
/// so far, and says so on stderr if `announce`; a second Ctrl-C quits at
/// once.
fn on_interrupt(stop: Arc<AtomicBool>, announce: bool) -> anyhow::Result<()> {
    ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(INTERRUPTED));
        }
        if announce {
            eprintln!("ensim: {STOPPING}");
        }
    })
    .context("cannot watch for Ctrl-C")
}

/// A progress bar over the simulated time of a run, in milliseconds.
fn progress_bar(duration: SimDuration) -> indicatif::ProgressBar {
    let len = duration.as_nanos() / 1_000_000;
    let target = indicatif::ProgressDrawTarget::term_like_with_hz(
        Box::new(Narrower(console::Term::stderr())),
        20,
    );
    let bar = indicatif::ProgressBar::with_draw_target(Some(len.max(1)), target);
    let style = indicatif::ProgressStyle::with_template(
        "{bar:30.cyan/blue} {percent:>3}% {msg}, {elapsed} elapsed, ETA {eta}",
    )
    .expect("the template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// Standard error as the progress bar draws on it, three columns narrower
/// than the terminal. indicatif pads the bar's line to the full width, so
/// the "^C" that a terminal echoes on Ctrl-C would wrap to a line of its own
/// and leave the bar behind on the screen when it is cleared.
#[derive(Debug)]
struct Narrower(console::Term);

impl indicatif::TermLike for Narrower {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(3).max(1)
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }

    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The driver's progress callback for `bar`: simulated time done, and
/// events per wall-clock second, or that the run is stopping once `stop`
/// is set.
fn progress_callback(
    bar: indicatif::ProgressBar,
    stop: Arc<AtomicBool>,
) -> Box<dyn FnMut(SimTime, u64)> {
    let started = Instant::now();
    let total_s = bar.length().unwrap_or(0) as f64 / 1e3;
    Box::new(move |now, events| {
        bar.set_position(now.as_nanos() / 1_000_000);
        if stop.load(Ordering::Relaxed) {
            return bar.set_message(STOPPING);
        }
        let wall = started.elapsed().as_secs_f64();
        let rate = if wall > 0.0 {
            events as f64 / wall
        } else {
            0.0
        };
        bar.set_message(format!(
            "{:.0}/{total_s:.0} s simulated, {:.2} M events/s",
            now.as_secs_f64(),
            rate / 1e6
        ));
    })
}

/// Peak resident memory of this process (`VmHWM` in /proc/self/status),
/// in bytes; `None` where that file does not exist.
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn print_table(out: &ensim::run::RunOutput, info: &report::RunInfo) {
    let m = &out.measurements;
    let reached = if out.partial {
        format!(
            ", interrupted at {:.1} s of {:.0} s",
            info.simulated_s, info.duration_s
        )
    } else {
        String::new()
    };
    println!(
        "{} (seed {}, {} engine): {:.0} s measured, {} sessions arrived, {} events{reached}",
        out.scenario,
        out.seed,
        out.engine.name(),
        m.measured.as_secs_f64(),
        m.arrivals,
        out.events
    );
    println!(
        "{:<11} {:<33} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "action", "outcome", "count", "rate_per_s", "mean_ms", "p50_ms", "p99_ms", "max_ms"
    );
    for r in report::summary_rows(m) {
        println!(
            "{:<11} {:<33} {:>9} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            r.action, r.outcome, r.count, r.rate_per_s, r.mean_ms, r.p50_ms, r.p99_ms, r.max_ms
        );
    }
    if !m.chains.is_empty() {
        println!(
            "retry chains, first send to final answer ({} retries):",
            m.retries()
        );
        for c in &m.chains {
            let s = &c.latency;
            println!(
                "{:<11} {:<33} {:>9} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
                s.action.name(),
                format!("{} ({} retries)", s.outcome.name(), c.retries),
                s.count(),
                s.mean_ms(),
                s.quantile_ms(0.5),
                s.quantile_ms(0.99),
                s.max_ms()
            );
        }
    }
    let units: usize = out.env.fleet.pod_count();
    let peaks: u64 = m.regions.iter().map(|r| u64::from(r.peak_busy)).sum();
    println!(
        "capacity: the regions' peaks of busy units add up to {peaks} of {units} units (capacity.csv)"
    );
    print_fleet(out);
    let memory = info.peak_memory_bytes.map_or("unknown".to_string(), |b| {
        format!("{:.0} MB", b as f64 / 1e6)
    });
    println!(
        "wall clock {:.2} s, {:.2} M events/s, peak memory {memory}",
        info.wall_clock_s,
        info.events_per_s / 1e6
    );
}

/// One line on the fleet: utilisation, the busiest region, turn-aways.
fn print_fleet(out: &ensim::run::RunOutput) {
    let m = &out.measurements;
    let regions = out.env.fleet.regions();
    let units = |r: usize| f64::from(regions[r].pods.1 - regions[r].pods.0);
    let total: f64 = (0..regions.len()).map(units).sum();
    let busy: f64 = (0..regions.len()).map(|r| m.mean_busy(r)).sum();
    let busiest = (0..regions.len())
        .map(|r| (m.mean_busy(r) / units(r).max(1.0), r))
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let requests: u64 = m.placements.iter().map(|p| p.requests).sum();
    let turned_away: u64 = m.placements.iter().map(|p| p.no_idle).sum();
    let share = |n: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            100.0 * n as f64 / of as f64
        }
    };
    let busiest = busiest.map_or(String::new(), |(u, r)| {
        format!(
            ", busiest region {} at {:.1}% (peak {} of {} units)",
            regions[r].id,
            100.0 * u,
            m.regions[r].peak_busy,
            units(r)
        )
    });
    println!(
        "fleet: {total:.0} units, {:.1}% busy on average{busiest}",
        100.0 * busy / total.max(1.0),
    );
    println!(
        "placement requests: {requests}, turned away NoIdleResource: {turned_away} ({:.2}%)",
        share(turned_away, requests),
    );
}

/// Draws the charts of a results folder into it.
fn plot(folder: &Path) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        folder.is_dir(),
        "{}: no such results folder; give one that `ensim run` wrote, such as results/quickstart",
        folder.display()
    );
    let charts = ensim::plot::charts(|name| std::fs::read(folder.join(name)).ok())
        .with_context(|| format!("cannot plot {}", folder.display()))?;
    anyhow::ensure!(
        !charts.files.is_empty(),
        "{}: no CSV files of a run to plot; give a folder that `ensim run` wrote",
        folder.display()
    );
    for note in &charts.notes {
        eprintln!("ensim: left out {note}");
    }
    for (name, bytes) in &charts.files {
        let path = folder.join(name);
        report::write_file(&path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn call(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    use std::io::{BufRead, Write};
    let scenario = Scenario::load(path)?;
    let mut session = ensim::call::CallSession::new(&scenario);
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut bytes = Vec::new();
    loop {
        bytes.clear();
        if stdin
            .read_until(b'\n', &mut bytes)
            .context("cannot read standard input")?
            == 0
        {
            break;
        }
        let line = String::from_utf8_lossy(&bytes);
        if line.trim().is_empty() {
            continue;
        }
        let answer = session.answer_line(&line);
        serde_json::to_writer(&mut stdout, &answer).context("cannot write the answer")?;
        writeln!(stdout).context("cannot write the answer")?;
        stdout.flush().context("cannot write the answer")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let s = Scenario::load(path)?;
    println!(
        "{}: ok: {} regions, {} nodes, {} pods; {} devices in {} cities; {} for {} s (seed {})",
        path.display(),
        s.fleet.regions().len(),
        s.fleet.node_count(),
        s.fleet.pod_count(),
        s.population.count,
        s.population.cities.len(),
        describe_load(&s.workload),
        s.duration.as_secs_f64(),
        s.seed
    );
    Ok(ExitCode::SUCCESS)
}

/// The load in a few words.
fn describe_load(w: &ensim::scenario::Workload) -> String {
    use ensim::model::Load;
    match (&w.load, &w.trace) {
        (Load::Closed { users, .. }, _) => format!("a closed population of {users} users"),
        (Load::Trace, Some(t)) => {
            format!("{} sessions replayed from {}", t.sessions, t.path.display())
        }
        _ => format!("{:.3} sessions/s on average", w.arrival_rate_per_s),
    }
}
