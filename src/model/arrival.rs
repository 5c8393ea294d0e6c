//! Arrival processes: the instants at which open-loop sessions arrive.
//!
//! Each process is a small state machine that, given the source's random
//! stream, yields the next arrival instant in whole nanoseconds. Nothing here
//! reads a clock or a file, so a process is a pure function of its settings
//! and the stream.
//!
//! - [`Process::Poisson`]: exponential gaps of a fixed mean, each rounded to
//!   the nanosecond (the original `arrival_rate_per_s` stream, unchanged).
//! - [`Process::Profile`]: a non-homogeneous Poisson process whose rate is a
//!   [`RateProfile`] (constant, linear ramp, steps, daily), generated exactly
//!   by inverting the integrated rate: with `S_k` the k-th point of a unit
//!   Poisson process (a sum of `Exp(1)` draws), the k-th arrival is at the
//!   `t` with `Lambda(t) = S_k`, where `Lambda` is the integral of the rate.
//!   For piecewise-linear rates `Lambda` is piecewise quadratic and is
//!   inverted in closed form. Each arrival is computed from the running sum,
//!   not from the previous arrival, so rounding to nanoseconds does not drift.
//!   With `even` spacing the `S_k` are `1, 2, 3, ...` instead: arrivals
//!   exactly `1/rate` apart (the `constant` process).
//! - [`Process::Mmpp`]: a two-state Markov-modulated Poisson process. In
//!   state `i` arrivals come at rate `r_i`; the state lasts an exponential
//!   time of mean `m_i`. A candidate gap that runs past the switch is thrown
//!   away and redrawn in the new state, which is exact because the
//!   exponential is memoryless. The first state is drawn from the stationary
//!   distribution, so the process is stationary from time zero.
//! - [`Flash`]: a flash crowd, `extra` arrivals at independent uniform
//!   instants in a window, generated in order as successive uniform order
//!   statistics, superposed on any open process.

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use rand_pcg::Pcg64Mcg;

use crate::time::{SimDuration, SimTime};

/// A stretch of a [`RateProfile`] on which the rate is linear in time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece {
    /// Where it starts, in seconds of profile time.
    pub start_s: f64,
    /// The rate at its start, per second.
    pub rate: f64,
    /// How fast the rate changes, per second per second.
    pub slope: f64,
}

/// An arrival rate that is piecewise linear in time, optionally periodic.
///
/// Pieces run from their start to the next piece's start; the last one runs
/// to the end of the period, or for ever (then it must be flat).
#[derive(Clone, Debug, PartialEq)]
pub struct RateProfile {
    pieces: Vec<Piece>,
    period_s: Option<f64>,
    /// Profile time at simulated time zero.
    origin_s: f64,
}

impl RateProfile {
    /// A profile of `pieces` (the first starting at 0, starts increasing,
    /// rates never negative inside a piece), repeating every `period_s` if
    /// given, read from profile time `origin_s` on. The scenario checks these
    /// conditions before building one.
    pub fn new(pieces: Vec<Piece>, period_s: Option<f64>, origin_s: f64) -> RateProfile {
        RateProfile {
            pieces,
            period_s,
            origin_s,
        }
    }

    /// A constant rate.
    pub fn flat(rate: f64) -> RateProfile {
        RateProfile::new(
            vec![Piece {
                start_s: 0.0,
                rate,
                slope: 0.0,
            }],
            None,
            0.0,
        )
    }

    /// Piece `k` of the unrolled profile: its start, rate, slope and end
    /// (none for a last piece that runs for ever), in profile seconds.
    fn piece(&self, k: u64) -> (f64, f64, f64, Option<f64>) {
        let n = self.pieces.len() as u64;
        let (cycle, i) = match self.period_s {
            Some(_) => (k / n, (k % n) as usize),
            None => (0, k.min(n - 1) as usize),
        };
        let shift = self.period_s.map_or(0.0, |p| cycle as f64 * p);
        let p = self.pieces[i];
        let end = match (self.pieces.get(i + 1), self.period_s) {
            (Some(next), _) => Some(shift + next.start_s),
            (None, Some(period)) => Some(shift + period),
            (None, None) => None,
        };
        (shift + p.start_s, p.rate, p.slope, end)
    }

    /// The rate at `t_s` seconds of simulated time.
    pub fn rate_at(&self, t_s: f64) -> f64 {
        let mut tau = t_s + self.origin_s;
        if let Some(period) = self.period_s {
            tau = tau.rem_euclid(period);
        }
        let i = self
            .pieces
            .partition_point(|p| p.start_s <= tau)
            .saturating_sub(1);
        let p = self.pieces[i];
        p.rate + p.slope * (tau - p.start_s)
    }

