//! The admin console in a real browser: Debian's headless Chromium driven
//! through chromedriver (WebDriver) by fantoccini. A staff member signs in
//! (after a wrong password is refused), finds a user, opens them,
//! deactivates them (their token is then refused at a contract, over HTTP),
//! reactivates them, logs them out everywhere, unlocks them, sets a new
//! password (a weak one is refused on the page) that then signs in at a
//! contract, creates a user, reads the audit trail with filters; forms with
//! a missing or forged CSRF token are refused. Each page is photographed
//! into `target/screenshots/`.
//!
//! Chromium and chromedriver are required: `.ci/browser` installs them. When
//! either is missing these tests fail, saying so; they never pass silently.

use crate::admin_support::{spawn, staff, STAFF_PASSWORD};
use crate::harness::TestApp;
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use accountd::domain::user::User;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ANN_PASSWORD: &str = "ann's long password";
const ANN_PHONE: &str = "+12025550123";

/// Where a binary is on PATH, if anywhere.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free port, with a browser session of its own profile.
struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    taken: usize,
}

impl Browser {
    async fn start(name: &str) -> Browser {
        let (Some(chromedriver), Some(chromium)) = (which("chromedriver"), which("chromium"))
        else {
            panic!(
                "the console's browser tests need Debian's chromium and chromedriver \
                 (packages chromium, chromium-driver): run .ci/browser to install them"
            );
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--no-first-run", "--hide-scrollbars", "--window-size=1200,860",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no browser session from chromedriver at {url}: {e}"),
            }
        };
        let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/screenshots")
            .join(name);
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            driver,
            client,
            _profile: profile,
            shots,
            taken: 0,
        }
    }

    /// Save what the browser shows as `NN-name.png`.
    async fn shot(&mut self, name: &str) {
        self.taken += 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(
            self.shots.join(format!("{:02}-{name}.png", self.taken)),
            png,
        )
        .unwrap();
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    async fn path(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    /// The text of the page's `main`.
    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Click `css` and wait until the page that follows shows `expect`.
    async fn click_until(&self, css: &str, expect: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
        self.until(expect).await;
    }

    /// Wait (at most 10 s) until the page's text contains `expect`.
    async fn until(&self, expect: &str) {
        let started = Instant::now();
        loop {
            let text = match self.client.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(expect) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the page never showed {expect:?}; it shows: {text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Run a script in the page.
    async fn run(&self, script: &str) {
        self.client.execute(script, Vec::new()).await.unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The session's browser goes with its driver.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn ann(app: &TestApp) -> User {
    app.user(UserInput {
        username: Some("ann".into()),
        phone: Some(ANN_PHONE.into()),
        email: Some("ann@example.com".into()),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        role: Some("student".into()),
        password: Some(Secret::from(ANN_PASSWORD)),
        ..UserInput::default()
    })
    .await
}

/// Sign in at university: (access, refresh), or the status it refused with.
async fn university_login(app: &TestApp, password: &str) -> Result<(String, String), StatusCode> {
    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "ann", "password": password}),
        )
        .await;
    if r.status != StatusCode::OK {
        return Err(r.status);
    }
    Ok((
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    ))
}

async fn profile_status(app: &TestApp, access: &str) -> StatusCode {
    app.get("/api/auth/profile/", Some(access)).await.status
}

async fn refresh_status(app: &TestApp, refresh: &str) -> StatusCode {
    app.post("/api/auth/refresh/", json!({"refresh_token": refresh}))
        .await
        .status
}

#[tokio::test]
async fn a_staff_member_administers_a_user_in_a_real_browser() {
    let app = spawn().await;
    staff(&app).await;
    let ann = ann(&app).await;
    for (name, phone) in [("bob", "+255712000001"), ("carol", "+255712000002")] {
        app.user(UserInput {
            username: Some(name.into()),
            phone: Some(phone.into()),
            ..UserInput::default()
        })
        .await;
    }
    let admin = app.admin_url.clone().unwrap();
    let mut b = Browser::start("administer").await;

    // Sign-in: the console sends a stranger there; a wrong password is refused.
    b.goto(&format!("{admin}/admin/")).await;
    b.until("Staff accounts only").await;
    assert_eq!(b.path().await, "/admin/login");
    b.shot("sign-in").await;
    b.fill("#username", "root").await;
    b.fill("#password", "not the password").await;
    b.click_until("button[type=submit]", "Wrong username or password.")
        .await;
    b.shot("sign-in-refused").await;
    b.fill("#password", STAFF_PASSWORD).await;
    b.click_until("button[type=submit]", "Signed in as root")
        .await;
    assert_eq!(b.path().await, "/admin/users");
    assert!(b.text().await.contains("4 users · page 1 of 1"));
    b.shot("users").await;

    // Find ann and open her page.
    let (access, refresh) = university_login(&app, ANN_PASSWORD).await.unwrap();
    b.fill("#q", "ANN@").await;
    b.click_until(".search button", "1 user · page 1 of 1")
        .await;
    assert!(b.text().await.contains("ann@example.com"));
    b.shot("search").await;
    b.click_until(
        &format!("#users a[href='/admin/users/{}']", ann.id.0),
        "Set a new password",
    )
    .await;
    assert_eq!(b.path().await, format!("/admin/users/{}", ann.id.0));
    let page = b.text().await;
    assert!(page.contains("Signed in (1)"), "{page}");
    assert!(page.contains("refresh token"), "{page}");
    b.shot("user").await;

    // Deactivate: her token is refused at a contract at once.
    assert_eq!(profile_status(&app, &access).await, StatusCode::OK);
    b.click_until("#deactivate", "User deactivated").await;
    assert!(b.text().await.contains("inactive"));
    b.shot("user-deactivated").await;
    assert_eq!(
        profile_status(&app, &access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh_status(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        university_login(&app, ANN_PASSWORD).await,
        Err(StatusCode::UNAUTHORIZED)
    );

    // Reactivate: she signs in again (tokens from before stay dead).
    app.clock.advance(1);
    b.click_until("#reactivate", "User reactivated").await;
    assert_eq!(
        profile_status(&app, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let (access, refresh) = university_login(&app, ANN_PASSWORD).await.unwrap();
    assert_eq!(profile_status(&app, &access).await, StatusCode::OK);

    // Log out everywhere: the new tokens end too.
    app.clock.advance(1);
    b.goto(&format!("{admin}/admin/users/{}", ann.id.0)).await;
    b.until("Signed in (1)").await;
    b.click_until("#logout-everywhere", "Logged out everywhere")
        .await;
    assert!(b.text().await.contains("Signed in (0)"));
    assert_eq!(
        refresh_status(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        profile_status(&app, &access).await,
        StatusCode::UNAUTHORIZED
    );

    // Unlock: ten wrong passwords throttle her; unlocking lets her in.
    for _ in 0..10 {
        assert_eq!(
            university_login(&app, "a wrong guess").await,
            Err(StatusCode::UNAUTHORIZED)
        );
    }
    assert_eq!(
        university_login(&app, ANN_PASSWORD).await,
        Err(StatusCode::TOO_MANY_REQUESTS)
    );
    b.click_until("#unlock", "Sign-in unlocked").await;
    university_login(&app, ANN_PASSWORD).await.unwrap();

    // A new password: a common one is refused on the page, a good one
    // signs in at a contract and the old one does not.
    app.clock.advance(1);
    b.fill("#new_password", "password123").await;
    b.click_until("#set-password", "too common").await;
    b.shot("password-refused").await;
    assert_eq!(
        university_login(&app, ANN_PASSWORD).await.map(|_| ()),
        Ok(())
    );
    b.fill("#new_password", "a fresh password for ann").await;
    b.click_until("#set-password", "Password set.").await;
    assert_eq!(
        university_login(&app, ANN_PASSWORD).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    university_login(&app, "a fresh password for ann")
        .await
        .unwrap();

    // Forms whose CSRF token is missing or forged do nothing.
    b.run("document.querySelector('form[action$=\"/deactivate\"] input[name=csrf]').remove()")
        .await;
    b.click_until("#deactivate", "Form refused").await;
    b.shot("csrf-refused").await;
    b.goto(&format!("{admin}/admin/users/{}", ann.id.0)).await;
    b.until("Set a new password").await;
    b.run(
        "document.querySelector('form[action$=\"/deactivate\"] input[name=csrf]').value = 'forged'",
    )
    .await;
    b.click_until("#deactivate", "Form refused").await;
    assert!(app.reload(&ann).await.is_active);

    // Create a user.
    b.goto(&format!("{admin}/admin/users/new")).await;
    b.until("Create user").await;
    b.fill("#username", "dave").await;
    b.fill("#email", "dave@example.com").await;
    b.fill("#first_name", "Dave").await;
    b.fill("#password", "dave's long password").await;
    b.shot("new-user").await;
    b.click_until("button.primary", "User created.").await;
    assert!(b.text().await.contains("dave@example.com"));

    // The audit trail, filtered to admin actions on ann.
    b.goto(&format!("{admin}/admin/users")).await;
    b.click_until("nav a[href='/admin/audit']", "Filter").await;
    b.client
        .find(Locator::Css("#event"))
        .await
        .unwrap()
        .select_by_value("admin")
        .await
        .unwrap();
    b.fill("#user", &ann.id.0.to_string()).await;
    b.click_until(".filters button", "\"fields\":[\"password\"]")
        .await;
    let trail = b
        .client
        .find(Locator::Css("table.audit"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for action in [
        "\"action\":\"deactivate\"",
        "\"action\":\"reactivate\"",
        "\"action\":\"logout\"",
        "\"action\":\"unlock\"",
        "\"action\":\"update\"",
    ] {
        assert!(trail.contains(action), "{action} in {trail}");
    }
    assert!(!trail.contains("password_login"), "{trail}");
    b.shot("audit").await;

    // Sign out: back to the sign-in page, and the console is closed.
    b.click_until("header form button", "Staff accounts only")
        .await;
    b.goto(&format!("{admin}/admin/users")).await;
    b.until("Staff accounts only").await;
    b.client.clone().close().await.unwrap();
}
