//! INTERFACE.md, "Connections, queues, responses": slow or idle clients are
//! cut off on the clock, SIGTERM finishes with half-sent requests open, and an
//! exhausted file-descriptor table neither stops nor spins the accept loop.
//! Raw TCP, because an HTTP client would never send half a request.

use crate::harness::{temp_db, Server, TestApp};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(url: &str) -> TcpStream {
    TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Read until the peer closes; how long that took, and what came.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, String) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {limit:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

/// One whole response on a keep-alive connection: head and a Content-Length body.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response within 5 s")
            .unwrap();
        assert!(n > 0, "closed before a whole response");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

const HALF_SENT: &[u8] = b"POST /api/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: appl";

#[tokio::test]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.header_timeout_seconds = 1).await;
    let mut stream = connect(&app.url).await;
    stream.write_all(HALF_SENT).await.unwrap();
    let (took, got) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(got, "", "no answer to a request that never finished");
    // The server is none the worse for it.
    assert_eq!(app.get("/healthz", None).await.status, 200);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.header_timeout_seconds = 1).await;
    let mut stream = connect(&app.url).await;
    let (took, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_stays_open_past_the_header_timeout_and_closes_after_the_idle_timeout(
) {
    let app = TestApp::spawn_with(|c| {
        c.header_timeout_seconds = 1;
        c.idle_timeout_seconds = 3;
    })
    .await;
    let mut stream = connect(&app.url).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(request).await.unwrap();
    assert!(read_response(&mut stream)
        .await
        .starts_with("HTTP/1.1 200 OK"));
    // Idle for longer than the header timeout: still usable.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream.write_all(request).await.unwrap();
    let second = read_response(&mut stream).await;
    assert!(second.starts_with("HTTP/1.1 200 OK"), "{second}");
    assert!(second.ends_with(r#"{"status":"ok"}"#), "{second}");
    // Then idle for the idle timeout: closed.
    let (took, got) = until_closed(&mut stream, Duration::from_secs(8)).await;
    assert_eq!(got, "");
    assert!(
        took >= Duration::from_millis(2800) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_request_whose_body_never_finishes_gets_408_after_the_request_timeout() {
    let app = TestApp::spawn_with(|c| c.request_timeout_seconds = 1).await;
    let mut stream = connect(&app.url).await;
    stream
        .write_all(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Request-Id: slow-body-1\r\n\r\n{\"username\": ",
        )
        .await
        .unwrap();
    let (took, got) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(3), "{took:?}");
    let (head, body) = got.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 408 Request Timeout"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("connection: close"), "{head}");
    assert!(head.contains("x-request-id: slow-body-1"), "{head}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap(),
        serde_json::json!({"detail": "Request timed out."})
    );
}

#[test]
fn sigterm_ends_the_server_within_the_shutdown_deadline_with_half_sent_requests_open() {
    let (_db, url) = temp_db();
    let server = Server::start(
        &url,
        &[
            ("ACCOUNTD_SHUTDOWN_SECONDS", "2"),
            // Longer than the deadline, so only the shutdown can end them.
            ("ACCOUNTD_HEADER_TIMEOUT_SECONDS", "60"),
        ],
    );
    // Half a head, or a whole head and half a body (a request in flight).
    let half_body: &[u8] = b"POST /api/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user";
    let mut held = Vec::new();
    for payload in [HALF_SENT, half_body, HALF_SENT, half_body] {
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        std::io::Write::write_all(&mut s, payload).unwrap();
        held.push(s);
    }
    // Let the server take them all.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let code = server.stop();
    let took = started.elapsed();
    assert_eq!(code, 0);
    assert!(took < Duration::from_millis(3500), "{took:?}");
    assert!(
        took >= Duration::from_millis(900),
        "drained first: {took:?}"
    );
}

#[test]
fn sigterm_with_only_idle_connections_exits_at_once() {
    let (_db, url) = temp_db();
    let server = Server::start(&url, &[("ACCOUNTD_SHUTDOWN_SECONDS", "30")]);
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    std::io::Write::write_all(&mut s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let n = std::io::Read::read(&mut s, &mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    assert_eq!(server.stop(), 0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// User and system CPU time of a process so far, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) end in ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

#[test]
fn the_accept_loop_survives_running_out_of_file_descriptors_without_spinning() {
    let (_db, url) = temp_db();
    let mut command = std::process::Command::new("sh");
    command.args([
        "-c",
        r#"ulimit -n 64 && exec "$0" serve"#,
        env!("CARGO_BIN_EXE_accountd"),
    ]);
    command
        .env("ACCOUNTD_DATABASE_URL", &url)
        .env("ACCOUNTD_LISTEN", "127.0.0.1:0")
        .env("ACCOUNTD_HEADER_TIMEOUT_SECONDS", "60")
        .env("RUST_LOG", "warn");
    let server = Server::start_command(command);
    let addr = server.addr();
    // More connections than the process may have descriptors: the kernel
    // completes them, the server cannot accept them all.
    let held: Vec<_> = (0..100)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_time(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_time(server.pid()) - before;
    assert!(
        spent < Duration::from_millis(300),
        "the accept loop spun: {spent:?} of CPU in 2 s"
    );
    drop(held);
    // Descriptors free again: the server answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let answered = loop {
        let got = reqwest::blocking::Client::new()
            .get(format!("{}/healthz", server.url))
            .timeout(Duration::from_secs(2))
            .send();
        match got {
            Ok(r) => break r.status(),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => panic!("no answer after the descriptors came back: {e}"),
        }
    };
    assert_eq!(answered, 200);
    let (code, log) = server.stop_with_log();
    assert_eq!(code, 0);
    assert!(
        log.iter().any(|l| l.contains("accept failed")),
        "the EMFILE was logged: {log:?}"
    );
}
