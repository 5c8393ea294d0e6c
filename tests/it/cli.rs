//! The `ensim` binary as a user runs it: results on a good scenario, and one
//! clear line with exit code 2 on a bad one.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::shipped;

fn ensim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ensim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_writes_summary_csv_with_the_documented_columns() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = shipped("erlang-b");
    let out = ensim(&["run", scenario.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let summary = dir.path().join("results/erlang-b/summary.csv");
    assert!(
        text(&out.stdout).contains("results/erlang-b/summary.csv"),
        "the run must say where it wrote"
    );
    let csv = std::fs::read_to_string(summary).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "action,outcome,count,rate_per_s,mean_ms,p50_ms,p90_ms,p99_ms,p999_ms,max_ms"
    );
    assert!(csv.lines().any(|l| l.starts_with("Start,NoIdleResource,")));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("results"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("erlang-b")],
        "no staging folders may remain"
    );
}

#[test]
fn rerunning_replaces_the_results_folder_whole() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = shipped("erlang-b");
    let folder = dir.path().join("out");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("summary.csv"), "an earlier run").unwrap();
    std::fs::write(folder.join("stale.csv"), "old").unwrap();
    let out = ensim(
        &["run", scenario.to_str().unwrap(), "--out", "out", "--quiet"],
        dir.path(),
    );
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "--quiet prints nothing");
    assert!(folder.join("summary.csv").exists());
    assert!(
        !folder.join("stale.csv").exists(),
        "the old folder is replaced, not mixed in"
    );
}

/// Writes `toml` to a scenario file, runs it, and returns the one stderr line.
fn bad(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), toml).unwrap();
    let out = ensim(&["run", "bad.toml"], dir.path());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("bad.toml"), "names the file: {err}");
    assert!(
        !dir.path().join("results").exists(),
        "no results on bad input"
    );
    err
}

const GOOD: &str = r#"
duration_s = 10
[fleet]
regions = ["cn-hangzhou-1"]
[workload]
arrival_rate_per_s = 1.0
holding = { dist = "exponential", mean_ms = 1000 }
"#;

