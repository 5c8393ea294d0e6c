//! Distributions of durations: holding times, delays, processing times.
//!
//! A scenario names a distribution in milliseconds (`DistSpec`, read from TOML)
//! and the run samples it as a [`SimDuration`] through [`Dist`], which has
//! checked its parameters once. Samples below zero (only the normal can give
//! them) are redrawn, so the normal is truncated at zero.
//!
//! An `empirical` distribution resamples the values of a CSV file: each draw
//! is one of the file's samples, picked uniformly. Its path is relative to
//! the scenario file, so [`DistSpec::build_in`] takes the folder to resolve
//! it from; the file is read once, when the scenario is checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Normal, Pareto, Weibull};
use serde::{Deserialize, Serialize};

use crate::time::SimDuration;

/// A duration distribution as a scenario file writes it, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum DistSpec {
    /// Always `ms`.
    Constant {
        /// The value, in milliseconds.
        ms: f64,
    },
    /// Uniform between `min_ms` and `max_ms`.
    Uniform {
        /// Lower bound, in milliseconds.
        min_ms: f64,
        /// Upper bound, in milliseconds.
        max_ms: f64,
    },
    /// Exponential with mean `mean_ms`.
    Exponential {
        /// The mean, in milliseconds.
        mean_ms: f64,
    },
    /// Normal with mean `mean_ms` and standard deviation `std_ms`, truncated at zero.
    Normal {
        /// The mean before truncation, in milliseconds.
        mean_ms: f64,
        /// The standard deviation before truncation, in milliseconds.
        std_ms: f64,
    },
    /// Lognormal, given either by `mu` and `sigma` (of the natural log of the
    /// value in milliseconds) or by `mean_ms` and `p99_ms`.
    Lognormal {
        /// Mean of ln(value in ms).
        mu: Option<f64>,
        /// Standard deviation of ln(value in ms).
        sigma: Option<f64>,
        /// The mean, in milliseconds.
        mean_ms: Option<f64>,
        /// The 99th percentile, in milliseconds.
        p99_ms: Option<f64>,
    },
    /// Pareto (type I): at least `scale_ms`, with tail index `shape`.
    Pareto {
        /// The minimum value, in milliseconds.
        scale_ms: f64,
        /// The tail index alpha; the mean is finite for alpha > 1.
        shape: f64,
    },
    /// Weibull with scale `scale_ms` and shape `shape`.
    Weibull {
        /// The scale lambda, in milliseconds.
        scale_ms: f64,
        /// The shape k (1 is the exponential).
        shape: f64,
    },
    /// Gamma with shape `shape` and scale `scale_ms` (mean shape x scale).
    Gamma {
        /// The shape k (1 is the exponential).
        shape: f64,
        /// The scale theta, in milliseconds.
        scale_ms: f64,
    },
    /// The samples of a CSV file, in milliseconds, drawn uniformly.
    Empirical {
        /// The file: one number of milliseconds per line (the first column
        /// if there are more), an optional header line, relative to the
        /// scenario file.
        csv: PathBuf,
    },
}

/// Why a [`DistSpec`] cannot be sampled; the message says how to fix it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DistError(String);

/// A checked distribution, ready to sample.
#[derive(Clone, Debug)]
pub enum Dist {
    /// Always the same span.
    Constant(SimDuration),
    /// Uniform on [min, max] milliseconds.
    Uniform {
        /// Lower bound, ms.
        min_ms: f64,
        /// Upper bound, ms.
        max_ms: f64,
    },
    /// Exponential, rate in 1/ms.
    Exponential(Exp<f64>),
    /// Normal in ms, redrawn while negative.
    Normal(Normal<f64>),
    /// Lognormal in ms.
    Lognormal(LogNormal<f64>),
    /// Pareto in ms.
    Pareto(Pareto<f64>),
    /// Weibull in ms.
    Weibull(Weibull<f64>),
    /// Gamma in ms.
    Gamma(Gamma<f64>),
    /// One of these spans, drawn uniformly.
    Empirical(Arc<[SimDuration]>),
}

/// The standard normal quantile at 0.99.
const Z99: f64 = 2.326_347_874_040_841;

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), DistError> {
    if ok { Ok(()) } else { Err(DistError(msg())) }
}

