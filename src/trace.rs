//! Trace replay: session arrivals read from a file, as a stream.
//!
//! A [`Feed`] reads its file through a `BufReader` one record at a time, only
//! when the engine needs the next arrival, so memory stays constant however
//! long the trace is (the `azure-vm` feed holds one 300-second interval's VMs
//! at a time, and its table of lifetime bins).
//!
//! Where the I/O happens: actors do none. The engine's [`Driver`] owns the
//! feed; before it delivers an event it injects every trace arrival due by
//! then into the event queue as a [`Msg::TraceArrival`] for the session
//! source, which starts the session as it would any other. The source thus
//! stays a pure state machine (the same under every engine), and the only
//! reader of the file is the engine loop, which already owns the run's
//! outside world. The cost is one comparison per event.
//!
//! Formats ([`TraceFormat`]):
//!
//! - `azure-llm`: the Azure LLM inference trace 2023 (`TIMESTAMP,ContextTokens,
//!   GeneratedTokens`). Each row is one session arrival at its offset from the
//!   first row; the class's holding time applies.
//! - `azure-vm`: the Azure VM trace 2017 in the compact form of
//!   `data/azure-vm-2017/` (see its README). Each VM is a session of a `vm`
//!   class: `PreSchedule`, `Confirm`, hold for its lifetime, `Stop`. A VM's
//!   interval gives its arrival to within 300 s: each batch (the VMs one
//!   tenant created together) arrives at one instant drawn uniformly in the
//!   interval, its VMs in file order. A lifetime bin `k` gives a range; the
//!   holding time is drawn uniformly in it. A censored VM (`C<k>`) holds its
//!   instance to the end of the run. The draws come from the run's `Trace`
//!   random stream, so a seed gives the same replay.
//! - `csv`: `offset_ms,device,flow,holding_ms,client_ip`, one session per row
//!   in time order; every column but the first may be empty (any idle device,
//!   the device's class, the class's holding time, the device's address).
//!
//! A replay covers the window from `window_start_s` after the trace's first
//! arrival, as long as the run (`duration_s`) times `speedup`; offsets are
//! divided by `speedup`, and so are `azure-vm` lifetimes. An `azure-vm`
//! window holds the intervals that lie wholly inside it.
//!
//! [`Driver`]: crate::engine::Driver
//! [`Msg::TraceArrival`]: crate::model::Msg::TraceArrival

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rand::RngExt;
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::api::DeviceId;
use crate::model::SessionSpec;
use crate::time::{SimDuration, SimTime};

/// Seconds covered by one line of the `azure-vm` trace.
pub const VM_INTERVAL_S: f64 = 300.0;

/// The file of VM lifetimes inside an `azure-vm` folder.
pub const VM_LIFETIMES: &str = "v1.test.c2591400.txt";

/// The file of lifetime bins inside an `azure-vm` folder.
pub const VM_BINS: &str = "v1.interval_map.txt";

/// The kinds of trace file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// Azure LLM inference trace 2023.
    AzureLlm,
    /// Azure VM trace 2017, compact form.
    AzureVm,
    /// `offset_ms,device,flow,holding_ms,client_ip`.
    Csv,
}

/// A checked trace replay.
#[derive(Clone, Debug)]
pub struct TraceSpec {
    /// The format.
    pub format: TraceFormat,
    /// The file, or the folder of an `azure-vm` trace.
    pub path: PathBuf,
    /// Replay speed over real time.
    pub speedup: f64,
    /// Start of the window, seconds of trace time after its first arrival.
    pub window_start_s: f64,
    /// Length of the window, seconds of trace time.
    pub window_s: f64,
    /// The class every session runs, if one is fixed.
    pub class: Option<u8>,
    /// Class names, by index, for a `csv` trace's `flow` column.
    pub class_names: Vec<String>,
    /// Devices in the run, for a `csv` trace's `device` column.
    pub devices: u32,
    /// Sessions in the window, counted when the scenario was checked.
    pub sessions: u64,
}

/// A trace that cannot be read; the message names the file and line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TraceError(String);

