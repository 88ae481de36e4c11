//! A real outage and a real recovery (INTERFACE.md, "Database outage"): a
//! PostgreSQL server of the test's own (its own data directory and port,
//! from the PostgreSQL 15 packages) is stopped under a running accountd,
//! which answers 503 in every contract's shape within 2 s and `/readyz` 503;
//! started again, accountd answers 200 again with no restart.
//!
//! initdb refuses to run as root: as root, the cluster is made and run as
//! the `postgres` system user.

use crate::harness::{backend, Backend, TestApp};
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SORRY: &str = "Service temporarily unavailable, try again later.";

/// A PostgreSQL cluster in a temp directory, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
    _tmp: tempfile::TempDir,
}

fn bindir() -> PathBuf {
    let out = Command::new("pg_config").arg("--bindir").output();
    match out {
        Ok(o) if o.status.success() => PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
        _ => PathBuf::from("/usr/lib/postgresql/15/bin"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as the `postgres` user when we are root.
fn pg(program: &str, args: &[&str]) -> Command {
    let exe = bindir().join(program);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe).args(args);
        c
    } else {
        let mut c = Command::new(exe);
        c.args(args);
        c
    }
}

fn run(mut c: Command) {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    fn create() -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        if is_root() {
            run({
                let mut c = Command::new("chown");
                c.args(["postgres:postgres", tmp.path().to_str().unwrap()]);
                c
            });
        }
        let d = dir.to_str().unwrap();
        run(pg(
            "initdb",
            &["-D", d, "-A", "trust", "-U", "postgres", "--no-sync"],
        ));
        let cluster = Cluster {
            dir,
            port: free_port(),
            _tmp: tmp,
        };
        cluster.start();
        cluster
    }

    fn options(&self) -> String {
        let socket_dir = self.dir.parent().unwrap_or(Path::new("/tmp"));
        format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            socket_dir.display()
        )
    }

    fn start(&self) {
        let log = self.dir.parent().unwrap().join("log");
        run(pg(
            "pg_ctl",
            &[
                "-D",
                self.dir.to_str().unwrap(),
                "-o",
                &self.options(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        ));
    }

    fn stop(&self) {
        run(pg(
            "pg_ctl",
            &["-D", self.dir.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        ));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg(
            "pg_ctl",
            &["-D", self.dir.to_str().unwrap(), "-m", "immediate", "stop"],
        )
        .output();
    }
}

/// (status, body, Retry-After, how long) of one request.
async fn timed(
    r: impl std::future::Future<Output = crate::harness::Reply>,
) -> (StatusCode, Value, Option<String>, Duration) {
    let started = Instant::now();
    let r = r.await;
    let wait = r.header("retry-after").map(str::to_owned);
    (r.status, r.body, wait, started.elapsed())
}

#[tokio::test]
async fn accountd_answers_503_while_its_postgresql_is_stopped_and_recovers_when_it_is_back() {
    // Needs the PostgreSQL packages: runs in the PostgreSQL pass.
    if backend() != Backend::Postgres {
        return;
    }
    let cluster = tokio::task::spawn_blocking(Cluster::create).await.unwrap();
    let url = cluster.url();
    let app = TestApp::spawn_with(|c| c.database_url = url.clone()).await;
    let password = "a long enough password";
    app.user(UserInput {
        username: Some("ann".into()),
        phone: Some("+255712345678".into()),
        password: Some(Secret::from(password)),
        role: Some("AGENT".into()),
        ..UserInput::default()
    })
    .await;
    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "ann", "password": password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let access = r.body["access_token"].as_str().unwrap().to_owned();

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .unwrap();

    let login = json!({"username": "ann", "password": password});
    let answers = vec![
        (
            timed(app.post("/accounts/login/", login.clone())).await,
            json!({"message": SORRY}),
        ),
        (
            timed(app.post("/api/login/", login.clone())).await,
            json!({"error": SORRY}),
        ),
        (
            timed(app.get("/api/auth/profile/", Some(&access))).await,
            json!({"success": false, "message": SORRY}),
        ),
        (
            timed(app.post(
                "/api/accounts/auth/send-otp/",
                json!({"phone_number": "+255712345679"}),
            ))
            .await,
            json!({"error": SORRY}),
        ),
        (
            timed(app.post(
                "/auth/api/agent/login/",
                json!({"username": "ann", "password": password}),
            ))
            .await,
            json!({"error": SORRY}),
        ),
    ];
    for ((status, body, wait, took), expected) in answers {
        assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, expected));
        assert_eq!(wait.as_deref(), Some("5"));
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }
    let r = app.get("/readyz", None).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable"})
        )
    );

    // Back, with no restart of accountd.
    let _cluster = tokio::task::spawn_blocking(move || {
        cluster.start();
        cluster
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get("/readyz", None).await;
        if r.status == StatusCode::OK {
            assert_eq!(r.body, json!({"status": "ready"}));
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {:?}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "ann", "password": password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.get("/api/auth/profile/", Some(&access)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
