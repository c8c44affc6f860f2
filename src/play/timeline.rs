//! Recording time ↔ steady time: the player's clock, free of I/O.
//!
//! As rosbag2's player does, time is kept as a reference pair — one recording instant and the
//! steady instant it was (or will be) played at — and the rate; every rate change, pause, resume
//! and seek re-takes the pair at the current instant, so no error builds up across changes and a
//! change never makes the player jump.

use std::time::{Duration, Instant};

/// How fast recording time passes against the steady clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Recording seconds per steady second (1.0: real time).
    Factor(f64),
    /// As fast as the messages can be published.
    Max,
}

impl Rate {
    /// A rate factor the player accepts: finite and above zero.
    pub fn valid(f: f64) -> bool {
        f.is_finite() && f > 0.0
    }

    /// The factor `get_rate` reports (`0` for `max`: there is none).
    pub fn factor(self) -> f64 {
        match self {
            Rate::Factor(f) => f,
            Rate::Max => 0.0,
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "max" {
            return Ok(Rate::Max);
        }
        match s.parse::<f64>() {
            Ok(f) if Rate::valid(f) => Ok(Rate::Factor(f)),
            _ => Err(format!(
                "`{s}` is not a rate: give a factor above 0 (1.0 is real time) or `max`"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Timeline {
    rate: Rate,
    paused: bool,
    /// The recording time (ns) played at `at`.
    anchor_ns: i64,
    at: Instant,
}

impl Timeline {
    /// Playback that shows recording time `start_ns` at `now`.
    pub fn new(start_ns: i64, now: Instant, rate: Rate, paused: bool) -> Self {
        Timeline {
            rate,
            paused,
            anchor_ns: start_ns,
            at: now,
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The recording time being played at `now` (frozen while paused; under `max` the time of
    /// the last message published, as the player re-anchors on each).
    pub fn now_ns(&self, now: Instant) -> i64 {
        match self.rate {
            Rate::Factor(f) if !self.paused => {
                let elapsed = now.saturating_duration_since(self.at).as_nanos() as f64;
                self.anchor_ns.saturating_add((elapsed * f) as i64)
            }
            _ => self.anchor_ns,
        }
    }

    /// When the message of recording time `t_ns` is due; `None` while paused. Under `max`, or for
    /// a time already past, that is `now` or earlier: the caller publishes at once, not sleeping.
    pub fn deadline(&self, t_ns: i64) -> Option<Instant> {
        if self.paused {
            return None;
        }
        match self.rate {
            Rate::Max => Some(self.at),
            Rate::Factor(f) => {
                let ahead = (t_ns - self.anchor_ns) as f64 / f;
                if ahead <= 0.0 {
                    // Before the anchor: due at the anchor (a seek or loop start just re-took it).
                    Some(self.at)
                } else {
                    Some(self.at + Duration::from_nanos(ahead.min(1e18) as u64))
                }
            }
        }
    }

    fn reanchor(&mut self, now: Instant) {
        self.anchor_ns = self.now_ns(now);
        self.at = now;
    }

    pub fn set_rate(&mut self, rate: Rate, now: Instant) {
        self.reanchor(now);
        self.rate = rate;
    }

    pub fn pause(&mut self, now: Instant) {
        self.reanchor(now);
        self.paused = true;
    }

    pub fn resume(&mut self, now: Instant) {
        self.reanchor(now);
        self.paused = false;
    }

    /// Recording time `t_ns` is played at `now` (seek, loop, burst, play-next, and each message
    /// under `max`).
    pub fn jump(&mut self, t_ns: i64, now: Instant) {
        self.anchor_ns = t_ns;
        self.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn deadlines_follow_the_rate_from_the_reference_pair() {
        let t0 = Instant::now();
        let tl = Timeline::new(1000 * MS, t0, Rate::Factor(2.0), false);
        assert_eq!(tl.deadline(1000 * MS), Some(t0));
        assert_eq!(tl.deadline(1100 * MS), Some(t0 + Duration::from_millis(50)));
        assert_eq!(tl.now_ns(t0 + Duration::from_millis(50)), 1100 * MS);
        // A time before the anchor is due at once, never in the past of the anchor.
        assert_eq!(tl.deadline(900 * MS), Some(t0));
    }

    #[test]
    fn a_rate_change_re_takes_the_reference_without_a_jump() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(0, t0, Rate::Factor(1.0), false);
        let t1 = t0 + Duration::from_millis(100);
        tl.set_rate(Rate::Factor(0.5), t1);
        assert_eq!(tl.now_ns(t1), 100 * MS);
        // 100 ms more of recording takes 200 ms now.
        assert_eq!(tl.deadline(200 * MS), Some(t1 + Duration::from_millis(200)));
    }

    #[test]
    fn pause_freezes_time_and_resume_continues_from_it() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(0, t0, Rate::Factor(1.0), false);
        tl.pause(t0 + Duration::from_millis(30));
        assert_eq!(tl.deadline(50 * MS), None);
        assert_eq!(tl.now_ns(t0 + Duration::from_secs(10)), 30 * MS);
        let t2 = t0 + Duration::from_secs(10);
        tl.resume(t2);
        assert_eq!(tl.deadline(50 * MS), Some(t2 + Duration::from_millis(20)));
    }

    #[test]
    fn seek_and_max() {
        let t0 = Instant::now();
        let mut tl = Timeline::new(0, t0, Rate::Max, false);
        assert_eq!(tl.deadline(10_000 * MS), Some(t0));
        let t1 = t0 + Duration::from_millis(5);
        tl.set_rate(Rate::Factor(1.0), t1);
        tl.jump(500 * MS, t1);
        assert_eq!(tl.deadline(510 * MS), Some(t1 + Duration::from_millis(10)));
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("0.5".parse::<Rate>(), Ok(Rate::Factor(0.5)));
        assert!("0".parse::<Rate>().is_err());
        assert!("-1".parse::<Rate>().is_err());
        assert!("nan".parse::<Rate>().is_err());
    }
}