fn finite_non_negative(name: &str, v: f64) -> Result<(), DistError> {
    check(v.is_finite() && v >= 0.0, || {
        format!("{name} = {v} must be a finite number of milliseconds, zero or more")
    })
}

impl DistSpec {
    /// A distribution that always gives zero.
    pub fn zero() -> DistSpec {
        DistSpec::Constant { ms: 0.0 }
    }

    /// Checks the parameters and builds the sampler; an empirical file is
    /// looked for relative to the working directory.
    pub fn build(&self) -> Result<Dist, DistError> {
        self.build_in(Path::new("."))
    }

    /// Checks the parameters and builds the sampler; a relative empirical
    /// file is looked for in `base` (the scenario file's folder).
    pub fn build_in(&self, base: &Path) -> Result<Dist, DistError> {
        match *self {
            DistSpec::Constant { ms } => {
                finite_non_negative("ms", ms)?;
                Ok(Dist::Constant(SimDuration::from_millis_f64(ms)))
            }
            DistSpec::Uniform { min_ms, max_ms } => {
                finite_non_negative("min_ms", min_ms)?;
                finite_non_negative("max_ms", max_ms)?;
                check(min_ms <= max_ms, || {
                    format!("min_ms = {min_ms} is above max_ms = {max_ms}; swap them")
                })?;
                Ok(Dist::Uniform { min_ms, max_ms })
            }
            DistSpec::Exponential { mean_ms } => {
                finite_non_negative("mean_ms", mean_ms)?;
                if mean_ms == 0.0 {
                    return Ok(Dist::Constant(SimDuration::ZERO));
                }
                let exp = Exp::new(1.0 / mean_ms).map_err(|e| DistError(e.to_string()))?;
                Ok(Dist::Exponential(exp))
            }
            DistSpec::Normal { mean_ms, std_ms } => {
                finite_non_negative("mean_ms", mean_ms)?;
                finite_non_negative("std_ms", std_ms)?;
                let normal = Normal::new(mean_ms, std_ms).map_err(|e| DistError(e.to_string()))?;
                Ok(Dist::Normal(normal))
            }
            DistSpec::Lognormal {
                mu,
                sigma,
                mean_ms,
                p99_ms,
            } => {
                let (mu, sigma) = lognormal_params(mu, sigma, mean_ms, p99_ms)?;
                let ln = LogNormal::new(mu, sigma).map_err(|e| DistError(e.to_string()))?;
                Ok(Dist::Lognormal(ln))
            }
            DistSpec::Pareto { scale_ms, shape } => {
                positive("scale_ms", scale_ms)?;
                positive("shape", shape)?;
                let d = Pareto::new(scale_ms, shape).map_err(|e| DistError(e.to_string()))?;
                Ok(Dist::Pareto(d))
            }
            DistSpec::Weibull { scale_ms, shape } => {
                positive("scale_ms", scale_ms)?;
                positive("shape", shape)?;
                let d = Weibull::new(scale_ms, shape).map_err(|e| DistError(e.to_string()))?;
                Ok(Dist::Weibull(d))
            }
            DistSpec::Gamma { shape, scale_ms } => {
                positive("shape", shape)?;
                positive("scale_ms", scale_ms)?;
                let d = Gamma::new(shape, scale_ms).map_err(|e| DistError(e.to_string()))?;
                Ok(Dist::Gamma(d))
            }
            DistSpec::Empirical { ref csv } => {
                let path = if csv.is_absolute() {
                    csv.clone()
                } else {
                    base.join(csv)
                };
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| DistError(format!("cannot read csv = {}: {e}", path.display())))?;
                let samples = parse_samples(&text, &path.display().to_string())?;
                Ok(Dist::Empirical(samples.into()))
            }
        }
    }

    /// The mean in milliseconds, where it is known in closed form.
    pub fn mean_ms(&self) -> Option<f64> {
        match *self {
            DistSpec::Constant { ms } => Some(ms),
            DistSpec::Uniform { min_ms, max_ms } => Some((min_ms + max_ms) / 2.0),
            DistSpec::Exponential { mean_ms } => Some(mean_ms),
            DistSpec::Normal { .. } => None,
            DistSpec::Lognormal {
                mu,
                sigma,
                mean_ms,
                p99_ms,
            } => {
                let (mu, sigma) = lognormal_params(mu, sigma, mean_ms, p99_ms).ok()?;
                Some((mu + sigma * sigma / 2.0).exp())
            }
            DistSpec::Pareto { scale_ms, shape } if shape > 1.0 => {
                Some(shape * scale_ms / (shape - 1.0))
            }
            DistSpec::Pareto { .. } | DistSpec::Weibull { .. } | DistSpec::Empirical { .. } => None,
            DistSpec::Gamma { shape, scale_ms } => Some(shape * scale_ms),
        }
    }
}