/// One session arrival of a trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceArrival {
    /// When, in simulated time.
    pub at: SimTime,
    /// The device the trace names, if any.
    pub device: Option<DeviceId>,
    /// What the trace fixes about the session.
    pub spec: SessionSpec,
}

/// A source of trace arrivals in time order.
pub trait Feed {
    /// The next arrival in the window, or `None` at its end.
    fn next_arrival(&mut self) -> Result<Option<TraceArrival>, TraceError>;
}

/// Opens the feed of `spec`, drawing from `rng` where the trace leaves a
/// choice.
pub fn open(spec: &TraceSpec, rng: Pcg64Mcg) -> Result<Box<dyn Feed>, TraceError> {
    Ok(match spec.format {
        TraceFormat::AzureLlm => Box::new(LlmFeed::open(spec)?),
        TraceFormat::AzureVm => Box::new(VmFeed::open(spec, rng)?),
        TraceFormat::Csv => Box::new(CsvFeed::open(spec)?),
    })
}

/// Reads the whole window once, checking every record, and counts the
/// sessions in it.
pub fn count(spec: &TraceSpec) -> Result<u64, TraceError> {
    use rand::SeedableRng;
    let mut feed = open(spec, Pcg64Mcg::seed_from_u64(0))?;
    let mut n = 0;
    while feed.next_arrival()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Lines of a file, numbered from 1, read one at a time.
struct Lines {
    reader: BufReader<File>,
    shown: String,
    line: String,
    number: usize,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, TraceError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| TraceError(format!("cannot read {shown}: {e}")))?;
        Ok(Lines {
            reader: BufReader::new(file),
            shown,
            line: String::new(),
            number: 0,
        })
    }

    /// Reads the next line; false at the end of the file.
    fn advance(&mut self) -> Result<bool, TraceError> {
        self.line.clear();
        let n = self
            .reader
            .read_line(&mut self.line)
            .map_err(|e| TraceError(format!("cannot read {}: {e}", self.shown)))?;
        if n == 0 {
            return Ok(false);
        }
        self.number += 1;
        Ok(true)
    }

    /// Reads the next line that is not blank; false at the end of the file.
    fn advance_past_blanks(&mut self) -> Result<bool, TraceError> {
        while self.advance()? {
            if !self.text().trim().is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The line read last, without its end.
    fn text(&self) -> &str {
        self.line.trim_end_matches(['\n', '\r'])
    }

    fn error(&self, message: impl std::fmt::Display) -> TraceError {
        TraceError(format!("{}:{}: {message}", self.shown, self.number))
    }
}

/// The window of a replay, in nanoseconds of trace time after its first
/// arrival, and how to map trace time to simulated time.
#[derive(Clone, Copy, Debug)]
struct Window {
    start_ns: u64,
    end_ns: u64,
    speedup: f64,
}

impl Window {
    fn of(spec: &TraceSpec) -> Window {
        let ns = |s: f64| SimDuration::from_secs_f64(s).as_nanos();
        Window {
            start_ns: ns(spec.window_start_s),
            end_ns: ns(spec.window_start_s + spec.window_s),
            speedup: spec.speedup,
        }
    }

    /// Simulated time of trace offset `offset_ns` (inside the window).
    fn sim_time(&self, offset_ns: u64) -> SimTime {
        SimTime::ZERO + self.scaled(offset_ns - self.start_ns)
    }

    /// A span of trace time as simulated time.
    fn scaled(&self, ns: u64) -> SimDuration {
        if self.speedup == 1.0 {
            SimDuration::from_nanos(ns)
        } else {
            SimDuration::from_nanos((ns as f64 / self.speedup).round() as u64)
        }
    }
}

/// Nanoseconds since 1970-01-01 of `YYYY-MM-DD HH:MM:SS[.fraction]`.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let (date, time) = text.trim().split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|x| x.parse::<u64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_ns = if frac.is_empty() {
        0
    } else {
        frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32)
    };
    let days = u64::try_from(days_from_civil(y, m, day)).ok()?;
    Some(((days * 86_400 + h * 3600 + min * 60 + s) * 1_000_000_000) + frac_ns)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The `azure-llm` feed: one session per row.
struct LlmFeed {
    lines: Lines,
    window: Window,
    class: Option<u8>,
    first_ns: Option<u64>,
    last_ns: u64,
}

