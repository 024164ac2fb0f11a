//! Circuit breakers: Resilience4j's (reference 1.1) and Hystrix's single-probe breaker
//! (reference 1.2), as state machines that are asked for a permit before a call and told its
//! result after. Time is the caller's `now`; nothing here schedules events.

use cellsim_sim::{Nanos, NS_PER_S};

/// A breaker's parameters, compiled from the scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BreakerSpec {
    Resilience4j(R4jSpec),
    Hystrix(HystrixSpec),
}

impl BreakerSpec {
    /// The most heap one breaker of this spec holds: its sliding window (a byte per call, or
    /// a record per second) and its half-open trial window.
    pub fn heap_bytes_at_most(&self) -> u64 {
        let (kind, size, permits) = match self {
            BreakerSpec::Resilience4j(r) => (r.window, r.window_size as u64, r.half_open_permits as u64),
            BreakerSpec::Hystrix(h) => (WindowKind::Time, h.window_s as u64, 1),
        };
        let per_entry = match kind {
            WindowKind::Count => 1,
            WindowKind::Time => std::mem::size_of::<(u64, u32, u32, u32)>() as u64,
        };
        size.max(1) * per_entry + permits.max(1)
    }

    /// The scenario's name for this kind.
    pub fn name(&self) -> &'static str {
        match self {
            BreakerSpec::Resilience4j(_) => "resilience4j",
            BreakerSpec::Hystrix(_) => "hystrix",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// The last `size` calls.
    Count,
    /// The calls of the current second and the `size - 1` whole seconds before it.
    Time,
}

/// Resilience4j's `CircuitBreakerConfig`, defaults from its `DEFAULT_*` constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct R4jSpec {
    /// Percent; trips when the failure rate is >= this.
    pub failure_rate_threshold: f64,
    /// Percent; trips when the slow-call rate is >= this.
    pub slow_call_rate_threshold: f64,
    /// A call is slow when it lasted strictly longer than this.
    pub slow_call_duration_ns: Nanos,
    pub window: WindowKind,
    /// Calls (count window) or seconds (time window).
    pub window_size: u32,
    pub minimum_calls: u32,
    /// The first open period; later ones (after a failed half-open trial) grow by
    /// `wait_multiplier` up to `max_wait_ns` (Resilience4j's exponential `IntervalFunction`).
    pub wait_open_ns: Nanos,
    pub wait_multiplier: f64,
    pub max_wait_ns: Nanos,
    pub half_open_permits: u32,
    /// 0: a breaker whose trial calls never finish stays half-open.
    pub max_wait_half_open_ns: Nanos,
    /// true: open becomes half-open at exactly the wait (a scheduler's timer); false: the
    /// first call strictly after the wait moves it.
    pub automatic_transition: bool,
}

impl Default for R4jSpec {
    fn default() -> Self {
        R4jSpec {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_ns: 60 * NS_PER_S,
            window: WindowKind::Count,
            window_size: 100,
            minimum_calls: 100,
            wait_open_ns: 60 * NS_PER_S,
            wait_multiplier: 1.0,
            max_wait_ns: 60 * NS_PER_S,
            half_open_permits: 10,
            max_wait_half_open_ns: 0,
            automatic_transition: false,
        }
    }
}

/// Hystrix's `HystrixCommandProperties` defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HystrixSpec {
    /// The rolling window, in one-second buckets (default 10 s).
    pub window_s: u32,
    pub request_volume_threshold: u32,
    /// Percent; opens when the error percentage is >= this.
    pub error_threshold: f64,
    pub sleep_window_ns: Nanos,
    /// How often the health counts are recomputed and checked.
    pub snapshot_interval_ns: Nanos,
}

