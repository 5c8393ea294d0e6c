//! `ensim call`: the API as JSON, answered by the simulated scheduler.
//!
//! Each input line is one request: a JSON object with the API's parameter
//! names, plus an optional `AtMs`, the virtual time in milliseconds at which
//! it is sent (a line without one is sent when the previous answer arrived).
//! The API front here checks the parameters as the reference describes; a
//! request it finds malformed still goes to the scheduler, marked with the
//! error, so that it gets a `RequestId` and costs processing time as it would
//! in a real deployment. The scheduler, the nodes and the clock are the same
//! ones the simulation uses: `ensim call` runs the plain engine one request
//! at a time and stops at each answer.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::api::{
    Action, AppId, DEFAULT_LOCK_TIMEOUT_S, Detail, DeviceId, Field, Outcome, Reply, Request,
    Strategy, request_id_string,
};
use crate::engine::{Driver, World};
use crate::fleet::{Fleet, RegionId};
use crate::metrics::Recorder;
use crate::model::{Addr, Ctx, Env, Msg};
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};

/// Longest `AppId`, `Uuid` and `PodConfigName` accepted, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Most `ServiceCommands` commands in one request.
pub const MAX_COMMANDS: usize = 64;
/// Latest `AtMs`, milliseconds (a year of virtual time).
pub const MAX_AT_MS: f64 = 365.0 * 86_400_000.0;
/// Longest `PreLockedTimeout`, seconds (a day).
pub const MAX_LOCK_TIMEOUT_S: u64 = 86_400;

/// The device id used for a request whose `Uuid` could not be read.
const ANONYMOUS: DeviceId = DeviceId::MAX;

const KNOWN: [&str; 10] = [
    "AppId",
    "Uuid",
    "ClientIp",
    "ServiceAction",
    "PodConfigName",
    "PreLockedTimeout",
    "Directorys",
    "ServiceCommands",
    "ScheduleStrategy",
    "AtMs",
];

/// A successful answer, with the reference's field names and nesting.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Placement {
    /// Unique per request.
    pub request_id: String,
    /// `"true"` or `"false"`; absent for `Console`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_repeated: Option<&'static str>,
    /// The pod's index on its instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The instance's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_ip: Option<String>,
    /// First port of the placement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_port: Option<u16>,
    /// The port range, `from-to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_ports: Option<String>,
    /// One result per command run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_results: Option<CommandResults>,
}

/// `CommandResults`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommandResults {
    /// `CommandResult[]`.
    #[serde(rename = "CommandResult")]
    pub command_result: Vec<CommandResult>,
}

/// One `CommandResult`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommandResult {
    /// The command as sent.
    pub command: String,
    /// Its container, or empty.
    pub container_name: String,
    /// What it printed.
    pub result_msg: String,
}

/// An error answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiError {
    /// The error code, such as `InvalidParameter.Directorys`.
    pub code: &'static str,
    /// What is wrong, naming the field or the reason.
    pub message: String,
    /// Unique per request.
    pub request_id: String,
    /// 400.
    pub http_status: u16,
}

/// One answer line.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// The request was carried out.
    Placement(Placement),
    /// It was not.
    Error(ApiError),
}

/// A request as the API front accepted it.
struct Checked {
    app: String,
    uuid: String,
    client_ip: u32,
    action: Action,
    lock_timeout_s: u32,
    commands: Vec<(String, String)>,
    strategy: Option<Vec<RegionId>>,
}

type Rejection = (Outcome, String);

fn invalid(field: Field, why: impl Into<String>) -> Rejection {
    (
        Outcome::InvalidField(field),
        format!("{}: {}", field.name(), why.into()),
    )
}

/// A JSON-valued parameter, sent either as JSON or as a string holding JSON.
fn json_param(v: &Value, field: Field) -> Result<Value, Rejection> {
    match v {
        Value::String(s) => {
            serde_json::from_str(s).map_err(|e| invalid(field, format!("is not valid JSON: {e}")))
        }
        other => Ok(other.clone()),
    }
}

fn text_param(
    obj: &Map<String, Value>,
    field: Field,
    limit: usize,
) -> Result<Option<&str>, Rejection> {
    match obj.get(field.name()) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > limit => Err(invalid(
            field,
            format!(
                "is {} characters long; at most {limit} are allowed",
                s.chars().count()
            ),
        )),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(invalid(field, format!("must be a string, not {other}"))),
    }
}

