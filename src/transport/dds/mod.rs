//! Pure-Rust DDS backend (ros2-client on RustDDS). Being written: see issue 4.
use super::*;
use std::sync::Arc;
use tokio::sync::mpsc;

pub struct DdsTransport;

impl DdsTransport {
    pub fn new(_namespace: &str, _node: &str) -> Result<Self, TransportError> {
        Err(TransportError::Start {
            backend: "dds",
            reason: "not built yet".into(),
        })
    }
}

impl Transport for DdsTransport {
    fn backend(&self) -> &'static str {
        "dds"
    }
    fn node_name(&self) -> String {
        String::new()
    }
    fn graph(&self) -> Vec<GraphTopic> {
        Vec::new()
    }
    fn subscribe(
        &self,
        _: &str,
        _: &str,
        _: Qos,
        _: OnMessage,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        Err(TransportError::NotBuilt("dds"))
    }
    fn publisher(&self, _: &str, _: &str, _: Qos) -> Result<Box<dyn RawPublisher>, TransportError> {
        Err(TransportError::NotBuilt("dds"))
    }
    fn trigger_service(&self, _: &str) -> Result<mpsc::Receiver<TriggerCall>, TransportError> {
        Err(TransportError::NotBuilt("dds"))
    }
}
#[allow(unused)]
fn _unused(_: Arc<()>) {}
