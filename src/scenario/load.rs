//! The load keys of a scenario: how sessions arrive.
//!
//! Exactly one of three keys says it: `workload.arrival_rate_per_s` (Poisson,
//! the shorthand older scenarios use), `[workload.arrivals]` (an arrival
//! process or a closed population) or `[workload.trace]` (a trace replayed).
//! Flash crowds (`[[workload.flash]]`) and per-city multipliers
//! (`[[workload.city]]`) go with open processes.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Checker, Population, RawScenario, ScenarioError};
use crate::dist::DistSpec;
use crate::geo::GeoIp;
use crate::model::arrival::{Flash, Piece, Process, RateProfile, Spacing};
use crate::model::{Class, Flow, Load};
use crate::time::{SimDuration, SimTime};
use crate::trace::{TraceFormat, TraceSpec};

/// `[workload.arrivals]`: an open arrival process, or a closed population.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "process", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawArrivals {
    /// Poisson at a fixed rate.
    Poisson {
        /// Sessions per second.
        rate_per_s: f64,
    },
    /// Evenly spaced arrivals, exactly `1 / rate_per_s` apart.
    Constant {
        /// Sessions per second.
        rate_per_s: f64,
    },
    /// Poisson whose rate goes linearly from `from_per_s` to `to_per_s`
    /// over `ramp_s` seconds starting at `start_s`, then stays.
    Ramp {
        /// Rate before and at the start of the ramp.
        from_per_s: f64,
        /// Rate at the end of the ramp and after.
        to_per_s: f64,
        /// Length of the ramp, seconds.
        ramp_s: f64,
        /// When the ramp starts, seconds.
        #[serde(default)]
        start_s: f64,
    },
    /// Poisson whose rate changes at given instants.
    Steps {
        /// The steps, in time order; the rate is 0 before the first.
        steps: Vec<RawStep>,
    },
    /// Poisson whose rate follows the hour of the day.
    Daily {
        /// 24 rates per second, for hours 0 to 23.
        hourly_per_s: Vec<f64>,
        /// The hour of the day at simulated time zero (may be fractional).
        #[serde(default)]
        start_hour: f64,
    },
    /// A two-state Markov-modulated Poisson process.
    Mmpp {
        /// Rate in each state, per second.
        rates_per_s: [f64; 2],
        /// Mean time in each state (exponential), seconds.
        mean_stay_s: [f64; 2],
    },
    /// A closed population: `users` devices, each starting a new session a
    /// think time after its last one ended.
    Closed {
        /// Devices that take part.
        users: u32,
        /// Time from the end of a session to the next.
        think: DistSpec,
    },
}

/// One step of a `steps` process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// When the rate takes this value, seconds.
    pub at_s: f64,
    /// The rate from then on, per second.
    pub rate_per_s: f64,
}

/// `[[workload.flash]]`: a flash crowd on top of an open process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlash {
    /// Start of the crowd, seconds.
    pub at_s: f64,
    /// Extra sessions.
    pub extra: u32,
    /// They arrive at uniform instants over this many seconds.
    pub window_s: f64,
}

/// `[[workload.city]]`: a city whose arrival rate is multiplied.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCityRate {
    /// The city, as in `devices.cities`.
    pub name: String,
    /// Its sessions arrive at this many times its population share of the rate.
    pub rate_multiplier: f64,
}

fn one() -> f64 {
    1.0
}

/// `[workload.trace]`: a trace replayed as session arrivals.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    /// `azure-llm`, `azure-vm` or `csv`.
    pub format: TraceFormat,
    /// The trace file (`azure-llm`, `csv`) or folder (`azure-vm`), relative
    /// to the scenario file.
    pub path: PathBuf,
    /// Replay this many times faster than real time.
    #[serde(default = "one")]
    pub speedup: f64,
    /// Where in the trace the replay starts, seconds after its first arrival.
    #[serde(default)]
    pub window_start_s: f64,
    /// The device class every session runs (a `[[workload.class]]` name);
    /// default: the device's own, or a `csv` row's `flow`.
    pub class: Option<String>,
}

/// The checked load.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// What drives the sessions.
    pub load: Load,
    /// Mean sessions per second of the open process over the run, flash
    /// crowds included; 0 for closed and trace loads.
    pub mean_rate_per_s: f64,
    /// Per-city groups, when cities have their own rate multiplier.
    pub city_groups: Option<CityGroups>,
    /// The trace, for a trace load.
    pub trace: Option<TraceSpec>,
}

/// Cities with their own arrival stream.
#[derive(Clone, Debug)]
pub struct CityGroups {
    /// The group of each city, by city id; group 0 is every city without a
    /// multiplier.
    pub group_of_city: Vec<u16>,
    /// Each group's share of arrivals (unnormalised).
    pub weights: Vec<f64>,
}

