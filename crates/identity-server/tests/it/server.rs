//! The real `identity-server` binary as a child process, for the end-to-end
//! tests: started on a free port, its log collected, stopped with SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ory_kratos_client::apis::configuration::Configuration;
use ory_kratos_client::apis::metadata_api;

/// The `schema_url` prefix the servers are started with.
pub(crate) const BASE_URL: &str = "http://identity.e2e.test";

/// One running `identity-server`, its log collected line by line.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) port: u16,
    logs: Arc<Mutex<Vec<String>>>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Server {
    pub(crate) fn start(database: &str) -> Server {
        Server::start_with(database, &[])
    }

    /// Started with `extra` flags besides the listening address, database
    /// and base URL.
    pub(crate) fn start_with(database: &str, extra: &[&str]) -> Server {
        Server::spawn(&[], database, extra)
    }

    /// Started as `identity-server serve FLAGS`.
    pub(crate) fn start_serve_subcommand(database: &str) -> Server {
        Server::spawn(&["serve"], database, &[])
    }

    fn spawn(command: &[&str], database: &str, extra: &[&str]) -> Server {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_identity-server"))
            .args(command)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--database",
                database,
                "--base-url",
                BASE_URL,
            ])
            .args(extra)
            .env_remove("IDENTITY_LISTEN")
            .env_remove("IDENTITY_DATABASE")
            .env_remove("IDENTITY_SCHEMAS")
            .env_remove("IDENTITY_BASE_URL")
            .env_remove("IDENTITY_BODY_LIMIT")
            .env_remove("IDENTITY_HEADER_TIMEOUT")
            .env_remove("IDENTITY_BODY_TIMEOUT")
            .env_remove("IDENTITY_MAX_CONNECTIONS")
            .env_remove("IDENTITY_SHUTDOWN_GRACE")
            .env_remove("IDENTITY_HASH_CONCURRENCY")
            .env_remove("IDENTITY_PATH_PREFIX")
            .env_remove("IDENTITY_CHANGES_LOG")
            .env_remove("IDENTITY_CHANGES_POLL")
            .env_remove("IDENTITY_CHANGES_RETENTION_DAYS")
            .env_remove("IDENTITY_CHANGES_RETENTION_COUNT")
            .env_remove("IDENTITY_NO_METRICS")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        // Drain the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            logs,
        }
    }

    pub(crate) fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub(crate) fn config(&self) -> Configuration {
        Configuration {
            base_path: self.base.clone(),
            ..Configuration::default()
        }
    }

    pub(crate) async fn wait_ready(&mut self) {
        self.wait_ready_under("").await;
    }

    /// Waits for `/health/ready` under a path prefix (`--path-prefix`).
    pub(crate) async fn wait_ready_under(&mut self, prefix: &str) {
        let mut config = self.config();
        config.base_path.push_str(prefix);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(ready) = metadata_api::is_ready(&config).await {
                assert_eq!(ready.status, "ok");
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the server exited with {status}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not get ready:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then the exit status.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
