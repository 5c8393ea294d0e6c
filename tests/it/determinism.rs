//! Same scenario and seed: the same bytes, whichever engine runs it.

use ensim::engine::EngineKind;

use crate::support::{build, raw};

/// Every file of the results folder that the seed decides (all but
/// run.json), one after the other with its name.
fn quickstart_files(seed: u64, engine: EngineKind) -> Vec<u8> {
    let mut r = raw("quickstart");
    r.seed = seed;
    r.duration_s = 1500.0;
    r.warmup_s = 300.0;
    let out = ensim::run::run(&build(r, "quickstart"), engine).unwrap();
    let mut all = Vec::new();
    for (name, bytes) in ensim::report::result_files(&out) {
        all.extend_from_slice(name.as_bytes());
        all.push(b'\n');
        all.extend_from_slice(&bytes);
    }
    all
}

#[test]
fn the_same_seed_gives_byte_identical_reports() {
    assert_eq!(
        quickstart_files(7, EngineKind::Default),
        quickstart_files(7, EngineKind::Default)
    );
}

#[test]
fn another_seed_gives_other_figures() {
    assert_ne!(
        quickstart_files(7, EngineKind::Default),
        quickstart_files(8, EngineKind::Default)
    );
}

#[test]
fn the_actix_engine_gives_the_same_reports_as_the_default_engine() {
    let plain = quickstart_files(3, EngineKind::Default);
    let actix = quickstart_files(3, EngineKind::Actix);
    assert!(
        String::from_utf8_lossy(&plain).lines().count() >= 3,
        "too few rows to compare"
    );
    assert_eq!(
        String::from_utf8_lossy(&plain),
        String::from_utf8_lossy(&actix)
    );
}

#[test]
fn the_engines_agree_with_several_schedulers_and_stale_views() {
    let s = build(raw("flash-crowd"), "flash-crowd");
    let files = |engine| {
        let out = ensim::run::run(&s, engine).unwrap();
        ensim::report::result_files(&out)
    };
    assert_eq!(files(EngineKind::Default), files(EngineKind::Actix));
}
