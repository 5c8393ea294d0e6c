//! The event queue: every pending event, in (time, sequence number) order.
//!
//! Events sent with no delay go to a FIFO: they are due now, and every event
//! already scheduled for this instant was scheduled at an earlier instant, so
//! it carries a smaller sequence number and must go first. Popping the
//! scheduled events for `now` before the FIFO therefore gives exactly the
//! (time, sequence) order, while most zero-delay hops skip the ordering
//! entirely.
//!
//! Events due later are kept like a two-level timing wheel. The current
//! bucket (2^20 ns, about a millisecond) has its events in a binary heap
//! keyed by (time, sequence); the later fine buckets of the same block of
//! [`FINE`] buckets (about 4.4 s) are unsorted lists; the next [`COARSE`]
//! blocks (about 4.9 hours) are unsorted lists too, spread into fine buckets
//! when their block begins; anything later waits in a second heap. A run with
//! a million devices has hundreds of thousands of holding timers pending; in
//! a single heap every pop walked ~19 levels of cache misses, while here the
//! heap holds about a millisecond of events and each event is moved at most
//! twice more. The order is unchanged: a bucket's events are all in the heap
//! before the first of them is popped.
//!
//! The heaps and lists hold small keys (time, sequence, slot); the events
//! themselves wait in a slab of reused slots.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::{SimDuration, SimTime};

/// log2 of a fine bucket's width in nanoseconds.
const FINE_SHIFT: u32 = 20;

/// Fine buckets per block.
pub const FINE: u64 = 4096;

/// Blocks kept as lists after the current one.
pub const COARSE: u64 = 4096;

/// Pending events of type `E`, popped in (time, sequence number) order.
pub struct EventQueue<E> {
    now: SimTime,
    next_seq: u64,
    /// The fine bucket whose events are in `near`.
    current: u64,
    /// Events of fine buckets up to `current`, ordered.
    near: BinaryHeap<Pending>,
    /// Fine bucket `b` of the current block, after `current`, is
    /// `fine[b % FINE]`.
    fine: Vec<Vec<Pending>>,
    /// Events in `fine`.
    in_fine: usize,
    /// Bit `b` is set when `fine[b]` has events, so that empty buckets are
    /// skipped a word at a time.
    occupied: [u64; (FINE / 64) as usize],
    /// Block `k` in `block + 1 .. block + COARSE` is `coarse[k % COARSE]`.
    coarse: Vec<Vec<Pending>>,
    /// Events in `coarse`.
    in_coarse: usize,
    /// Events of later blocks, ordered.
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
    /// Its fine bucket.
    fn bucket(&self) -> u64 {
        self.time.as_nanos() >> FINE_SHIFT
    }
}

/// The block of fine bucket `b`.
fn block(b: u64) -> u64 {
    b / FINE
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
            fine: (0..FINE).map(|_| Vec::new()).collect(),
            in_fine: 0,
            occupied: [0; (FINE / 64) as usize],
            coarse: (0..COARSE).map(|_| Vec::new()).collect(),
            in_coarse: 0,
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
        let now_block = block(self.current);
        if b <= self.current {
            self.near.push(p);
        } else if block(b) == now_block {
            let i = (b % FINE) as usize;
            self.fine[i].push(p);
            self.occupied[i / 64] |= 1 << (i % 64);
            self.in_fine += 1;
        } else if block(b) - now_block < COARSE {
            self.coarse[(block(b) % COARSE) as usize].push(p);
            self.in_coarse += 1;
        } else {
            self.far.push(p);
        }
    }

    /// Loads the next bucket that has events into `near`; false when
    /// nothing is pending after now.
    fn advance(&mut self) -> bool {
        while self.near.is_empty() {
            if self.in_fine > 0 {
                // The next occupied bucket of this block.
                let from = (self.current % FINE + 1) as usize;
                let next = self
                    .next_occupied(from)
                    .expect("in_fine counts events in later buckets of the block");
                self.current = block(self.current) * FINE + next as u64;
            } else {
                // Nothing left in this block: enter the next block that may
                // have events.
                let next_block = if self.in_coarse > 0 {
                    block(self.current) + 1
                } else {
                    match self.far.peek() {
                        Some(p) => block(p.bucket()),
                        None => return false,
                    }
                };
                self.current = next_block * FINE;
                self.begin_block();
            }
            let i = (self.current % FINE) as usize;
            self.in_fine -= self.fine[i].len();
            self.occupied[i / 64] &= !(1 << (i % 64));
            let bucket = &mut self.fine[i];
            self.near.extend(bucket.drain(..));
        }
        true
    }

    /// The first occupied fine bucket at or after `from`.
    fn next_occupied(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        if w >= self.occupied.len() {
            return None;
        }
        let mut word = self.occupied[w] & (u64::MAX << (from % 64));
        loop {
            if word != 0 {
                return Some(w * 64 + word.trailing_zeros() as usize);
            }
            w += 1;
            word = *self.occupied.get(w)?;
        }
    }

    /// Spreads the block that `current` just entered into fine buckets, and
    /// brings far events that are now within reach into the block lists.
    fn begin_block(&mut self) {
        let b = block(self.current);
        let list = std::mem::take(&mut self.coarse[(b % COARSE) as usize]);
        self.in_coarse -= list.len();
        for p in list {
            self.place(p);
        }
        while let Some(&p) = self.far.peek() {
            if block(p.bucket()) - b >= COARSE {
                break;
            }
            self.far.pop();
            self.place(p);
        }
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
        self.near.len() + self.in_fine + self.in_coarse + self.far.len() + self.due_now.len()
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
