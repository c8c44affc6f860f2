//! The recorder's clock: the system's, or ROS simulated time (`use_sim_time`), which is the last
//! `/clock` message received, as rclcpp's time source keeps it: zero until the first one arrives.
//! Messages are stamped with it on arrival, and the spool cuts its parts by it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use tracing::{info, warn};

use crate::ros::adapters::leading_time_ns;
use crate::transport::{
    now_ns, Durability, OnMessage, Qos, RawMessage, Reliability, Subscription, Transport,
    TransportError,
};

/// rclcpp's `ClockQoS`: best effort (matches reliable publishers too), keep last 1.
const CLOCK_QOS: Qos = Qos {
    reliability: Reliability::BestEffort,
    durability: Durability::Volatile,
    depth: 1,
};

/// ROS time for the recorder; cheap to clone.
#[derive(Clone, Default)]
pub struct RecordClock(Option<Arc<SimTime>>);

struct SimTime {
    /// The last `/clock` in ns; 0 before the first. Shared with the subscription's callback.
    ns: Arc<AtomicI64>,
    /// Whether a message stamped 0 (before the first `/clock`) was warned of.
    warned: AtomicBool,
    _sub: Box<dyn Subscription>,
}

impl RecordClock {
    /// The system clock.
    pub fn system() -> Self {
        RecordClock(None)
    }

    /// Simulated time: subscribes to `/clock` (`rosgraph_msgs/msg/Clock`) on `transport`.
    pub fn sim(transport: &dyn Transport) -> Result<Self, TransportError> {
        let ns = Arc::new(AtomicI64::new(0));
        let on_clock: OnMessage = {
            let ns = ns.clone();
            Arc::new(move |m: RawMessage| match leading_time_ns(&m.cdr) {
                Ok(t) => {
                    if ns.swap(t, Ordering::Relaxed) == 0 {
                        info!(sim_time_ns = t, "use_sim_time: first /clock received");
                    }
                }
                Err(e) => warn!(
                    error = %e,
                    "use_sim_time: a /clock message that is not a rosgraph_msgs/msg/Clock was ignored"
                ),
            })
        };
        let sub = transport.subscribe("/clock", "rosgraph_msgs/msg/Clock", CLOCK_QOS, on_clock)?;
        info!("use_sim_time: messages are stamped with /clock (zero until it is published)");
        Ok(RecordClock(Some(Arc::new(SimTime {
            ns,
            warned: AtomicBool::new(false),
            _sub: sub,
        }))))
    }

    /// ROS time now, in ns since the epoch (simulated: the last `/clock`, or 0).
    pub fn now_ns(&self) -> i64 {
        match &self.0 {
            None => now_ns(),
            Some(s) => s.ns.load(Ordering::Relaxed),
        }
    }

    /// Stamps a message just received with ROS time (the backend stamped it with system time).
    pub fn stamp(&self, m: &mut RawMessage) {
        if let Some(s) = &self.0 {
            m.received_ns = s.ns.load(Ordering::Relaxed);
            if m.received_ns == 0 && !s.warned.swap(true, Ordering::Relaxed) {
                warn!("use_sim_time: messages arrive before any /clock: they are stamped 0, as ROS time reads until /clock is published");
            }
        }
    }
}