impl LlmFeed {
    fn open(spec: &TraceSpec) -> Result<LlmFeed, TraceError> {
        let mut lines = Lines::open(&spec.path)?;
        lines.advance()?;
        let header = lines.text().to_string();
        if !header.starts_with("TIMESTAMP") {
            return Err(lines.error(format!(
                "the header is {header:?}; an azure-llm trace starts with TIMESTAMP,ContextTokens,GeneratedTokens"
            )));
        }
        Ok(LlmFeed {
            lines,
            window: Window::of(spec),
            class: spec.class,
            first_ns: None,
            last_ns: 0,
        })
    }
}

impl Feed for LlmFeed {
    fn next_arrival(&mut self) -> Result<Option<TraceArrival>, TraceError> {
        loop {
            if !self.lines.advance_past_blanks()? {
                return Ok(None);
            }
            let line = self.lines.text();
            let stamp = line.split(',').next().unwrap_or_default();
            let Some(ns) = parse_timestamp(stamp) else {
                return Err(self.lines.error(format!(
                    "{stamp:?} is not a timestamp like 2023-11-16 18:15:46.6805900"
                )));
            };
            if ns < self.last_ns {
                return Err(self.lines.error("the rows are not in time order"));
            }
            self.last_ns = ns;
            let offset = ns - *self.first_ns.get_or_insert(ns);
            if offset < self.window.start_ns {
                continue;
            }
            if offset > self.window.end_ns {
                return Ok(None);
            }
            return Ok(Some(TraceArrival {
                at: self.window.sim_time(offset),
                device: None,
                spec: SessionSpec {
                    class: self.class,
                    ..SessionSpec::default()
                },
            }));
        }
    }
}

/// A VM's lifetime as the trace gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifetime {
    /// Ended with a lifetime in this bin.
    Ended(u16),
    /// Still running at the end of the trace.
    Censored,
}

/// The `azure-vm` feed: each VM of each interval in the window.
struct VmFeed {
    lines: Lines,
    window: Window,
    class: Option<u8>,
    rng: Pcg64Mcg,
    /// Bin `k` spans `bins[k] .. bins[k + 1]` seconds.
    bins: Vec<u64>,
    first_s: Option<u64>,
    /// The current interval's VMs: (arrival offset in ns, lifetime), sorted,
    /// consumed from the back.
    pending: Vec<(u64, Lifetime)>,
}

impl VmFeed {
    fn open(spec: &TraceSpec, rng: Pcg64Mcg) -> Result<VmFeed, TraceError> {
        Ok(VmFeed {
            lines: Lines::open(&spec.path.join(VM_LIFETIMES))?,
            window: Window::of(spec),
            class: spec.class,
            rng,
            bins: read_bins(&spec.path.join(VM_BINS))?,
            first_s: None,
            pending: Vec::new(),
        })
    }

    /// Reads intervals until one in the window has VMs; false at the end.
    fn refill(&mut self) -> Result<bool, TraceError> {
        let interval_ns = SimDuration::from_secs_f64(VM_INTERVAL_S).as_nanos();
        loop {
            if !self.lines.advance_past_blanks()? {
                return Ok(false);
            }
            let line = self.lines.text();
            let (start, vms) = line.split_once(' ').unwrap_or((line, ""));
            let start: u64 = start.trim().parse().map_err(|_| {
                self.lines
                    .error(format!("{start:?} is not the interval's start second"))
            })?;
            let offset = (start - *self.first_s.get_or_insert(start)) * 1_000_000_000;
            if offset < self.window.start_ns {
                continue;
            }
            if offset + interval_ns > self.window.end_ns {
                return Ok(false);
            }
            let batches = parse_batches(vms, self.bins.len()).map_err(|e| self.lines.error(e))?;
            self.pending.clear();
            for batch in batches {
                let at = offset + self.rng.random_range(0..interval_ns);
                self.pending.extend(batch.into_iter().map(|l| (at, l)));
            }
            // Stable: a batch's VMs stay in file order; consumed from the back.
            self.pending.sort_by_key(|p| p.0);
            self.pending.reverse();
            if !self.pending.is_empty() {
                return Ok(true);
            }
        }
    }