    /// The expected number of arrivals from simulated time `from_s` to
    /// `to_s`: the integral of the rate.
    pub fn integral(&self, from_s: f64, to_s: f64) -> f64 {
        self.cumulative(to_s + self.origin_s) - self.cumulative(from_s + self.origin_s)
    }

    /// The integral of the rate from profile time 0 to `tau`.
    fn cumulative(&self, tau: f64) -> f64 {
        let mut total = 0.0;
        let mut k = 0;
        loop {
            let (start, rate, slope, end) = self.piece(k);
            let stop = end.map_or(tau, |e| e.min(tau));
            if stop > start {
                let l = stop - start;
                total += rate * l + slope * l * l / 2.0;
            }
            match end {
                Some(e) if e < tau => k += 1,
                _ => return total,
            }
        }
    }

    /// The index of the piece holding profile time `tau`, counting from 0 in
    /// the unrolled profile.
    fn piece_index(&self, tau: f64) -> u64 {
        let n = self.pieces.len() as u64;
        let (cycles, within) = match self.period_s {
            Some(p) => ((tau / p).floor() as u64, tau.rem_euclid(p)),
            None => (0, tau),
        };
        let i = self
            .pieces
            .partition_point(|p| p.start_s <= within)
            .saturating_sub(1) as u64;
        cycles * n + i
    }
}

/// How a profile's arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// A non-homogeneous Poisson process.
    Poisson,
    /// Deterministic: one arrival per unit of integrated rate.
    Even,
}

/// A checked open arrival process.
#[derive(Clone, Debug, PartialEq)]
pub enum Process {
    /// Poisson with exponential gaps of this mean.
    Poisson {
        /// The mean gap.
        mean_gap: SimDuration,
    },
    /// A rate profile, as a Poisson process or evenly spaced.
    Profile {
        /// The rate over time.
        profile: RateProfile,
        /// Poisson or even spacing.
        spacing: Spacing,
    },
    /// A two-state Markov-modulated Poisson process.
    Mmpp {
        /// Arrival rate in each state, per second.
        rates_per_s: [f64; 2],
        /// Mean time spent in each state, in seconds.
        mean_stay_s: [f64; 2],
    },
}

impl Process {
    /// Multiplies every rate by `k` (per-city multipliers raise the total).
    pub fn scaled(self, k: f64) -> Process {
        match self {
            Process::Poisson { mean_gap } => Process::Poisson {
                mean_gap: SimDuration::from_secs_f64(mean_gap.as_secs_f64() / k),
            },
            Process::Profile {
                mut profile,
                spacing,
            } => {
                for p in &mut profile.pieces {
                    p.rate *= k;
                    p.slope *= k;
                }
                Process::Profile { profile, spacing }
            }
            Process::Mmpp {
                rates_per_s,
                mean_stay_s,
            } => Process::Mmpp {
                rates_per_s: rates_per_s.map(|r| r * k),
                mean_stay_s,
            },
        }
    }

    /// The expected number of arrivals in the first `t_s` seconds.
    pub fn expected_count(&self, t_s: f64) -> f64 {
        match self {
            Process::Poisson { mean_gap } => t_s / mean_gap.as_secs_f64(),
            Process::Profile { profile, .. } => profile.integral(0.0, t_s),
            Process::Mmpp {
                rates_per_s: r,
                mean_stay_s: m,
            } => t_s * (r[0] * m[0] + r[1] * m[1]) / (m[0] + m[1]),
        }
    }

    /// The state that generates this process's arrivals, from time zero.
    pub fn start(&self, rng: &mut Pcg64Mcg) -> ArrivalClock {
        let state = match self {
            Process::Poisson { .. } => State::Poisson {
                last: SimTime::ZERO,
            },
            Process::Profile { profile, .. } => {
                let tau0 = profile.origin_s;
                let k = profile.piece_index(tau0);
                let (start, _, _, _) = profile.piece(k);
                State::Profile {
                    piece: k,
                    // Lambda counted from tau0, so the piece began at minus
                    // the part of it before tau0.
                    lambda_at_piece: -segment_area(profile, k, start, tau0),
                    target: 0.0,
                }
            }
            Process::Mmpp { mean_stay_s, .. } => {
                let p0 = mean_stay_s[0] / (mean_stay_s[0] + mean_stay_s[1]);
                let phase = usize::from(rng.random::<f64>() >= p0);
                let stay = exp_ns(rng, mean_stay_s[phase]);
                State::Mmpp {
                    phase,
                    clock: SimTime::ZERO,
                    switch_at: SimTime::ZERO + stay,
                }
            }
        };
        ArrivalClock {
            process: self.clone(),
            state,
        }
    }
}

