//! Scenario files: read raw from TOML, then checked into a [`Scenario`].
//!
//! [`RawScenario`] mirrors the file, with serde defaults for what a user would
//! leave alone and no unknown keys allowed. [`Scenario::from_raw`] checks every
//! value, loads the geography and lays out the fleet; the rest of the program
//! trusts what it returns. Every error names the file, the key or line, and
//! what to change.

mod load;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::api::Field;
use crate::api::Outcome;
use crate::dist::{Dist, DistSpec};
use crate::fleet::{Fleet, PortLayout, RegionLayout};
use crate::geo::{self, CityId, GeoIp, Isp, IspSet};
use crate::model::{Class, Faults, Flow, Jitter, Malformed, Retry, Routing, ViewRefresh};
use crate::time::SimDuration;

pub use load::{CityGroups, LoadPlan, RawArrivals, RawCityRate, RawFlash, RawStep, RawTrace};

/// The longest run, in simulated seconds: the nanosecond clock holds 584
/// years, and a run keeps room to spare.
pub const MAX_DURATION_S: f64 = 1e9;

/// A scenario that cannot be used, with where and why. Its `Display` is one
/// line.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read the scenario file: {source}")]
    Read {
        /// The scenario file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, or a key is unknown or of the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The scenario file.
        path: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A value is impossible.
    #[error("{path}: {key}: {message}")]
    Value {
        /// The scenario file.
        path: String,
        /// The dotted key, such as `workload.arrival_rate_per_s`.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A data file the scenario names is unusable.
    #[error("{path}: {source}")]
    Data {
        /// The scenario file.
        path: String,
        /// The data error, naming the data file.
        source: geo::DataError,
    },
}

/// The scenario file as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Name of the results folder; defaults to the file's stem.
    pub name: Option<String>,
    /// Seed of every random stream; `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// Simulated time to run, in seconds.
    pub duration_s: f64,
    /// Simulated time at the start that is not measured, in seconds.
    #[serde(default)]
    pub warmup_s: f64,
    /// Where the geography comes from.
    #[serde(default)]
    pub data: RawData,
    /// Regions, nodes, instances and pods.
    #[serde(default)]
    pub fleet: RawFleet,
    /// The device population.
    #[serde(default)]
    pub devices: RawDevices,
    /// Sessions and what they do.
    pub workload: RawWorkload,
    /// Delays and processing times.
    #[serde(default)]
    pub latency: RawLatency,
    /// Injected failures.
    #[serde(default)]
    pub faults: RawFaults,
    /// Scheduler replicas and their views.
    #[serde(default)]
    pub schedulers: RawSchedulers,
    /// What the reports show.
    #[serde(default)]
    pub report: RawReport,
    /// Service levels the run must meet, such as `"Start.p99_ms < 1500"`.
    #[serde(default)]
    pub service_levels: Vec<String>,
}

/// `[report]`: what the reports show.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawReport {
    /// Simulated seconds per row of `timeseries.csv`.
    pub interval_s: f64,
}

impl Default for RawReport {
    fn default() -> Self {
        RawReport { interval_s: 1.0 }
    }
}

/// Most intervals a time series may have; each costs memory for every
/// region until the run ends.
pub const MAX_INTERVALS: f64 = 1_000_000.0;

/// `[schedulers]`: replicas, routing and views.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSchedulers {
    /// Number of scheduler replicas.
    pub count: u16,
    /// `region_group` or `round_robin`.
    pub routing: Routing,
    /// How often nodes report their idle units to the schedulers, in ms;
    /// 0 means on every change.
    pub view_refresh_ms: f64,
}

impl Default for RawSchedulers {
    fn default() -> Self {
        RawSchedulers {
            count: 1,
            routing: Routing::RegionGroup,
            view_refresh_ms: 0.0,
        }
    }
}

/// Data files; each defaults to the copy built into ensim from `data/`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    /// Region table, like `data/ens-regions.csv`.
    pub regions_csv: Option<PathBuf>,
    /// City table, like `data/cn-cities.csv`.
    pub cities_csv: Option<PathBuf>,
    /// ISP ranges, like `data/cn-isp-ipv4.csv`.
    pub ip_ranges_csv: Option<PathBuf>,
}

/// The fleet as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFleet {
    /// Region ids to use; absent means every region with coordinates.
    pub regions: Option<Vec<String>>,
    /// Edge nodes in each region.
    pub nodes_per_region: u32,
    /// Instances on each node.
    pub instances_per_node: u32,
    /// Pods on each instance.
    pub pods_per_instance: u32,
    /// Whole instances for the VM scenario on each node.
    pub vm_instances_per_node: u32,
    /// Port ranges an instance's security group may hold open at once;
    /// absent means no limit.
    pub security_group_limit: Option<u32>,
    /// Address of the first instance.
    pub first_instance_ip: String,
    /// First port of pod 0 on each instance.
    pub first_port: u16,
    /// Ports per pod (the `TcpPorts` range).
    pub ports_per_pod: u16,
    /// Per-region changes.
    #[serde(rename = "region")]
    pub overrides: Vec<RawRegionOverride>,
}

impl Default for RawFleet {
    fn default() -> Self {
        RawFleet {
            regions: None,
            nodes_per_region: 2,
            instances_per_node: 4,
            pods_per_instance: 8,
            vm_instances_per_node: 0,
            security_group_limit: None,
            first_instance_ip: "100.64.0.1".into(),
            first_port: 10000,
            ports_per_pod: 9,
            overrides: Vec::new(),
        }
    }
}