fn positive(name: &str, v: f64) -> Result<(), DistError> {
    check(v.is_finite() && v > 0.0, || {
        format!("{name} = {v} must be a finite number above zero")
    })
}

/// Reads the samples of an empirical distribution: the first field of each
/// line, in milliseconds; a first line that is not a number is a header.
fn parse_samples(text: &str, shown: &str) -> Result<Vec<SimDuration>, DistError> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let field = line.split(',').next().unwrap_or("").trim();
        if field.is_empty() {
            continue;
        }
        match field.parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms >= 0.0 => samples.push(SimDuration::from_millis_f64(ms)),
            Err(_) if i == 0 => {}
            _ => {
                return Err(DistError(format!(
                    "{shown}:{}: {field:?} is not a number of milliseconds, zero or more",
                    i + 1
                )));
            }
        }
    }
    check(!samples.is_empty(), || {
        format!("{shown} holds no samples; give one number of milliseconds per line")
    })?;
    Ok(samples)
}

/// Resolves the two ways of giving a lognormal to (mu, sigma).
fn lognormal_params(
    mu: Option<f64>,
    sigma: Option<f64>,
    mean_ms: Option<f64>,
    p99_ms: Option<f64>,
) -> Result<(f64, f64), DistError> {
    match (mu, sigma, mean_ms, p99_ms) {
        (Some(mu), Some(sigma), None, None) => {
            check(mu.is_finite(), || {
                format!("mu = {mu} must be a finite number")
            })?;
            check(sigma.is_finite() && sigma >= 0.0, || {
                format!("sigma = {sigma} must be zero or more")
            })?;
            Ok((mu, sigma))
        }
        (None, None, Some(mean), Some(p99)) => {
            check(mean.is_finite() && mean > 0.0, || {
                format!("mean_ms = {mean} must be above zero")
            })?;
            check(p99.is_finite() && p99 >= mean, || {
                format!("p99_ms = {p99} must be at least mean_ms = {mean}")
            })?;
            // mean = exp(mu + s^2/2), p99 = exp(mu + Z99 s): s^2/2 - Z99 s + ln(p99/mean) = 0.
            let gap = (p99 / mean).ln();
            let disc = Z99 * Z99 - 2.0 * gap;
            check(disc >= 0.0, || {
                format!(
                    "p99_ms = {p99} is too far above mean_ms = {mean}: no lognormal has both \
                     (p99/mean must be at most {:.2})",
                    (Z99 * Z99 / 2.0).exp()
                )
            })?;
            let sigma = Z99 - disc.sqrt();
            Ok((mean.ln() - sigma * sigma / 2.0, sigma))
        }
        _ => Err(DistError(
            "give a lognormal either `mu` and `sigma` (of ln ms) or `mean_ms` and `p99_ms`".into(),
        )),
    }
}

impl Dist {
    /// Draws one span.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        let ms = match self {
            Dist::Constant(d) => return *d,
            Dist::Uniform { min_ms, max_ms } => {
                if min_ms == max_ms {
                    *min_ms
                } else {
                    rng.random_range(*min_ms..=*max_ms)
                }
            }
            Dist::Exponential(exp) => exp.sample(rng),
            Dist::Normal(normal) => truncated_at_zero(normal, rng),
            Dist::Lognormal(ln) => ln.sample(rng),
            Dist::Pareto(d) => d.sample(rng),
            Dist::Weibull(d) => d.sample(rng),
            Dist::Gamma(d) => d.sample(rng),
            Dist::Empirical(samples) => return samples[rng.random_range(0..samples.len())],
        };
        SimDuration::from_millis_f64(ms)
    }

    /// True when every sample is zero, so senders can skip the draw.
    pub fn is_zero(&self) -> bool {
        matches!(self, Dist::Constant(d) if d.is_zero())
    }
}

