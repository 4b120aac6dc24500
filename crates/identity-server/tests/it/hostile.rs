//! The real `identity-server` binary under hostile clients (issue 12): slow
//! and idle connections are cut off, open connections are capped, a
//! shutdown with stuck clients is bounded and exits 0, request logs carry
//! route templates and never what the caller sent, concurrent password
//! hashing stays within a bounded memory, and a deep PATCH path is refused
//! without harm.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::Server;

/// A raw connection to the server.
fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection (or the 20 s read timeout,
/// which fails the test).
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The TCP connections the process holds open (established, not its
/// listener): its socket inodes looked up in `/proc/net/tcp`.
fn open_connections(pid: u32) -> usize {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .map(str::to_owned)
        })
        .collect();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| table.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Field 3 is the state (01: established), field 9 the inode.
            fields.get(3) == Some(&"01") && fields.get(9).is_some_and(|i| inodes.contains(*i))
        })
        .count()
}

/// The peak resident set of the process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Polls `condition` every 50 ms for up to 20 s.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_connections_capped_and_shutdown_exits_0() {
    let mut server = Server::start_with(
        "memory:",
        &[
            "--header-timeout",
            "1",
            "--body-timeout",
            "1",
            "--max-connections",
            "4",
            "--shutdown-grace",
            "2",
        ],
    );
    server.wait_ready().await;
    let pid = server.child.id();

    tokio::task::block_in_place(|| {
        // Headers that never end: hyper closes the connection.
        let mut slow = connect(&server);
        slow.write_all(b"GET /health/alive HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        let reply = read_to_close(&mut slow);
        assert!(!reply.contains("200 OK"), "{reply}");

        // A body that stops short: 408 in the Kratos envelope.
        let mut slow = connect(&server);
        slow.write_all(
            b"POST /admin/identities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\nConnection: close\r\n\r\n{\"traits\"",
        )
        .unwrap();
        let reply = read_to_close(&mut slow);
        assert!(reply.starts_with("HTTP/1.1 408 "), "{reply}");
        let body: Value = serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["error"]["code"], 408);
        assert_eq!(
            body["error"]["message"],
            "The request body was not received in time"
        );

        // Twelve clients that connect and say nothing: at most four are
        // taken in; the rest wait in the backlog.
        eventually("the probes' connections are closed", || {
            open_connections(pid) == 0
        });
        let idle: Vec<TcpStream> = (0..12).map(|_| connect(&server)).collect();
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(open_connections(pid), 4, "connections held at once");
        // The header timeout frees them, four at a time, until none is left.
        eventually("the idle connections are all cut off", || {
            open_connections(pid) == 0
        });
        drop(idle);
    });

    // Requests are served again, and the log names routes, not URIs.
    let secret_email = "leaky.person@example.com";
    let reply = client()
        .get(format!(
            "{}/admin/identities?credentials_identifier={secret_email}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let reply = client()
        .get(format!(
            "{}/admin/identities/by/external/{secret_email}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);
    tokio::task::block_in_place(|| {
        eventually("both requests are logged", || {
            server.logs().contains("by/external/{external_id}")
        });
    });
    let logs = server.logs();
    assert!(!logs.contains("leaky.person"), "{logs}");
    assert!(
        logs.lines()
            .any(|l| l.contains("route=/admin/identities") && l.contains("status=200")),
        "{logs}"
    );

    // SIGTERM with clients stuck mid-request: the exit waits at most the
    // grace period, and it is a clean one.
    let stuck: Vec<TcpStream> = (0..12)
        .map(|_| {
            let mut s = connect(&server);
            s.write_all(b"GET /health/alive HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    let status = tokio::task::block_in_place(|| server.terminate());
    assert_eq!(status.code(), Some(0), "{}", server.logs());
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_password_creates_hash_a_few_at_a_time() {
    // Production Argon2id (19 MiB per hash), two hashes at a time.
    let mut server = Server::start_with("memory:", &["--hash-concurrency", "2"]);
    server.wait_ready().await;
    let pid = server.child.id();
    let before = peak_rss_kib(pid);
    let http = client();
    let requests = (0..48).map(|i| {
        let http = http.clone();
        let url = format!("{}/admin/identities", server.base);
        async move {
            http.post(url)
                .json(&json!({
                    "traits": {"email": format!("hash{i}@example.com")},
                    "credentials": {"password": {"config": {"password": "correct horse battery staple"}}}
                }))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let grown_mib = (peak_rss_kib(pid) - before) / 1024;
    // Unbounded, 48 hashes at once take 48 × 19 MiB = 912 MiB; two at a
    // time take 38 MiB plus what the allocator keeps.
    assert!(grown_mib < 160, "peak RSS grew by {grown_mib} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_patch_path_is_refused_and_nothing_is_lost() {
    let mut server = Server::start("memory:");
    server.wait_ready().await;
    let http = client();
    let created: Value = http
        .post(format!("{}/admin/identities", server.base))
        .json(&json!({"traits": {"email": "deep@example.com"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    // The 4 KB patch of issue 12: about 2,030 path segments.
    let path = format!("/metadata_admin{}", "/a".repeat(2030));
    let reply = http
        .patch(format!("{}/admin/identities/{id}", server.base))
        .json(&json!([{"op": "add", "path": path, "value": 1}]))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(
        body["error"]["reason"],
        format!("the patch path {path} is nested deeper than the limit of 32 levels")
    );
    let stored: Value = http
        .get(format!("{}/admin/identities/{id}", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored, created);
    assert_eq!(server.child.try_wait().unwrap(), None, "the server is up");
}

/// Runs the futures concurrently on the test's runtime.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
