//! Slow and greedy clients: header and body read timeouts, the connection cap, the bound on
//! requests in flight (503 with `Retry-After`), and probes that keep answering meanwhile.
//! Half-sent requests are written on raw TCP connections, since an HTTP client cannot stop
//! half-way through a request line.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::common::*;

/// Long enough for any answer on a loaded machine; a test waits this long only when it fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// Restarts `app`'s backend with adjusted limits (the default app has the default ones).
async fn restart_with(app: TestApp, adjust: impl FnOnce(&mut refresco::Config)) -> Option<TestApp> {
    let backend = app.backend;
    drop(app);
    TestApp::start_with(backend, adjust).await
}

fn addr(app: &TestApp) -> &str {
    app.base.trim_start_matches("http://")
}

/// A connection that has written `bytes` (in one write, so the server reads them together).
async fn send_raw(app: &TestApp, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr(app)).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    stream
}

/// The head of a POST /v1/links that declares `length` body bytes, then 7 of them.
fn post_with_short_body(app: &TestApp, length: usize) -> Vec<u8> {
    format!(
        "POST /v1/links HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{\"inst",
        app.keys.secret_key
    )
    .into_bytes()
}

/// What the server wrote until it closed the connection.
struct RawAnswer {
    status: u16,
    head: String,
    body: Value,
}

/// Reads until the server closes the connection (failing after [`DEADLINE`]), and parses the
/// one response it wrote, if any (`None`: closed without a word).
async fn read_until_closed(stream: &mut TcpStream) -> Option<RawAnswer> {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(DEADLINE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
                // A reset also means the server closed it.
                Err(_) => return,
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open past the deadline"
    );
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Some(RawAnswer {
        status,
        head: head.to_ascii_lowercase(),
        body,
    })
}

