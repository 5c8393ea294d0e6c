//! The event queue: every pending event, in (time, sequence number) order.
//!
//! Events sent with no delay go to a FIFO: they are due now, and every event
//! already scheduled for this instant was scheduled at an earlier instant, so
//! it carries a smaller sequence number and must go first. Popping the
//! scheduled events for `now` before the FIFO therefore gives exactly the
//! (time, sequence) order, while most zero-delay hops skip the ordering
//! entirely.
//!
//! Events due later are kept by time bucket (2^30 ns, about a second), like a
//! calendar queue: the current bucket's events are in a binary heap keyed by
//! (time, sequence); the next [`WHEEL`] buckets are unsorted lists that move
//! into the heap when their turn comes; events beyond the wheel wait in a
//! second heap. A run with a million devices has hundreds of thousands of
//! holding timers pending, and a single heap of all of them made every pop
//! walk ~19 levels of cache misses; the heap now holds about one simulated
//! second of events. The order is unchanged: a bucket's events are all in the
//! heap before the first of them is popped.
//!
//! The heaps and lists hold small keys (time, sequence, slot); the events
//! themselves wait in a slab of reused slots.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::{SimDuration, SimTime};

/// log2 of a bucket's width in nanoseconds.
const BUCKET_SHIFT: u32 = 30;

/// Buckets kept as lists after the current one.
pub const WHEEL: u64 = 4096;

/// Pending events of type `E`, popped in (time, sequence number) order.
pub struct EventQueue<E> {
    now: SimTime,
    next_seq: u64,
    /// The bucket whose events are in `near`.
    current: u64,
    /// Events of buckets up to `current`, ordered.
    near: BinaryHeap<Pending>,
    /// Bucket `b` in `current + 1 .. current + WHEEL` is `wheel[b % WHEEL]`.
    wheel: Vec<Vec<Pending>>,
    /// Events in `wheel`.
    in_wheel: usize,
    /// Events of later buckets, ordered.
    far: BinaryHeap<Pending>,
    /// The events, by slot.
    slots: Vec<Option<E>>,
    /// Slots free for reuse.
    free: Vec<u32>,
    due_now: VecDeque<E>,
}

/// A pending event's place in the order, and the slot holding it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Pending {
    time: SimTime,
    seq: u64,
    slot: u32,
}

impl Pending {
    fn bucket(&self) -> u64 {
        self.time.as_nanos() >> BUCKET_SHIFT
    }
}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
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
            current: 0,
            near: BinaryHeap::new(),
            wheel: (0..WHEEL).map(|_| Vec::new()).collect(),
            in_wheel: 0,
            far: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
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
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        self.place(Pending { time, seq, slot });
    }

    /// Puts a key where its bucket belongs.
    #[inline]
    fn place(&mut self, p: Pending) {
        let b = p.bucket();
        if b <= self.current {
            self.near.push(p);
        } else if b - self.current < WHEEL {
            self.wheel[(b % WHEEL) as usize].push(p);
            self.in_wheel += 1;
        } else {
            self.far.push(p);
        }
    }

    /// Loads the next bucket that has events into `near`; false when
    /// nothing is pending after now.
    fn advance(&mut self) -> bool {
        while self.near.is_empty() {
            if self.in_wheel == 0 {
                match self.far.peek() {
                    // Nothing in the wheel: jump to the bucket before the
                    // first far one.
                    Some(p) => self.current = self.current.max(p.bucket() - 1),
                    None => return false,
                }
            }
            self.current += 1;
            let i = (self.current % WHEEL) as usize;
            let bucket = std::mem::take(&mut self.wheel[i]);
            self.in_wheel -= bucket.len();
            self.near.extend(bucket);
            while let Some(&p) = self.far.peek() {
                if p.bucket() - self.current >= WHEEL {
                    break;
                }
                self.far.pop();
                self.place(p);
            }
        }
        true
    }

    /// The instant of the next event, if any.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if !self.due_now.is_empty() {
            return Some(self.now);
        }
        if self.near.is_empty() && !self.advance() {
            return None;
        }
        self.near.peek().map(|p| p.time)
    }

    /// Removes the next event and advances the clock to its instant.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if let Some(top) = self.near.peek()
            && top.time == self.now
        {
            let p = self.near.pop().expect("peeked");
            return Some((p.time, self.take(p.slot)));
        }
        if let Some(event) = self.due_now.pop_front() {
            return Some((self.now, event));
        }
        if self.near.is_empty() && !self.advance() {
            return None;
        }
        let p = self.near.pop().expect("advanced to a bucket with events");
        self.now = p.time;
        Some((p.time, self.take(p.slot)))
    }

    #[inline]
    fn take(&mut self, slot: u32) -> E {
        self.free.push(slot);
        self.slots[slot as usize]
            .take()
            .expect("a pending key's slot holds its event")
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.near.len() + self.in_wheel + self.far.len() + self.due_now.len()
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

    #[test]
    fn events_across_buckets_the_wheel_and_beyond_pop_in_order() {
        // Times spread from nanoseconds to days, with ties, pushed in a
        // scrambled order and also while popping: the pops must come out as
        // a sort by (time, insertion order) would give them.
        let mut q = EventQueue::new();
        let mut expected = Vec::new();
        let mut x: u64 = 12345;
        let mut next = || {
            x = crate::fleet::splitmix64(x);
            x
        };
        for i in 0..20_000u64 {
            let r = next();
            let t = match r % 4 {
                0 => r % 1_000,
                1 => r % (1 << 32),
                2 => r % (1 << 40),
                _ => r % (1 << 50),
            };
            let t = t - t % 1000; // make ties likely
            q.push_at(SimTime::from_nanos(t), i);
            expected.push((t, i));
        }
        let mut popped = Vec::new();
        let mut later = 20_000u64;
        while let Some((t, e)) = q.pop() {
            popped.push((t.as_nanos(), e));
            if later < 25_000 && e % 7 == 0 {
                let r = next() % (1 << 36);
                q.push(SimDuration::from_nanos(r), later);
                expected.push((t.as_nanos() + r, later));
                later += 1;
            }
        }
        // Insertion order breaks ties, and a later insertion has a larger id.
        expected.sort();
        assert_eq!(popped.len(), expected.len());
        assert_eq!(popped, expected);
        assert!(q.is_empty());
    }
}
