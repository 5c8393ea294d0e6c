//! Confidence intervals across independent replications.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A closed interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// The mean of independent samples and its two-sided confidence interval
/// from Student's t; `None` for fewer than two samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Number of samples.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation.
    pub sd: f64,
    /// The interval at the level asked for.
    pub interval: Option<Interval>,
}

/// Mean, standard deviation and `level` (e.g. 0.95) confidence interval of
/// the mean of `xs`.
pub fn estimate(xs: &[f64], level: f64) -> Estimate {
    let n = xs.len();
    let mean = if n == 0 {
        0.0
    } else {
        xs.iter().sum::<f64>() / n as f64
    };
    if n < 2 {
        return Estimate {
            n,
            mean,
            sd: 0.0,
            interval: None,
        };
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let half = t_quantile(n - 1, 0.5 + level / 2.0) * sd / (n as f64).sqrt();
    Estimate {
        n,
        mean,
        sd,
        interval: Some(Interval {
            low: mean - half,
            high: mean + half,
        }),
    }
}

/// The `p` quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile(df: usize, p: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64)
        .map(|t| t.inverse_cdf(p))
        .unwrap_or(f64::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        assert!((t_quantile(9, 0.975) - 2.262).abs() < 1e-3);
        assert!((t_quantile(9, 0.9995) - 4.781).abs() < 1e-3);
        assert!((t_quantile(1000, 0.975) - 1.962).abs() < 1e-3);
    }

    #[test]
    fn the_interval_of_a_known_sample() {
        // mean 3, sd sqrt(2.5), half = 2.776 * sqrt(2.5) / sqrt(5)
        let e = estimate(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        let half = 2.776_445 * (2.5f64).sqrt() / 5f64.sqrt();
        let i = e.interval.unwrap();
        assert!((e.mean - 3.0).abs() < 1e-12);
        assert!((i.high - 3.0 - half).abs() < 1e-4 && (3.0 - i.low - half).abs() < 1e-4);
        assert!(estimate(&[1.0], 0.95).interval.is_none());
    }
}
