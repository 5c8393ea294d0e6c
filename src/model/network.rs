//! One-way network delay between a device or region and the scheduler.

use rand::Rng;

use crate::dist::Dist;
use crate::geo::distance_km;
use crate::time::SimDuration;

/// Network delay: base + distance x per-km delay + jitter, drawn per message.
pub struct Network {
    base: Dist,
    jitter: Dist,
    /// Propagation part of the delay from each city to the scheduler.
    city_ns: Vec<u64>,
    /// Propagation part of the delay from each region to the scheduler.
    region_ns: Vec<u64>,
}

impl Network {
    /// Precomputes the propagation delay of every city and region.
    pub fn new(
        base: Dist,
        jitter: Dist,
        ns_per_km: f64,
        scheduler_at: (f64, f64),
        cities: impl Iterator<Item = (f64, f64)>,
        regions: impl Iterator<Item = (f64, f64)>,
    ) -> Network {
        let prop = |(lat, lon): (f64, f64)| {
            (distance_km(lat, lon, scheduler_at.0, scheduler_at.1) * ns_per_km).round() as u64
        };
        Network {
            base,
            jitter,
            city_ns: cities.map(prop).collect(),
            region_ns: regions.map(prop).collect(),
        }
    }

    fn draw<R: Rng + ?Sized>(&self, propagation: u64, rng: &mut R) -> SimDuration {
        let mut d = SimDuration::from_nanos(propagation);
        if !self.base.is_zero() {
            d = d + self.base.sample(rng);
        }
        if !self.jitter.is_zero() {
            d = d + self.jitter.sample(rng);
        }
        d
    }

    /// Delay of one message between a device in `city` and the scheduler.
    pub fn device_delay<R: Rng + ?Sized>(&self, city: u32, rng: &mut R) -> SimDuration {
        self.draw(self.city_ns[city as usize], rng)
    }

    /// Delay of one message between the scheduler and a node in `region`.
    pub fn region_delay<R: Rng + ?Sized>(&self, region: u16, rng: &mut R) -> SimDuration {
        self.draw(self.region_ns[region as usize], rng)
    }
}
