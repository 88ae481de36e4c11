//! `TestApp::spawn()`: the real router on 127.0.0.1:0 over a throwaway
//! database, a clock the test moves, and an SMS sender that records what it is
//! asked to send.
//!
//! The backend comes from `ACCOUNTD_TEST_BACKEND`: `sqlite` (the default, a
//! temp file) or `postgres` (a database `accountd_test_<hex>` created through
//! `ACCOUNTD_TEST_POSTGRES_URL` and dropped when the test is done), so every
//! scenario runs on both backends.

// Shared by every test file; not each file uses every helper.
#![allow(dead_code)]

use accountd::app::{App, Overrides};
use accountd::config::Config;
use accountd::domain::audit::{Discard, EventSink};
use accountd::domain::clock::{Clock, ManualClock};
use accountd::domain::directory::{self, UserInput};
use accountd::domain::phone::Phone;
use accountd::domain::ports::{SmsError, SmsSender};
use accountd::domain::secret::Secret;
use accountd::domain::user::User;
use accountd::http::AppState;
use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One SMS the app asked to send, delivered or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub to: String,
    pub message: String,
    pub delivered: bool,
}

/// Records every message; fails on demand.
#[derive(Default)]
pub struct RecordingSms {
    sent: Mutex<Vec<Sms>>,
    failing: AtomicBool,
}

impl RecordingSms {
    pub fn fail(&self, yes: bool) {
        self.failing.store(yes, Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Sms> {
        self.sent.lock().unwrap().clone()
    }

    /// The digits of the last message to `to`.
    pub fn last_code(&self, to: &str) -> String {
        let all = self.all();
        let sms = all
            .iter()
            .rev()
            .find(|s| s.to == to)
            .unwrap_or_else(|| panic!("no SMS to {to}"));
        code_in(&sms.message)
    }
}

/// The run of digits in a message.
pub fn code_in(message: &str) -> String {
    message.chars().filter(char::is_ascii_digit).collect()
}

#[async_trait]
impl SmsSender for RecordingSms {
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError> {
        let delivered = !self.failing.load(Ordering::SeqCst);
        self.sent.lock().unwrap().push(Sms {
            to: to.as_str().to_owned(),
            message: message.to_owned(),
            delivered,
        });
        if delivered {
            Ok(())
        } else {
            Err(SmsError("gateway said no".into()))
        }
    }
}

pub struct TestApp {
    pub url: String,
    /// The admin listener (`/metrics`, `/admin/…`), on a port of its own.
    pub admin_url: Option<String>,
    pub clock: Arc<ManualClock>,
    pub sms: Arc<RecordingSms>,
    pub state: AppState,
    pub client: reqwest::Client,
    pub db_url: String,
    /// Shared with every other instance on the same database; the last one
    /// to go drops it.
    db: Arc<TestDb>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A response: status, headers and the body as JSON (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body with every JWT replaced by "<jwt>", for whole-body comparison.
    pub fn redacted(&self) -> Value {
        redact(self.body.clone())
    }
}

pub fn redact(v: Value) -> Value {
    match v {
        Value::String(s) if s.starts_with("eyJ") && s.split('.').count() == 3 => {
            Value::String("<jwt>".into())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(redact).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, redact(v))).collect()),
        other => other,
    }
}

/// The claims of a JWT, read without checking it.
pub fn claims(token: &str) -> Value {
    use base64_decode as b64;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&b64(payload)).expect("JWT payload is JSON")
}