/// The area under piece `k` of `profile` from `from` to `to` (profile time).
fn segment_area(profile: &RateProfile, k: u64, from: f64, to: f64) -> f64 {
    let (start, rate, slope, _) = profile.piece(k);
    let (a, b) = (from - start, to - start);
    rate * (b - a) + slope * (b * b - a * a) / 2.0
}

/// An exponential span of mean `mean_s` seconds, in whole nanoseconds.
fn exp_ns(rng: &mut Pcg64Mcg, mean_s: f64) -> SimDuration {
    let unit: f64 = Exp1.sample(rng);
    SimDuration::from_secs_f64(unit * mean_s)
}

#[derive(Clone, Debug)]
enum State {
    Poisson {
        last: SimTime,
    },
    Profile {
        piece: u64,
        lambda_at_piece: f64,
        target: f64,
    },
    Mmpp {
        phase: usize,
        clock: SimTime,
        switch_at: SimTime,
    },
}

/// A running arrival process.
#[derive(Clone, Debug)]
pub struct ArrivalClock {
    process: Process,
    state: State,
}

impl ArrivalClock {
    /// The next arrival instant, or `None` if no more arrivals will come.
    pub fn next(&mut self, rng: &mut Pcg64Mcg) -> Option<SimTime> {
        match (&self.process, &mut self.state) {
            (Process::Poisson { mean_gap }, State::Poisson { last }) => {
                let unit: f64 = Exp1.sample(rng);
                let gap = (unit * mean_gap.as_nanos() as f64).round() as u64;
                *last += SimDuration::from_nanos(gap);
                Some(*last)
            }
            (
                Process::Profile { profile, spacing },
                State::Profile {
                    piece,
                    lambda_at_piece,
                    target,
                },
            ) => {
                *target += match spacing {
                    Spacing::Poisson => Exp1.sample(rng),
                    Spacing::Even => 1.0,
                };
                let tau = invert(profile, piece, lambda_at_piece, *target)?;
                Some(SimTime::ZERO + SimDuration::from_secs_f64(tau - profile.origin_s))
            }
            (
                Process::Mmpp {
                    rates_per_s,
                    mean_stay_s,
                },
                State::Mmpp {
                    phase,
                    clock,
                    switch_at,
                },
            ) => loop {
                let rate = rates_per_s[*phase];
                if rate > 0.0 {
                    let at = *clock + exp_ns(rng, 1.0 / rate);
                    if at < *switch_at {
                        *clock = at;
                        return Some(at);
                    }
                }
                *clock = *switch_at;
                *phase ^= 1;
                *switch_at = *clock + exp_ns(rng, mean_stay_s[*phase]);
            },
            _ => unreachable!("a clock is started from its own process"),
        }
    }
}

/// The profile time at which the integrated rate reaches `target`, moving
/// `piece` and `lambda_at_piece` forward; `None` if it never does.
fn invert(
    profile: &RateProfile,
    piece: &mut u64,
    lambda_at_piece: &mut f64,
    target: f64,
) -> Option<f64> {
    loop {
        let (start, rate, slope, end) = profile.piece(*piece);
        let need = target - *lambda_at_piece;
        match end {
            Some(end) => {
                let len = end - start;
                let area = rate * len + slope * len * len / 2.0;
                if need > area {
                    *lambda_at_piece += area;
                    *piece += 1;
                    continue;
                }
                return Some(start + solve_quadratic(rate, slope, need).min(len));
            }
            None if rate > 0.0 => return Some(start + need / rate),
            None => return None,
        }
    }
}

/// The `x >= 0` with `rate x + slope x^2 / 2 = need`, for a rate that stays
/// non-negative up to `x`. Written as `2 need / (rate + sqrt(...))`, which
/// does not cancel for either sign of the slope.
fn solve_quadratic(rate: f64, slope: f64, need: f64) -> f64 {
    if need <= 0.0 {
        return 0.0;
    }
    let disc = (rate * rate + 2.0 * slope * need).max(0.0);
    2.0 * need / (rate + disc.sqrt())
}

/// A flash crowd: `extra` sessions at independent uniform instants in
/// `[at, at + window]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flash {
    /// Start of the window.
    pub at: SimTime,
    /// Sessions in the crowd.
    pub extra: u32,
    /// Length of the window.
    pub window: SimDuration,
}

/// A flash crowd being generated.
#[derive(Clone, Copy, Debug)]
pub struct FlashClock {
    flash: Flash,
    done: u32,
    /// The last uniform order statistic drawn, in [0, 1].
    u: f64,
}