pub(super) fn build_load(
    raw: &RawScenario,
    population: &Population,
    geo: &GeoIp,
    classes: &[(Class, f64)],
    v: &Checker,
) -> Result<LoadPlan, ScenarioError> {
    let w = &raw.workload;
    let given = [
        w.arrival_rate_per_s.is_some(),
        w.arrivals.is_some(),
        w.trace.is_some(),
    ];
    v.ensure(
        given.iter().filter(|g| **g).count() == 1,
        "workload",
        || "give exactly one of arrival_rate_per_s, [workload.arrivals] or [workload.trace]".into(),
    )?;
    let open = !matches!(w.arrivals, Some(RawArrivals::Closed { .. })) && w.trace.is_none();
    v.ensure(open || w.flash.is_empty(), "workload.flash", || {
        "flash crowds go with an open arrival process; remove them or use [workload.arrivals] with an open process".into()
    })?;
    v.ensure(open || w.cities.is_empty(), "workload.city", || {
        "city rate multipliers go with an open arrival process; remove them or use an open process"
            .into()
    })?;

    if let Some(t) = &w.trace {
        let trace = build_trace(t, raw, population, classes, v)?;
        return Ok(LoadPlan {
            load: Load::Trace,
            mean_rate_per_s: 0.0,
            city_groups: None,
            trace: Some(trace),
        });
    }
    if let Some(RawArrivals::Closed { users, think }) = &w.arrivals {
        v.at_least_one("workload.arrivals.users", *users, "user")?;
        v.ensure(
            *users <= population.count,
            "workload.arrivals.users",
            || {
                format!(
                    "{users} users but only {} devices; raise devices.count or lower users",
                    population.count
                )
            },
        )?;
        let think = v.dist("workload.arrivals.think", think)?;
        return Ok(LoadPlan {
            load: Load::Closed {
                users: *users,
                think,
            },
            mean_rate_per_s: 0.0,
            city_groups: None,
            trace: None,
        });
    }

    let process = match (&w.arrivals, w.arrival_rate_per_s) {
        (Some(a), _) => build_process(a, v)?,
        (None, Some(rate)) => {
            v.positive("workload.arrival_rate_per_s", rate, "sessions per second")?;
            self::rate(v, "workload.arrival_rate_per_s", rate)?;
            Process::Poisson {
                mean_gap: SimDuration::from_secs_f64(1.0 / rate),
            }
        }
        (None, None) => unreachable!("checked: one load key is given"),
    };
    let (process, city_groups) = match build_city_groups(&w.cities, population, geo, v)? {
        None => (process, None),
        Some(groups) => {
            let total: f64 = groups.weights.iter().sum();
            let population_share: f64 = population.cities.iter().map(|c| c.1).sum();
            (process.scaled(total / population_share), Some(groups))
        }
    };
    let flashes = w
        .flash
        .iter()
        .enumerate()
        .map(|(i, f)| build_flash(f, &format!("workload.flash[{i}]"), v))
        .collect::<Result<Vec<_>, _>>()?;
    let extra: f64 = flashes.iter().map(|f| f64::from(f.extra)).sum();
    let mean_rate_per_s = match (&process, w.arrival_rate_per_s) {
        (_, Some(rate)) => rate,
        (p, None) => (p.expected_count(raw.duration_s) + extra) / raw.duration_s,
    };
    Ok(LoadPlan {
        load: Load::Open { process, flashes },
        mean_rate_per_s,
        city_groups,
        trace: None,
    })
}

/// The highest rate of sessions a scenario may ask for: beyond it the mean
/// gap between arrivals is under 100 ns and the run could not finish.
pub const MAX_RATE_PER_S: f64 = 1e7;

fn rate(v: &Checker, key: &str, r: f64) -> Result<(), ScenarioError> {
    v.ensure(
        r.is_finite() && (0.0..=MAX_RATE_PER_S).contains(&r),
        key,
        || format!("{r} is not allowed; give sessions per second from 0 to {MAX_RATE_PER_S}"),
    )
}

