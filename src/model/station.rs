//! A service station: a fixed number of servers and a FIFO queue.
//!
//! The scheduler's workers and a node's lock manager are both stations. The
//! station only keeps count; its owner draws the service time and schedules
//! the completion, so the station itself never touches a clock or a random
//! stream.

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// Servers and a FIFO queue of jobs of type `T`.
#[derive(Debug)]
pub struct Station<T> {
    servers: u32,
    busy: u32,
    waiting: VecDeque<(T, SimTime)>,
}

impl<T> Station<T> {
    /// A station of `servers` servers, all free.
    pub fn new(servers: u32) -> Station<T> {
        Station {
            servers,
            busy: 0,
            waiting: VecDeque::new(),
        }
    }

    /// A job arrives at `now`: it is handed back if a server takes it at
    /// once, and queued otherwise.
    pub fn arrive(&mut self, job: T, now: SimTime) -> Option<T> {
        if self.busy < self.servers {
            self.busy += 1;
            Some(job)
        } else {
            self.waiting.push_back((job, now));
            None
        }
    }

    /// A server finished at `now`: the next job it takes, with how long that
    /// job waited, if any job waits.
    pub fn depart(&mut self, now: SimTime) -> Option<(T, SimDuration)> {
        match self.waiting.pop_front() {
            Some((job, since)) => Some((job, now.since(since))),
            None => {
                self.busy = self.busy.saturating_sub(1);
                None
            }
        }
    }

    /// Jobs waiting.
    pub fn queued(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_beyond_the_servers_wait_in_order() {
        let t = SimTime::from_nanos;
        let mut s = Station::new(2);
        assert_eq!(s.arrive('a', t(0)), Some('a'));
        assert_eq!(s.arrive('b', t(1)), Some('b'));
        assert_eq!(s.arrive('c', t(2)), None);
        assert_eq!(s.arrive('d', t(3)), None);
        assert_eq!(s.depart(t(10)), Some(('c', SimDuration::from_nanos(8))));
        assert_eq!(s.depart(t(11)), Some(('d', SimDuration::from_nanos(8))));
        assert_eq!(s.depart(t(12)), None);
        assert_eq!(s.arrive('e', t(13)), Some('e'));
        assert_eq!(s.arrive('f', t(13)), None);
        assert_eq!(s.queued(), 1);
    }
}
