//! The admin console over plain HTTP (the browser tests drive it in
//! Chromium): staff-only sign-in through the contracts' password check,
//! throttle and second factor; the cookie's attributes; CSRF on every form;
//! sessions that end (expiry, idleness, sign-out, logout everywhere); the
//! headers that keep pages out of frames; and escaping of what users typed.

use crate::admin_support::{
    admin_events, csrf_in, events, get_page, post_form, post_sign_in, set_cookie, set_cookie_line,
    sign_in, spawn, staff, STAFF_PASSWORD,
};
use crate::harness::TestApp;
use accountd::domain::audit::EventKind;
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_staff_user_signs_in_with_a_private_cookie_and_the_sign_in_is_audited() {
    let app = spawn().await;
    let root = staff(&app).await;
    let r = post_sign_in(&app, "root", STAFF_PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let line = set_cookie_line(&r, "accountd_admin").unwrap();
    let value = set_cookie(&r, "accountd_admin").unwrap();
    assert_eq!(value.len(), 64);
    assert_eq!(
        line,
        format!("accountd_admin={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=28800")
    );
    // The sign-in form's cookie is done with.
    assert_eq!(
        set_cookie_line(&r, "accountd_admin_signin").unwrap(),
        "accountd_admin_signin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0"
    );
    // Only the cookie's SHA-256 is stored.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM console_sessions WHERE id_sha256 <> '{value}'"
        ))
        .await,
        1
    );
    let logins = events(&app, Some(EventKind::PasswordLogin)).await;
    assert_eq!(logins.len(), 1);
    assert_eq!(
        (
            logins[0].outcome.as_str(),
            logins[0].contract.as_str(),
            logins[0].user
        ),
        ("success", "admin", Some(root.id))
    );
    assert_eq!(app.reload(&root).await.last_login, Some(app.now()));
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure() {
    let app = TestApp::spawn_with(|c| c.admin_https = true).await;
    staff(&app).await;
    let r = post_sign_in(&app, "root", STAFF_PASSWORD, None).await;
    assert!(
        set_cookie_line(&r, "accountd_admin")
            .unwrap()
            .ends_with("; Secure"),
        "{:?}",
        r.headers
    );
}