/// `[[fleet.region]]`: one region's own sizes or coordinates.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegionOverride {
    /// The region id.
    pub id: String,
    /// Edge nodes in this region.
    pub nodes: Option<u32>,
    /// Instances per node in this region.
    pub instances_per_node: Option<u32>,
    /// Pods per instance in this region.
    pub pods_per_instance: Option<u32>,
    /// Whole instances per node in this region.
    pub vm_instances_per_node: Option<u32>,
    /// Latitude, for a region the table has none for.
    pub lat: Option<f64>,
    /// Longitude, for a region the table has none for.
    pub lon: Option<f64>,
}

/// The device population as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDevices {
    /// How many devices exist.
    pub count: u32,
    /// City names devices live in; absent means every city.
    pub cities: Option<Vec<String>>,
    /// Keep only the most populous N of those cities.
    pub top_cities: Option<usize>,
    /// Share of devices per ISP; normalised.
    pub isp_share: IspShare,
}

impl Default for RawDevices {
    fn default() -> Self {
        RawDevices {
            count: 10_000,
            cities: None,
            top_cities: None,
            isp_share: IspShare::default(),
        }
    }
}

/// Relative share of devices per ISP.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IspShare {
    /// China Telecom.
    pub telecom: f64,
    /// China Unicom.
    pub unicom: f64,
    /// China Mobile.
    pub cmcc: f64,
}

impl Default for IspShare {
    /// Roughly the fixed-broadband market split in China.
    fn default() -> Self {
        IspShare {
            telecom: 0.40,
            unicom: 0.25,
            cmcc: 0.35,
        }
    }
}

/// Sessions as written.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// Poisson arrival rate of sessions, per second: the shorthand for
    /// `[workload.arrivals]` with `process = "poisson"`.
    pub arrival_rate_per_s: Option<f64>,
    /// An arrival process or a closed population.
    pub arrivals: Option<RawArrivals>,
    /// A trace to replay.
    pub trace: Option<RawTrace>,
    /// Flash crowds on top of an open process.
    #[serde(default)]
    pub flash: Vec<RawFlash>,
    /// Cities whose arrival rate is multiplied.
    #[serde(default, rename = "city")]
    pub cities: Vec<RawCityRate>,
    /// How long a device holds its pod, from the `Start` answer to `Stop`.
    pub holding: DistSpec,
    /// A `ScheduleStrategy` every `Start` and `PreSchedule` carries.
    pub schedule_strategy: Option<RawStrategy>,
    /// Device classes; none means one container class.
    #[serde(default, rename = "class")]
    pub classes: Vec<RawClass>,
}

/// The two session flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowKind {
    /// `Start`, `Console` polls, hold, `Stop`.
    #[default]
    Container,
    /// `PreSchedule`, think, `Confirm` / `Cancel` / nothing, hold, `Stop`.
    Vm,
}

/// `[[workload.class]]`: a kind of device.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClass {
    /// Name, for messages.
    pub name: String,
    /// Relative share of devices in this class.
    pub share: f64,
    /// `container` or `vm`.
    pub flow: FlowKind,
    /// Holding time; default `workload.holding`.
    pub holding: Option<DistSpec>,
    /// Container flow: `Console` polls while holding.
    pub console_polls: u16,
    /// Container flow: time before each poll.
    pub console_interval: DistSpec,
    /// VM flow: time from the lock to the decision.
    pub think: DistSpec,
    /// VM flow: probability of `Confirm`.
    pub confirm_p: f64,
    /// VM flow: probability of `Cancel`; the rest let the lock expire.
    pub cancel_p: f64,
    /// VM flow: `PreLockedTimeout`, seconds.
    pub pre_locked_timeout_s: u32,
    /// Share of sessions that send their first request twice.
    pub repeat_share: f64,
    /// `ServiceCommands` commands with `Start`, `Confirm` and `Console`.
    pub commands: u16,
    /// Share of sessions whose first request is malformed, per kind.
    pub malformed: RawMalformed,
    /// How failed requests are retried; absent: never.
    pub retry: Option<RawRetry>,
}

/// `retry = { ... }` of a class: exponential backoff with jitter.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetry {
    /// Retries per request at most.
    pub max_retries: u8,
    /// Backoff before the first retry, ms; doubles with each retry.
    pub base_ms: f64,
    /// Largest backoff, ms.
    pub cap_ms: f64,
    /// `full`, `equal` or `none`.
    pub jitter: JitterKind,
    /// Outcomes retried, by report name.
    pub on: Vec<String>,
}

impl Default for RawRetry {
    fn default() -> Self {
        RawRetry {
            max_retries: 3,
            base_ms: 1000.0,
            cap_ms: 30_000.0,
            jitter: JitterKind::Full,
            on: RETRYABLE.iter().map(|o| o.name().to_string()).collect(),
        }
    }
}

/// The outcomes a retry policy may name.
const RETRYABLE: [Outcome; 3] = [
    Outcome::NoIdleResource,
    Outcome::BackendError,
    Outcome::CallInterface,
];

/// How a retry backoff is randomised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JitterKind {
    /// Uniform on [0, backoff].
    #[default]
    Full,
    /// Half the backoff plus uniform on [0, half].
    Equal,
    /// The backoff exactly.
    None,
}