impl FlashClock {
    /// The crowd, none of it arrived yet.
    pub fn new(flash: Flash) -> FlashClock {
        FlashClock {
            flash,
            done: 0,
            u: 0.0,
        }
    }

    /// The next instant of the crowd, or `None` when it is over.
    ///
    /// Given the k-th smallest of n uniforms is `u`, the next one is
    /// `u + (1 - u)(1 - V^(1/(n - k)))` for a fresh uniform `V`: the smallest
    /// of the `n - k` uniforms left on `[u, 1]`.
    pub fn next(&mut self, rng: &mut Pcg64Mcg) -> Option<SimTime> {
        if self.done >= self.flash.extra {
            return None;
        }
        let left = f64::from(self.flash.extra - self.done);
        let v: f64 = 1.0 - rng.random::<f64>();
        self.u += (1.0 - self.u) * (1.0 - v.powf(1.0 / left));
        self.done += 1;
        let offset = (self.u.min(1.0) * self.flash.window.as_nanos() as f64).round() as u64;
        Some(self.flash.at + SimDuration::from_nanos(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn times(process: &Process, until_s: f64) -> Vec<f64> {
        let mut rng = Pcg64Mcg::seed_from_u64(11);
        let mut clock = process.start(&mut rng);
        std::iter::from_fn(|| clock.next(&mut rng))
            .map(|t| t.as_secs_f64())
            .take_while(|&t| t <= until_s)
            .collect()
    }

    #[test]
    fn even_spacing_of_a_flat_rate_is_one_arrival_per_gap() {
        let p = Process::Profile {
            profile: RateProfile::flat(4.0),
            spacing: Spacing::Even,
        };
        let t = times(&p, 10.0);
        assert_eq!(t.len(), 40);
        assert!(
            t.iter()
                .enumerate()
                .all(|(k, &x)| (x - (k + 1) as f64 / 4.0).abs() < 1e-9)
        );
    }

    #[test]
    fn a_ramp_is_inverted_exactly() {
        // Rate 2t on [0, 10): Lambda(t) = t^2, so the even points are sqrt(k).
        let profile = RateProfile::new(
            vec![
                Piece {
                    start_s: 0.0,
                    rate: 0.0,
                    slope: 2.0,
                },
                Piece {
                    start_s: 10.0,
                    rate: 20.0,
                    slope: 0.0,
                },
            ],
            None,
            0.0,
        );
        let p = Process::Profile {
            profile,
            spacing: Spacing::Even,
        };
        let t = times(&p, 11.0);
        for (k, x) in t.iter().enumerate().take(100) {
            assert!((x - ((k + 1) as f64).sqrt()).abs() < 1e-6, "{k}: {x}");
        }
        // 100 by t = 10, then 20 a second.
        assert_eq!(t.len(), 120);
    }

    #[test]
    fn a_periodic_profile_starts_at_its_origin_and_wraps() {
        // Two hours: 1/s then 3/s, repeating, starting half-way through the
        // first hour: Lambda over the first 7200 s is 1800 + 10800 + 1800.
        let profile = RateProfile::new(
            vec![
                Piece {
                    start_s: 0.0,
                    rate: 1.0,
                    slope: 0.0,
                },
                Piece {
                    start_s: 3600.0,
                    rate: 3.0,
                    slope: 0.0,
                },
            ],
            Some(7200.0),
            1800.0,
        );
        assert_eq!(profile.integral(0.0, 7200.0), 14400.0);
        assert_eq!(profile.rate_at(1799.0), 1.0);
        assert_eq!(profile.rate_at(1801.0), 3.0);
        assert_eq!(profile.rate_at(5401.0), 1.0);
        let p = Process::Profile {
            profile,
            spacing: Spacing::Even,
        };
        assert_eq!(times(&p, 7200.0).len(), 14400);
    }

    #[test]
    fn a_flash_crowd_gives_its_count_in_order_inside_its_window() {
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        let flash = Flash {
            at: SimTime::from_nanos(1_000_000_000),
            extra: 1000,
            window: SimDuration::from_secs(10),
        };
        let mut c = FlashClock::new(flash);
        let t: Vec<u64> = std::iter::from_fn(|| c.next(&mut rng))
            .map(|t| t.as_nanos())
            .collect();
        assert_eq!(t.len(), 1000);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        assert!(t[0] >= 1_000_000_000 && t[999] <= 11_000_000_000);
        // Uniform: the count in the first half is binomial(1000, 1/2), sd 15.8.
        let first_half = t.iter().filter(|&&x| x < 6_000_000_000).count() as f64;
        assert!((first_half - 500.0).abs() < 5.0 * 15.82, "{first_half}");
    }
}
