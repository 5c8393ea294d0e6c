//! One-way network delay between a device or region and the scheduler.

use rand::Rng;

use crate::dist::Dist;
use crate::geo::distance_km;
use crate::time::{SimDuration, SimTime};

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

/// Links that deliver in the order they were sent, as a TCP connection does:
/// a message never overtakes an earlier one on the same link, whatever delay
/// was drawn for it.
#[derive(Clone, Debug)]
pub struct FifoLinks {
    last_arrival: Vec<SimTime>,
}

impl FifoLinks {
    /// `links` links, all idle.
    pub fn new(links: usize) -> FifoLinks {
        FifoLinks {
            last_arrival: vec![SimTime::ZERO; links],
        }
    }

    /// The delay of a message sent on `link` at `now` with a drawn delay of
    /// `drawn`: stretched, if need be, to arrive no earlier than the last one.
    pub fn delay(&mut self, link: usize, now: SimTime, drawn: SimDuration) -> SimDuration {
        let arrival = (now + drawn).max(self.last_arrival[link]);
        self.last_arrival[link] = arrival;
        arrival - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_message_never_overtakes_an_earlier_one() {
        let mut links = FifoLinks::new(2);
        let t = SimTime::from_nanos;
        let d = SimDuration::from_nanos;
        assert_eq!(links.delay(0, t(0), d(100)), d(100));
        assert_eq!(links.delay(0, t(10), d(5)), d(90));
        assert_eq!(links.delay(1, t(10), d(5)), d(5));
        assert_eq!(links.delay(0, t(200), d(5)), d(5));
    }
}