fn build_process(a: &RawArrivals, v: &Checker) -> Result<Process, ScenarioError> {
    let k = |field: &str| format!("workload.arrivals.{field}");
    let profile = |pieces, period, origin, spacing| Process::Profile {
        profile: RateProfile::new(pieces, period, origin),
        spacing,
    };
    let flat = |start_s, rate| Piece {
        start_s,
        rate,
        slope: 0.0,
    };
    Ok(match a {
        RawArrivals::Poisson { rate_per_s } => {
            v.positive(&k("rate_per_s"), *rate_per_s, "sessions per second")?;
            rate(v, &k("rate_per_s"), *rate_per_s)?;
            Process::Poisson {
                mean_gap: SimDuration::from_secs_f64(1.0 / rate_per_s),
            }
        }
        RawArrivals::Constant { rate_per_s } => {
            v.positive(&k("rate_per_s"), *rate_per_s, "sessions per second")?;
            rate(v, &k("rate_per_s"), *rate_per_s)?;
            profile(vec![flat(0.0, *rate_per_s)], None, 0.0, Spacing::Even)
        }
        RawArrivals::Ramp {
            from_per_s,
            to_per_s,
            ramp_s,
            start_s,
        } => {
            rate(v, &k("from_per_s"), *from_per_s)?;
            rate(v, &k("to_per_s"), *to_per_s)?;
            v.positive(&k("ramp_s"), *ramp_s, "seconds")?;
            v.ensure(
                start_s.is_finite() && *start_s >= 0.0,
                &k("start_s"),
                || format!("{start_s} is not allowed; give seconds, zero or more"),
            )?;
            v.ensure(*from_per_s > 0.0 || *to_per_s > 0.0, &k("to_per_s"), || {
                "both rates are 0, so no session would arrive".into()
            })?;
            let mut pieces = Vec::new();
            if *start_s > 0.0 {
                pieces.push(flat(0.0, *from_per_s));
            }
            pieces.push(Piece {
                start_s: *start_s,
                rate: *from_per_s,
                slope: (to_per_s - from_per_s) / ramp_s,
            });
            pieces.push(flat(start_s + ramp_s, *to_per_s));
            profile(pieces, None, 0.0, Spacing::Poisson)
        }
        RawArrivals::Steps { steps } => {
            v.ensure(!steps.is_empty(), &k("steps"), || {
                "the list is empty; give at least one { at_s, rate_per_s }".into()
            })?;
            let mut pieces = Vec::new();
            if steps[0].at_s > 0.0 {
                pieces.push(flat(0.0, 0.0));
            }
            for (i, s) in steps.iter().enumerate() {
                let key = k(&format!("steps[{i}]"));
                rate(v, &format!("{key}.rate_per_s"), s.rate_per_s)?;
                let last = pieces.last().map_or(-1.0, |p: &Piece| p.start_s);
                v.ensure(
                    s.at_s.is_finite() && s.at_s >= 0.0 && (s.at_s > last || i == 0),
                    &format!("{key}.at_s"),
                    || {
                        format!(
                            "{} is not allowed; steps go in time order from 0 s, each later than the last",
                            s.at_s
                        )
                    },
                )?;
                pieces.push(flat(s.at_s, s.rate_per_s));
            }
            v.ensure(
                steps.iter().any(|s| s.rate_per_s > 0.0),
                &k("steps"),
                || "every step has rate 0, so no session would arrive".into(),
            )?;
            profile(pieces, None, 0.0, Spacing::Poisson)
        }
        RawArrivals::Daily {
            hourly_per_s,
            start_hour,
        } => {
            v.ensure(hourly_per_s.len() == 24, &k("hourly_per_s"), || {
                format!(
                    "{} values given; give 24, one per hour of the day from 0:00",
                    hourly_per_s.len()
                )
            })?;
            for (h, r) in hourly_per_s.iter().enumerate() {
                rate(v, &k(&format!("hourly_per_s[{h}]")), *r)?;
            }
            v.ensure(
                hourly_per_s.iter().any(|r| *r > 0.0),
                &k("hourly_per_s"),
                || "every hour has rate 0, so no session would arrive".into(),
            )?;
            v.ensure(
                start_hour.is_finite() && (0.0..24.0).contains(start_hour),
                &k("start_hour"),
                || format!("{start_hour} is not an hour of the day; give 0 to below 24"),
            )?;
            let pieces = hourly_per_s
                .iter()
                .enumerate()
                .map(|(h, r)| flat(h as f64 * 3600.0, *r))
                .collect();
            profile(
                pieces,
                Some(86_400.0),
                start_hour * 3600.0,
                Spacing::Poisson,
            )
        }
        RawArrivals::Mmpp {
            rates_per_s,
            mean_stay_s,
        } => {
            for (i, r) in rates_per_s.iter().enumerate() {
                rate(v, &k(&format!("rates_per_s[{i}]")), *r)?;
            }
            v.ensure(
                rates_per_s.iter().any(|r| *r > 0.0),
                &k("rates_per_s"),
                || "both rates are 0, so no session would arrive".into(),
            )?;
            for (i, m) in mean_stay_s.iter().enumerate() {
                v.positive(&k(&format!("mean_stay_s[{i}]")), *m, "seconds")?;
            }
            Process::Mmpp {
                rates_per_s: *rates_per_s,
                mean_stay_s: *mean_stay_s,
            }
        }
        RawArrivals::Closed { .. } => unreachable!("handled by the caller"),
    })
}

