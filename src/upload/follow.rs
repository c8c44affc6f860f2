//! How the uploader follows a segment that the live spool is still writing: the writer says which
//! parts are open and wakes followers when bytes were added; a follower reads until its part is
//! sealed (or its upload is aborted).

use std::sync::{Arc, Condvar, Mutex};

use super::engine::Abort;
use crate::bag::Tail;

/// Which parts of a live session exist and which one is still being written, for the uploader.
#[derive(Debug, Default)]
pub struct SpoolProgress {
    state: Mutex<ProgressState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct ProgressState {
    /// Parts whose segment may still grow.
    open: Vec<u32>,
}

impl SpoolProgress {
    pub fn is_open(&self, part: u32) -> bool {
        self.state.lock().expect("progress").open.contains(&part)
    }
    /// The newest part being written.
    pub fn current(&self) -> Option<u32> {
        self.state
            .lock()
            .expect("progress")
            .open
            .iter()
            .max()
            .copied()
    }
    fn update(&self, f: impl FnOnce(&mut ProgressState)) {
        f(&mut self.state.lock().expect("progress"));
        self.changed.notify_all();
    }
    /// Part `part`'s segment exists and grows.
    pub fn open(&self, part: u32) {
        self.update(|s| s.open.push(part));
    }
    /// Part `part`'s segment is complete.
    pub fn seal(&self, part: u32) {
        self.update(|s| s.open.retain(|p| *p != part));
    }
    /// Wakes followers: more bytes were written.
    pub fn grew(&self) {
        self.changed.notify_all();
    }
    /// A follower of part `part`, stopping early when `abort` is set.
    pub fn tail(self: &Arc<Self>, part: u32, abort: Abort) -> Box<dyn Tail> {
        Box::new(LiveTail {
            progress: self.clone(),
            part,
            abort,
        })
    }
}

struct LiveTail {
    progress: Arc<SpoolProgress>,
    part: u32,
    abort: Abort,
}

impl Tail for LiveTail {
    fn sealed(&self) -> bool {
        self.abort.is_set() || !self.progress.is_open(self.part)
    }
    fn wait(&self) {
        let g = self.progress.state.lock().expect("progress");
        let _ = self
            .progress
            .changed
            .wait_timeout(g, crate::bag::reader::FOLLOW_POLL);
    }
}
