//! Telling a cancelled upload from a finished one.
//!
//! tonic hands a server a client's cancelled request stream as a normal end of stream. mosaicod
//! then goes on to write the topic until hyper drops its handler: measured (`tests/cancel.rs`), a
//! reset stream's data file and chunk row can persist in the still unlocked topic, where DoGet
//! reads them (3 of 56 pure resets; 35 of 48 when the reset came a few ms after an end of stream,
//! 2 of those locked). The test server does the same, deterministically (`Store::write_reset`), so
//! a client cannot take a reset for a discard. This layer wraps each request body and records
//! whether it ended in an error; DoPut checks the flag.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// In each request's extensions: set when its body failed (reset by the client).
#[derive(Debug, Clone, Default)]
pub struct StreamReset(Arc<AtomicBool>);

impl StreamReset {
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

struct Watched<B> {
    inner: B,
    reset: Arc<AtomicBool>,
}

impl<B: Body + Unpin> Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &r {
            self.reset.store(true, Ordering::SeqCst);
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Debug, Clone)]
pub struct WatchResets<S>(pub S);

impl<S, B> tower::Service<http::Request<B>> for WatchResets<S>
where
    S: tower::Service<http::Request<tonic::body::Body>>,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let flag = StreamReset::default();
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(flag.clone());
        let body = tonic::body::Body::new(Watched {
            inner: body,
            reset: flag.0,
        });
        self.0.call(http::Request::from_parts(parts, body))
    }
}