#[tokio::test]
async fn every_console_answer_forbids_framing_and_outside_sources() {
    let app = spawn().await;
    staff(&app).await;
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    for path in [
        "/admin/login",
        "/admin/users",
        "/admin/users/1",
        "/admin/audit",
    ] {
        let r = get_page(&app, path, &console.cookie).await;
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
            "{path}"
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        // Pages of user data are kept by no cache.
        if path != "/admin/login" {
            assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        }
        // Nothing is loaded from elsewhere, and nothing runs inline.
        assert!(!r.text.contains("http://") && !r.text.contains("https://"));
        assert!(!r.text.contains("<script>") && !r.text.contains(" style="));
    }
    let css = get_page(&app, "/admin/static/console.css", "").await;
    assert_eq!(
        (css.status, css.header("content-type")),
        (StatusCode::OK, Some("text/css; charset=utf-8"))
    );
    let none = get_page(&app, "/admin/static/other.js", "").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_password_a_missing_form_token_and_a_user_who_is_not_staff_are_refused() {
    let app = spawn().await;
    staff(&app).await;
    app.user_with_password("ann", None, "ann's long password")
        .await;
    let r = post_sign_in(&app, "root", "not the password", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("Wrong username or password."), "{}", r.text);
    assert!(set_cookie(&r, "accountd_admin").is_none());
    let r = post_sign_in(&app, "nobody", "not the password", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text.contains("Wrong username or password."));
    let r = post_sign_in(&app, "ann", "ann's long password", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r
        .text
        .contains("This account may not use the admin console."));
    assert!(set_cookie(&r, "accountd_admin").is_none());
    // The form's token must be the sign-in cookie's: without it, or with
    // another, nothing is checked (not even the password).
    let page = get_page(&app, "/admin/login", "").await;
    let token = set_cookie(&page, "accountd_admin_signin").unwrap();
    for (cookie, field) in [
        (String::new(), token.clone()),
        (format!("accountd_admin_signin={token}"), String::new()),
        (format!("accountd_admin_signin={token}"), "f".repeat(64)),
    ] {
        let r = post_form(
            &app,
            "/admin/login",
            &cookie,
            &[
                ("csrf", &field),
                ("username", "root"),
                ("password", STAFF_PASSWORD),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{cookie} {field}");
        assert!(r.text.contains("The sign-in form expired"), "{}", r.text);
        assert!(set_cookie(&r, "accountd_admin").is_none());
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM console_sessions").await, 0);
    let outcomes: Vec<String> = events(&app, Some(EventKind::PasswordLogin))
        .await
        .into_iter()
        .map(|e| e.outcome)
        .collect();
    assert_eq!(
        outcomes,
        ["invalid_password", "invalid_password", "not_staff"]
    );
}

#[tokio::test]
async fn console_sign_ins_share_the_contracts_login_throttle() {
    let app = spawn().await;
    staff(&app).await;
    for _ in 0..10 {
        let r = post_sign_in(&app, "root", "a wrong guess", None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = post_sign_in(&app, "root", STAFF_PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.text
            .contains("Too many failed sign-ins. Try again in 900 seconds."),
        "{}",
        r.text
    );
    // The same name is throttled at the contracts too.
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "root", "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_staff_account_that_asks_for_an_sms_code_signs_in_with_it() {
    let app = spawn().await;
    app.user(UserInput {
        username: Some("root".into()),
        phone: Some("+12025550199".into()),
        password: Some(Secret::from(STAFF_PASSWORD)),
        is_staff: Some(true),
        otp_enabled: Some(true),
        ..UserInput::default()
    })
    .await;
    let r = post_sign_in(&app, "root", STAFF_PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("A code was sent"), "{}", r.text);
    assert!(r.text.contains("name=\"code\""));
    assert!(set_cookie(&r, "accountd_admin").is_none());
    let code = app.sms.last_code("+12025550199");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = post_sign_in(&app, "root", STAFF_PASSWORD, Some(wrong)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&r, "accountd_admin").is_none());
    let r = post_sign_in(&app, "root", STAFF_PASSWORD, Some(&code)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(set_cookie(&r, "accountd_admin").is_some());
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_changes_nothing() {
    let app = spawn().await;
    staff(&app).await;
    let ann = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    for action in ["deactivate", "logout", "unlock", "delete", "password"] {
        for token in ["", "0123", &console.csrf[1..]] {
            let r = post_form(
                &app,
                &format!("/admin/users/{}/{action}", ann.id.0),
                &console.cookie,
                &[("csrf", token), ("password", "a fresh long password")],
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{action} {token:?}");
            assert!(r.text.contains("security token (CSRF)"), "{}", r.text);
        }
    }
    // Nor does a form with the token of another session.
    let other = sign_in(&app, "root", STAFF_PASSWORD).await;
    assert_ne!(other.csrf, console.csrf);
    let r = post_form(
        &app,
        &format!("/admin/users/{}/deactivate", ann.id.0),
        &console.cookie,
        &[("csrf", &other.csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.reload(&ann).await, ann);
    assert_eq!(admin_events(&app).await.len(), 0);
    // With it, the change is made and the browser is sent to the user's page.
    let r = post_form(
        &app,
        &format!("/admin/users/{}/deactivate", ann.id.0),
        &console.cookie,
        &[("csrf", &console.csrf)],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.header("location"),
        Some(format!("/admin/users/{}?done=deactivated", ann.id.0).as_str())
    );
    assert!(!app.reload(&ann).await.is_active);
}

#[tokio::test]
async fn a_session_ends_when_idle_expired_signed_out_or_logged_out_everywhere() {
    let app = spawn().await;
    let root = staff(&app).await;
    let signed_out = |r: &crate::harness::Reply| {
        r.status == StatusCode::SEE_OTHER && r.header("location") == Some("/admin/login")
    };
    // Idle for 30 minutes.
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    app.clock.advance(29 * 60);
    assert_eq!(
        get_page(&app, "/admin/users", &console.cookie).await.status,
        StatusCode::OK
    );
    app.clock.advance(29 * 60);
    assert_eq!(
        get_page(&app, "/admin/users", &console.cookie).await.status,
        StatusCode::OK,
        "each use keeps it alive"
    );
    app.clock.advance(30 * 60);
    assert!(signed_out(
        &get_page(&app, "/admin/users", &console.cookie).await
    ));
    // Past its lifetime, however busy.
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    for _ in 0..16 {
        app.clock.advance(29 * 60);
        assert_eq!(
            get_page(&app, "/admin/users", &console.cookie).await.status,
            StatusCode::OK
        );
    }
    app.clock.advance(29 * 60);
    assert!(signed_out(
        &get_page(&app, "/admin/users", &console.cookie).await
    ));
    // Signed out: the cookie is cleared and the session is gone.
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    let r = post_form(
        &app,
        "/admin/logout",
        &console.cookie,
        &[("csrf", &console.csrf)],
    )
    .await;
    assert!(signed_out(&r));
    assert_eq!(
        set_cookie_line(&r, "accountd_admin").unwrap(),
        "accountd_admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0"
    );
    assert!(signed_out(
        &get_page(&app, "/admin/users", &console.cookie).await
    ));
    // Logged out everywhere (here by the CLI's use case): console sessions too.
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    app.clock.advance(1);
    accountd::domain::directory::logout_user(
        app.state.accounts.store().as_ref(),
        root.id,
        app.now(),
    )
    .await
    .unwrap();
    assert!(signed_out(
        &get_page(&app, "/admin/users", &console.cookie).await
    ));
    let logouts = events(&app, Some(EventKind::Logout)).await;
    assert_eq!(
        logouts
            .iter()
            .map(|e| (e.contract.as_str(), e.user))
            .collect::<Vec<_>>(),
        [("admin", Some(root.id))]
    );
}

#[tokio::test]
async fn what_users_typed_is_escaped_on_every_page() {
    let app = spawn().await;
    staff(&app).await;
    let evil = app
        .user(UserInput {
            username: Some("mallory".into()),
            first_name: Some("<script>alert(1)</script>".into()),
            last_name: Some("\"><img src=x onerror=alert(2)>".into()),
            role: Some("<b>boss</b>".into()),
            profile: Some(r#"{"note": "</td><script>alert(3)</script>"}"#.into()),
            ..UserInput::default()
        })
        .await;
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    for path in [
        "/admin/users".to_owned(),
        format!("/admin/users/{}", evil.id.0),
        "/admin/users?q=%3Cscript%3E".to_owned(),
        "/admin/audit?event=%3Cscript%3E&user=%22%3E%3Cscript%3E".to_owned(),
    ] {
        let r = get_page(&app, &path, &console.cookie).await;
        assert!(!r.text.contains("<script>"), "{path}: {}", r.text);
        assert!(!r.text.contains("<img"), "{path}");
        assert!(!r.text.contains("<b>"), "{path}");
    }
    let page = get_page(
        &app,
        &format!("/admin/users/{}", evil.id.0),
        &console.cookie,
    )
    .await;
    assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(csrf_in(&page.text), console.csrf);
}

#[tokio::test]
async fn without_a_session_every_page_sends_the_browser_to_sign_in() {
    let app = spawn().await;
    staff(&app).await;
    for route in accountd::admin::console::routes() {
        if matches!(
            route.path,
            "/admin/login" | "/admin/logout" | "/admin/static/{file}"
        ) {
            continue;
        }
        let path = route.path.replace("{id}", "1");
        let r = crate::admin_support::request(&app, route.method.clone(), &path, &[], None).await;
        assert_eq!(
            (r.status, r.header("location")),
            (StatusCode::SEE_OTHER, Some("/admin/login")),
            "{} {path}",
            route.method
        );
    }
    assert_eq!(admin_events(&app).await.len(), 0);
}
