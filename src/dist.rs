//! Distributions of durations: holding times, delays, processing times.
//!
//! A scenario names a distribution in milliseconds (`DistSpec`, read from TOML)
//! and the run samples it as a [`SimDuration`] through [`Dist`], which has
//! checked its parameters once. Samples below zero (only the normal can give
//! them) are redrawn, so the normal is truncated at zero.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp, LogNormal, Normal};
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

    /// Checks the parameters and builds the sampler.
    pub fn build(&self) -> Result<Dist, DistError> {
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
        }
    }
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

    fn mean_of(spec: &DistSpec, n: usize) -> f64 {
        let dist = spec.build().unwrap();
        let mut rng = Pcg64Mcg::seed_from_u64(7);
        (0..n)
            .map(|_| dist.sample(&mut rng).as_millis_f64())
            .sum::<f64>()
            / n as f64
    }

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

    #[test]
    fn exponential_sample_mean_is_within_five_standard_errors() {
        // Exponential: sd = mean, so the standard error of the mean of n draws is mean/sqrt(n).
        let n = 200_000;
        let got = mean_of(&DistSpec::Exponential { mean_ms: 10.0 }, n);
        assert!(
            (got - 10.0).abs() < 5.0 * 10.0 / (n as f64).sqrt(),
            "mean {got}"
        );
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
    }
}
