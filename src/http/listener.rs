//! Accepting connections. hyper answers requests it cannot parse (a URI over 64 KiB, too
//! many or too large headers, a malformed request line) itself, before any of our code runs,
//! with an empty body. [`MssListener`] wraps each connection so that such an automatic answer
//! goes out with the MSS error body and an `X-Request-Id`, like every other error.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::error::error_body;
use crate::error::Code;

/// A TCP listener whose connections give hyper's automatic error answers an MSS body.
pub struct MssListener(pub TcpListener);

impl axum::serve::Listener for MssListener {
    type Io = MssStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (MssStream::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection; see [`MssListener`].
pub struct MssStream {
    inner: TcpStream,
    /// A replacement being written: its bytes, how many went out, and how many bytes of
    /// hyper's write it stands for.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl MssStream {
    fn new(inner: TcpStream) -> Self {
        Self {
            inner,
            replacing: None,
        }
    }
}

/// The MSS answer standing in for `head` when it is one of hyper's automatic error answers:
/// a status line followed at once by `connection: close` and `content-length: 0` (responses
/// of the router always carry a content type first).
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    let rest = head.strip_prefix(b"HTTP/1.1 ")?;
    let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
    let status_line = std::str::from_utf8(&rest[..line_end]).ok()?;
    let after = &rest[line_end + 2..];
    if !after.starts_with(b"connection: close\r\ncontent-length: 0\r\n") {
        return None;
    }
    let (code, message) = match status_line.get(..3)? {
        "400" => (
            Code::InvalidParameter,
            "the request could not be parsed as HTTP",
        ),
        "414" => (Code::InvalidParameter, "the request URI is too long"),
        "431" => (
            Code::InvalidParameter,
            "the request headers are too many or too large",
        ),
        _ => return None,
    };
    let body = error_body(code, message);
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let mut out = format!(
        "HTTP/1.1 {status_line}\r\nconnection: close\r\ncontent-type: application/json\r\n\
         x-request-id: {request_id}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl AsyncRead for MssStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MssStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            if let Some(bytes) = replacement_for(buf) {
                this.replacing = Some((bytes, 0, buf.len()));
            }
        }
        let Some((bytes, written, stands_for)) = this.replacing.as_mut() else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        while *written < bytes.len() {
            match Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                other => return other,
            }
        }
        let stands_for = *stands_for;
        this.replacing = None;
        Poll::Ready(Ok(stands_for))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes each response head in one buffer, which is what
    // `replacement_for` looks at.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_automatic_error_answers_are_replaced() {
        let automatic = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
                          content-length: 0\r\ndate: Fri, 27 Nov 2026 21:10:45 GMT\r\n\r\n";
        let replaced = String::from_utf8(replacement_for(automatic).unwrap()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(replaced.contains("content-type: application/json\r\n"));
        assert!(replaced.contains("x-request-id: "));
        assert!(replaced.ends_with(
            r#"{"error_code":"MSS.00000003","error_msg":"the request headers are too many or too large"}"#
        ));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                     content-length: 2\r\n\r\n{}";
        assert!(replacement_for(ours).is_none());
        assert!(replacement_for(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        )
        .is_none());
    }
}
