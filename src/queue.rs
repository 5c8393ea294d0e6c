//! The event queue: every pending event, in (time, sequence number) order.
//!
//! Events due later than now sit in a binary heap keyed by (time, sequence).
//! Events sent with no delay go to a FIFO instead: they are due now, and every
//! event already in the heap for this instant was scheduled at an earlier
//! instant, so it carries a smaller sequence number and must go first. Popping
//! the heap's events for `now` before the FIFO therefore gives exactly the
//! (time, sequence) order, while most zero-delay hops skip the heap entirely.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::{SimDuration, SimTime};

/// Pending events of type `E`, popped in (time, sequence number) order.
pub struct EventQueue<E> {
    now: SimTime,
    next_seq: u64,
    later: BinaryHeap<Pending<E>>,
    due_now: VecDeque<E>,
}

struct Pending<E> {
    time: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Pending<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}

impl<E> Eq for Pending<E> {}

impl<E> PartialOrd for Pending<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Pending<E> {
    // Reversed, so that the std max-heap pops the earliest event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            now: SimTime::ZERO,
            next_seq: 0,
            later: BinaryHeap::new(),
            due_now: VecDeque::new(),
        }
    }

    /// The instant of the event popped last.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn push(&mut self, delay: SimDuration, event: E) {
        self.push_at(self.now + delay, event);
    }

    /// Schedules `event` at `time`; a time in the past means now.
    #[inline]
    pub fn push_at(&mut self, time: SimTime, event: E) {
        if time <= self.now {
            self.due_now.push_back(event);
        } else {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.later.push(Pending { time, seq, event });
        }
    }

    /// The instant of the next event, if any.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        if !self.due_now.is_empty() {
            return Some(self.now);
        }
        self.later.peek().map(|p| p.time)
    }

    /// Removes the next event and advances the clock to its instant.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if let Some(top) = self.later.peek()
            && top.time == self.now
        {
            let p = self.later.pop().expect("peeked");
            return Some((p.time, p.event));
        }
        if let Some(event) = self.due_now.pop_front() {
            return Some((self.now, event));
        }
        let p = self.later.pop()?;
        self.now = p.time;
        Some((p.time, p.event))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.later.len() + self.due_now.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimDuration::from_nanos(5), "b5");
        q.push(SimDuration::from_nanos(1), "a1");
        q.push(SimDuration::from_nanos(5), "c5");
        q.push(SimDuration::ZERO, "now");
        let order: Vec<_> = std::iter::from_fn(|| q.pop())
            .map(|(t, e)| (t.as_nanos(), e))
            .collect();
        assert_eq!(order, vec![(0, "now"), (1, "a1"), (5, "b5"), (5, "c5")]);
    }

    #[test]
    fn zero_delay_events_follow_earlier_scheduled_events_of_the_same_instant() {
        let mut q = EventQueue::new();
        q.push(SimDuration::from_nanos(10), 1);
        q.push(SimDuration::from_nanos(10), 2);
        assert_eq!(q.pop(), Some((SimTime::from_nanos(10), 1)));
        // Sent at t=10 with no delay: due after event 2, which was scheduled first.
        q.push(SimDuration::ZERO, 3);
        q.push(SimDuration::from_nanos(1), 4);
        assert_eq!(q.pop(), Some((SimTime::from_nanos(10), 2)));
        assert_eq!(q.pop(), Some((SimTime::from_nanos(10), 3)));
        assert_eq!(q.pop(), Some((SimTime::from_nanos(11), 4)));
        assert_eq!(q.pop(), None);
    }
}
