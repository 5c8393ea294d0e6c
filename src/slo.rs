//! Service levels: a named figure, a comparison and a target, such as
//! `Start.p99_ms < 1500` or `NoIdleResource.rate < 0.01`.
//!
//! A service level whose figure the report does not have is an error, never
//! a pass: a typo must not let a build through.

use std::fmt;

use crate::figures::{Figures, is_count_like, is_known};
use crate::stats::Interval;

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, value: f64, target: f64) -> bool {
        match self {
            Op::Lt => value < target,
            Op::Le => value <= target,
            Op::Gt => value > target,
            Op::Ge => value >= target,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// True when smaller values are the good side.
    fn wants_small(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
}

/// A service level.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceLevel {
    /// The figure's name.
    pub figure: String,
    /// The comparison.
    pub op: Op,
    /// The target.
    pub target: f64,
}

impl fmt::Display for ServiceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.figure, self.op.symbol(), self.target)
    }
}

/// A service level that cannot be read or checked.
#[derive(Debug, thiserror::Error)]
pub enum SloError {
    /// The text is not `figure op number`.
    #[error(
        "service level {0:?} is not of the form `figure < number` (or <=, >, >=), e.g. `Start.p99_ms < 1500`"
    )]
    Syntax(String),
    /// The report has no such figure.
    #[error(
        "service level `{level}` names no figure of this report{hint}; see README.md, \"Figures\", for the names"
    )]
    Unknown {
        /// The service level.
        level: String,
        /// Similar names, if any.
        hint: String,
    },
}

impl std::str::FromStr for ServiceLevel {
    type Err = SloError;

    fn from_str(s: &str) -> Result<ServiceLevel, SloError> {
        let bad = || SloError::Syntax(s.to_string());
        let (at, op, len) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|sym| s.find(sym).map(|i| (i, *sym, sym.len())))
            .ok_or_else(bad)?;
        let op = match op {
            "<=" => Op::Le,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            _ => Op::Gt,
        };
        let figure = s[..at].trim();
        let target: f64 = s[at + len..].trim().parse().map_err(|_| bad())?;
        if figure.is_empty() || figure.contains(char::is_whitespace) || !target.is_finite() {
            return Err(bad());
        }
        if !is_known(figure) {
            return Err(SloError::Unknown {
                level: s.trim().to_string(),
                hint: String::new(),
            });
        }
        Ok(ServiceLevel {
            figure: figure.to_string(),
            op,
            target,
        })
    }
}

/// How a service level fared.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The service level.
    pub level: ServiceLevel,
    /// The figure's value (the mean, with replications).
    pub value: f64,
    /// Its 95% interval, with replications.
    pub interval: Option<Interval>,
    /// Whether the value meets the target.
    pub met: bool,
    /// Whether the whole interval is on the good side of the target (true
    /// without replications when met).
    pub sure: bool,
}

impl ServiceLevel {
    /// Checks the level against one run's figures.
    pub fn check(&self, figures: &Figures) -> Result<Verdict, SloError> {
        let value = self.lookup(figures)?;
        let met = self.op.holds(value, self.target);
        Ok(Verdict {
            level: self.clone(),
            value,
            interval: None,
            met,
            sure: met,
        })
    }

    /// Checks the level against the mean and interval of replications.
    pub fn check_interval(
        &self,
        figures: &Figures,
        interval: Option<Interval>,
    ) -> Result<Verdict, SloError> {
        let value = self.lookup(figures)?;
        let met = self.op.holds(value, self.target);
        let sure = match interval {
            Some(i) => {
                let worst = if self.op.wants_small() { i.high } else { i.low };
                self.op.holds(worst, self.target)
            }
            None => met,
        };
        Ok(Verdict {
            level: self.clone(),
            value,
            interval,
            met,
            sure,
        })
    }

    fn lookup(&self, figures: &Figures) -> Result<f64, SloError> {
        // A count or share of something that never happened is zero.
        if is_known(&self.figure) && is_count_like(&self.figure) {
            return Ok(figures.get(&self.figure).unwrap_or(0.0));
        }
        figures.get(&self.figure).ok_or_else(|| {
            let stem = self.figure.split('.').next().unwrap_or_default();
            let similar: Vec<&str> = figures
                .0
                .keys()
                .map(String::as_str)
                .filter(|k| k.starts_with(stem))
                .take(6)
                .collect();
            let hint = if similar.is_empty() {
                String::new()
            } else {
                format!(" (it has {})", similar.join(", "))
            };
            SloError::Unknown {
                level: self.to_string(),
                hint,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figs(pairs: &[(&str, f64)]) -> Figures {
        Figures(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn levels_parse_with_every_operator() {
        let l: ServiceLevel = "Start.p99_ms < 1500".parse().unwrap();
        assert_eq!(
            (l.figure.as_str(), l.op, l.target),
            ("Start.p99_ms", Op::Lt, 1500.0)
        );
        assert_eq!("arrivals<=1".parse::<ServiceLevel>().unwrap().op, Op::Le);
        assert_eq!(
            "arrivals >= 2e3".parse::<ServiceLevel>().unwrap().target,
            2000.0
        );
        assert!("Start.p99_ms 1500".parse::<ServiceLevel>().is_err());
        assert!("< 3".parse::<ServiceLevel>().is_err());
        assert!("a b < 3".parse::<ServiceLevel>().is_err());
    }

    #[test]
    fn a_level_is_met_missed_or_an_error() {
        let f = figs(&[("Start.p99_ms", 900.0), ("NoIdleResource.rate", 0.02)]);
        assert!(
            "Start.p99_ms < 1500"
                .parse::<ServiceLevel>()
                .unwrap()
                .check(&f)
                .unwrap()
                .met
        );
        assert!(
            !"NoIdleResource.rate < 0.01"
                .parse::<ServiceLevel>()
                .unwrap()
                .check(&f)
                .unwrap()
                .met
        );
        assert!(
            "Start.p98_ms < 3".parse::<ServiceLevel>().is_err(),
            "a typo is refused when read"
        );
        let err = "Start.p90_ms < 3"
            .parse::<ServiceLevel>()
            .unwrap()
            .check(&f)
            .unwrap_err();
        assert!(err.to_string().contains("Start.p99_ms"), "{err}");
        let zero = "Start.NoIdleResource.rate < 0.01"
            .parse::<ServiceLevel>()
            .unwrap()
            .check(&f)
            .unwrap();
        assert!(
            zero.met && zero.value == 0.0,
            "a share of what never happened is zero"
        );
    }

    #[test]
    fn with_an_interval_a_level_is_sure_only_when_the_whole_interval_meets_it() {
        let f = figs(&[("NoIdleResource.rate", 0.009)]);
        let l: ServiceLevel = "NoIdleResource.rate < 0.01".parse().unwrap();
        let tight = l
            .check_interval(
                &f,
                Some(Interval {
                    low: 0.008,
                    high: 0.0095,
                }),
            )
            .unwrap();
        assert!(tight.met && tight.sure);
        let wide = l
            .check_interval(
                &f,
                Some(Interval {
                    low: 0.007,
                    high: 0.011,
                }),
            )
            .unwrap();
        assert!(wide.met && !wide.sure);
    }
}