impl Default for RawClass {
    fn default() -> Self {
        RawClass {
            name: "default".into(),
            share: 1.0,
            flow: FlowKind::Container,
            holding: None,
            console_polls: 0,
            console_interval: DistSpec::Exponential { mean_ms: 60_000.0 },
            think: DistSpec::Exponential { mean_ms: 10_000.0 },
            confirm_p: 0.8,
            cancel_p: 0.1,
            pre_locked_timeout_s: crate::api::DEFAULT_LOCK_TIMEOUT_S,
            repeat_share: 0.0,
            commands: 0,
            malformed: RawMalformed::default(),
            retry: None,
        }
    }
}

/// Shares of sessions whose first request is malformed, by the error it earns.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMalformed {
    /// `MissingParameter`.
    pub missing_parameter: f64,
    /// `NoPermission`: another application's `AppId`.
    pub no_permission: f64,
    /// `InvalidParameter.ClientIp`.
    pub client_ip: f64,
    /// `InvalidParameter.ServiceAction`.
    pub service_action: f64,
    /// `InvalidParameter.PreLockedTimeout`.
    pub pre_locked_timeout: f64,
    /// `InvalidParameter.Directorys`.
    pub directorys: f64,
    /// `InvalidParameter.ServiceCommands`.
    pub service_commands: f64,
    /// `InvalidParameter.ScheduleStrategy`.
    pub schedule_strategy: f64,
}

/// `[faults]`: injected failures.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFaults {
    /// Probability that a placement or `Confirm` fails with `ens.interface.error`.
    pub backend_error_rate: f64,
    /// Probability that it fails with `CallInterface`.
    pub call_interface_rate: f64,
}

/// A `ScheduleStrategy`, as the API writes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStrategy {
    /// Only `RegionId` is defined.
    pub select_level: String,
    /// The region ids allowed.
    pub values: Vec<String>,
}

/// Delays as written; all in milliseconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLatency {
    /// One-way network delay before distance is added.
    pub network_base: DistSpec,
    /// One-way delay per kilometre of great-circle distance, in ms.
    pub network_per_km_ms: f64,
    /// Extra one-way delay drawn for each message.
    pub network_jitter: DistSpec,
    /// Time the scheduler spends on one request.
    pub scheduler_processing: DistSpec,
    /// Requests the scheduler works on at once; more wait in a queue.
    pub scheduler_workers: u32,
    /// The city the scheduler runs in.
    pub scheduler_city: String,
    /// Time an edge node takes to activate a pod for `Start`.
    pub pod_activation: DistSpec,
    /// Time one `ServiceCommands` command takes on the node.
    pub command_time: DistSpec,
    /// Time a node's lock manager spends on one unit operation.
    pub node_lock_service: DistSpec,
    /// Units a scheduler tries for one request before `NoIdleResource`.
    pub placement_attempts: u8,
    /// Wait before trying the next unit after a node refused one.
    pub placement_backoff: DistSpec,
}

impl Default for RawLatency {
    fn default() -> Self {
        RawLatency {
            network_base: DistSpec::Constant { ms: 2.0 },
            // Light in fibre covers a km in 5 us; routes run about twice the great circle.
            network_per_km_ms: 0.01,
            network_jitter: DistSpec::Exponential { mean_ms: 1.0 },
            scheduler_processing: DistSpec::Lognormal {
                mu: None,
                sigma: None,
                mean_ms: Some(5.0),
                p99_ms: Some(20.0),
            },
            scheduler_workers: 32,
            scheduler_city: "Hangzhou".into(),
            pod_activation: DistSpec::Uniform {
                min_ms: 200.0,
                max_ms: 800.0,
            },
            command_time: DistSpec::Uniform {
                min_ms: 20.0,
                max_ms: 200.0,
            },
            node_lock_service: DistSpec::zero(),
            placement_attempts: 3,
            placement_backoff: DistSpec::zero(),
        }
    }
}

/// A checked scenario: everything a run needs.
#[derive(Clone)]
pub struct Scenario {
    /// Results folder name.
    pub name: String,
    /// The file it came from, if any.
    pub path: Option<PathBuf>,
    /// Seed of every random stream.
    pub seed: u64,
    /// Simulated time to run.
    pub duration: SimDuration,
    /// Unmeasured time at the start.
    pub warmup: SimDuration,
    /// The fleet layout.
    pub fleet: Arc<Fleet>,
    /// The client-IP database.
    pub geo: Arc<GeoIp>,
    /// The device population.
    pub population: Population,
    /// Sessions.
    pub workload: Workload,
    /// Delays.
    pub latency: Latency,
    /// The file as read, for the record.
    pub raw: RawScenario,
    /// Simulated time per row of the time series.
    pub report_interval: SimDuration,
    /// Service levels the run must meet.
    pub service_levels: Vec<crate::slo::ServiceLevel>,
}

/// The checked device population.
#[derive(Clone, Debug)]
pub struct Population {
    /// Number of devices.
    pub count: u32,
    /// Cities with their weights (population).
    pub cities: Vec<(CityId, f64)>,
    /// Weight per ISP, by [`Isp::index`].
    pub isp_share: [f64; 3],
}

/// The checked workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Mean sessions per second of an open load over the run (0 for a
    /// closed population or a trace).
    pub arrival_rate_per_s: f64,
    /// What drives the sessions.
    pub load: crate::model::Load,
    /// Cities with their own arrival stream, if any.
    pub city_groups: Option<CityGroups>,
    /// The trace replayed, for a trace load.
    pub trace: Option<crate::trace::TraceSpec>,
    /// Holding time.
    pub holding: Dist,
    /// Regions every `Start` is limited to, if any.
    pub strategy_regions: Option<Vec<crate::fleet::RegionId>>,
    /// Device classes with their shares.
    pub classes: Vec<(Class, f64)>,
    /// Injected failures.
    pub faults: Faults,
}