/// Whether the server has neither answered nor closed `stream` (without waiting).
fn still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 1];
    matches!(stream.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

both_backends! {
    async fn half_sent_heads_are_closed_after_the_header_timeout(app: TestApp) {
        let Some(app) = restart_with(app, |c| c.header_read_timeout_secs = 1).await else { return };
        let mut half_sent = Vec::new();
        for _ in 0..20 {
            half_sent.push(send_raw(&app, b"GET /v1/li").await);
        }
        let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
        for stream in &mut half_sent {
            assert!(read_until_closed(stream).await.is_none(), "closed without an answer");
        }
        assert!(read_until_closed(&mut idle).await.is_none(), "a silent connection is closed too");
        let (status, _) = app.get("/v1/links").await;
        assert_eq!(status, 200, "the server still serves new clients");
    }

    async fn probes_and_new_clients_are_served_beside_half_sent_requests(app: TestApp) {
        // Timeouts far beyond the test: every half-sent request stays open throughout.
        let Some(app) = restart_with(app, |c| {
            c.header_read_timeout_secs = 600;
            c.body_read_timeout_secs = 600;
        })
        .await else { return };
        let mut held = Vec::new();
        for i in 0..200 {
            let bytes = if i % 2 == 0 {
                b"GET /v1/links HTTP/1.1\r\nHost: x\r\nAuthoriz".to_vec()
            } else {
                post_with_short_body(&app, 100)
            };
            held.push(send_raw(&app, &bytes).await);
        }
        let health = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let (status, body) = app.get("/v1/links").await;
        assert_eq!(status, 200, "{body}");
        assert!(held.iter().all(still_open), "the half-sent requests were open meanwhile");
    }

    async fn a_silent_body_is_answered_408_and_its_connection_closed(app: TestApp) {
        let Some(app) = restart_with(app, |c| c.body_read_timeout_secs = 1).await else { return };
        let mut stream = send_raw(&app, &post_with_short_body(&app, 100)).await;
        let answer = read_until_closed(&mut stream).await.expect("an answer");
        assert_eq!(answer.status, 408, "{}", answer.head);
        assert_eq!(answer.body["error"]["code"], "request_timeout");
        assert_eq!(answer.body["error"]["type"], "invalid_request_error");
        assert!(answer.head.contains("connection: close"), "{}", answer.head);

        // Behind an idempotency key the body is read by the idempotency layer: same answer.
        let request = format!(
            "POST /v1/links HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nIdempotency-Key: k1\r\n\
             Content-Length: 100\r\n\r\n{{\"inst",
            app.keys.secret_key
        );
        let mut stream = send_raw(&app, request.as_bytes()).await;
        let answer = read_until_closed(&mut stream).await.expect("an answer");
        assert_eq!(answer.status, 408, "{}", answer.head);
        assert_eq!(answer.body["error"]["code"], "request_timeout");
    }

    async fn a_body_declared_over_the_limit_is_refused_unread(app: TestApp) {
        // The body timeout is far away: a 413 here did not wait for the body.
        let Some(app) = restart_with(app, |c| c.body_read_timeout_secs = 600).await else { return };
        let mut stream = send_raw(&app, &post_with_short_body(&app, 10 * 1024 * 1024)).await;
        let answer = read_until_closed(&mut stream).await.expect("an answer");
        assert_eq!(answer.status, 413, "{}", answer.head);
        assert_eq!(answer.body["error"]["code"], "request_too_large");
        assert!(answer.head.contains("connection: close"), "{}", answer.head);
    }

    async fn a_client_still_sending_a_refused_body_reads_the_answer(app: TestApp) {
        // The server answers 413 on the head and ends its side; the client reads that answer,
        // then writes its body. Were the socket closed with the body unread, the kernel would
        // reset it and these writes (or the read of the answer) would fail.
        let length = 4 * 1024 * 1024;
        let head = format!(
            "POST /v1/links HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
             Content-Length: {length}\r\n\r\n",
            app.keys.secret_key
        );
        let mut stream = send_raw(&app, head.as_bytes()).await;
        let answer = read_until_closed(&mut stream).await.expect("an answer");
        assert_eq!(answer.status, 413, "{}", answer.head);
        assert_eq!(answer.body["error"]["code"], "request_too_large");
        // A client slower than the server: by now the server has finished closing its end.
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(&vec![b' '; length]).await.expect("the whole body is taken");
        stream.shutdown().await.expect("the connection ends cleanly");
    }

    async fn a_saturated_server_answers_503_with_retry_after_and_probes_still_answer(app: TestApp) {
        let Some(app) = restart_with(app, |c| {
            c.max_requests_in_flight = 2;
            c.overload_retry_after_secs = 7;
            c.body_read_timeout_secs = 600;
        })
        .await else { return };
        // Two requests in flight, waiting for bodies that do not come. One may arrive while a
        // probing request holds a slot and be refused itself: it is sent again.
        let mut held = Vec::new();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let refused = loop {
            held.retain(still_open);
            while held.len() < 2 {
                held.push(send_raw(&app, &post_with_short_body(&app, 100)).await);
            }
            let response = app
                .request(reqwest::Method::GET, "/v1/links", Some(&app.keys.secret_key), None)
                .await;
            if response.status() == 503 {
                break response;
            }
            assert_eq!(response.status(), 200);
            assert!(tokio::time::Instant::now() < deadline, "never saturated");
            tokio::task::yield_now().await;
        };
        let retry_after = refused.headers().get("retry-after").cloned();
        let (status, body) = into_json(refused).await;
        assert_error(status, &body, 503, "server_overloaded");
        assert_eq!(body["error"]["type"], "api_error");
        assert_eq!(retry_after.as_ref().and_then(|v| v.to_str().ok()), Some("7"));

        for probe in ["/healthz", "/readyz"] {
            let response = app.client.get(format!("{}{probe}", app.base)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{probe} while saturated");
        }
        let (status, _) = app.get("/v1/accounts?link_token=x").await;
        assert_eq!(status, 503, "still saturated: the probes did not free a slot");

        // The held requests end (their clients leave): the server serves again.
        drop(held);
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (status, body) = app.get("/v1/links").await;
            if status == 200 {
                break;
            }
            assert_error(status, &body, 503, "server_overloaded");
            assert!(tokio::time::Instant::now() < deadline, "slots never freed");
            tokio::task::yield_now().await;
        }
    }

    async fn at_the_connection_cap_new_connections_wait_for_a_free_slot(app: TestApp) {
        let Some(app) = restart_with(app, |c| {
            c.max_connections = 3;
            c.header_read_timeout_secs = 600;
        })
        .await else { return };
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(send_raw(&app, b"GET /healthz HTTP/1.1\r\n").await);
        }
        let mut waiting =
            send_raw(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        // The backlog is first in, first out: the fourth connection is accepted after the
        // three held ones, so at the cap it gets no answer. A negative can only be watched for
        // a while; an uncapped server answers a health check well within it.
        let mut buf = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buf)).await;
        assert!(early.is_err(), "the fourth connection was served past the cap");

        // One held connection finishes its request: its slot goes to the waiting one.
        let mut first = held.remove(0);
        first.write_all(b"Host: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let answer = read_until_closed(&mut first).await.expect("an answer");
        assert_eq!(answer.status, 200);
        let answer = read_until_closed(&mut waiting).await.expect("an answer");
        assert_eq!(answer.status, 200, "served once a slot freed");
        assert_eq!(answer.body["status"], "ok");
    }

    async fn heads_hyper_refuses_get_fintoc_error_json(app: TestApp) {
        let many_headers: String = (0..200).map(|i| format!("X-{i}: a\r\n")).collect();
        let cases: [(&[u8], u16, &str); 4] = [
            (b"GET /v1/li\0nks HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"),
            (b"GET /v1/li\xffnks HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid_request"),
            (b"GET /v1/links HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 400, "invalid_request"),
            (
                format!("GET /v1/links HTTP/1.1\r\n{many_headers}\r\n").leak().as_bytes(),
                431,
                "request_headers_too_large",
            ),
        ];
        for (request, status, code) in cases {
            let mut stream = send_raw(&app, request).await;
            let answer = read_until_closed(&mut stream).await.expect("an answer");
            assert_eq!(answer.status, status, "{}", answer.head);
            assert!(answer.head.contains("content-type: application/json"), "{}", answer.head);
            assert_eq!(answer.body["error"]["code"], code);
            assert_eq!(answer.body["error"]["type"], "invalid_request_error");
        }
        let (status, _) = app.get("/v1/links").await;
        assert_eq!(status, 200, "the server goes on serving");
    }
}