    fn holding(&mut self, lifetime: Lifetime) -> SimDuration {
        match lifetime {
            Lifetime::Censored => SimDuration::from_nanos(u64::MAX),
            Lifetime::Ended(k) => {
                let (lo, hi) = (self.bins[k as usize], self.bins[k as usize + 1]);
                let ns = self
                    .rng
                    .random_range(lo * 1_000_000_000..hi * 1_000_000_000);
                self.window.scaled(ns)
            }
        }
    }
}

impl Feed for VmFeed {
    fn next_arrival(&mut self) -> Result<Option<TraceArrival>, TraceError> {
        if self.pending.is_empty() && !self.refill()? {
            return Ok(None);
        }
        let (at, lifetime) = self.pending.pop().expect("refilled");
        let holding = self.holding(lifetime);
        Ok(Some(TraceArrival {
            at: self.window.sim_time(at),
            device: None,
            spec: SessionSpec {
                class: self.class,
                holding: Some(holding),
                client_ip: None,
                turn: 0,
            },
        }))
    }
}

/// The VMs of one interval line, by batch: `U<k>` or `C<k>` entries
/// separated by commas, batches separated by `|` entries.
fn parse_batches(vms: &str, bins: usize) -> Result<Vec<Vec<Lifetime>>, String> {
    let mut batches = vec![Vec::new()];
    for entry in vms.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "|" {
            batches.push(Vec::new());
            continue;
        }
        let (kind, bin) = entry.split_at(1);
        let k: u16 = bin
            .parse()
            .ok()
            .filter(|&k: &u16| usize::from(k) + 1 < bins)
            .ok_or_else(|| format!("{entry:?} names no lifetime bin of the bin table"))?;
        batches
            .last_mut()
            .expect("one batch at least")
            .push(match kind {
                "U" => Lifetime::Ended(k),
                "C" => Lifetime::Censored,
                _ => return Err(format!("{entry:?} is neither U<bin> nor C<bin>")),
            });
    }
    batches.retain(|b| !b.is_empty());
    Ok(batches)
}

/// Reads the bin table (`<lifetime seconds> <bin>` per line) into the
/// first second of each bin, plus the end of the last.
fn read_bins(path: &Path) -> Result<Vec<u64>, TraceError> {
    let mut lines = Lines::open(path)?;
    let mut starts: Vec<u64> = Vec::new();
    let mut last_s = 0;
    while lines.advance()? {
        let line = lines.text();
        if line.trim().is_empty() {
            continue;
        }
        let mut f = line.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(secs)), Some(Ok(bin))) = (f.next(), f.next()) else {
            return Err(lines.error(format!("{line:?} is not `<seconds> <bin>`")));
        };
        if bin as usize == starts.len() {
            starts.push(secs);
        } else if bin as usize + 1 != starts.len() || secs < last_s {
            return Err(lines.error("bins must be numbered from 0 in order of seconds"));
        }
        last_s = secs;
    }
    if starts.is_empty() {
        return Err(lines.error("the bin table is empty"));
    }
    // The last bin ends one step (300 s) after its last listed second.
    starts.push(last_s + VM_INTERVAL_S as u64);
    Ok(starts)
}

/// The `csv` feed: `offset_ms,device,flow,holding_ms,client_ip`.
struct CsvFeed {
    lines: Lines,
    window: Window,
    class: Option<u8>,
    class_names: Vec<String>,
    devices: u32,
    last_ns: u64,
}

/// The header of a `csv` trace.
pub const CSV_HEADER: &str = "offset_ms,device,flow,holding_ms,client_ip";

impl CsvFeed {
    fn open(spec: &TraceSpec) -> Result<CsvFeed, TraceError> {
        let mut lines = Lines::open(&spec.path)?;
        lines.advance()?;
        let header = lines.text().to_string();
        let columns: Vec<&str> = header.split(',').map(str::trim).collect();
        let expected: Vec<&str> = CSV_HEADER.split(',').collect();
        if columns.len() < 4 || columns[..] != expected[..columns.len().min(5)] {
            return Err(lines.error(format!(
                "the header is {header:?}; a csv trace starts with {CSV_HEADER} (client_ip may be left out)"
            )));
        }
        Ok(CsvFeed {
            lines,
            window: Window::of(spec),
            class: spec.class,
            class_names: spec.class_names.clone(),
            devices: spec.devices,
            last_ns: 0,
        })
    }

