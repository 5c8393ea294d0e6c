//! Queueing formulas used to check the simulator.

/// Erlang B: the probability that an arrival finds all `servers` busy when
/// `erlangs` of Poisson traffic is offered to a loss system.
pub fn erlang_b(servers: u32, erlangs: f64) -> f64 {
    // B(0) = 1; B(k) = a B(k-1) / (k + a B(k-1)), stable for large k.
    (1..=servers).fold(1.0, |b, k| erlangs * b / (f64::from(k) + erlangs * b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_published_values() {
        for (c, a, b) in [
            (10, 5.0, 0.018385),
            (20, 15.0, 0.045593),
            (100, 80.0, 0.003992),
            (100, 90.0, 0.026957),
        ] {
            assert!(
                (erlang_b(c, a) - b).abs() < 5e-7,
                "B({c}, {a}) = {}",
                erlang_b(c, a)
            );
        }
    }
}