fn required(obj: &Map<String, Value>, field: Field, limit: usize) -> Result<&str, Rejection> {
    match text_param(obj, field, limit)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err((
            Outcome::MissingParameter,
            format!("{} is required and was absent or empty", field.name()),
        )),
    }
}

fn check_directories(v: &Value) -> Result<(), Rejection> {
    let value = json_param(v, Field::Directorys)?;
    let Value::Array(paths) = value else {
        return Err(invalid(
            Field::Directorys,
            "must be a JSON array of absolute paths",
        ));
    };
    for p in &paths {
        let Value::String(p) = p else {
            return Err(invalid(Field::Directorys, format!("{p} is not a string")));
        };
        if !p.starts_with('/') {
            return Err(invalid(
                Field::Directorys,
                format!("{p:?} is not an absolute path"),
            ));
        }
        if p.contains("/../") || p.ends_with("/..") {
            return Err(invalid(
                Field::Directorys,
                format!("{p:?} leaves its directory with \"..\""),
            ));
        }
    }
    Ok(())
}

fn check_commands(v: &Value) -> Result<Vec<(String, String)>, Rejection> {
    let value = json_param(v, Field::ServiceCommands)?;
    let Value::Array(groups) = value else {
        return Err(invalid(
            Field::ServiceCommands,
            "must be a JSON array of {containerName?, commands[]}",
        ));
    };
    let mut commands = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let Value::Object(g) = g else {
            return Err(invalid(
                Field::ServiceCommands,
                format!("entry {i} is not an object"),
            ));
        };
        if let Some(k) = g.keys().find(|k| *k != "containerName" && *k != "commands") {
            return Err(invalid(
                Field::ServiceCommands,
                format!("entry {i} has unknown key {k:?}"),
            ));
        }
        let container = match g.get("containerName") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(invalid(
                    Field::ServiceCommands,
                    format!("entry {i}: containerName must be a string"),
                ));
            }
        };
        let Some(Value::Array(list)) = g.get("commands") else {
            return Err(invalid(
                Field::ServiceCommands,
                format!("entry {i} needs a commands array"),
            ));
        };
        for c in list {
            let Value::String(c) = c else {
                return Err(invalid(
                    Field::ServiceCommands,
                    format!("entry {i}: {c} is not a string"),
                ));
            };
            commands.push((container.clone(), c.clone()));
        }
    }
    if commands.len() > MAX_COMMANDS {
        return Err(invalid(
            Field::ServiceCommands,
            format!(
                "{} commands; at most {MAX_COMMANDS} are allowed",
                commands.len()
            ),
        ));
    }
    Ok(commands)
}

fn check_strategy(v: &Value, fleet: &Fleet) -> Result<Vec<RegionId>, Rejection> {
    let value = json_param(v, Field::ScheduleStrategy)?;
    let Value::Object(s) = value else {
        return Err(invalid(
            Field::ScheduleStrategy,
            "must be a JSON object {\"selectLevel\": \"RegionId\", \"values\": [...]}",
        ));
    };
    match s.get("selectLevel") {
        Some(Value::String(level)) if level == "RegionId" => {}
        Some(other) => {
            return Err(invalid(
                Field::ScheduleStrategy,
                format!("selectLevel {other} is not supported; use \"RegionId\""),
            ));
        }
        None => return Err(invalid(Field::ScheduleStrategy, "selectLevel is missing")),
    }
    let Some(Value::Array(values)) = s.get("values") else {
        return Err(invalid(
            Field::ScheduleStrategy,
            "values must be an array of region ids",
        ));
    };
    if values.is_empty() {
        return Err(invalid(
            Field::ScheduleStrategy,
            "values is empty; name at least one region",
        ));
    }
    values
        .iter()
        .map(|v| match v {
            Value::String(id) => fleet.find_region(id).ok_or_else(|| {
                invalid(
                    Field::ScheduleStrategy,
                    format!("{id:?} is not a region of this fleet"),
                )
            }),
            other => Err(invalid(
                Field::ScheduleStrategy,
                format!("{other} is not a region id"),
            )),
        })
        .collect()
}

fn check_timeout(v: &Value) -> Result<u32, Rejection> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (1..=MAX_LOCK_TIMEOUT_S).contains(&n) => Ok(n as u32),
        _ => Err(invalid(
            Field::PreLockedTimeout,
            format!("{v} is not a whole number of seconds from 1 to {MAX_LOCK_TIMEOUT_S}"),
        )),
    }
}

