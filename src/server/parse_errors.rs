//! Fintoc's error JSON for the requests hyper refuses before our service sees them.
//!
//! hyper answers a request head it cannot parse (a NUL or a non-ASCII byte in the path, a
//! malformed header, more headers than it allows, a head over its buffer) with a bare status
//! and an empty body, and offers no hook to change that answer. The official clients parse
//! every non-2xx body as JSON, so the connection's writer recognizes hyper's own answer and
//! writes Fintoc's error JSON in its place. The pattern is unambiguous: hyper's answer is a
//! 4xx head with `content-length: 0` and no `content-type`, while every error our service
//! answers carries `content-type: application/json` (see `api::fallback::ensure_json_errors`).

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{ApiError, ErrorType};

/// A connection whose writes are watched for hyper's bare error answers.
pub struct JsonParseErrors<T> {
    inner: T,
    /// A replacement answer and how much of it is written.
    pending: Option<(Vec<u8>, usize)>,
}

impl<T> JsonParseErrors<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<T: AsyncWrite + Unpin> JsonParseErrors<T> {
    /// Writes what is left of a replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonParseErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(replacement) = replacement_for(buf) {
            // Taken whole: hyper sees its answer written and goes on to flush and close,
            // which write the replacement first.
            self.pending = Some((replacement, 0));
            if let Poll::Ready(Err(e)) = self.poll_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        // hyper writes an error answer as one head and no body: the first slice.
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if replacement_for(first).is_some() {
                return self.poll_write(cx, first);
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Fintoc's answer in place of `head` when `head` is one of hyper's bare 4xx answers.
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    let status = head
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| head.strip_prefix(b"HTTP/1.0 "))?;
    let status = StatusCode::from_bytes(status.get(..3)?).ok()?;
    if !status.is_client_error() {
        // Every success and most writes end here, before the head is copied.
        return None;
    }
    let text = std::str::from_utf8(head).ok()?.to_ascii_lowercase();
    let whole_head_without_body = text.find("\r\n\r\n")? + 4 == text.len();
    if !whole_head_without_body
        || !text.contains("\r\ncontent-length: 0\r\n")
        || text.contains("\r\ncontent-type:")
    {
        return None;
    }
    let (code, message) = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "request_headers_too_large",
            "The request's headers are too many or too large.",
        ),
        StatusCode::URI_TOO_LONG => ("request_uri_too_long", "The request URL is too long."),
        StatusCode::NOT_FOUND => ("invalid_url", "Unrecognized request URL."),
        _ => (
            "invalid_request",
            "The request line or headers are malformed (for example a NUL or a non-ASCII byte \
             in the path).",
        ),
    };
    let (status, body) = ApiError::client(status, ErrorType::InvalidRequest, code, message).body();
    let body = body.to_string();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body.as_bytes());
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_bare_answers_are_replaced_and_ours_are_not() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
                     content-length: 0\r\ndate: Mon, 07 Dec 2026 17:43:33 GMT\r\n\r\n";
        let replaced = String::from_utf8(replacement_for(bare).expect("replaced")).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 "), "{replaced}");
        assert!(
            replaced.contains("\"request_headers_too_large\""),
            "{replaced}"
        );

        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
                     content-length: 0\r\n\r\n";
        assert!(replacement_for(ours).is_none(), "our own JSON answers pass");
        let ok = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(ok).is_none(), "successes pass");
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}";
        assert!(
            replacement_for(with_body).is_none(),
            "only a bare head is hyper's"
        );
    }
}
