//! Packet loss on a TCP message, turned into retransmission delay (reference faults.md,
//! catalogue 16, net.packet_loss): a message of `n` segments (its bytes over the MSS) loses
//! each transmission of each segment with probability `p`; a lost transmission is resent
//! after the retransmission timeout, which doubles on each consecutive loss of the same
//! segment (RFC 6298's back-off), from `rto_ns` (Linux's floor, 200 ms, as faults.md gives:
//! max(200 ms, srtt + 4 rttvar), and the floor dominates inside a region); a lost SYN of a
//! new connection costs the initial RTO, 1 s, doubling likewise. Segments are resent one after
//! another (their delays add up). After `MAX_RETRIES` losses of one transmission the message
//! is lost (Linux gives up after `tcp_retries2` = 15): the caller sees what a blackhole gives.
//! P(no delay) = (1 - p)^n. Event-free: the caller draws with its own stream.

use cellsim_sim::{Nanos, NS_PER_MS, NS_PER_S};

/// Linux's TCP maximum segment size on a 1500-byte Ethernet MTU.
pub const MSS_BYTES: u64 = 1460;
/// The retransmission timeout's floor (Linux `TCP_RTO_MIN`).
pub const RTO_MIN_NS: Nanos = 200 * NS_PER_MS;
/// The initial RTO, which a lost SYN waits (RFC 6298).
pub const SYN_RTO_NS: Nanos = NS_PER_S;
/// Retransmissions of one segment before the connection gives up (`tcp_retries2`).
pub const MAX_RETRIES: u32 = 15;

/// Packet loss on a path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PacketLoss {
    /// The chance that one transmission of a segment is lost, from 0 to 1.
    pub p: f64,
    /// The first retransmission's timeout (default `RTO_MIN_NS`).
    pub rto_ns: Nanos,
}

impl PacketLoss {
    pub fn new(p: f64) -> PacketLoss {
        PacketLoss { p: p.clamp(0.0, 1.0), rto_ns: RTO_MIN_NS }
    }

    /// Segments of a message of `bytes` (at least one).
    pub fn segments(bytes: u64) -> u64 {
        bytes.div_ceil(MSS_BYTES).max(1)
    }

    /// The chance that a message of `bytes` is delayed at all: 1 - (1 - p)^segments.
    pub fn delayed_share(&self, bytes: u64) -> f64 {
        1.0 - (1.0 - self.p).powf(Self::segments(bytes) as f64)
    }

    /// The extra time a message of `bytes` takes (a new connection's SYN first when
    /// `new_connection`), `unit()` giving a uniform draw in [0, 1) per transmission; `None`
    /// when a transmission is lost `MAX_RETRIES + 1` times (the connection gives up).
    pub fn delay_ns(&self, bytes: u64, new_connection: bool, mut unit: impl FnMut() -> f64) -> Option<Nanos> {
        if self.p <= 0.0 {
            return Some(0);
        }
        let mut delay: Nanos = 0;
        if new_connection {
            delay = delay.saturating_add(self.one(SYN_RTO_NS, &mut unit)?);
        }
        for _ in 0..Self::segments(bytes) {
            delay = delay.saturating_add(self.one(self.rto_ns, &mut unit)?);
        }
        Some(delay)
    }

    /// One segment's extra time: each loss waits the timeout, doubled after each loss.
    fn one(&self, rto_ns: Nanos, unit: &mut impl FnMut() -> f64) -> Option<Nanos> {
        let mut waited: Nanos = 0;
        let mut timeout = rto_ns;
        for _ in 0..=MAX_RETRIES {
            if unit() >= self.p {
                return Some(waited);
            }
            waited = waited.saturating_add(timeout);
            timeout = timeout.saturating_mul(2);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellsim_sim::Stream;

    #[test]
    fn segments_are_the_bytes_over_the_mss() {
        for (bytes, n) in [(0, 1), (1, 1), (1460, 1), (1461, 2), (14_600, 10), (100_000, 69)] {
            assert_eq!(PacketLoss::segments(bytes), n, "{bytes} bytes");
        }
    }

    /// A transmission lost k times waits RTO x (1 + 2 + ... + 2^(k-1)) = RTO x (2^k - 1):
    /// hand-fed draws (below p: lost).
    #[test]
    fn a_lost_segment_waits_the_doubling_timeout() {
        let loss = PacketLoss::new(0.5);
        let draws = |seq: Vec<f64>| {
            let mut it = seq.into_iter();
            move || it.next().expect("enough draws")
        };
        assert_eq!(loss.delay_ns(1000, false, draws(vec![0.9])), Some(0));
        assert_eq!(loss.delay_ns(1000, false, draws(vec![0.1, 0.9])), Some(200 * NS_PER_MS));
        assert_eq!(loss.delay_ns(1000, false, draws(vec![0.1, 0.1, 0.1, 0.9])), Some(1400 * NS_PER_MS));
        // Two segments, the second lost once: the delays add.
        assert_eq!(loss.delay_ns(2000, false, draws(vec![0.1, 0.9, 0.1, 0.9])), Some(400 * NS_PER_MS));
        // A lost SYN costs the initial RTO, 1 s.
        assert_eq!(loss.delay_ns(1000, true, draws(vec![0.1, 0.9, 0.9])), Some(NS_PER_S));
        // Every transmission lost: the connection gives up after 15 retransmissions.
        assert_eq!(PacketLoss::new(1.0).delay_ns(1000, false, || 0.5), None);
    }

    /// Reference faults.md 16: the share of messages delayed by at least one RTO is
    /// 1 - (1 - p)^segments, and single-segment delays fall on the steps RTO x (2^k - 1)
    /// with probability p^k (1 - p).
    #[test]
    fn the_delayed_share_and_the_steps_follow_the_closed_forms() {
        let mut rng = Stream::new(7, "loss", "test");
        let n = 200_000u32;
        for (p, bytes) in [(0.01, 14_600u64), (0.07, 1000), (0.15, 4000)] {
            let loss = PacketLoss::new(p);
            let mut delayed = 0u32;
            let mut steps = [0u32; 4];
            for _ in 0..n {
                let d = loss.delay_ns(bytes, false, || rng.unit()).expect("delivered");
                delayed += (d >= loss.rto_ns) as u32;
                if bytes <= MSS_BYTES {
                    let k = (d / loss.rto_ns + 1).trailing_zeros() as usize;
                    if k < steps.len() && d == loss.rto_ns * ((1 << k) - 1) {
                        steps[k] += 1;
                    }
                }
            }
            let expected = loss.delayed_share(bytes);
            let sd = (expected * (1.0 - expected) / n as f64).sqrt();
            let got = delayed as f64 / n as f64;
            assert!((got - expected).abs() < 5.0 * sd, "p {p}, {bytes} bytes: {got} against {expected}");
            if bytes <= MSS_BYTES {
                for (k, &count) in steps.iter().enumerate() {
                    let share = p.powi(k as i32) * (1.0 - p);
                    let sd = (share * (1.0 - share) / n as f64).sqrt();
                    let got = count as f64 / n as f64;
                    assert!((got - share).abs() < 5.0 * sd + 1e-9, "p {p}, step {k}: {got} against {share}");
                }
            }
        }
    }
}
