//! The `ensim` command line: parses arguments, runs, and maps errors to exit
//! codes (0 ok, 1 a check or service level failed, 2 bad input or error).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use ensim::engine::EngineKind;
use ensim::report;
use ensim::scenario::Scenario;

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
    /// Results folder [default: results/<scenario name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Validate { scenario } => validate(&scenario),
        Command::Call { scenario } => call(&scenario),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("ensim: error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut scenario = Scenario::load(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let out = ensim::run::run(&scenario, args.engine)?;
    let dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("results").join(&scenario.name));
    report::write_folder(&dir, &report::result_files(&out))
        .with_context(|| format!("cannot write the results folder {}", dir.display()))?;
    if !args.quiet {
        print_table(&out);
        println!("wrote {}", dir.join("summary.csv").display());
        if out.env.classes.iter().any(|c| c.retry.is_some()) {
            println!("wrote {}", dir.join("chains.csv").display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(out: &ensim::run::RunOutput) {
    let m = &out.measurements;
    println!(
        "{} (seed {}, {} engine): {:.0} s measured, {} sessions arrived, {} events",
        out.scenario,
        out.seed,
        out.engine.name(),
        m.measured.as_secs_f64(),
        m.arrivals,
        out.events
    );
    println!(
        "{:<11} {:<33} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "action", "outcome", "count", "mean_ms", "p50_ms", "p99_ms", "max_ms"
    );
    for r in report::summary_rows(m) {
        println!(
            "{:<11} {:<33} {:>9} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            r.action, r.outcome, r.count, r.mean_ms, r.p50_ms, r.p99_ms, r.max_ms
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
    if let Some(kib) = peak_memory_kib() {
        println!(
            "peak memory: {:.1} MiB (VmHWM of this process)",
            kib as f64 / 1024.0
        );
    }
}

/// The process's peak resident memory so far, in KiB, where Linux tells it.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line["VmHWM:".len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
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
