//! A lingering close: when the server ends a connection, it first sends its side's FIN, then
//! reads and discards what the client is still sending, for a bounded time, before closing.
//!
//! The server may answer before it has read a request's body (a 413 on a declared length, a
//! 401, a 503) and then close the connection. Closing a socket with unread bytes in its receive
//! buffer makes the kernel send a reset, and a client still writing the body then fails with
//! "broken pipe" or "connection reset" before it reads the answer it was sent. Reading the rest
//! lets the client finish its write and read the answer. nginx and Apache do the same.

use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Longest a closing connection waits for its client to stop sending.
const LINGER_FOR: Duration = Duration::from_secs(2);
/// Most bytes a closing connection reads and discards.
const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// A connection that lingers when it is shut down (see the module docs).
pub struct Lingering<T> {
    inner: T,
    state: Closing,
}

enum Closing {
    Open,
    /// Our FIN is sent: discarding the client's bytes until its EOF, the deadline or the cap.
    Draining {
        deadline: Pin<Box<Sleep>>,
        discarded: usize,
    },
    Done,
}

impl<T> Lingering<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            state: Closing::Open,
        }
    }
}

impl<T: AsyncRead + Unpin> Lingering<T> {
    /// Discards the client's bytes; ready once it has stopped sending or may no longer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Closing::Draining {
            deadline,
            discarded,
        } = &mut self.state
        else {
            return Poll::Ready(());
        };
        let mut scratch = [0u8; 8192];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    *discarded += buf.filled().len();
                    if *discarded >= LINGER_BYTES {
                        break;
                    }
                }
                // EOF or an error: the client is done sending.
                Poll::Ready(_) => break,
                Poll::Pending => {
                    ready!(deadline.as_mut().poll(cx));
                    break;
                }
            }
        }
        self.state = Closing::Done;
        Poll::Ready(())
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Lingering<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Closing::Open = self.state {
            ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
            self.state = Closing::Draining {
                deadline: Box::pin(tokio::time::sleep(LINGER_FOR)),
                discarded: 0,
            };
        }
        ready!(self.poll_drain(cx));
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_client_still_writing_reads_the_answer_after_the_server_shuts_down() {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let mut server = Lingering::new(server);
        server.write_all(b"413").await.unwrap();
        let writer = tokio::spawn(async move {
            // Far more than the pipe holds: only a draining server lets this finish.
            client_write
                .write_all(&vec![b'x'; 1024 * 1024])
                .await
                .unwrap();
            client_write.shutdown().await.unwrap();
        });
        server.shutdown().await.unwrap();
        writer.await.unwrap();
        let mut answer = Vec::new();
        client_read.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"413");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_closes_is_let_go_at_the_deadline() {
        let (_client, server) = tokio::io::duplex(1024);
        let mut server = Lingering::new(server);
        let started = tokio::time::Instant::now();
        server.shutdown().await.unwrap();
        assert!(started.elapsed() >= LINGER_FOR);
    }
}