    fn parse(&self, line: &str) -> Result<(u64, TraceArrival), String> {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if !(4..=5).contains(&f.len()) {
            return Err(format!(
                "{} fields; a row is {CSV_HEADER} (client_ip may be left out)",
                f.len()
            ));
        }
        let offset_ms: f64 = f[0]
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("offset_ms {:?} is not milliseconds, zero or more", f[0]))?;
        let device = match f[1] {
            "" => None,
            d => Some(
                d.parse::<DeviceId>()
                    .ok()
                    .filter(|&d| d < self.devices)
                    .ok_or_else(|| {
                        format!(
                            "device {d:?} is not a device number from 0 to {} (devices.count - 1), or empty",
                            self.devices - 1
                        )
                    })?,
            ),
        };
        let class = match f[2] {
            "" => self.class,
            name => Some(
                self.class_names
                    .iter()
                    .position(|c| c == name)
                    .ok_or_else(|| format!("flow {name:?} is no [[workload.class]] name"))?
                    as u8,
            ),
        };
        let holding = match f[3] {
            "" => None,
            h => Some(
                h.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(|ms| {
                        self.window
                            .scaled(SimDuration::from_millis_f64(ms).as_nanos())
                    })
                    .ok_or_else(|| format!("holding_ms {h:?} is not milliseconds, zero or more"))?,
            ),
        };
        let client_ip = match f.get(4).copied().unwrap_or("") {
            "" => None,
            ip => Some(u32::from(
                ip.parse::<std::net::Ipv4Addr>()
                    .map_err(|_| format!("client_ip {ip:?} is not an IPv4 address"))?,
            )),
        };
        let offset_ns = SimDuration::from_millis_f64(offset_ms).as_nanos();
        let arrival = TraceArrival {
            at: SimTime::ZERO,
            device,
            spec: SessionSpec {
                class,
                holding,
                client_ip,
                turn: 0,
            },
        };
        Ok((offset_ns, arrival))
    }
}

impl Feed for CsvFeed {
    fn next_arrival(&mut self) -> Result<Option<TraceArrival>, TraceError> {
        loop {
            if !self.lines.advance_past_blanks()? {
                return Ok(None);
            }
            let line = self.lines.text();
            let line = line.to_string();
            let (offset, mut arrival) = self.parse(&line).map_err(|e| self.lines.error(e))?;
            if offset < self.last_ns {
                return Err(self
                    .lines
                    .error("offset_ms goes back in time; sort the rows by offset_ms"));
            }
            self.last_ns = offset;
            if offset < self.window.start_ns {
                continue;
            }
            if offset > self.window.end_ns {
                return Ok(None);
            }
            arrival.at = self.window.sim_time(offset);
            return Ok(Some(arrival));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_to_nanoseconds_since_the_epoch() {
        let a = parse_timestamp("2023-11-16 18:15:46.6805900").unwrap();
        let b = parse_timestamp("2023-11-16 18:15:50.9951690").unwrap();
        assert_eq!(b - a, 4_314_579_000);
        assert_eq!(
            parse_timestamp("1970-01-02 00:00:00"),
            Some(86_400_000_000_000)
        );
        assert_eq!(
            parse_timestamp("2024-03-01 00:00:00").unwrap()
                - parse_timestamp("2024-02-28 00:00:00").unwrap(),
            2 * 86_400_000_000_000
        );
        assert_eq!(parse_timestamp("2023-13-01 00:00:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn vm_entries_group_into_batches() {
        let b = parse_batches("U3,U3,|,C40,|,U0,", 46).unwrap();
        assert_eq!(
            b,
            vec![
                vec![Lifetime::Ended(3), Lifetime::Ended(3)],
                vec![Lifetime::Censored],
                vec![Lifetime::Ended(0)]
            ]
        );
        assert!(parse_batches("X3", 46).is_err());
        assert!(parse_batches("U46", 46).is_err());
    }
}