/// The checked latency model.
#[derive(Clone, Debug)]
pub struct Latency {
    /// One-way base delay.
    pub network_base: Dist,
    /// Nanoseconds of one-way delay per km.
    pub network_ns_per_km: f64,
    /// One-way jitter.
    pub network_jitter: Dist,
    /// Scheduler work per request.
    pub scheduler_processing: Dist,
    /// Scheduler concurrency.
    pub scheduler_workers: u32,
    /// Scheduler position (lat, lon).
    pub scheduler_at: (f64, f64),
    /// Pod activation time.
    pub pod_activation: Dist,
    /// Time of one command.
    pub command_time: Dist,
    /// Node lock manager service time.
    pub node_lock_service: Dist,
    /// Units tried per request.
    pub placement_attempts: u8,
    /// Wait between tries.
    pub placement_backoff: Dist,
    /// Security-group limit per instance.
    pub security_group_limit: Option<u32>,
    /// Scheduler replicas.
    pub schedulers: u16,
    /// Session routing.
    pub routing: Routing,
    /// View refresh.
    pub view_refresh: ViewRefresh,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: shown.clone(),
            source,
        })?;
        let raw = parse_toml(&text, &shown)?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let base = path.parent().unwrap_or(Path::new("."));
        let mut scenario = Scenario::from_raw(raw, &shown, base, stem)?;
        scenario.path = Some(path.to_path_buf());
        Ok(scenario)
    }

    /// Checks a parsed scenario. `shown` names it in errors, `base` is where
    /// relative data paths start, `default_name` names it if the file does not.
    pub fn from_raw(
        raw: RawScenario,
        shown: &str,
        base: &Path,
        default_name: Option<String>,
    ) -> Result<Scenario, ScenarioError> {
        let v = Checker { path: shown, base };
        let name = raw
            .name
            .clone()
            .or(default_name)
            .unwrap_or_else(|| "scenario".into());
        v.ensure(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "name",
            || format!("{name:?} cannot name a folder; use letters, digits, '-', '_' or '.'"),
        )?;
        v.positive("duration_s", raw.duration_s, "seconds of simulated time")?;
        v.ensure(raw.duration_s <= MAX_DURATION_S, "duration_s", || {
            format!("{:e} s is more than ensim's clock holds; give at most {MAX_DURATION_S:e} s (about 31 years)", raw.duration_s)
        })?;
        v.ensure(
            raw.warmup_s.is_finite() && raw.warmup_s >= 0.0 && raw.warmup_s < raw.duration_s,
            "warmup_s",
            || {
                format!(
                    "{} must be zero or more and below duration_s = {}",
                    raw.warmup_s, raw.duration_s
                )
            },
        )?;

        check_interval(raw.report.interval_s, raw.duration_s, &v)?;

        let geo = Arc::new(load_geo(&raw.data, base, &v)?);
        let fleet = Arc::new(build_fleet(&raw, base, &v)?);
        let population = build_population(&raw.devices, &geo, &v)?;
        let workload = build_workload(&raw, &fleet, &population, &geo, &v)?;
        let latency = build_latency(&raw, &geo, &v)?;
        let service_levels = raw
            .service_levels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.parse()
                    .map_err(|e| v.error(&format!("service_levels[{i}]"), format!("{e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Scenario {
            name,
            path: None,
            seed: raw.seed,
            duration: SimDuration::from_secs_f64(raw.duration_s),
            warmup: SimDuration::from_secs_f64(raw.warmup_s),
            fleet,
            geo,
            population,
            workload,
            latency,
            report_interval: SimDuration::from_secs_f64(raw.report.interval_s),
            service_levels,
            raw,
        })
    }
}

/// Checks the interval of the time series, from the file or `--interval-s`.
fn check_interval(interval_s: f64, duration_s: f64, v: &Checker) -> Result<(), ScenarioError> {
    v.ensure(
        interval_s.is_finite() && interval_s >= 0.001,
        "report.interval_s",
        || format!("{interval_s} is not allowed; give simulated seconds per row, 0.001 or more"),
    )?;
    v.ensure(
        duration_s / interval_s <= MAX_INTERVALS,
        "report.interval_s",
        || {
            format!(
                "{interval_s} s cuts duration_s = {duration_s} into more than {MAX_INTERVALS} rows; \
                 give at least {} s",
                duration_s / MAX_INTERVALS
            )
        },
    )
}

impl Scenario {
    /// Sets the interval of the time series, as `--interval-s` does; the
    /// error names `shown` (the scenario file) and the key.
    pub fn set_report_interval(
        &mut self,
        interval_s: f64,
        shown: &str,
    ) -> Result<(), ScenarioError> {
        check_interval(
            interval_s,
            self.duration.as_secs_f64(),
            &Checker {
                path: shown,
                base: Path::new("."),
            },
        )?;
        self.report_interval = SimDuration::from_secs_f64(interval_s);
        self.raw.report.interval_s = interval_s;
        Ok(())
    }
}