fn truncated_at_zero<R: Rng + ?Sized>(normal: &Normal<f64>, rng: &mut R) -> f64 {
    // The mean is checked to be >= 0, so each draw is kept with probability >= 1/2.
    for _ in 0..64 {
        let x = normal.sample(rng);
        if x >= 0.0 {
            return x;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    #[test]
    fn lognormal_by_mean_and_p99_has_that_mean_and_p99() {
        let spec = DistSpec::Lognormal {
            mu: None,
            sigma: None,
            mean_ms: Some(20.0),
            p99_ms: Some(80.0),
        };
        let DistSpec::Lognormal {
            mu,
            sigma,
            mean_ms,
            p99_ms,
        } = spec.clone()
        else {
            unreachable!()
        };
        let (m, s) = lognormal_params(mu, sigma, mean_ms, p99_ms).unwrap();
        assert!(((m + s * s / 2.0).exp() - 20.0).abs() < 1e-9);
        assert!(((m + Z99 * s).exp() - 80.0).abs() < 1e-9);
    }

    /// How the sample checks below are built.
    ///
    /// Mean: by the central limit theorem the mean of `N` independent draws
    /// is close to normal with standard error `sd / sqrt(N)`, where `sd` is
    /// the distribution's own standard deviation (from its closed form, so
    /// the tolerance does not depend on the sample). It must lie within `Z`
    /// standard errors of the closed-form mean.
    ///
    /// Quantile: for a value `x` with `P(X <= x) = p` (so `x` is the
    /// theoretical `p` quantile), the number of draws at or below `x` is
    /// binomial(N, p), so the fraction below has standard error
    /// `sqrt(p (1 - p) / N)`; it must lie within `Z` of those of `p`.
    ///
    /// With `Z = 5` a correct sampler fails either check with probability
    /// under 6e-7 (two-sided normal tail); the seed is fixed, so a run that
    /// passes always passes. A sampler off by a few percent fails: with
    /// `N = 200,000` the mean's tolerance is about 1% of the sd and the
    /// fraction's about 0.0034 at the median.
    const N: usize = 200_000;
    const Z: f64 = 5.0;

    fn draws(spec: &DistSpec) -> Vec<f64> {
        let dist = spec.build().unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        (0..N)
            .map(|_| dist.sample(&mut rng).as_millis_f64())
            .collect()
    }

    /// Checks the sample mean against `mean` (with standard deviation `sd`)
    /// and the fraction of draws at or below `x` against `p`.
    fn check_mean_and_quantile(spec: &DistSpec, mean: f64, sd: f64, x: f64, p: f64) {
        let xs = draws(spec);
        let n = xs.len() as f64;
        let got_mean = xs.iter().sum::<f64>() / n;
        let tol_mean = Z * sd / n.sqrt();
        assert!(
            (got_mean - mean).abs() <= tol_mean,
            "{spec:?}: sample mean {got_mean} is not within {tol_mean} of {mean}"
        );
        let below = xs.iter().filter(|&&v| v <= x).count() as f64 / n;
        let tol_p = Z * (p * (1.0 - p) / n).sqrt();
        assert!(
            (below - p).abs() <= tol_p,
            "{spec:?}: {below} of the draws are at or below {x}, not {p} +- {tol_p}"
        );
    }

    /// The standard normal distribution function, from `erfc` (Numerical
    /// Recipes' Chebyshev fit, relative error below 1.2e-7, far below the
    /// binomial tolerances it is used with).
    fn phi(x: f64) -> f64 {
        0.5 * erfc(-x / std::f64::consts::SQRT_2)
    }

    fn erfc(x: f64) -> f64 {
        let z = x.abs();
        let t = 1.0 / (1.0 + 0.5 * z);
        let poly = -z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77))))))));
        let r = t * poly.exp();
        if x >= 0.0 { r } else { 2.0 - r }
    }

    #[test]
    fn constant_always_gives_its_value() {
        let xs = draws(&DistSpec::Constant { ms: 7.5 });
        assert!(xs.iter().all(|&v| v == 7.5));
    }

    #[test]
    fn uniform_has_its_mean_and_p90() {
        // Mean (a+b)/2, sd (b-a)/sqrt(12), P(X <= a + 0.9 (b-a)) = 0.9.
        let spec = DistSpec::Uniform {
            min_ms: 200.0,
            max_ms: 800.0,
        };
        check_mean_and_quantile(&spec, 500.0, 600.0 / 12f64.sqrt(), 740.0, 0.9);
    }

    #[test]
    fn exponential_has_its_mean_and_p99() {
        // sd = mean; P(X <= -m ln 0.01) = 0.99.
        let spec = DistSpec::Exponential { mean_ms: 10.0 };
        check_mean_and_quantile(&spec, 10.0, 10.0, -10.0 * 0.01f64.ln(), 0.99);
    }

    #[test]
    fn normal_truncated_at_zero_has_the_truncated_mean_and_distribution() {
        // N(mu, s) conditioned on X >= 0, with a = -mu/s and tail T = 1 - Phi(a):
        // mean mu + s phi(a)/T, variance s^2 (1 + a phi(a)/T - (phi(a)/T)^2),
        // P(X <= x) = (Phi((x - mu)/s) - Phi(a)) / T.
        let (mu, s): (f64, f64) = (5.0, 10.0);
        let a = -mu / s;
        let density = (-a * a / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let tail = 1.0 - phi(a);
        let ratio = density / tail;
        let mean = mu + s * ratio;
        let sd = s * (1.0 + a * ratio - ratio * ratio).sqrt();
        let x = 10.0;
        let p = (phi((x - mu) / s) - phi(a)) / tail;
        let spec = DistSpec::Normal {
            mean_ms: mu,
            std_ms: s,
        };
        check_mean_and_quantile(&spec, mean, sd, x, p);
    }

    #[test]
    fn lognormal_by_mu_and_sigma_has_its_mean_and_p99() {
        // mean exp(mu + s^2/2), sd mean sqrt(exp(s^2) - 1), p99 exp(mu + z99 s).
        let (mu, s) = (1.2f64, 0.6f64);
        let mean = (mu + s * s / 2.0).exp();
        let sd = mean * ((s * s).exp() - 1.0).sqrt();
        let spec = DistSpec::Lognormal {
            mu: Some(mu),
            sigma: Some(s),
            mean_ms: None,
            p99_ms: None,
        };
        check_mean_and_quantile(&spec, mean, sd, (mu + Z99 * s).exp(), 0.99);
    }

    #[test]
    fn lognormal_by_mean_and_p99_samples_that_mean_and_p99() {
        let spec = DistSpec::Lognormal {
            mu: None,
            sigma: None,
            mean_ms: Some(20.0),
            p99_ms: Some(80.0),
        };
        let (_, s) = lognormal_params(None, None, Some(20.0), Some(80.0)).unwrap();
        let sd = 20.0 * ((s * s).exp() - 1.0).sqrt();
        check_mean_and_quantile(&spec, 20.0, sd, 80.0, 0.99);
    }

    #[test]
    fn pareto_has_its_mean_and_p90() {
        // Scale m, shape a = 3: mean a m/(a-1), variance m^2 a/((a-1)^2 (a-2)),
        // P(X <= m (1-p)^(-1/a)) = p.
        let (m, a) = (10.0, 3.0);
        let spec = DistSpec::Pareto {
            scale_ms: m,
            shape: a,
        };
        let mean = a * m / (a - 1.0);
        let sd = m * (a / ((a - 1.0f64).powi(2) * (a - 2.0))).sqrt();
        assert_eq!(spec.mean_ms(), Some(mean));
        check_mean_and_quantile(&spec, mean, sd, m * 0.1f64.powf(-1.0 / a), 0.9);
    }

    #[test]
    fn weibull_has_its_mean_and_median() {
        // Scale l, shape k = 1/2: mean l Gamma(3) = 2 l, variance
        // l^2 (Gamma(5) - Gamma(3)^2) = 20 l^2; P(X <= l (ln 2)^2) = 1/2.
        let l = 100.0;
        let spec = DistSpec::Weibull {
            scale_ms: l,
            shape: 0.5,
        };
        let ln2 = 2f64.ln();
        check_mean_and_quantile(&spec, 2.0 * l, 20f64.sqrt() * l, l * ln2 * ln2, 0.5);
    }

    #[test]
    fn gamma_of_integer_shape_has_its_mean_and_distribution() {
        // Shape 3, scale t: mean 3t, sd sqrt(3) t, and (Erlang)
        // P(X <= x) = 1 - exp(-x/t) (1 + x/t + (x/t)^2/2).
        let t = 10.0;
        let spec = DistSpec::Gamma {
            shape: 3.0,
            scale_ms: t,
        };
        let x = 30.0;
        let u: f64 = x / t;
        let p = 1.0 - (-u).exp() * (1.0 + u + u * u / 2.0);
        check_mean_and_quantile(&spec, 3.0 * t, 3f64.sqrt() * t, x, p);
    }

    #[test]
    fn gamma_of_shape_one_half_has_its_mean_and_distribution() {
        // Shape 1/2, scale t: X = t Z^2 / 2 for a standard normal Z, so mean
        // t/2, sd t/sqrt(2), and P(X <= x) = 2 Phi(sqrt(2x/t)) - 1.
        let t = 10.0;
        let spec = DistSpec::Gamma {
            shape: 0.5,
            scale_ms: t,
        };
        let x = 2.0;
        let p = 2.0 * phi((2.0 * x / t).sqrt()) - 1.0;
        check_mean_and_quantile(&spec, t / 2.0, t / 2f64.sqrt(), x, p);
    }

    #[test]
    fn empirical_resamples_the_file_with_its_mean_and_quantiles() {
        // Values 1.5, 3.0, ..., 1500 ms: each draw is one of them with
        // probability 1/1000, so the mean and sd are the file's (population)
        // mean and sd, and P(X <= the 900th smallest) = 0.9 exactly.
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f64> = (1..=1000).map(|i| f64::from(i) * 1.5).collect();
        let mut text = String::from("holding_ms\n");
        for v in values.iter().rev() {
            text.push_str(&format!("{v}\n"));
        }
        std::fs::write(dir.path().join("samples.csv"), text).unwrap();
        let spec = DistSpec::Empirical {
            csv: "samples.csv".into(),
        };
        assert!(
            spec.build().is_err(),
            "relative to the scenario, not the cwd"
        );
        let dist = spec.build_in(dir.path()).unwrap();
        let mean = values.iter().sum::<f64>() / 1000.0;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 1000.0).sqrt();
        let spec = DistSpec::Empirical {
            csv: dir.path().join("samples.csv"),
        };
        assert!(matches!(dist, Dist::Empirical(ref s) if s.len() == 1000));
        check_mean_and_quantile(&spec, mean, sd, values[899], 0.9);
    }

    #[test]
    fn an_empirical_file_with_a_bad_value_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.csv"), "ms\n1\n-2\n").unwrap();
        let err = DistSpec::Empirical {
            csv: "bad.csv".into(),
        }
        .build_in(dir.path())
        .unwrap_err()
        .to_string();
        assert!(err.contains("bad.csv:3:") && err.contains("-2"), "{err}");
    }

    #[test]
    fn negative_or_inconsistent_parameters_are_refused() {
        assert!(DistSpec::Exponential { mean_ms: -1.0 }.build().is_err());
        assert!(
            DistSpec::Normal {
                mean_ms: -5.0,
                std_ms: 1.0
            }
            .build()
            .is_err()
        );
        assert!(
            DistSpec::Uniform {
                min_ms: 3.0,
                max_ms: 1.0
            }
            .build()
            .is_err()
        );
        let half = DistSpec::Lognormal {
            mu: Some(1.0),
            sigma: None,
            mean_ms: None,
            p99_ms: None,
        };
        assert!(half.build().is_err());
        for bad in [
            DistSpec::Pareto {
                scale_ms: 0.0,
                shape: 2.0,
            },
            DistSpec::Weibull {
                scale_ms: 1.0,
                shape: -1.0,
            },
            DistSpec::Gamma {
                shape: f64::NAN,
                scale_ms: 1.0,
            },
        ] {
            assert!(bad.build().is_err(), "{bad:?}");
        }
    }
}