/// The API front: checks a request object.
fn check(obj: &Map<String, Value>, fleet: &Fleet) -> Result<Checked, Rejection> {
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err((
            Outcome::InvalidParameter,
            format!(
                "unknown parameter {k:?}; the parameters are {}",
                KNOWN[..9].join(", ")
            ),
        ));
    }
    let app = required(obj, Field::AppId, MAX_ID_CHARS)?;
    let uuid = required(obj, Field::Uuid, MAX_ID_CHARS)?;
    let ip = required(obj, Field::ClientIp, 64)?;
    let action = required(obj, Field::ServiceAction, 64)?;
    let client_ip: std::net::Ipv4Addr = ip
        .trim()
        .parse()
        .map_err(|_| invalid(Field::ClientIp, format!("{ip:?} is not an IPv4 address")))?;
    let action = Action::parse(action).ok_or_else(|| {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        invalid(
            Field::ServiceAction,
            format!("{action:?} is not one of {}", names.join(", ")),
        )
    })?;
    text_param(obj, Field::PodConfigName, MAX_ID_CHARS)?;
    let lock_timeout_s = obj
        .get("PreLockedTimeout")
        .filter(|v| !v.is_null())
        .map(check_timeout)
        .transpose()?;
    if let Some(v) = obj.get("Directorys").filter(|v| !v.is_null()) {
        check_directories(v)?;
    }
    let commands = obj
        .get("ServiceCommands")
        .filter(|v| !v.is_null())
        .map(check_commands)
        .transpose()?;
    let strategy = obj
        .get("ScheduleStrategy")
        .filter(|v| !v.is_null())
        .map(|v| check_strategy(v, fleet))
        .transpose()?;
    Ok(Checked {
        app: app.to_string(),
        uuid: uuid.to_string(),
        client_ip: u32::from(client_ip),
        action,
        lock_timeout_s: lock_timeout_s.unwrap_or(DEFAULT_LOCK_TIMEOUT_S),
        commands: commands.unwrap_or_default(),
        strategy,
    })
}

fn at_ms(obj: &Map<String, Value>) -> Result<Option<SimTime>, Rejection> {
    match obj.get("AtMs") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|ms| (0.0..=MAX_AT_MS).contains(&ms)) => {
            Ok(Some(
                SimTime::ZERO + SimDuration::from_millis_f64(n.as_f64().unwrap_or(0.0)),
            ))
        }
        Some(other) => Err((
            Outcome::InvalidParameter,
            format!("AtMs: {other} is not a number of milliseconds from 0 to {MAX_AT_MS} (a year)"),
        )),
    }
}

/// The scheduler, nodes and clock of a scenario, answering requests one at a
/// time.
pub struct CallSession {
    env: Env,
    world: World,
    driver: Driver,
    apps: HashMap<String, AppId>,
    devices: HashMap<String, DeviceId>,
    strategies: HashMap<Vec<RegionId>, u16>,
}

impl CallSession {
    /// A session on the fleet of `scenario`, at time zero, with no device
    /// known yet.
    pub fn new(scenario: &Scenario) -> CallSession {
        let (world, env) = World::build_without_devices(scenario);
        let recorder = Recorder::new(&scenario.fleet, SimDuration::ZERO);
        let driver = Driver::new(
            recorder,
            SimTime::from_nanos(u64::MAX),
            &world.starters(false),
        );
        CallSession {
            env,
            world,
            driver,
            apps: HashMap::new(),
            devices: HashMap::new(),
            strategies: HashMap::new(),
        }
    }

    /// The virtual time of the last answer.
    pub fn now(&self) -> SimTime {
        self.driver.now()
    }