/// Parses scenario TOML, turning a parse error into one line with its place.
pub fn parse_toml(text: &str, shown: &str) -> Result<RawScenario, ScenarioError> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        let message = e.message().trim().replace('\n', "; ");
        ScenarioError::Syntax {
            path: shown.to_string(),
            line,
            column,
            message,
        }
    })
}

/// Builds value errors for one scenario file.
struct Checker<'a> {
    path: &'a str,
    /// Where relative paths in the file start: the scenario file's folder.
    base: &'a Path,
}

impl Checker<'_> {
    fn error(&self, key: &str, message: String) -> ScenarioError {
        ScenarioError::Value {
            path: self.path.to_string(),
            key: key.to_string(),
            message,
        }
    }

    fn ensure(
        &self,
        ok: bool,
        key: &str,
        message: impl FnOnce() -> String,
    ) -> Result<(), ScenarioError> {
        if ok {
            Ok(())
        } else {
            Err(self.error(key, message()))
        }
    }

    fn positive(&self, key: &str, value: f64, unit: &str) -> Result<(), ScenarioError> {
        self.ensure(value.is_finite() && value > 0.0, key, || {
            format!("{value} is not allowed; give a number of {unit} above zero")
        })
    }

    fn at_least_one(&self, key: &str, value: u32, what: &str) -> Result<(), ScenarioError> {
        self.ensure(value >= 1, key, || {
            format!("{value} is not allowed; give at least one {what}")
        })
    }

    fn probability(&self, key: &str, p: f64) -> Result<(), ScenarioError> {
        self.ensure((0.0..=1.0).contains(&p), key, || {
            format!("{p} is not a probability; give a number from 0 to 1")
        })
    }

    /// `path` from the scenario file's folder, unless it is absolute.
    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    fn dist(&self, key: &str, spec: &DistSpec) -> Result<Dist, ScenarioError> {
        spec.build_in(self.base)
            .map_err(|e| self.error(key, format!("{e}")))
    }

    fn data<T>(&self, r: Result<T, geo::DataError>) -> Result<T, ScenarioError> {
        r.map_err(|source| ScenarioError::Data {
            path: self.path.to_string(),
            source,
        })
    }
}

fn read_data_file(
    path: &Path,
    base: &Path,
    key: &str,
    v: &Checker,
) -> Result<(String, String), ScenarioError> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let text = std::fs::read_to_string(&full)
        .map_err(|e| v.error(key, format!("cannot read {}: {e}", full.display())))?;
    Ok((text, full.display().to_string()))
}

fn load_geo(data: &RawData, base: &Path, v: &Checker) -> Result<GeoIp, ScenarioError> {
    let cities = match &data.cities_csv {
        None => v.data(geo::parse_cities(
            geo::builtin::CITIES_CSV,
            "built-in data/cn-cities.csv",
        ))?,
        Some(p) => {
            let (text, shown) = read_data_file(p, base, "data.cities_csv", v)?;
            v.data(geo::parse_cities(&text, &shown))?
        }
    };
    let ranges = match &data.ip_ranges_csv {
        None => v.data(geo::parse_ip_ranges(
            geo::builtin::IP_RANGES_CSV,
            "built-in data/cn-isp-ipv4.csv",
        ))?,
        Some(p) => {
            let (text, shown) = read_data_file(p, base, "data.ip_ranges_csv", v)?;
            v.data(geo::parse_ip_ranges(&text, &shown))?
        }
    };
    Ok(GeoIp::new(cities, ranges))
}