fn base64_decode(s: &str) -> Vec<u8> {
    // URL-safe base64 without padding, as JWTs use.
    let table = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        acc = (acc << 6) | table(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawn with configuration changes; a test that sets `sms` itself gets
    /// the configured sender instead of the recording one.
    pub async fn spawn_with(change: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(backend(), change).await
    }

    /// `spawn_with` over a database on `backend`, whatever the suite runs on.
    pub async fn spawn_on(backend: Backend, change: impl FnOnce(&mut Config)) -> Self {
        let db = Arc::new(TestDb::create_on(backend));
        let clock = Arc::new(ManualClock::new());
        let sms = Arc::new(RecordingSms::default());
        Self::start(db, clock, sms, change).await
    }

    /// Another instance of the server, on its own port, over the same
    /// database, clock and SMS recorder: what a load balancer spreads
    /// requests over.
    pub async fn another_instance(&self) -> Self {
        self.another_instance_with(|_| {}).await
    }

    /// `another_instance` with configuration changes.
    pub async fn another_instance_with(&self, change: impl FnOnce(&mut Config)) -> Self {
        Self::start(
            self.db.clone(),
            self.clock.clone(),
            self.sms.clone(),
            change,
        )
        .await
    }

    /// Two instances started at the same moment on one fresh database: both
    /// migrate and settle the signing secret at once, as a fleet does.
    pub async fn spawn_two_at_once() -> (Self, Self) {
        let db = Arc::new(TestDb::create());
        let clock = Arc::new(ManualClock::new());
        let sms = Arc::new(RecordingSms::default());
        futures::join!(
            Self::start(db.clone(), clock.clone(), sms.clone(), |_| {}),
            Self::start(db, clock, sms, |_| {}),
        )
    }

    /// An app whose auth events go nowhere and whose signing keys are not
    /// re-read in the background: what a request sends to the database is
    /// then all that reaches it.
    pub async fn spawn_without_audit() -> Self {
        let db = Arc::new(TestDb::create());
        let clock = Arc::new(ManualClock::new());
        let sms = Arc::new(RecordingSms::default());
        Self::start_with_events(db, clock, sms, |_| {}, Some(Arc::new(Discard))).await
    }

    async fn start(
        db: Arc<TestDb>,
        clock: Arc<ManualClock>,
        sms: Arc<RecordingSms>,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_with_events(db, clock, sms, change, None).await
    }

    async fn start_with_events(
        db: Arc<TestDb>,
        clock: Arc<ManualClock>,
        sms: Arc<RecordingSms>,
        change: impl FnOnce(&mut Config),
        events: Option<Arc<dyn EventSink>>,
    ) -> Self {
        let db_url = db.url.clone();
        let mut config = Config::from_sources(&[]).unwrap();
        config.database_url = db_url.clone();
        config.listen = "127.0.0.1:0".into();
        config.admin_listen = Some("127.0.0.1:0".into());
        let default_sms = config.sms.clone();
        change(&mut config);
        let overrides = Overrides {
            clock: Some(clock.clone()),
            sms: (config.sms == default_sms).then(|| sms.clone() as Arc<dyn SmsSender>),
            // Quiet apps: no periodic key reload between two counts.
            key_reload_every: events
                .is_some()
                .then(|| std::time::Duration::from_secs(3600)),
            events,
        };
        let app = App::build(config, overrides).await.unwrap();
        let url = format!("http://{}", app.local_addr().unwrap());
        let admin_url = app.admin_addr().map(|a| format!("http://{a}"));
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        TestApp {
            url,
            admin_url,
            clock,
            sms,
            state,
            client: reqwest::Client::new(),
            db_url,
            db,
            _shutdown: tx,
        }
    }

    /// Take the database away from under the server: on PostgreSQL the
    /// database is dropped, its connections killed (a real outage: every
    /// reconnect fails); on SQLite the file is moved away (the server's
    /// watchdog notices within a quarter of a second; this returns once
    /// the store answers no more). `restore_database` brings a SQLite file back.
    pub async fn break_database(&self) {
        match (&self.db.postgres_name, backend()) {
            (Some(name), Backend::Postgres) => {
                postgres_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            }
            _ => {
                let path = self.db_url.trim_start_matches("sqlite://");
                std::fs::rename(path, format!("{path}.gone")).unwrap();
                // Past the watchdog's next look (every 250 ms).
                tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                self.wait_until_ready(false).await;
            }
        }
    }

    /// Put a SQLite file moved away by `break_database` back, and wait until
    /// the store answers again.
    pub async fn restore_database(&self) {
        let path = self.db_url.trim_start_matches("sqlite://");
        std::fs::rename(format!("{path}.gone"), path).unwrap();
        self.wait_until_ready(true).await;
    }

    /// Wait (at most 5 s) until the store's ping answers `ready`.
    pub async fn wait_until_ready(&self, ready: bool) {
        let store = self.state.accounts.store().clone();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while store.ping().await.is_ok() != ready {
            assert!(
                std::time::Instant::now() < deadline,
                "the store did not become {}",
                if ready { "ready" } else { "unavailable" }
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Run one SQL statement on the app's database, behind the server's back.
    pub async fn execute_sql(&self, statement: &str) {
        match self.backend() {
            Backend::Sqlite => {
                let path = self.db_url.trim_start_matches("sqlite://").to_owned();
                let statement = statement.to_owned();
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    conn.busy_timeout(std::time::Duration::from_secs(5))
                        .unwrap();
                    conn.execute_batch(&statement).unwrap();
                })
                .await
                .unwrap();
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&self.db_url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    /// The single integer a query answers, read behind the server's back
    /// (e.g. `SELECT COUNT(*) FROM attempts`).
    pub async fn count(&self, sql: &str) -> i64 {
        match self.backend() {
            Backend::Sqlite => {
                let path = self.db_url.trim_start_matches("sqlite://").to_owned();
                let sql = sql.to_owned();
                tokio::task::spawn_blocking(move || {
                    let conn = rusqlite::Connection::open(path).unwrap();
                    conn.query_row(&sql, [], |r| r.get(0)).unwrap()
                })
                .await
                .unwrap()
            }
            Backend::Postgres => {
                use sqlx::{Connection, Row};
                let mut conn = sqlx::PgConnection::connect(&self.db_url).await.unwrap();
                let n: i64 = sqlx::query(sql).fetch_one(&mut conn).await.unwrap().get(0);
                conn.close().await.unwrap();
                n
            }
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The backend this app's database is on.
    pub fn backend(&self) -> Backend {
        if self.db_url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    async fn reply(r: reqwest::Response) -> Reply {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
        };
        Reply {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        Self::reply(
            self.client
                .post(format!("{}{path}", self.url))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// POST as a client at `addr`, behind a proxy that names it in
    /// `X-Forwarded-For` (the app must trust that header).
    pub async fn post_from(&self, addr: &str, path: &str, body: Value) -> Reply {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("x-forwarded-for", addr)
            .json(&body)
            .send()
            .await
            .unwrap();
        Self::reply(r).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        Self::reply(r).await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Reply {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        Self::reply(r).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.client.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::reply(req.send().await.unwrap()).await
    }

    /// Create a user as an operator would.
    pub async fn user(&self, input: UserInput) -> User {
        directory::create_user(
            self.state.accounts.store().as_ref(),
            input,
            self.now(),
            false,
        )
        .await
        .unwrap()
    }

    pub async fn user_with_password(
        &self,
        username: &str,
        phone: Option<&str>,
        password: &str,
    ) -> User {
        self.user(UserInput {
            username: Some(username.into()),
            phone: phone.map(Into::into),
            password: Some(Secret::from(password)),
            ..UserInput::default()
        })
        .await
    }

    pub async fn reload(&self, user: &User) -> User {
        self.state
            .accounts
            .store()
            .user_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// What one run of the real `accountd` binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|_| panic!("stdout is not JSON: {self:?}"))
    }
}

/// Run `accountd ARGS…` against the database at `db_url`, feeding `stdin`.
pub fn run_cli(db_url: &str, args: &[&str], stdin: Option<&str>) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_accountd"))
        .args(args)
        .env("ACCOUNTD_DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh throwaway database for CLI tests, on the backend under test; it
/// lives as long as the guard.
pub fn temp_db() -> (TestDb, String) {
    let db = TestDb::create();
    let url = db.url.clone();
    (db, url)
}

/// Which database the tests run on (`ACCOUNTD_TEST_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    match std::env::var("ACCOUNTD_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        Ok(other) => panic!("ACCOUNTD_TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

/// The server the throwaway PostgreSQL databases are made on.
fn postgres_admin_url() -> String {
    std::env::var("ACCOUNTD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced by `name` (query string kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

/// Run one statement on the admin database, from any context: on a thread of
/// its own with a small runtime, so a Drop inside a test's runtime may call it.
fn postgres_admin(statement: String) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let url = postgres_admin_url();
            let mut conn = sqlx::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url}: {e}"));
            sqlx::query(&statement)
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
            let _ = conn.close().await;
        });
    })
    .join()
    .unwrap();
}

/// A throwaway database: a temp SQLite file, or a PostgreSQL database dropped
/// (connections and all) when this goes.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDb {
    pub fn create() -> Self {
        Self::create_on(backend())
    }

    /// A throwaway database on `backend`, whatever the suite runs on.
    pub fn create_on(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("accountd.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    postgres_name: None,
                }
            }
            Backend::Postgres => {
                let name = format!("accountd_test_{:016x}", rand::random::<u64>());
                postgres_admin(format!("CREATE DATABASE {name}"));
                TestDb {
                    url: with_database(&postgres_admin_url(), &name),
                    _dir: None,
                    postgres_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_name.take() {
            postgres_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A running `accountd serve` process, stopped with SIGTERM when dropped.
/// Its stderr (the log) is collected line by line.
pub struct Server {
    pub url: String,
    /// The admin listener's base URL, when it is on.
    pub admin_url: Option<String>,
    child: std::process::Child,
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Start the real binary on a free port and wait for its `listening on` line.
    pub fn start(db_url: &str, env: &[(&str, &str)]) -> Server {
        Self::start_command(Self::command(db_url, env))
    }

    /// `accountd serve` over `db_url` on a free port, quiet unless `env` says otherwise.
    pub fn command(db_url: &str, env: &[(&str, &str)]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"));
        command
            .arg("serve")
            .env("ACCOUNTD_DATABASE_URL", db_url)
            .env("ACCOUNTD_LISTEN", "127.0.0.1:0")
            .env("ACCOUNTD_ADMIN_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied());
        command
    }

    /// Start a prepared command (e.g. one run through a shell that sets limits).
    pub fn start_command(mut command: std::process::Command) -> Server {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (admin_tx, admin_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                } else if let Some(url) = line.strip_prefix("admin listening on ") {
                    let _ = admin_tx.send(url.to_owned());
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let url = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = stderr_reader.join();
                panic!(
                    "accountd serve printed no `listening on` line; stderr: {:?}",
                    stderr.lock().unwrap()
                );
            }
        };
        // Printed right after the main line, unless the admin listener is off.
        let admin_url = admin_rx
            .recv_timeout(std::time::Duration::from_millis(500))
            .ok();
        Server {
            url,
            admin_url,
            child,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `host:port` of the listener.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// The log lines written so far (all of them once the process has ended).
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit code.
    pub fn stop(mut self) -> i32 {
        let code = self.terminate();
        std::mem::forget(self);
        code
    }

    /// SIGTERM; the exit code and every log line, once the process has ended.
    pub fn stop_with_log(mut self) -> (i32, Vec<String>) {
        let code = self.terminate();
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
        let lines = self.stderr();
        std::mem::forget(self);
        (code, lines)
    }

    fn terminate(&mut self) -> i32 {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child
            .wait()
            .map(|s| s.code().unwrap_or(-1))
            .unwrap_or(-1)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}