    /// Answers one input line.
    pub fn answer_line(&mut self, line: &str) -> Answer {
        let parsed = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(obj)) => Ok(obj),
            Ok(other) => Err((
                Outcome::InvalidParameter,
                format!("the request must be a JSON object, not {other}"),
            )),
            Err(e) => Err((
                Outcome::InvalidParameter,
                format!("the request is not valid JSON: {e}"),
            )),
        };
        let at = parsed
            .as_ref()
            .ok()
            .map(at_ms)
            .transpose()
            .map(Option::flatten);
        let checked = parsed.and_then(|obj| check(&obj, &self.env.fleet));
        match (checked, at) {
            (_, Err(rejection)) => self.reject(rejection, None),
            (Err(rejection), Ok(at)) => self.reject(rejection, at),
            (Ok(c), Ok(at)) => self.send(c, at),
        }
    }

    fn reject(&mut self, (outcome, message): Rejection, at: Option<SimTime>) -> Answer {
        let mut request = Request::new(0, ANONYMOUS, 0, Action::Console, SimTime::ZERO);
        request.rejected = Some(outcome);
        match self.exchange(request, at) {
            Some(reply) => Answer::Error(ApiError {
                code: outcome.name(),
                message,
                request_id: request_id_string(reply.request_id),
                http_status: outcome.http_status(),
            }),
            None => self.lost(),
        }
    }

    fn lost(&self) -> Answer {
        Answer::Error(ApiError {
            code: Outcome::CallInterface.name(),
            message: "the scheduler did not answer".into(),
            request_id: String::new(),
            http_status: 400,
        })
    }

    fn send(&mut self, c: Checked, at: Option<SimTime>) -> Answer {
        let next_app = self.apps.len() as AppId + 1;
        let app = *self.apps.entry(c.app).or_insert(next_app);
        let next_device = self.devices.len() as DeviceId;
        let device = *self.devices.entry(c.uuid).or_insert(next_device);
        let mut request = Request::new(app, device, c.client_ip, c.action, SimTime::ZERO);
        request.lock_timeout_s = c.lock_timeout_s;
        request.commands = c.commands.len() as u16;
        request.strategy = c.strategy.map(|regions| self.strategy_index(regions));
        let Some(reply) = self.exchange(request, at) else {
            return self.lost();
        };
        render(&reply, &c.commands, &self.env.fleet)
    }

    fn strategy_index(&mut self, regions: Vec<RegionId>) -> u16 {
        let next = self.env.strategies.len() as u16;
        *self.strategies.entry(regions.clone()).or_insert_with(|| {
            self.env.strategies.push(Strategy { regions });
            next
        })
    }

    /// Sends `request` at `at` (or now) and runs the simulation until its
    /// answer reaches the device.
    fn exchange(&mut self, mut request: Request, at: Option<SimTime>) -> Option<Reply> {
        let at = at.unwrap_or(self.driver.now()).max(self.driver.now());
        request.sent_at = at;
        let device = request.device;
        self.driver
            .inject(at, crate::model::Addr::Scheduler(0), Msg::Request(request));
        let mut effects = Vec::new();
        while let Some((now, to, msg)) = self.driver.next_event() {
            match (to, msg) {
                (Addr::Device(d), Msg::Reply(reply)) if d == device && reply.sent_at == at => {
                    return Some(reply);
                }
                (Addr::Device(_) | Addr::Source, _) => {}
                (to, msg) => {
                    let mut ctx = Ctx::new(now, to, &self.env, &mut effects);
                    self.world.deliver(to, msg, &mut ctx);
                    self.driver.apply(now, &mut effects);
                }
            }
        }
        None
    }
}

fn render(reply: &Reply, commands: &[(String, String)], fleet: &Fleet) -> Answer {
    let request_id = request_id_string(reply.request_id);
    if !reply.outcome.is_success() {
        let message = match (reply.outcome, reply.detail) {
            (Outcome::NoIdleResource, _) => {
                "no idle resource within the schedule strategy".to_string()
            }
            (o, Detail::None) => format!("the request failed: {o}"),
            (_, d) => d.message().to_string(),
        };
        return Answer::Error(ApiError {
            code: reply.outcome.name(),
            message,
            request_id,
            http_status: reply.outcome.http_status(),
        });
    }
    let repeated = match (reply.action, reply.outcome) {
        (Action::Console, _) => None,
        (_, Outcome::Repeated) => Some("true"),
        _ => Some("false"),
    };
    let mut answer = Placement {
        request_id,
        request_repeated: repeated,
        index: None,
        instance_id: None,
        instance_ip: None,
        instance_port: None,
        tcp_ports: None,
        command_results: None,
    };
    if let Some(pod) = reply.pod {
        let a = fleet.address(pod);
        answer.index = Some(a.index);
        answer.instance_id = Some(a.instance_id);
        answer.instance_ip = Some(a.instance_ip);
        answer.instance_port = Some(a.first_port);
        answer.tcp_ports = Some(format!("{}-{}", a.first_port, a.last_port));
        let results = commands
            .iter()
            .take(reply.command_results as usize)
            .map(|(container, command)| CommandResult {
                command: command.clone(),
                container_name: container.clone(),
                result_msg: "success".into(),
            })
            .collect();
        answer.command_results = Some(CommandResults {
            command_result: results,
        });
    }
    Answer::Placement(answer)
}