fn build_fleet(raw: &RawScenario, base: &Path, v: &Checker) -> Result<Fleet, ScenarioError> {
    let f = &raw.fleet;
    let table = match &raw.data.regions_csv {
        None => v.data(geo::parse_regions(
            geo::builtin::REGIONS_CSV,
            "built-in data/ens-regions.csv",
        ))?,
        Some(p) => {
            let (text, shown) = read_data_file(p, base, "data.regions_csv", v)?;
            v.data(geo::parse_regions(&text, &shown))?
        }
    };
    v.at_least_one(
        "fleet.nodes_per_region",
        f.nodes_per_region,
        "node per region",
    )?;
    v.ensure(
        f.instances_per_node + f.vm_instances_per_node >= 1,
        "fleet.instances_per_node",
        || {
            "a node would hold nothing; give instances_per_node (pods) or \
             vm_instances_per_node (whole instances) at least 1"
                .into()
        },
    )?;
    if let Some(limit) = f.security_group_limit {
        v.at_least_one("fleet.security_group_limit", limit, "port range")?;
    }
    v.at_least_one(
        "fleet.pods_per_instance",
        f.pods_per_instance,
        "pod per instance",
    )?;
    v.ensure(f.ports_per_pod >= 1, "fleet.ports_per_pod", || {
        "0 is not allowed; give at least one port per pod".into()
    })?;
    let first_ip: std::net::Ipv4Addr = f.first_instance_ip.parse().map_err(|_| {
        v.error(
            "fleet.first_instance_ip",
            format!(
                "{:?} is not an IPv4 address such as \"100.64.0.1\"",
                f.first_instance_ip
            ),
        )
    })?;

    for (i, o) in f.overrides.iter().enumerate() {
        let key = format!("fleet.region[{i}]");
        v.ensure(
            table.iter().any(|r| r.ens_region_id == o.id),
            &format!("{key}.id"),
            || format!("no region {:?} in the region table", o.id),
        )?;
        for (field, value) in [
            ("nodes", o.nodes),
            ("pods_per_instance", o.pods_per_instance),
        ] {
            if let Some(n) = value {
                v.at_least_one(
                    &format!("{key}.{field}"),
                    n,
                    field
                        .trim_end_matches("_per_node")
                        .trim_end_matches("_per_instance"),
                )?;
            }
        }
    }

    let chosen: Vec<&geo::RegionRecord> = match &f.regions {
        None => table
            .iter()
            .filter(|r| {
                (r.lat.is_some() && r.lon.is_some())
                    || f.overrides
                        .iter()
                        .any(|o| o.id == r.ens_region_id && o.lat.is_some())
            })
            .collect(),
        Some(ids) => {
            v.ensure(!ids.is_empty(), "fleet.regions", || {
                "the list is empty; name at least one region, or leave the key out for all".into()
            })?;
            let mut chosen = Vec::new();
            for id in ids {
                let rec = table
                    .iter()
                    .find(|r| &r.ens_region_id == id)
                    .ok_or_else(|| {
                        v.error(
                            "fleet.regions",
                            format!(
                                "no region {id:?} in the region table (see data/ens-regions.csv)"
                            ),
                        )
                    })?;
                v.ensure(
                    !chosen
                        .iter()
                        .any(|c: &&geo::RegionRecord| &c.ens_region_id == id),
                    "fleet.regions",
                    || format!("{id:?} is listed twice"),
                )?;
                chosen.push(rec);
            }
            chosen
        }
    };

    let mut layouts = Vec::with_capacity(chosen.len());
    for rec in chosen {
        let o = f.overrides.iter().find(|o| o.id == rec.ens_region_id);
        let lat = o.and_then(|o| o.lat).or(rec.lat);
        let lon = o.and_then(|o| o.lon).or(rec.lon);
        let (Some(lat), Some(lon)) = (lat, lon) else {
            return Err(v.error(
                "fleet.regions",
                format!(
                    "region {:?} has no coordinates; add [[fleet.region]] with id, lat and lon",
                    rec.ens_region_id
                ),
            ));
        };
        layouts.push(RegionLayout {
            id: rec.ens_region_id.clone(),
            lat,
            lon,
            serves: IspSet::from_token(&rec.isp_token),
            nodes: o.and_then(|o| o.nodes).unwrap_or(f.nodes_per_region),
            instances_per_node: o
                .and_then(|o| o.instances_per_node)
                .unwrap_or(f.instances_per_node),
            pods_per_instance: o
                .and_then(|o| o.pods_per_instance)
                .unwrap_or(f.pods_per_instance),
            vm_instances_per_node: o
                .and_then(|o| o.vm_instances_per_node)
                .unwrap_or(f.vm_instances_per_node),
        });
    }
    let pods: u64 = layouts
        .iter()
        .map(|l| {
            u64::from(l.nodes) * u64::from(l.instances_per_node) * u64::from(l.pods_per_instance)
        })
        .sum();
    v.ensure(pods < u64::from(u32::MAX), "fleet", || {
        format!("{pods} pods is more than ensim can number; use fewer")
    })?;
    let max_pods = layouts
        .iter()
        .map(|l| l.pods_per_instance)
        .max()
        .unwrap_or(1);
    v.ensure(
        u32::from(f.first_port) + max_pods * u32::from(f.ports_per_pod) <= 65536,
        "fleet.ports_per_pod",
        || format!("{max_pods} pods of {} ports from port {} run past port 65535; use fewer ports per pod", f.ports_per_pod, f.first_port),
    )?;
    let ports = PortLayout {
        first_instance_ip: u32::from(first_ip),
        first_port: f.first_port,
        ports_per_pod: f.ports_per_pod,
    };
    Ok(Fleet::new(&layouts, ports))
}