impl Default for HystrixSpec {
    fn default() -> Self {
        HystrixSpec {
            window_s: 10,
            request_volume_threshold: 20,
            error_threshold: 50.0,
            sleep_window_ns: 5 * NS_PER_S,
            snapshot_interval_ns: 500_000_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

/// Counts over a sliding window: the last N calls, or the last N seconds.
#[derive(Clone, Debug)]
struct Window {
    kind: WindowKind,
    /// Count: one entry per call (bit 0 failed, bit 1 slow), a ring. Time: unused.
    calls: Vec<u8>,
    next: usize,
    size: usize,
    /// Time: per second (second, total, failed, slow), a ring indexed by second % N.
    seconds: Vec<(u64, u32, u32, u32)>,
    total: u32,
    failed: u32,
    slow: u32,
}

impl Window {
    fn new(kind: WindowKind, size: u32) -> Window {
        let size = size.max(1) as usize;
        let (calls, seconds) = match kind {
            WindowKind::Count => (Vec::new(), Vec::new()),
            WindowKind::Time => (Vec::new(), vec![(u64::MAX, 0, 0, 0); size]),
        };
        Window { kind, calls, next: 0, size, seconds, total: 0, failed: 0, slow: 0 }
    }

    #[inline(always)]
    fn record(&mut self, now: Nanos, failed: bool, slow: bool) {
        match self.kind {
            WindowKind::Count => {
                let bits = failed as u8 | (slow as u8) << 1;
                if self.calls.len() < self.size {
                    self.calls.push(bits);
                    self.total += 1;
                } else {
                    let old = std::mem::replace(&mut self.calls[self.next], bits);
                    self.failed -= (old & 1) as u32;
                    self.slow -= (old >> 1) as u32;
                }
                self.next += 1;
                if self.next == self.size {
                    self.next = 0;
                }
                self.failed += failed as u32;
                self.slow += slow as u32;
            }
            WindowKind::Time => {
                self.roll(now);
                let n = self.seconds.len() as u64;
                let b = &mut self.seconds[(now / NS_PER_S % n) as usize];
                b.1 += 1;
                b.2 += failed as u32;
                b.3 += slow as u32;
                self.total += 1;
                self.failed += failed as u32;
                self.slow += slow as u32;
            }
        }
    }

    /// Time windows: evicts the seconds that have left the window at `now`.
    fn roll(&mut self, now: Nanos) {
        if self.kind != WindowKind::Time {
            return;
        }
        let n = self.seconds.len() as u64;
        let sec = now / NS_PER_S;
        for b in self.seconds.iter_mut() {
            // A bucket is live while its second is within (sec - n, sec].
            if b.0 != u64::MAX && b.0 + n <= sec {
                self.total -= b.1;
                self.failed -= b.2;
                self.slow -= b.3;
                *b = (u64::MAX, 0, 0, 0);
            }
        }
        let slot = &mut self.seconds[(sec % n) as usize];
        if slot.0 != sec {
            *slot = (sec, 0, 0, 0);
        }
    }
}

/// One breaker's state.
#[derive(Clone, Debug)]
pub struct Breaker {
    spec: BreakerSpec,
    state: State,
    /// When the breaker last opened (Open), or became half-open (HalfOpen).
    since_ns: Nanos,
    /// Resilience4j: consecutive opens (1 on the first trip; 0 once closed).
    attempts: u32,
    /// The current open period.
    wait_ns: Nanos,
    /// Half-open: permits left (Resilience4j), or whether the probe is out (Hystrix, 0 or 1).
    permits: u32,
    closed: Window,
    half_open: Window,
    /// Hystrix: the next health snapshot (snapshots fall on multiples of the interval).
    next_check_ns: Nanos,
    /// How many times the breaker opened, and the calls it refused.
    pub opened: u64,
    pub refused: u64,
    /// Resilience4j's per-result constants, copied out of the spec once: the slow-call
    /// threshold, the two rate thresholds, and the minimum calls when closed and half-open.
    slow_ns: Nanos,
    thresholds: (f64, f64),
    min_calls: (u32, u32),
    /// Resilience4j with a count window: results while closed take `on_result`'s inline path.
    r4j_count: bool,
}

impl Breaker {
    pub fn new(spec: BreakerSpec) -> Breaker {
        let closed = match spec {
            BreakerSpec::Resilience4j(r) => Window::new(r.window, r.window_size),
            BreakerSpec::Hystrix(h) => Window::new(WindowKind::Time, h.window_s),
        };
        let (slow_ns, thresholds, min_calls) = match spec {
            BreakerSpec::Resilience4j(r) => {
                let min_closed = match r.window {
                    WindowKind::Count => r.minimum_calls.min(r.window_size),
                    WindowKind::Time => r.minimum_calls,
                };
                (
                    r.slow_call_duration_ns,
                    (r.failure_rate_threshold, r.slow_call_rate_threshold),
                    (min_closed, r.minimum_calls.min(r.half_open_permits)),
                )
            }
            BreakerSpec::Hystrix(_) => (Nanos::MAX, (100.0, 100.0), (u32::MAX, u32::MAX)),
        };
        Breaker {
            spec,
            state: State::Closed,
            since_ns: 0,
            attempts: 0,
            wait_ns: 0,
            permits: 0,
            closed,
            half_open: Window::new(WindowKind::Count, 1),
            next_check_ns: match spec {
                BreakerSpec::Hystrix(h) => h.snapshot_interval_ns,
                BreakerSpec::Resilience4j(_) => 0,
            },
            opened: 0,
            refused: 0,
            slow_ns,
            thresholds,
            min_calls,
            r4j_count: matches!(spec, BreakerSpec::Resilience4j(r) if r.window == WindowKind::Count),
        }
    }

    /// The state at `now`, after any transition that time alone causes.
    pub fn state(&mut self, now: Nanos) -> State {
        self.tick(now);
        self.state
    }

    /// May a call go out at `now`? A refused call is counted and must not be reported.
    #[inline]
    pub fn try_acquire(&mut self, now: Nanos) -> bool {
        self.tick(now);
        let ok = match self.state {
            State::Closed => true,
            State::Open => false,
            State::HalfOpen if self.permits > 0 => {
                self.permits -= 1;
                true
            }
            State::HalfOpen => false,
        };
        if !ok {
            self.refused += 1;
        }
        ok
    }

    /// A permitted call finished at `now` after `duration_ns`, failed or not.
    #[inline(always)]
    pub fn on_result(&mut self, now: Nanos, duration_ns: Nanos, failed: bool) {
        if self.state == State::Closed && self.r4j_count {
            // The common case, inline: what `on_result_any` does for a closed Resilience4j
            // breaker with a count window (time cannot move it, and no window rolls).
            let slow = duration_ns > self.slow_ns;
            let total_before = self.closed.total;
            self.closed.record(now, failed, slow);
            let (min_closed, _) = self.min_calls;
            if (failed || slow || total_before < min_closed)
                && exceeded(&self.closed, min_closed, self.thresholds.0, self.thresholds.1)
            {
                self.open(now, 1);
            }
            return;
        }
        self.on_result_any(now, duration_ns, failed);
    }

    #[inline(never)]
    fn on_result_any(&mut self, now: Nanos, duration_ns: Nanos, failed: bool) {
        self.tick(now);
        match &self.spec {
            BreakerSpec::Resilience4j(_) => {
                let slow = duration_ns > self.slow_ns;
                let (failure_threshold, slow_threshold) = self.thresholds;
                let (min_closed, min_half_open) = self.min_calls;
                match self.state {
                    State::Closed => {
                        let total_before = self.closed.total;
                        self.closed.record(now, failed, slow);
                        // In a count window, a fast success cannot raise a rate (it replaces a
                        // call or dilutes the window), and rates that were below the thresholds
                        // stay below: only failures, slow calls and the calls up to the
                        // minimum need the check.
                        let may_trip =
                            failed || slow || total_before < min_closed || self.closed.kind == WindowKind::Time;
                        if may_trip && exceeded(&self.closed, min_closed, failure_threshold, slow_threshold) {
                            self.open(now, 1);
                        }
                    }
                    // Late results of calls let through before the trip.
                    State::Open => self.closed.record(now, failed, slow),
                    State::HalfOpen => {
                        self.half_open.record(now, failed, slow);
                        let min = min_half_open;
                        if self.half_open.total >= min {
                            if exceeded(&self.half_open, min, failure_threshold, slow_threshold) {
                                self.open(now, self.attempts + 1);
                            } else {
                                self.close();
                            }
                        }
                    }
                }
            }
            BreakerSpec::Hystrix(_) => match self.state {
                State::Closed | State::Open => self.closed.record(now, failed, false),
                State::HalfOpen => {
                    if failed {
                        self.open(now, self.attempts + 1);
                    } else {
                        self.close();
                    }
                }
            },
        }
    }

    /// Transitions that time alone causes, evaluated lazily at `now` but dated when they
    /// happen: open to half-open after the wait (Resilience4j with a scheduler: at the
    /// wait; without: strictly after it, on the first call), half-open back to open after
    /// `max_wait_half_open`, and Hystrix's periodic health check.
    #[inline]
    fn tick(&mut self, now: Nanos) {
        if self.state == State::Closed && matches!(self.spec, BreakerSpec::Resilience4j(_)) {
            // The common case: nothing but the time window's roll can happen.
            if self.closed.kind == WindowKind::Time {
                self.closed.roll(now);
            }
            return;
        }
        self.tick_transitions(now);
    }

    fn tick_transitions(&mut self, now: Nanos) {
        self.closed.roll(now);
        match (&self.spec, self.state) {
            (BreakerSpec::Resilience4j(r), State::Open) => {
                let end = self.since_ns + self.wait_ns;
                if now > end || (r.automatic_transition && now == end) {
                    self.half_open_at(
                        if r.automatic_transition { end } else { now },
                        r.half_open_permits,
                        r.half_open_permits,
                    );
                    self.tick(now);
                }
            }
            (BreakerSpec::Resilience4j(r), State::HalfOpen) => {
                let end = self.since_ns + r.max_wait_half_open_ns;
                if r.max_wait_half_open_ns > 0 && now >= end {
                    self.open(end, self.attempts + 1);
                    self.tick(now);
                }
            }
            // A snapshot passed since the last check: check the counts as they are now.
            // Hystrix reads them at the snapshot itself; no call was recorded in between, so
            // the two differ only when a one-second bucket expired between the snapshot and
            // now, which can only delay a trip, never cause one.
            (BreakerSpec::Hystrix(h), State::Closed) if now >= self.next_check_ns => {
                let interval = h.snapshot_interval_ns.max(1);
                self.next_check_ns = (now / interval + 1) * interval;
                let c = &self.closed;
                if c.total >= h.request_volume_threshold
                    && c.total > 0
                    && c.failed as f64 * 100.0 >= h.error_threshold * c.total as f64
                {
                    self.open(now, 1);
                }
            }
            (BreakerSpec::Hystrix(h), State::Open) if now > self.since_ns + h.sleep_window_ns => {
                self.half_open_at(now, 1, 1);
            }
            _ => {}
        }
    }

    fn open(&mut self, at: Nanos, attempts: u32) {
        self.state = State::Open;
        self.since_ns = at;
        self.attempts = attempts;
        self.opened += 1;
        self.wait_ns = match self.spec {
            BreakerSpec::Resilience4j(r) => {
                let grown = r.wait_open_ns as f64 * r.wait_multiplier.powi(attempts.saturating_sub(1).min(1024) as i32);
                if r.wait_multiplier > 1.0 {
                    (grown.min(r.max_wait_ns.max(r.wait_open_ns) as f64)) as Nanos
                } else {
                    r.wait_open_ns
                }
            }
            BreakerSpec::Hystrix(h) => h.sleep_window_ns,
        };
    }

    fn half_open_at(&mut self, at: Nanos, permits: u32, window: u32) {
        self.state = State::HalfOpen;
        self.since_ns = at;
        self.permits = permits;
        self.half_open = Window::new(WindowKind::Count, window);
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.attempts = 0;
        self.closed = match self.spec {
            BreakerSpec::Resilience4j(r) => Window::new(r.window, r.window_size),
            BreakerSpec::Hystrix(h) => Window::new(WindowKind::Time, h.window_s),
        };
    }
}

/// Resilience4j's `checkIfThresholdsExceeded`: no decision below the minimum calls; else
/// failure rate >= threshold or slow rate >= threshold (both `>=`).
fn exceeded(w: &Window, min_calls: u32, failure_threshold: f64, slow_threshold: f64) -> bool {
    if w.total == 0 || w.total < min_calls {
        return false;
    }
    // rate = count x 100 / total >= threshold, without the divisions.
    let total = w.total as f64;
    w.failed as f64 * 100.0 >= failure_threshold * total || w.slow as f64 * 100.0 >= slow_threshold * total
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Nanos = 1_000_000;
    const S: Nanos = NS_PER_S;

    fn r4j(f: impl FnOnce(&mut R4jSpec)) -> Breaker {
        let mut spec = R4jSpec {
            window_size: 10,
            minimum_calls: 5,
            wait_open_ns: S,
            max_wait_ns: S,
            half_open_permits: 3,
            ..R4jSpec::default()
        };
        f(&mut spec);
        Breaker::new(BreakerSpec::Resilience4j(spec))
    }

    /// Feeds `calls` ('F' failure, 'S' success, 's'/'f' slow success/failure) at `now`,
    /// 1 ms apart, each permitted first; returns the state after each.
    fn feed(b: &mut Breaker, start: Nanos, calls: &str) -> Vec<State> {
        calls
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let now = start + i as Nanos * MS;
                assert!(b.try_acquire(now), "call {i} ({c}) refused");
                let slow = c.is_lowercase();
                let duration = if slow { 61 * S } else { 10 * MS };
                b.on_result(now, duration, c.eq_ignore_ascii_case(&'f'));
                b.state
            })
            .collect()
    }

    use State::*;

    #[test]
    fn resilience4j_trips_at_the_threshold_only_after_the_minimum_calls() {
        // (calls, states after each): window 10, minimum 5, threshold 50%.
        let table: &[(&str, &[State])] = &[
            // Four failures are below the minimum; the fifth call decides: 4/5 >= 50%.
            ("FFFFS", &[Closed, Closed, Closed, Closed, Open]),
            // 2/5 = 40% < 50%; the sixth makes 3/6 = 50%, and >= trips.
            ("SSSFFF", &[Closed, Closed, Closed, Closed, Closed, Open]),
            // Successes keep it closed while the window slides.
            ("SSSSSSSSSSF", &[Closed; 11]),
        ];
        for (calls, want) in table {
            let mut b = r4j(|_| {});
            assert_eq!(feed(&mut b, 0, calls), *want, "{calls}");
        }
        // A count window smaller than the minimum caps it: window 3, minimum 100.
        let mut b = r4j(|s| {
            s.window_size = 3;
            s.minimum_calls = 100;
        });
        assert_eq!(feed(&mut b, 0, "SFF"), [Closed, Closed, Open]);
    }

    #[test]
    fn resilience4j_slow_calls_and_slow_errors_count_twice() {
        // Failure threshold 100% (only all-failures trip), slow threshold 50%, window 2.
        let b = || {
            r4j(|s| {
                s.window_size = 2;
                s.minimum_calls = 2;
                s.failure_rate_threshold = 100.0;
                s.slow_call_rate_threshold = 50.0;
            })
        };
        // A fast error and a success: failure 50% < 100%, slow 0%.
        assert_eq!(feed(&mut b(), 0, "FS"), [Closed, Closed]);
        // A slow error counts as failed and as slow: slow rate 50% >= 50%.
        assert_eq!(feed(&mut b(), 0, "fS"), [Closed, Open]);
        // "Slow" is strictly longer than the threshold.
        let mut br = b();
        for i in 0..2 {
            assert!(br.try_acquire(i));
            br.on_result(i, 60 * S, false);
        }
        assert_eq!(br.state, Closed);
    }

    #[test]
    fn resilience4j_open_wait_ends_strictly_after_and_half_open_waits_for_every_permit() {
        let mut b = r4j(|_| {});
        feed(&mut b, 0, "FFFFF");
        let opened = 4 * MS;
        assert_eq!(b.state(opened), Open);
        // Refused up to and at the end of the wait; the first call strictly after moves to
        // half-open and takes a permit.
        assert!(!b.try_acquire(opened + S - 1));
        assert!(!b.try_acquire(opened + S));
        let t = opened + S + 1;
        assert!(b.try_acquire(t));
        assert_eq!(b.state, HalfOpen);
        assert!(b.try_acquire(t) && b.try_acquire(t), "three permits");
        assert!(!b.try_acquire(t), "no fourth");
        assert_eq!(b.refused, 3);
        // Two of three results are in: no decision yet.
        b.on_result(t, MS, false);
        b.on_result(t, MS, true);
        assert_eq!(b.state, HalfOpen);
        // The third: 1/3 < 50%, closed with fresh metrics.
        b.on_result(t, MS, false);
        assert_eq!(b.state, Closed);
        assert_eq!(feed(&mut b, t, "FFFF"), [Closed; 4], "the old failures are gone");
    }

    #[test]
    fn resilience4j_failed_trial_reopens_with_a_growing_wait() {
        let mut b = r4j(|s| {
            s.wait_multiplier = 2.0;
            s.max_wait_ns = 3 * S;
        });
        feed(&mut b, 0, "FFFFF");
        let mut t = 4 * MS;
        for want_wait in [S, 2 * S, 3 * S, 3 * S] {
            assert_eq!(b.wait_ns, want_wait);
            assert!(!b.try_acquire(t + want_wait));
            t += want_wait + 1;
            assert_eq!(feed(&mut b, t, "FFF").last(), Some(&Open));
            t += 2 * MS;
        }
        assert_eq!(b.opened, 5);
    }

    #[test]
    fn resilience4j_automatic_transition_and_max_wait_in_half_open() {
        let mut b = r4j(|s| {
            s.automatic_transition = true;
            s.max_wait_half_open_ns = 500 * MS;
        });
        feed(&mut b, 0, "FFFFF");
        let opened = 4 * MS;
        // With a scheduler the breaker is half-open at exactly the wait.
        assert_eq!(b.state(opened + S), HalfOpen);
        // Nobody reports a trial result: after 500 ms it goes back to open, dated then.
        assert_eq!(b.state(opened + S + 500 * MS), Open);
        assert_eq!(b.since_ns, opened + S + 500 * MS);
        // Without max wait, a trial that never ends leaves it half-open for ever.
        let mut b = r4j(|s| s.automatic_transition = true);
        feed(&mut b, 0, "FFFFF");
        assert!(b.try_acquire(opened + S));
        assert_eq!(b.state(opened + 3600 * S), HalfOpen);
    }

    #[test]
    fn resilience4j_late_results_while_open_are_recorded_but_decide_nothing() {
        let mut b = r4j(|_| {});
        feed(&mut b, 0, "FFFFF");
        b.on_result(10 * MS, MS, false);
        assert_eq!(b.state, Open);
        assert_eq!((b.closed.total, b.closed.failed), (6, 5));
    }

    #[test]
    fn resilience4j_time_window_keeps_the_current_second_and_the_previous_ones() {
        // Time window of 2 s, minimum 3, threshold 50%.
        let mut b = r4j(|s| {
            s.window = WindowKind::Time;
            s.window_size = 2;
            s.minimum_calls = 3;
        });
        // Two failures in second 0, then a success at 1.9 s: 2/3 >= 50%: open.
        feed(&mut b, 0, "FF");
        assert_eq!(feed(&mut b, 1900 * MS, "S"), [Open]);
        // The same but the success comes at 2.0 s: second 0 has left the window.
        let mut b = r4j(|s| {
            s.window = WindowKind::Time;
            s.window_size = 2;
            s.minimum_calls = 3;
        });
        feed(&mut b, 0, "FF");
        assert_eq!(feed(&mut b, 2 * S, "S"), [Closed]);
        assert_eq!(b.closed.total, 1);
        // The minimum is not capped by a time window's size.
        let mut b = r4j(|s| {
            s.window = WindowKind::Time;
            s.window_size = 2;
            s.minimum_calls = 100;
        });
        assert_eq!(feed(&mut b, 0, &"F".repeat(99)).last(), Some(&Closed));
        assert_eq!(feed(&mut b, 99 * MS, "F"), [Open]);
    }

    #[test]
    fn hystrix_checks_at_snapshots_and_sends_a_single_probe() {
        let mut b = Breaker::new(BreakerSpec::Hystrix(HystrixSpec::default()));
        // 20 calls, 10 failed, all before the first snapshot at 500 ms: still closed.
        let calls = "FS".repeat(10);
        assert_eq!(feed(&mut b, 0, &calls).last(), Some(&Closed));
        // At the snapshot: 20 >= volume 20 and 50% >= 50%: open.
        assert_eq!(b.state(500 * MS), Open);
        assert!(!b.try_acquire(5500 * MS), "sleep window 5 s, strictly after");
        // One probe, everything else refused.
        assert!(b.try_acquire(5500 * MS + 1));
        assert!(!b.try_acquire(5500 * MS + 1));
        // The probe fails: open again from now.
        b.on_result(5600 * MS, MS, true);
        assert_eq!(b.state, Open);
        assert!(!b.try_acquire(10_600 * MS));
        assert!(b.try_acquire(10_600 * MS + 1));
        // This probe succeeds: closed, counts reset.
        b.on_result(10_700 * MS, MS, false);
        assert_eq!(b.state, Closed);
        assert_eq!(b.closed.total, 0);
        // Below the volume threshold nothing trips, whatever the error rate.
        let mut b = Breaker::new(BreakerSpec::Hystrix(HystrixSpec::default()));
        feed(&mut b, 0, &"F".repeat(19));
        assert_eq!(b.state(500 * MS), Closed);
        assert_eq!(b.closed.total, 19);
    }
}
