//! The API by hand: every action in every device state, parameter checks,
//! and the JSON shape of answers.

use ensim::call::{Answer, CallSession};
use serde_json::{Value, json};

use crate::support::{build, raw};

/// A session on the `mixed` fleet, without injected faults.
fn session() -> CallSession {
    let mut r = raw("mixed");
    r.faults = Default::default();
    CallSession::new(&build(r, "mixed"))
}

fn request(device: &str, action: &str, extra: Value) -> String {
    let mut v =
        json!({"AppId": "app-1", "Uuid": device, "ClientIp": "1.24.0.5", "ServiceAction": action});
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v.to_string()
}

fn call(s: &mut CallSession, device: &str, action: &str, extra: Value) -> Value {
    serde_json::to_value(s.answer_line(&request(device, action, extra))).unwrap()
}

/// `Ok:false` / `Ok:true` for a placement with that `RequestRepeated`,
/// `Ok:-` for one without the field, or the error code.
fn verdict(answer: &Value) -> String {
    match answer.get("Code") {
        Some(code) => code.as_str().unwrap().to_string(),
        None => format!(
            "Ok:{}",
            answer
                .get("RequestRepeated")
                .and_then(Value::as_str)
                .unwrap_or("-")
        ),
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    NoPlacement,
    Placed,
    Locked,
    Confirmed,
    LockExpired,
}

/// Brings device `d` into `state` and returns the time (ms) to send the next request at.
fn enter(s: &mut CallSession, d: &str, state: State) -> u64 {
    match state {
        State::NoPlacement => 0,
        State::Placed => {
            assert_eq!(verdict(&call(s, d, "Start", json!({}))), "Ok:false");
            0
        }
        State::Locked => {
            assert_eq!(
                verdict(&call(s, d, "PreSchedule", json!({"PreLockedTimeout": 60}))),
                "Ok:false"
            );
            0
        }
        State::Confirmed => {
            assert_eq!(verdict(&call(s, d, "PreSchedule", json!({}))), "Ok:false");
            assert_eq!(verdict(&call(s, d, "Confirm", json!({}))), "Ok:false");
            0
        }
        State::LockExpired => {
            assert_eq!(
                verdict(&call(s, d, "PreSchedule", json!({"PreLockedTimeout": 2}))),
                "Ok:false"
            );
            10_000
        }
    }
}

#[test]
fn every_action_in_every_state_gives_the_documented_answer() {
    use State::*;
    const IP: &str = "InvalidParameter";
    // Rows: state; columns: Start, Stop, Console, PreSchedule, Confirm, Cancel.
    let table: [(State, [&str; 6]); 5] = [
        (NoPlacement, ["Ok:false", IP, IP, "Ok:false", IP, IP]),
        (Placed, ["Ok:true", "Ok:false", "Ok:-", IP, IP, IP]),
        (Locked, [IP, IP, "Ok:-", "Ok:true", "Ok:false", "Ok:false"]),
        (
            Confirmed,
            [IP, "Ok:false", "Ok:-", "Ok:true", "Ok:true", IP],
        ),
        (LockExpired, ["Ok:false", IP, IP, "Ok:false", IP, IP]),
    ];
    let actions = [
        "Start",
        "Stop",
        "Console",
        "PreSchedule",
        "Confirm",
        "Cancel",
    ];
    let mut failures = Vec::new();
    for (state, expected) in table {
        for (action, want) in actions.iter().zip(expected) {
            let mut s = session();
            let d = "device-under-test";
            let at = enter(&mut s, d, state);
            let extra = if at > 0 {
                json!({"AtMs": at})
            } else {
                json!({})
            };
            let answer = call(&mut s, d, action, extra);
            let got = verdict(&answer);
            if got != want {
                failures.push(format!(
                    "{state:?} + {action}: want {want}, got {got} ({answer})"
                ));
            }
            if matches!(state, LockExpired) && ["Confirm", "Cancel"].contains(action) {
                let msg = answer["Message"].as_str().unwrap_or_default();
                assert!(
                    msg.contains("expired"),
                    "{state:?} + {action}: the message must say the lock expired: {msg}"
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_repeated_start_answers_with_the_same_pod() {
    let mut s = session();
    let first = call(&mut s, "d1", "Start", json!({}));
    let second = call(&mut s, "d1", "Start", json!({}));
    assert_eq!(first["RequestRepeated"], "false");
    assert_eq!(second["RequestRepeated"], "true");
    for field in [
        "InstanceId",
        "Index",
        "InstanceIp",
        "InstancePort",
        "TcpPorts",
    ] {
        assert_eq!(first[field], second[field], "{field}");
    }
    assert_ne!(first["RequestId"], second["RequestId"]);
    // No second pod was taken: another device gets the next one.
    let other = call(&mut s, "d2", "Start", json!({}));
    assert!(other["InstanceId"] != first["InstanceId"] || other["Index"] != first["Index"]);
}

#[test]
fn an_answer_has_the_reference_field_names_and_nesting() {
    let mut s = session();
    let commands = json!([{"containerName": "android", "commands": ["ls /", "pm list packages"]}, {"commands": ["date"]}]);
    let a = call(
        &mut s,
        "d1",
        "Start",
        json!({"ServiceCommands": commands.to_string()}),
    );
    let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "RequestId",
            "RequestRepeated",
            "Index",
            "InstanceId",
            "InstanceIp",
            "InstancePort",
            "TcpPorts",
            "CommandResults"
        ]
    );
    let results = a["CommandResults"]["CommandResult"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["Command"], "ls /");
    assert_eq!(results[0]["ContainerName"], "android");
    assert_eq!(results[2]["ContainerName"], "");
    assert!(results[0]["ResultMsg"].is_string());
    let ports = a["TcpPorts"].as_str().unwrap();
    let (from, to) = ports.split_once('-').unwrap();
    assert_eq!(
        from.parse::<u64>().unwrap(),
        a["InstancePort"].as_u64().unwrap()
    );
    assert!(to.parse::<u64>().unwrap() > from.parse::<u64>().unwrap());
    let e = call(&mut s, "d1", "Confirm", json!({}));
    let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["Code", "Message", "RequestId", "HttpStatus"]);
    assert_eq!(e["HttpStatus"], 400);
}

#[test]
fn malformed_parameters_get_the_field_named_in_the_code() {
    let cases = [
        (
            json!({"Directorys": ["/data/../etc"]}),
            "InvalidParameter.Directorys",
        ),
        (
            json!({"Directorys": "[\"data/x\"]"}),
            "InvalidParameter.Directorys",
        ),
        (
            json!({"Directorys": "[not json"}),
            "InvalidParameter.Directorys",
        ),
        (
            json!({"ClientIp": "300.1.1.1"}),
            "InvalidParameter.ClientIp",
        ),
        (
            json!({"ClientIp": "127.0.0.1"}),
            "InvalidParameter.ClientIp",
        ),
        (
            json!({"ServiceAction": "Reboot"}),
            "InvalidParameter.ServiceAction",
        ),
        (
            json!({"PreLockedTimeout": -5}),
            "InvalidParameter.PreLockedTimeout",
        ),
        (
            json!({"ServiceCommands": [{"commands": "ls"}]}),
            "InvalidParameter.ServiceCommands",
        ),
        (
            json!({"ScheduleStrategy": {"selectLevel": "City", "values": ["x"]}}),
            "InvalidParameter.ScheduleStrategy",
        ),
        (
            json!({"ScheduleStrategy": "{\"selectLevel\":\"RegionId\",\"values\":[\"cn-nowhere-1\"]}"}),
            "InvalidParameter.ScheduleStrategy",
        ),
        (json!({"Uuid": "x".repeat(500)}), "InvalidParameter.Uuid"),
        (json!({"Uuid": ""}), "MissingParameter"),
        (json!({"AppId": null}), "MissingParameter"),
        (json!({"Colour": "red"}), "InvalidParameter"),
    ];
    for (extra, code) in cases {
        let mut s = session();
        let a = call(&mut s, "d1", "Start", extra.clone());
        assert_eq!(a["Code"], code, "{extra}: {a}");
        assert!(!a["RequestId"].as_str().unwrap().is_empty());
    }
}

#[test]
fn a_schedule_strategy_limits_the_regions() {
    let mut s = session();
    let strategy = json!({"selectLevel": "RegionId", "values": ["cn-chengdu-26"]});
    let a = call(&mut s, "d1", "Start", json!({"ScheduleStrategy": strategy}));
    let b = call(&mut s, "d2", "Start", json!({}));
    // 1.24.0.5 is placed near its own city; Chengdu is elsewhere.
    assert_ne!(a["InstanceIp"], b["InstanceIp"]);
}

#[test]
fn answers_are_enums_of_placement_or_error() {
    let mut s = session();
    assert!(matches!(s.answer_line("[1, 2]"), Answer::Error(e) if e.code == "InvalidParameter"));
    assert!(matches!(
        s.answer_line(&request("d", "Start", json!({}))),
        Answer::Placement(_)
    ));
}

#[test]
fn an_at_ms_beyond_a_year_is_an_error_answer() {
    let mut s = session();
    let a = call(&mut s, "d1", "Start", json!({"AtMs": 1e30}));
    assert_eq!(a["Code"], "InvalidParameter", "{a}");
    assert!(a["Message"].as_str().unwrap().contains("AtMs"));
    assert_eq!(
        verdict(&call(&mut s, "d1", "Start", json!({"AtMs": 1000}))),
        "Ok:false"
    );
}