fn build_population(d: &RawDevices, geo: &GeoIp, v: &Checker) -> Result<Population, ScenarioError> {
    v.at_least_one("devices.count", d.count, "device")?;
    let mut ids: Vec<CityId> = match &d.cities {
        None => (0..geo.cities().len() as CityId).collect(),
        Some(names) => {
            v.ensure(!names.is_empty(), "devices.cities", || {
                "the list is empty; name at least one city, or leave the key out for all".into()
            })?;
            names
                .iter()
                .map(|n| {
                    geo.find_city(n).ok_or_else(|| {
                        v.error(
                            "devices.cities",
                            format!("no city {n:?} in the city table (see data/cn-cities.csv)"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?
        }
    };
    ids.sort_by_key(|&c| (std::cmp::Reverse(geo.cities()[c as usize].population), c));
    ids.dedup();
    if let Some(top) = d.top_cities {
        v.ensure(top >= 1, "devices.top_cities", || {
            "0 is not allowed; give at least 1".into()
        })?;
        ids.truncate(top);
    }
    let cities: Vec<(CityId, f64)> = ids
        .into_iter()
        .map(|c| (c, geo.cities()[c as usize].population as f64))
        .collect();
    v.ensure(cities.iter().any(|c| c.1 > 0.0), "devices.cities", || {
        "every chosen city has population 0".into()
    })?;
    let s = d.isp_share;
    let share = [s.telecom, s.unicom, s.cmcc];
    v.ensure(
        share.iter().all(|x| x.is_finite() && *x >= 0.0) && share.iter().sum::<f64>() > 0.0,
        "devices.isp_share",
        || "shares must be zero or more and not all zero".into(),
    )?;
    for &(city, _) in &cities {
        for isp in Isp::ALL {
            v.ensure(
                share[isp.index()] == 0.0 || geo.has_addresses(city, isp),
                "devices.isp_share",
                || {
                    format!(
                        "{isp} has no addresses in {}; set its share to 0 or choose other cities",
                        geo.cities()[city as usize].name
                    )
                },
            )?;
        }
    }
    Ok(Population {
        count: d.count,
        cities,
        isp_share: share,
    })
}

fn build_workload(
    raw: &RawScenario,
    fleet: &Fleet,
    population: &Population,
    geo: &GeoIp,
    v: &Checker,
) -> Result<Workload, ScenarioError> {
    let w = &raw.workload;
    let holding = v.dist("workload.holding", &w.holding)?;
    let strategy_regions = match &w.schedule_strategy {
        None => None,
        Some(s) => {
            v.ensure(
                s.select_level == "RegionId",
                "workload.schedule_strategy.selectLevel",
                || {
                    format!(
                        "{:?} is not a select level; use \"RegionId\"",
                        s.select_level
                    )
                },
            )?;
            v.ensure(
                !s.values.is_empty(),
                "workload.schedule_strategy.values",
                || "name at least one region".into(),
            )?;
            let ids = s
                .values
                .iter()
                .map(|id| {
                    fleet.find_region(id).ok_or_else(|| {
                        v.error(
                            "workload.schedule_strategy.values",
                            format!("{id:?} is not a region of this fleet"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(ids)
        }
    };
    let raw_classes = if w.classes.is_empty() {
        vec![RawClass::default()]
    } else {
        w.classes.clone()
    };
    v.ensure(raw_classes.len() <= 255, "workload.class", || {
        "at most 255 classes".into()
    })?;
    let classes = raw_classes
        .iter()
        .enumerate()
        .map(|(i, c)| build_class(c, &format!("workload.class[{i}]"), &w.holding, v))
        .collect::<Result<Vec<_>, _>>()?;
    v.ensure(classes.iter().any(|c| c.1 > 0.0), "workload.class", || {
        "every class has share 0; give one a share above zero".into()
    })?;
    let plan = load::build_load(raw, population, geo, &classes, v)?;
    let trace_class = plan.trace.as_ref().and_then(|t| t.class);
    let needs_instances = classes.iter().enumerate().any(|(i, (c, share))| {
        (*share > 0.0 || trace_class == Some(i as u8)) && matches!(c.flow, Flow::Vm { .. })
    });
    v.ensure(!needs_instances || raw.fleet.vm_instances_per_node > 0 || raw.fleet.overrides.iter().any(|o| o.vm_instances_per_node.unwrap_or(0) > 0), "fleet.vm_instances_per_node", || {
        "a class has the vm flow but the fleet has no whole instances; set vm_instances_per_node".into()
    })?;
    let f = &raw.faults;
    let faults = Faults {
        backend_error: f.backend_error_rate,
        call_interface: f.call_interface_rate,
    };
    v.probability("faults.backend_error_rate", faults.backend_error)?;
    v.probability("faults.call_interface_rate", faults.call_interface)?;
    Ok(Workload {
        arrival_rate_per_s: plan.mean_rate_per_s,
        load: plan.load,
        city_groups: plan.city_groups,
        trace: plan.trace,
        holding,
        strategy_regions,
        classes,
        faults,
    })
}

fn build_class(
    c: &RawClass,
    key: &str,
    holding: &DistSpec,
    v: &Checker,
) -> Result<(Class, f64), ScenarioError> {
    let k = |field: &str| format!("{key}.{field}");
    v.ensure(c.share.is_finite() && c.share >= 0.0, &k("share"), || {
        format!("{} is not allowed; give a share of zero or more", c.share)
    })?;
    v.probability(&k("repeat_share"), c.repeat_share)?;
    let flow = match c.flow {
        FlowKind::Container => Flow::Container {
            console_polls: c.console_polls,
            console_interval: v.dist(&k("console_interval"), &c.console_interval)?,
        },
        FlowKind::Vm => {
            v.probability(&k("confirm_p"), c.confirm_p)?;
            v.probability(&k("cancel_p"), c.cancel_p)?;
            v.ensure(
                c.confirm_p + c.cancel_p <= 1.0 + 1e-12,
                &k("cancel_p"),
                || {
                    format!(
                        "confirm_p + cancel_p = {} is above 1; lower one of them",
                        c.confirm_p + c.cancel_p
                    )
                },
            )?;
            v.at_least_one(&k("pre_locked_timeout_s"), c.pre_locked_timeout_s, "second")?;
            Flow::Vm {
                think: v.dist(&k("think"), &c.think)?,
                confirm_p: c.confirm_p,
                cancel_p: c.cancel_p,
                lock_timeout_s: c.pre_locked_timeout_s,
            }
        }
    };
    let m = &c.malformed;
    let malformed: Vec<(Malformed, f64)> = [
        (
            Malformed::MissingParameter,
            m.missing_parameter,
            "missing_parameter",
        ),
        (Malformed::OtherApp, m.no_permission, "no_permission"),
        (Malformed::Field(Field::ClientIp), m.client_ip, "client_ip"),
        (
            Malformed::Field(Field::ServiceAction),
            m.service_action,
            "service_action",
        ),
        (
            Malformed::Field(Field::PreLockedTimeout),
            m.pre_locked_timeout,
            "pre_locked_timeout",
        ),
        (
            Malformed::Field(Field::Directorys),
            m.directorys,
            "directorys",
        ),
        (
            Malformed::Field(Field::ServiceCommands),
            m.service_commands,
            "service_commands",
        ),
        (
            Malformed::Field(Field::ScheduleStrategy),
            m.schedule_strategy,
            "schedule_strategy",
        ),
    ]
    .into_iter()
    .map(|(kind, share, name)| {
        v.probability(&k(&format!("malformed.{name}")), share)
            .map(|_| (kind, share))
    })
    .filter(|r| r.as_ref().map_or(true, |(_, share)| *share > 0.0))
    .collect::<Result<_, _>>()?;
    let total: f64 = malformed.iter().map(|m| m.1).sum();
    v.ensure(total <= 1.0 + 1e-12, &k("malformed"), || {
        format!("the shares add up to {total}, above 1")
    })?;
    let class = Class {
        name: c.name.clone(),
        flow,
        holding: v.dist(&k("holding"), c.holding.as_ref().unwrap_or(holding))?,
        repeat_share: c.repeat_share,
        malformed,
        commands: c.commands,
        retry: c
            .retry
            .as_ref()
            .map(|r| build_retry(r, &k("retry"), v))
            .transpose()?,
    };
    Ok((class, c.share))
}

fn build_retry(r: &RawRetry, key: &str, v: &Checker) -> Result<Retry, ScenarioError> {
    let k = |field: &str| format!("{key}.{field}");
    v.ensure(
        r.base_ms.is_finite() && r.base_ms >= 0.0,
        &k("base_ms"),
        || {
            format!(
                "{} is not allowed; give milliseconds, zero or more",
                r.base_ms
            )
        },
    )?;
    v.ensure(
        r.cap_ms.is_finite() && r.cap_ms >= r.base_ms,
        &k("cap_ms"),
        || {
            format!(
                "{} is not allowed; give milliseconds, at least base_ms = {}",
                r.cap_ms, r.base_ms
            )
        },
    )?;
    let on = r
        .on
        .iter()
        .map(|name| {
            RETRYABLE
                .into_iter()
                .find(|o| o.name() == name)
                .ok_or_else(|| {
                    v.error(
                        &k("on"),
                        format!(
                            "{name:?} is not retried; name some of \"NoIdleResource\", \"ens.interface.error\", \"CallInterface\""
                        ),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Retry {
        max_retries: r.max_retries,
        base_ms: r.base_ms,
        cap_ms: r.cap_ms,
        jitter: match r.jitter {
            JitterKind::Full => Jitter::Full,
            JitterKind::Equal => Jitter::Equal,
            JitterKind::None => Jitter::None,
        },
        on,
    })
}

fn build_latency(raw: &RawScenario, geo: &GeoIp, v: &Checker) -> Result<Latency, ScenarioError> {
    let l = &raw.latency;
    let s = &raw.schedulers;
    v.ensure(s.count >= 1, "schedulers.count", || {
        "0 is not allowed; give at least one scheduler".into()
    })?;
    v.ensure(
        s.view_refresh_ms.is_finite() && s.view_refresh_ms >= 0.0,
        "schedulers.view_refresh_ms",
        || {
            format!(
                "{} is not allowed; give milliseconds between reports, or 0 for every change",
                s.view_refresh_ms
            )
        },
    )?;
    v.ensure(
        s.view_refresh_ms == 0.0 || s.view_refresh_ms >= 0.001,
        "schedulers.view_refresh_ms",
        || "below a microsecond; use 0 for every change".into(),
    )?;
    v.ensure(
        l.placement_attempts >= 1,
        "latency.placement_attempts",
        || "0 is not allowed; a request needs at least one attempt".into(),
    )?;
    v.ensure(
        l.network_per_km_ms.is_finite() && l.network_per_km_ms >= 0.0,
        "latency.network_per_km_ms",
        || {
            format!(
                "{} is not allowed; give milliseconds per km, zero or more",
                l.network_per_km_ms
            )
        },
    )?;
    v.at_least_one("latency.scheduler_workers", l.scheduler_workers, "worker")?;
    let city = geo.find_city(&l.scheduler_city).ok_or_else(|| {
        v.error(
            "latency.scheduler_city",
            format!("no city {:?} in the city table", l.scheduler_city),
        )
    })?;
    let c = &geo.cities()[city as usize];
    Ok(Latency {
        network_base: v.dist("latency.network_base", &l.network_base)?,
        network_ns_per_km: l.network_per_km_ms * 1e6,
        network_jitter: v.dist("latency.network_jitter", &l.network_jitter)?,
        scheduler_processing: v.dist("latency.scheduler_processing", &l.scheduler_processing)?,
        scheduler_workers: l.scheduler_workers,
        scheduler_at: (c.latitude, c.longitude),
        pod_activation: v.dist("latency.pod_activation", &l.pod_activation)?,
        command_time: v.dist("latency.command_time", &l.command_time)?,
        node_lock_service: v.dist("latency.node_lock_service", &l.node_lock_service)?,
        placement_attempts: l.placement_attempts,
        placement_backoff: v.dist("latency.placement_backoff", &l.placement_backoff)?,
        security_group_limit: raw.fleet.security_group_limit,
        schedulers: raw.schedulers.count,
        routing: raw.schedulers.routing,
        view_refresh: if raw.schedulers.view_refresh_ms == 0.0 {
            ViewRefresh::OnChange
        } else {
            ViewRefresh::Every(SimDuration::from_millis_f64(raw.schedulers.view_refresh_ms))
        },
    })
}
