//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use ensim::scenario::{RawScenario, Scenario, parse_toml};

/// The path of a shipped scenario.
pub fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"))
}

/// A shipped scenario, parsed but not yet checked, to be changed by a test.
pub fn raw(name: &str) -> RawScenario {
    let path = shipped(name);
    parse_toml(
        &std::fs::read_to_string(&path).unwrap(),
        &path.display().to_string(),
    )
    .unwrap()
}

/// Checks a changed scenario.
pub fn build(raw: RawScenario, name: &str) -> Scenario {
    Scenario::from_raw(raw, name, Path::new("scenarios"), Some(name.to_string())).unwrap()
}

/// Mean and sample standard deviation.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Two-sided 99.9% quantile of Student's t with `df` degrees of freedom,
/// for the replication counts the tests use.
pub fn t_999(df: usize) -> f64 {
    match df {
        9 => 4.781,
        11 => 4.437,
        15 => 4.073,
        19 => 3.883,
        _ => panic!("add the t quantile for {df} degrees of freedom"),
    }
}

/// Runs `f` for each seed on all cores, keeping the seeds' order.
pub fn replicate<T: Send>(seeds: std::ops::Range<u64>, f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let seeds: Vec<u64> = seeds.collect();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(seeds.len());
    let chunks: Vec<&[u64]> = seeds.chunks(seeds.len().div_ceil(threads)).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|c| s.spawn(|| c.iter().map(|&seed| f(seed)).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}