fn build_flash(f: &RawFlash, key: &str, v: &Checker) -> Result<Flash, ScenarioError> {
    v.ensure(
        f.at_s.is_finite() && f.at_s >= 0.0,
        &format!("{key}.at_s"),
        || format!("{} is not allowed; give seconds, zero or more", f.at_s),
    )?;
    v.at_least_one(&format!("{key}.extra"), f.extra, "session")?;
    v.ensure(
        f.window_s.is_finite() && f.window_s >= 0.0,
        &format!("{key}.window_s"),
        || format!("{} is not allowed; give seconds, zero or more", f.window_s),
    )?;
    Ok(Flash {
        at: SimTime::ZERO + SimDuration::from_secs_f64(f.at_s),
        extra: f.extra,
        window: SimDuration::from_secs_f64(f.window_s),
    })
}

fn build_city_groups(
    cities: &[RawCityRate],
    population: &Population,
    geo: &GeoIp,
    v: &Checker,
) -> Result<Option<CityGroups>, ScenarioError> {
    if cities.is_empty() {
        return Ok(None);
    }
    v.ensure(
        cities.len() < usize::from(u16::MAX),
        "workload.city",
        || "too many cities; give fewer than 65535".into(),
    )?;
    let mut group_of_city = vec![0u16; geo.cities().len()];
    let mut weights = vec![0.0];
    for (i, c) in cities.iter().enumerate() {
        let key = format!("workload.city[{i}]");
        let id = geo.find_city(&c.name).ok_or_else(|| {
            v.error(
                &format!("{key}.name"),
                format!("no city {:?} in the city table", c.name),
            )
        })?;
        let weight = population
            .cities
            .iter()
            .find(|p| p.0 == id)
            .map(|p| p.1)
            .ok_or_else(|| {
                v.error(
                    &format!("{key}.name"),
                    format!(
                        "{:?} is not among the cities devices live in; add it to devices.cities",
                        c.name
                    ),
                )
            })?;
        v.ensure(
            group_of_city[id as usize] == 0,
            &format!("{key}.name"),
            || format!("{:?} is listed twice", c.name),
        )?;
        v.ensure(
            c.rate_multiplier.is_finite() && c.rate_multiplier >= 0.0,
            &format!("{key}.rate_multiplier"),
            || format!("{} is not allowed; give zero or more", c.rate_multiplier),
        )?;
        group_of_city[id as usize] = weights.len() as u16;
        weights.push(weight * c.rate_multiplier);
    }
    weights[0] = population
        .cities
        .iter()
        .filter(|p| group_of_city[p.0 as usize] == 0)
        .map(|p| p.1)
        .sum();
    v.ensure(weights.iter().any(|w| *w > 0.0), "workload.city", || {
        "every city's rate is 0, so no session would arrive".into()
    })?;
    Ok(Some(CityGroups {
        group_of_city,
        weights,
    }))
}

fn build_trace(
    t: &RawTrace,
    raw: &RawScenario,
    population: &Population,
    classes: &[(Class, f64)],
    v: &Checker,
) -> Result<TraceSpec, ScenarioError> {
    v.positive("workload.trace.speedup", t.speedup, "times real time")?;
    v.ensure(
        t.window_start_s.is_finite() && t.window_start_s >= 0.0,
        "workload.trace.window_start_s",
        || {
            format!(
                "{} is not allowed; give seconds, zero or more",
                t.window_start_s
            )
        },
    )?;
    let class = match &t.class {
        None => None,
        Some(name) => {
            let i = classes
                .iter()
                .position(|c| &c.0.name == name)
                .ok_or_else(|| {
                    v.error(
                        "workload.trace.class",
                        format!("no [[workload.class]] named {name:?}"),
                    )
                })?;
            Some(i as u8)
        }
    };
    let vm_class = |i: u8| matches!(classes[i as usize].0.flow, Flow::Vm { .. });
    if t.format == TraceFormat::AzureVm {
        v.ensure(class.is_some_and(vm_class), "workload.trace.class", || {
            "an azure-vm trace drives PreSchedule, Confirm, hold, Stop: name a class with flow = \"vm\"".into()
        })?;
        v.ensure(
            t.window_start_s % crate::trace::VM_INTERVAL_S == 0.0,
            "workload.trace.window_start_s",
            || {
                format!(
                    "{} is not a multiple of {} s, the trace's interval",
                    t.window_start_s,
                    crate::trace::VM_INTERVAL_S
                )
            },
        )?;
    }
    let mut spec = TraceSpec {
        format: t.format,
        path: v.resolve(&t.path),
        speedup: t.speedup,
        window_start_s: t.window_start_s,
        window_s: raw.duration_s * t.speedup,
        class,
        class_names: classes.iter().map(|c| c.0.name.clone()).collect(),
        devices: population.count,
        sessions: 0,
    };
    spec.sessions =
        crate::trace::count(&spec).map_err(|e| v.error("workload.trace.path", e.to_string()))?;
    Ok(spec)
}
