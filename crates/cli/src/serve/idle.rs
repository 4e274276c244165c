//! [`IdleBody`]: a body that fails when its source pauses too long while it is being read —
//! the request body (the client paused) and the upstream's response body (the upstream paused).
//! What a pause or a failure means is the [`Watch`]'s business.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Told what happens to an [`IdleBody`].
pub(crate) trait Watch: Unpin {
    /// The body is read and its source has nothing yet.
    fn waiting(&self) {}
    /// A piece of the body, or its end, arrived.
    fn progressed(&self) {}
    /// The source failed (e.g. broken chunked encoding).
    fn failed(&self) {}
    /// The source paused longer than the idle bound; the body fails.
    fn timed_out(&self) {}
}

/// `inner`, failing with `TimedOut` after `idle` without a frame while it is polled.
pub(crate) struct IdleBody<B, W> {
    inner: B,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    watch: W,
}

impl<B, W> IdleBody<B, W> {
    pub(crate) fn new(inner: B, idle: Duration, watch: W) -> Self {
        Self {
            inner,
            idle,
            timer: None,
            watch,
        }
    }
}

impl<B, W> Body for IdleBody<B, W>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    W: Watch,
{
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(error))) => {
                this.watch.failed();
                Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::InvalidData, error))))
            }
            Poll::Ready(frame) => {
                this.timer = None;
                this.watch.progressed();
                Poll::Ready(frame.map(|frame| frame.map_err(io::Error::other)))
            }
            Poll::Pending => {
                this.watch.waiting();
                let idle = this.idle;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.watch.timed_out();
                        Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the body paused longer than its idle timeout",
                        ))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