#[test]
fn the_minimal_scenario_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ok.toml"), GOOD).unwrap();
    let out = ensim(&["run", "ok.toml", "--quiet"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = ensim(&["run", "nowhere.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("nowhere.toml") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn a_toml_syntax_error_names_the_line() {
    let err = bad(&GOOD.replace("duration_s = 10", "duration_s = = 10"));
    assert!(err.contains("bad.toml:2:"), "{err}");
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let err = bad(&GOOD.replace("[fleet]", "[fleet]\npods_per_node = 3"));
    assert!(
        err.contains("bad.toml:4:") && err.contains("pods_per_node"),
        "{err}"
    );
}

#[test]
fn a_negative_rate_is_refused() {
    let err = bad(&GOOD.replace("arrival_rate_per_s = 1.0", "arrival_rate_per_s = -2.0"));
    assert!(
        err.contains("workload.arrival_rate_per_s") && err.contains("above zero"),
        "{err}"
    );
}

#[test]
fn zero_pods_are_refused() {
    let err = bad(&GOOD.replace("[fleet]", "[fleet]\npods_per_instance = 0"));
    assert!(
        err.contains("fleet.pods_per_instance") && err.contains("at least one"),
        "{err}"
    );
}

#[test]
fn a_distribution_with_a_negative_mean_is_refused() {
    let err = bad(&GOOD.replace("mean_ms = 1000", "mean_ms = -1000"));
    assert!(
        err.contains("workload.holding") && err.contains("mean_ms"),
        "{err}"
    );
}

#[test]
fn an_unknown_distribution_is_named() {
    let err = bad(&GOOD.replace("\"exponential\"", "\"cauchy\""));
    assert!(
        err.contains("cauchy") && err.contains("exponential"),
        "{err}"
    );
}

#[test]
fn an_unknown_region_is_named() {
    let err = bad(&GOOD.replace("cn-hangzhou-1", "cn-atlantis-1"));
    assert!(
        err.contains("fleet.regions") && err.contains("cn-atlantis-1"),
        "{err}"
    );
}

#[test]
fn a_region_without_coordinates_says_how_to_add_them() {
    let err = bad(&GOOD.replace("cn-hangzhou-1", "cn-guangdong-10"));
    assert!(
        err.contains("no coordinates") && err.contains("[[fleet.region]]"),
        "{err}"
    );
}

const CALL_FLEET: &str = r#"
duration_s = 10
[fleet]
regions = ["cn-hangzhou-1", "cn-chengdu-26"]
vm_instances_per_node = 2
[workload]
arrival_rate_per_s = 1.0
holding = { dist = "exponential", mean_ms = 1000 }
"#;

/// Runs `ensim call` on a small fleet with `lines` on stdin; returns the answers.
fn call_lines(lines: &[String]) -> Vec<serde_json::Value> {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fleet.toml"), CALL_FLEET).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ensim"))
        .args(["call", "fleet.toml"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        stdin.write_all(l.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answers: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), lines.len(), "one answer per line");
    answers
}

fn req(uuid: &str, action: &str, extra: &str) -> String {
    format!(
        r#"{{"AppId":"a","Uuid":"{uuid}","ClientIp":"1.24.0.5","ServiceAction":"{action}"{extra}}}"#
    )
}

#[test]
fn call_answers_the_must_show_requests() {
    let a = call_lines(&[
        req("d1", "Start", ""),
        req("d1", "Start", ""),
        req("d2", "PreSchedule", r#","PreLockedTimeout":"300""#),
        req("d2", "Confirm", r#","AtMs":301000"#),
        req("d3", "Start", r#","Directorys":["/data/../etc"]"#),
        r#"{"AppId":"a","ClientIp":"1.24.0.5","ServiceAction":"Start"}"#.to_string(),
    ]);
    assert_eq!(a[0]["RequestRepeated"], "false");
    assert_eq!(a[1]["RequestRepeated"], "true");
    assert_eq!(a[0]["InstanceId"], a[1]["InstanceId"]);
    assert_eq!(a[0]["Index"], a[1]["Index"]);
    assert_eq!(a[2]["RequestRepeated"], "false");
    assert_eq!(a[3]["Code"], "InvalidParameter");
    assert!(
        a[3]["Message"].as_str().unwrap().contains("expired"),
        "{}",
        a[3]
    );
    assert_eq!(a[4]["Code"], "InvalidParameter.Directorys");
    assert_eq!(a[5]["Code"], "MissingParameter");
    assert!(a[5]["Message"].as_str().unwrap().contains("Uuid"));
    let ids: std::collections::HashSet<_> = a
        .iter()
        .map(|x| x["RequestId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), a.len(), "every RequestId is unique");
}

#[test]
fn a_bad_line_gets_an_error_answer_and_the_next_lines_are_still_answered() {
    let a = call_lines(&[
        "{not json".to_string(),
        req("d1", "Reboot", ""),
        req(&"u".repeat(1000), "Start", ""),
        "\u{fffd}\u{0}".to_string(),
        req("d1", "Start", ""),
    ]);
    assert_eq!(a[0]["Code"], "InvalidParameter");
    assert_eq!(a[1]["Code"], "InvalidParameter.ServiceAction");
    assert_eq!(a[2]["Code"], "InvalidParameter.Uuid");
    assert_eq!(a[3]["Code"], "InvalidParameter");
    assert_eq!(a[4]["RequestRepeated"], "false");
}

#[test]
fn out_never_replaces_a_folder_or_file_that_ensim_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = shipped("erlang-b");
    std::fs::create_dir_all(dir.path().join("mine/sub")).unwrap();
    std::fs::write(dir.path().join("mine/sub/data.txt"), "precious").unwrap();
    std::fs::write(dir.path().join("afile.txt"), "precious").unwrap();
    for target in ["mine", "afile.txt"] {
        let out = ensim(
            &[
                "run",
                scenario.to_str().unwrap(),
                "--out",
                target,
                "--quiet",
            ],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(2), "{target}");
        assert!(
            text(&out.stderr).contains("not a results folder"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mine/sub/data.txt")).unwrap(),
        "precious"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("afile.txt")).unwrap(),
        "precious"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing left behind: {names:?}");
}
