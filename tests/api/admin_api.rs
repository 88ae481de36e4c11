//! The admin API over real HTTP (INTERFACE.md, "Administration";
//! docs/admin-openapi.json): each endpoint's answer and errors, every change
//! an audit record, bearer token or console session (403 when not staff, or
//! without the CSRF token), and nothing of it on the main listener. Every
//! answer is also checked against the admin API's document.

use crate::admin_support::{
    admin_events, admin_url, api, conforms, details, document, request, sign_in, spawn, staff,
    STAFF_PASSWORD, TOKEN,
};
use crate::harness::{Reply, TestApp};
use accountd::domain::clock::rfc3339;
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use accountd::domain::user::User;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "ann's long password";

/// A user as the API shows it, from what the store holds.
fn shown(u: &User) -> Value {
    json!({
        "id": u.id.0, "username": u.username, "email": u.email,
        "phone": u.phone.as_ref().map(|p| p.as_str()),
        "first_name": u.first_name, "last_name": u.last_name, "role": u.role,
        "is_active": u.is_active, "is_staff": u.is_staff, "otp_enabled": u.otp_enabled,
        "date_joined": rfc3339(u.date_joined), "last_login": u.last_login.map(rfc3339),
        "profile": Value::Object(u.profile.clone()),
    })
}

async fn ann(app: &TestApp) -> User {
    app.user(UserInput {
        username: Some("ann".into()),
        phone: Some("+12025550123".into()),
        email: Some("ann@example.com".into()),
        password: Some(Secret::from(PASSWORD)),
        first_name: Some("Ann".into()),
        ..UserInput::default()
    })
    .await
}

fn error(text: &str) -> Value {
    json!({"error": text})
}

/// (status, body) for whole-answer comparison.
fn answer(r: &Reply) -> (StatusCode, Value) {
    (r.status, r.body.clone())
}

/// Sign in at pixel_genius: (access, refresh).
async fn pixel_login(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": username, "password": password}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (
        r.body["access"].as_str().unwrap().to_owned(),
        r.body["refresh"].as_str().unwrap().to_owned(),
    )
}

async fn pixel_refresh(app: &TestApp, refresh: &str) -> StatusCode {
    app.post("/accounts/refresh/", json!({"refresh": refresh}))
        .await
        .status
}

#[tokio::test]
async fn users_are_found_by_username_phone_or_email_in_any_case_a_page_at_a_time() {
    let app = spawn().await;
    let ann = ann(&app).await;
    let mut others = Vec::new();
    for (name, phone, email) in [
        ("bob", "+255712000001", "bob@example.org"),
        ("carol", "+255712000002", "CAROL@Example.org"),
        ("dan", "+447700900003", "dan@example.net"),
    ] {
        others.push(
            app.user(UserInput {
                username: Some(name.into()),
                phone: Some(phone.into()),
                email: Some(email.into()),
                ..UserInput::default()
            })
            .await,
        );
    }
    let (bob, carol, dan) = (&others[0], &others[1], &others[2]);
    let cases: [(&str, Vec<&User>); 6] = [
        ("/admin/api/users?q=AN", vec![&ann, dan]),
        ("/admin/api/users?q=%2B25571", vec![bob, carol]),
        ("/admin/api/users?q=example.ORG", vec![bob, carol]),
        ("/admin/api/users?q=nobody", vec![]),
        ("/admin/api/users", vec![&ann, bob, carol, dan]),
        ("/admin/api/users?q=", vec![&ann, bob, carol, dan]),
    ];
    for (path, want) in cases {
        let r = api(&app, Method::GET, path, None).await;
        let users: Vec<Value> = want.iter().map(|u| shown(u)).collect();
        assert_eq!(
            answer(&r),
            (StatusCode::OK, json!({"users": users, "total": want.len()})),
            "{path}"
        );
        conforms("GET", "/admin/api/users", &r);
    }
    // Pages of two: the total is all that match, on every page, and a page
    // past the end is empty.
    for (page, want) in [(1, vec![&ann, bob]), (2, vec![carol, dan]), (3, vec![])] {
        let r = api(
            &app,
            Method::GET,
            &format!("/admin/api/users?page={page}&per_page=2"),
            None,
        )
        .await;
        let users: Vec<Value> = want.iter().map(|u| shown(u)).collect();
        assert_eq!(
            answer(&r),
            (StatusCode::OK, json!({"users": users, "total": 4})),
            "page {page}"
        );
    }
    // Reading is no change: nothing in the audit trail.
    assert_eq!(admin_events(&app).await.len(), 0);
}

#[tokio::test]
async fn a_search_with_like_wildcards_or_backslashes_matches_them_as_typed() {
    let app = spawn().await;
    let mut made = Vec::new();
    for (name, email) in [
        ("a_b", "one@example.com"),
        ("axb", "two@example.com"),
        ("pct", "100%sure@example.com"),
        ("slash", "back\\slash@example.com"),
    ] {
        made.push(
            app.user(UserInput {
                username: Some(name.into()),
                email: Some(email.into()),
                ..UserInput::default()
            })
            .await,
        );
    }
    for (q, want) in [("_", 0), ("%25", 2), ("%5C", 3), ("a_", 0), ("xb", 1)] {
        let r = api(&app, Method::GET, &format!("/admin/api/users?q={q}"), None).await;
        assert_eq!(
            answer(&r),
            (
                StatusCode::OK,
                json!({"users": [shown(&made[want])], "total": 1})
            ),
            "q={q}"
        );
    }
}

#[tokio::test]
async fn paging_and_search_out_of_bounds_answer_400() {
    let app = spawn().await;
    let long = "x".repeat(255);
    for (query, message) in [
        ("per_page=0", "per_page must be between 1 and 100"),
        ("per_page=101", "per_page must be between 1 and 100"),
        ("page=0", "page must be 1 or more"),
        ("page=-3", "page must be 1 or more"),
        ("page=two", "page must be a whole number"),
        ("per_page=1.5", "per_page must be a whole number"),
        ("page=9223372036854775807", "page is too large"),
        (
            &format!("q={long}") as &str,
            "the search text is longer than 254 bytes",
        ),
    ] {
        let r = api(
            &app,
            Method::GET,
            &format!("/admin/api/users?{query}"),
            None,
        )
        .await;
        assert_eq!(
            answer(&r),
            (StatusCode::BAD_REQUEST, error(message)),
            "{query}"
        );
        conforms("GET", "/admin/api/users", &r);
    }
}

#[tokio::test]
async fn creating_a_user_answers_201_with_the_stored_user_and_is_an_audit_record() {
    let app = spawn().await;
    let r = api(
        &app,
        Method::POST,
        "/admin/api/users",
        Some(json!({
            "username": "ann", "phone": "+255712345678", "email": "ann@example.com",
            "password": PASSWORD, "first_name": "Ann", "last_name": "Lee", "role": "AGENT",
            "profile": {"agent_id": "AG1"}, "is_staff": true, "otp_enabled": null
        })),
    )
    .await;
    let joined = rfc3339(app.now());
    assert_eq!(
        answer(&r),
        (
            StatusCode::CREATED,
            json!({"id": 1, "username": "ann", "email": "ann@example.com", "phone": "+255712345678",
                   "first_name": "Ann", "last_name": "Lee", "role": "AGENT", "is_active": true,
                   "is_staff": true, "otp_enabled": false, "date_joined": joined, "last_login": null,
                   "profile": {"agent_id": "AG1"}})
        )
    );
    conforms("POST", "/admin/api/users", &r);
    assert!(!r.text.contains("argon2"));
    // The password works at a contract.
    pixel_login(&app, "ann", PASSWORD).await;
    let events = admin_events(&app).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.outcome.as_str(), e.user.map(|u| u.0), e.contract.as_str()),
        ("success", Some(1), "admin")
    );
    assert_eq!(e.client, "127.0.0.1");
    assert_eq!(e.request_id.as_deref().map(str::len), Some(32));
    assert_eq!(
        details(&events),
        [json!({"action": "create", "target": 1,
                "fields": ["username", "phone", "email", "password", "first_name", "last_name",
                           "role", "profile", "is_staff"]})]
    );
    assert!(!format!("{events:?}").contains(PASSWORD));
}

#[tokio::test]
async fn creating_a_user_refuses_bad_input_with_400_and_creates_nothing() {
    let app = spawn().await;
    ann(&app).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "give at least one of --username, --phone, --email"),
        (
            json!({"phone": "0712"}),
            "phone \"0712\" must be in E.164 format: +, country code and number, at most 15 digits",
        ),
        (
            json!({"username": "has space"}),
            "username \"has space\": use 1 to 150 letters, digits and @ . + - _ only",
        ),
        (
            json!({"username": "ann"}),
            "a user with that username already exists",
        ),
        (
            json!({"username": "zed", "password": "short1"}),
            "password: too short: use at least 8 characters",
        ),
        (
            json!({"username": "zed", "profile": [1]}),
            "profile must be a JSON object",
        ),
        (
            json!({"username": "zed", "otp_enabled": true}),
            "--otp-enabled needs a --phone to send codes to",
        ),
        (
            json!({"username": "zed", "is_superuser": true}),
            "the body is not a user's fields: unknown field `is_superuser`, expected one of `username`, `phone`, `email`, `password`, `first_name`, `last_name`, `role`, `otp_enabled`, `is_active`, `is_staff`, `profile`",
        ),
        (
            json!({"username": 7}),
            "the body is not a user's fields: invalid type: integer `7`, expected a string",
        ),
        (
            json!(["zed"]),
            "the body must be a JSON object of a user's fields",
        ),
    ];
    for (body, message) in cases {
        let r = api(&app, Method::POST, "/admin/api/users", Some(body.clone())).await;
        assert_eq!(
            answer(&r),
            (StatusCode::BAD_REQUEST, error(message)),
            "{body}"
        );
        conforms("POST", "/admin/api/users", &r);
    }
    let r = request(
        &app,
        Method::POST,
        "/admin/api/users",
        &[("authorization", &format!("Bearer {TOKEN}"))],
        None,
    )
    .await;
    assert_eq!(
        answer(&r),
        (
            StatusCode::BAD_REQUEST,
            error("the body is not JSON: EOF while parsing a value at line 1 column 0")
        )
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    // The use case's refusals are audited too; a body that is no user's
    // fields never reached it.
    let events = admin_events(&app).await;
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e.outcome == "error"));
    assert!(!format!("{events:?}").contains("\"password\":\"password\""));
}

#[tokio::test]
async fn a_user_is_shown_by_id_and_an_unknown_id_is_404() {
    let app = spawn().await;
    let ann = ann(&app).await;
    let r = api(&app, Method::GET, "/admin/api/users/1", None).await;
    assert_eq!(answer(&r), (StatusCode::OK, shown(&ann)));
    conforms("GET", "/admin/api/users/{id}", &r);
    for path in [
        "/admin/api/users/2",
        "/admin/api/users/abc",
        "/admin/api/users/99999999999999999999",
    ] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({"first_name": "X"}));
            let r = api(&app, method.clone(), path, body).await;
            assert_eq!(
                answer(&r),
                (StatusCode::NOT_FOUND, error("user not found")),
                "{method} {path}"
            );
            conforms(method.as_str(), "/admin/api/users/{id}", &r);
        }
        for action in ["logout", "unlock"] {
            let r = api(&app, Method::POST, &format!("{path}/{action}"), None).await;
            assert_eq!(
                answer(&r),
                (StatusCode::NOT_FOUND, error("user not found")),
                "{path}/{action}"
            );
        }
        let r = api(&app, Method::GET, &format!("{path}/sessions"), None).await;
        assert_eq!(answer(&r), (StatusCode::NOT_FOUND, error("user not found")));
    }
}

#[tokio::test]
async fn patching_changes_only_the_given_fields_and_deactivation_refuses_the_users_tokens() {
    let app = spawn().await;
    let ann = ann(&app).await;
    let (access, refresh) = pixel_login(&app, "ann", PASSWORD).await;
    let r = api(
        &app,
        Method::PATCH,
        "/admin/api/users/1",
        Some(json!({"last_name": "Lee", "role": "student", "email": null})),
    )
    .await;
    let mut want = shown(&app.reload(&ann).await);
    assert_eq!(answer(&r), (StatusCode::OK, want.clone()));
    assert_eq!(
        (&want["last_name"], &want["role"], &want["email"]),
        (&json!("Lee"), &json!("student"), &json!("ann@example.com"))
    );
    conforms("PATCH", "/admin/api/users/{id}", &r);
    // Deactivated: the access token is refused at university's profile, the
    // refresh token at pixel_genius.
    let r = api(
        &app,
        Method::PATCH,
        "/admin/api/users/1",
        Some(json!({"is_active": false})),
    )
    .await;
    want["is_active"] = json!(false);
    assert_eq!(answer(&r), (StatusCode::OK, want.clone()));
    let profile = app.get("/api/auth/profile/", Some(&access)).await;
    assert_eq!(
        answer(&profile),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User is inactive", "code": "user_inactive"})
        )
    );
    assert_eq!(
        pixel_refresh(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    // Reactivated: tokens issued before stay dead; a new sign-in works.
    app.clock.advance(1);
    let r = api(
        &app,
        Method::PATCH,
        "/admin/api/users/1",
        Some(json!({"is_active": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        pixel_refresh(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    pixel_login(&app, "ann", PASSWORD).await;
    assert_eq!(
        details(&admin_events(&app).await),
        [
            json!({"action": "update", "target": 1, "fields": ["last_name", "role"]}),
            json!({"action": "update", "target": 1, "fields": ["is_active"]}),
            json!({"action": "update", "target": 1, "fields": ["is_active"]}),
        ]
    );
}

#[tokio::test]
async fn a_new_password_keeps_the_policy_ends_old_tokens_and_signs_in_at_a_contract() {
    let app = spawn().await;
    ann(&app).await;
    let (_, refresh) = pixel_login(&app, "ann", PASSWORD).await;
    let r = api(
        &app,
        Method::PATCH,
        "/admin/api/users/1",
        Some(json!({"password": "ann@example.com"})),
    )
    .await;
    assert_eq!(
        answer(&r),
        (
            StatusCode::BAD_REQUEST,
            error("password: the same as the email")
        )
    );
    // Refused: nothing changed, the old password and token still work.
    assert_eq!(pixel_refresh(&app, &refresh).await, StatusCode::OK);
    app.clock.advance(1);
    let r = api(
        &app,
        Method::PATCH,
        "/admin/api/users/1",
        Some(json!({"password": "a brand new password"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        pixel_refresh(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    let bad = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    pixel_login(&app, "ann", "a brand new password").await;
    let events = admin_events(&app).await;
    assert_eq!(
        events
            .iter()
            .map(|e| e.outcome.as_str())
            .collect::<Vec<_>>(),
        ["error", "success"]
    );
    assert!(!format!("{events:?}").contains("brand new"));
}

#[tokio::test]
async fn deleting_a_user_takes_everything_of_theirs_and_keeps_their_audit_records() {
    let app = spawn().await;
    let ann = ann(&app).await;
    let (_, refresh) = pixel_login(&app, "ann", PASSWORD).await;
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": "+12025550123"}),
    )
    .await;
    let code = app.sms.last_code("+12025550123");
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": "+12025550123", "otp": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let org = accountd::domain::directory::create_org(
        app.state.accounts.store().as_ref(),
        "Shop",
        None,
        false,
    )
    .await
    .unwrap();
    app.state
        .accounts
        .store()
        .add_member(org.id, ann.id)
        .await
        .unwrap();
    // A logged-out token leaves a blacklist entry behind.
    app.post("/accounts/logout/", json!({"refresh": refresh}))
        .await;
    pixel_login(&app, "ann", PASSWORD).await;
    let r = api(&app, Method::DELETE, "/admin/api/users/1", None).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::NO_CONTENT, ""));
    conforms("DELETE", "/admin/api/users/{id}", &r);
    for table in [
        "users",
        "refresh_tokens",
        "blacklisted_tokens",
        "sessions",
        "memberships",
    ] {
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    let r = api(&app, Method::GET, "/admin/api/users/1", None).await;
    assert_eq!(answer(&r), (StatusCode::NOT_FOUND, error("user not found")));
    let r = api(&app, Method::DELETE, "/admin/api/users/1", None).await;
    assert_eq!(answer(&r), (StatusCode::NOT_FOUND, error("user not found")));
    // The trail outlives the user: their sign-ins and the deletion.
    let r = api(&app, Method::GET, "/admin/api/audit?user=1", None).await;
    let kept: Vec<(&str, &str)> = r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        &kept[..2],
        [("admin", "not_found"), ("admin", "success")],
        "{kept:?}"
    );
    assert!(kept.contains(&("password_login", "success")), "{kept:?}");
    assert_eq!(
        details(&admin_events(&app).await),
        [
            json!({"action": "delete", "target": 1}),
            json!({"action": "delete", "target": 1}),
        ]
    );
}

#[tokio::test]
async fn logout_ends_every_token_of_the_user_and_unlock_clears_their_throttle() {
    let app = spawn().await;
    let ann = ann(&app).await;
    let (_, refresh) = pixel_login(&app, "ann", PASSWORD).await;
    app.clock.advance(1);
    let r = api(&app, Method::POST, "/admin/api/users/1/logout", None).await;
    assert_eq!(answer(&r), (StatusCode::OK, shown(&app.reload(&ann).await)));
    conforms("POST", "/admin/api/users/{id}/logout", &r);
    assert_eq!(
        pixel_refresh(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    // Ten failures throttle the name; unlocking clears them.
    for _ in 0..10 {
        let r = app
            .post(
                "/accounts/login/",
                json!({"username": "ann", "password": "wrong password"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = api(&app, Method::POST, "/admin/api/users/1/unlock", None).await;
    assert_eq!(
        answer(&r),
        (StatusCode::OK, json!({"id": 1, "cleared_attempts": 10}))
    );
    conforms("POST", "/admin/api/users/{id}/unlock", &r);
    pixel_login(&app, "ann", PASSWORD).await;
    assert_eq!(
        details(&admin_events(&app).await),
        [
            json!({"action": "logout", "target": 1}),
            json!({"action": "unlock", "target": 1, "cleared_attempts": 10}),
        ]
    );
}

#[tokio::test]
async fn a_users_sessions_are_listed_and_each_can_be_ended() {
    let app = spawn().await;
    ann(&app).await;
    let (_, refresh) = pixel_login(&app, "ann", PASSWORD).await;
    let jti = crate::harness::claims(&refresh)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh_issued = app.now();
    app.clock.advance(60);
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": "+12025550123"}),
    )
    .await;
    let code = app.sms.last_code("+12025550123");
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": "+12025550123", "otp": code}),
        )
        .await;
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let sid = crate::harness::claims(&access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = app.now();
    let r = api(&app, Method::GET, "/admin/api/users/1/sessions", None).await;
    assert_eq!(
        answer(&r),
        (
            StatusCode::OK,
            json!({"sessions": [
                {"id": sid, "kind": "session", "user_id": 1, "created_at": rfc3339(started),
                 "expires_at": rfc3339(started + 30 * 86_400), "last_used": null},
                {"id": jti, "kind": "refresh_token", "user_id": 1,
                 "created_at": rfc3339(refresh_issued),
                 "expires_at": rfc3339(refresh_issued + 86_400), "last_used": null},
            ]})
        )
    );
    conforms("GET", "/admin/api/users/{id}/sessions", &r);
    // Ending the delivery session: its access token stops working at once.
    let r = api(
        &app,
        Method::DELETE,
        &format!("/admin/api/sessions/{sid}"),
        None,
    )
    .await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::NO_CONTENT, ""));
    conforms("DELETE", "/admin/api/sessions/{id}", &r);
    let me = app.get("/api/accounts/auth/me/", Some(&access)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.text);
    // Ending the refresh token: it is refused, the access token of the pair
    // runs out by itself.
    let r = api(
        &app,
        Method::DELETE,
        &format!("/admin/api/sessions/{jti}"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        pixel_refresh(&app, &refresh).await,
        StatusCode::UNAUTHORIZED
    );
    let r = api(&app, Method::GET, "/admin/api/users/1/sessions", None).await;
    assert_eq!(answer(&r), (StatusCode::OK, json!({"sessions": []})));
    // Gone, or never there: 404.
    for id in [sid.as_str(), jti.as_str(), "nothing-like-it"] {
        let r = api(
            &app,
            Method::DELETE,
            &format!("/admin/api/sessions/{id}"),
            None,
        )
        .await;
        assert_eq!(
            answer(&r),
            (StatusCode::NOT_FOUND, error("session not found")),
            "{id}"
        );
        conforms("DELETE", "/admin/api/sessions/{id}", &r);
    }
    let events = admin_events(&app).await;
    assert_eq!(
        details(&events[..2]),
        [
            json!({"action": "end_session", "target": 1, "session": sid, "kind": "session"}),
            json!({"action": "end_session", "target": 1, "session": jti, "kind": "refresh_token"}),
        ]
    );
    assert_eq!(
        details(&events[2..]),
        vec![json!({"action": "end_session"}); 3]
    );
}

#[tokio::test]
async fn the_audit_trail_is_read_by_user_event_since_and_limit() {
    let app = spawn().await;
    ann(&app).await;
    let t0 = app.now();
    pixel_login(&app, "ann", PASSWORD).await;
    app.clock.advance(100);
    let bad = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": "wrong one"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    api(&app, Method::POST, "/admin/api/users/1/unlock", None).await;
    let all = api(&app, Method::GET, "/admin/api/audit", None).await;
    assert_eq!(all.status, StatusCode::OK);
    conforms("GET", "/admin/api/audit", &all);
    let events = all.body["events"].as_array().unwrap().clone();
    let summary: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("admin", "success"),
            ("password_login", "invalid_password"),
            ("password_login", "success"),
        ]
    );
    let unlock = &events[0];
    assert_eq!(
        unlock,
        &json!({"id": unlock["id"], "time": rfc3339(t0 + 100), "event": "admin",
                "outcome": "success", "user_id": 1, "contract": "admin", "client": "127.0.0.1",
                "request_id": unlock["request_id"],
                "detail": {"action": "unlock", "target": 1, "cleared_attempts": 1}})
    );
    let ids = |r: &Reply| -> Vec<Value> {
        r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].clone())
            .collect()
    };
    let id = |i: usize| events[i]["id"].clone();
    for (query, want) in [
        ("event=password_login", vec![id(1), id(2)]),
        ("user=1&limit=1", vec![id(0)]),
        ("user=2", vec![]),
        (&format!("since={}", t0 + 50) as &str, vec![id(0), id(1)]),
        (
            &format!("since={}", rfc3339(t0 + 100)) as &str,
            vec![id(0), id(1)],
        ),
        (&format!("before={}", id(0)) as &str, vec![id(1), id(2)]),
    ] {
        let r = api(
            &app,
            Method::GET,
            &format!("/admin/api/audit?{query}"),
            None,
        )
        .await;
        assert_eq!((r.status, ids(&r)), (StatusCode::OK, want), "{query}");
    }
    for (query, message) in [
        ("event=sneeze", "event must be one of password_login, code_sent, code_verified, refresh, refresh_reuse, logout, throttled, admin"),
        ("since=yesterday", "since must be an RFC 3339 time or Unix seconds"),
        ("limit=0", "limit must be between 1 and 1000"),
        ("limit=1001", "limit must be between 1 and 1000"),
        ("user=me", "user must be a whole number"),
        ("before=x", "before must be a whole number"),
    ] {
        let r = api(&app, Method::GET, &format!("/admin/api/audit?{query}"), None).await;
        assert_eq!(
            answer(&r),
            (StatusCode::BAD_REQUEST, error(message)),
            "{query}"
        );
        conforms("GET", "/admin/api/audit", &r);
    }
}

/// Every route of the admin API with a concrete path, from its document.
fn every_operation() -> Vec<(Method, String, String)> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "delete"] {
            if item.get(method).is_some() {
                let concrete = path.replace("{id}", "1");
                out.push((
                    Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    path.clone(),
                    concrete,
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn without_credentials_or_with_a_wrong_token_every_route_answers_401() {
    let app = spawn().await;
    ann(&app).await;
    let wrong = format!("Bearer {TOKEN}x");
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[], "authentication required"),
        (&[("authorization", &wrong)], "invalid admin token"),
        (&[("authorization", "Bearer")], "invalid admin token"),
        (
            &[("authorization", "Basic cm9vdDpyb290")],
            "invalid admin token",
        ),
        (
            &[("cookie", "accountd_admin=0123456789abcdef")],
            "authentication required",
        ),
        // A wrong token is refused even beside a cookie.
        (
            &[("authorization", &wrong), ("cookie", "accountd_admin=0123")],
            "invalid admin token",
        ),
    ];
    for (method, path, concrete) in every_operation() {
        if path == "/admin/api/openapi.json" {
            continue;
        }
        for (headers, message) in &cases {
            let body = matches!(method, Method::POST | Method::PATCH).then(|| json!({}));
            let r = request(&app, method.clone(), &concrete, headers, body).await;
            assert_eq!(
                answer(&r),
                (StatusCode::UNAUTHORIZED, error(message)),
                "{method} {concrete} {headers:?}"
            );
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"accountd admin\"")
            );
            conforms(method.as_str(), &path, &r);
        }
    }
    // Nothing changed, and nothing was audited.
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(admin_events(&app).await.len(), 0);
}

#[tokio::test]
async fn with_no_admin_token_configured_no_bearer_is_taken() {
    let app = TestApp::spawn().await;
    for header in [format!("Bearer {TOKEN}"), "Bearer ".into()] {
        let r = request(
            &app,
            Method::GET,
            "/admin/api/users",
            &[("authorization", &header)],
            None,
        )
        .await;
        assert_eq!(
            answer(&r),
            (StatusCode::UNAUTHORIZED, error("invalid admin token"))
        );
    }
}

#[tokio::test]
async fn a_console_session_works_with_its_csrf_token_and_is_the_actor_of_its_changes() {
    let app = spawn().await;
    let root = staff(&app).await;
    ann(&app).await;
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    let r = request(
        &app,
        Method::GET,
        "/admin/api/users/2",
        &console.headers(false),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A change without the session's CSRF token, or with another, is refused.
    let bad = [
        ("cookie", console.cookie.as_str()),
        ("x-csrf-token", "0000"),
    ];
    for headers in [&console.headers(false)[..], &bad[..]] {
        let r = request(
            &app,
            Method::POST,
            "/admin/api/users/2/unlock",
            headers,
            None,
        )
        .await;
        assert_eq!(
            answer(&r),
            (
                StatusCode::FORBIDDEN,
                error("CSRF token missing or incorrect")
            )
        );
        conforms("POST", "/admin/api/users/{id}/unlock", &r);
    }
    let r = request(
        &app,
        Method::POST,
        "/admin/api/users/2/unlock",
        &console.headers(true),
        None,
    )
    .await;
    assert_eq!(
        answer(&r),
        (StatusCode::OK, json!({"id": 2, "cleared_attempts": 0}))
    );
    assert_eq!(
        details(&admin_events(&app).await),
        [json!({"action": "unlock", "target": 2, "staff": root.id.0, "cleared_attempts": 0})]
    );
}

#[tokio::test]
async fn a_console_session_of_a_user_who_is_not_staff_any_more_answers_403() {
    let app = spawn().await;
    staff(&app).await;
    let console = sign_in(&app, "root", STAFF_PASSWORD).await;
    let r = api(
        &app,
        Method::PATCH,
        "/admin/api/users/1",
        Some(json!({"is_staff": false})),
    )
    .await;
    assert_eq!(r.body["is_staff"], json!(false));
    for (method, path, concrete) in every_operation() {
        if path == "/admin/api/openapi.json" {
            continue;
        }
        let body = matches!(method, Method::POST | Method::PATCH).then(|| json!({}));
        let r = request(
            &app,
            method.clone(),
            &concrete,
            &console.headers(true),
            body,
        )
        .await;
        assert_eq!(
            answer(&r),
            (StatusCode::FORBIDDEN, error("staff only")),
            "{method} {concrete}"
        );
        conforms(method.as_str(), &path, &r);
    }
    // Deactivated, the session is over altogether: 401.
    api(
        &app,
        Method::PATCH,
        "/admin/api/users/1",
        Some(json!({"is_active": false})),
    )
    .await;
    let r = request(
        &app,
        Method::GET,
        "/admin/api/users",
        &console.headers(false),
        None,
    )
    .await;
    assert_eq!(
        answer(&r),
        (StatusCode::UNAUTHORIZED, error("authentication required"))
    );
}

#[tokio::test]
async fn nothing_of_the_admin_surface_answers_on_the_main_listener() {
    let app = spawn().await;
    staff(&app).await;
    let bearer = format!("Bearer {TOKEN}");
    for route in accountd::admin::routes() {
        let path = route
            .path
            .replace("{id}", "1")
            .replace("{file}", "console.css");
        for p in [path.clone(), format!("{path}/")] {
            let r = app
                .client
                .request(route.method.clone(), format!("{}{p}", app.url))
                .header("authorization", &bearer)
                .send()
                .await
                .unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert_eq!(
                (status, text.as_str()),
                (StatusCode::NOT_FOUND, r#"{"detail":"Not found."}"#),
                "{} {p}",
                route.method
            );
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test]
async fn another_method_answers_405_and_an_unknown_path_404_in_the_admin_shape() {
    let app = spawn().await;
    let r = api(&app, Method::PUT, "/admin/api/users/1", Some(json!({}))).await;
    assert_eq!(
        answer(&r),
        (StatusCode::METHOD_NOT_ALLOWED, error("method not allowed"))
    );
    let r = api(&app, Method::GET, "/admin/api/nothing", None).await;
    assert_eq!(answer(&r), (StatusCode::NOT_FOUND, error("not found")));
}

#[tokio::test]
async fn while_the_database_is_down_the_api_answers_503_in_its_shape() {
    let app = spawn().await;
    ann(&app).await;
    app.break_database().await;
    let r = api(&app, Method::GET, "/admin/api/users", None).await;
    assert_eq!(
        answer(&r),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            error("Service temporarily unavailable, try again later.")
        )
    );
    assert_eq!(r.header("retry-after"), Some("5"));
    conforms("GET", "/admin/api/users", &r);
}

#[tokio::test]
async fn the_admin_document_is_served_and_lists_exactly_the_api_routes() {
    let app = spawn().await;
    let r = request(&app, Method::GET, "/admin/api/openapi.json", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, document());
    let documented: std::collections::BTreeSet<(String, String)> = every_operation()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p))
        .collect();
    let mounted: std::collections::BTreeSet<(String, String)> = accountd::admin::api::routes()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, mounted);
    // And each is mounted on the admin listener, not the router's 404.
    for (method, path, concrete) in every_operation() {
        let r = request(&app, method.clone(), &concrete, &[], None).await;
        assert_ne!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.text
        );
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    let _ = admin_url(&app);
}

#[test]
fn the_admin_document_is_valid_openapi_3_1_and_its_examples_match_their_schemas() {
    let meta: Value = serde_json::from_str(include_str!("data/openapi-3.1-schema.json")).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&meta)
        .unwrap();
    let doc = document();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // Every example beside a schema matches it.
    fn walk(v: &Value, pointer: String, out: &mut Vec<(String, Value)>) {
        if let Value::Object(m) = v {
            if m.contains_key("schema") {
                let at = format!("{pointer}/schema");
                if let Some(e) = m.get("example") {
                    out.push((at.clone(), e.clone()));
                }
                for (_, e) in m
                    .get("examples")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    out.push((at.clone(), e["value"].clone()));
                }
            }
            for (k, c) in m {
                walk(
                    c,
                    format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        } else if let Value::Array(a) = v {
            for (i, c) in a.iter().enumerate() {
                walk(c, format!("{pointer}/{i}"), out);
            }
        }
    }
    let mut found = Vec::new();
    walk(&doc, String::new(), &mut found);
    assert!(found.len() > 15, "{} examples", found.len());
    for (pointer, example) in found {
        let v = crate::admin_support::validator_at(&doc, &pointer);
        let errors: Vec<String> = v.iter_errors(&example).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{pointer}: {example}: {errors:?}");
    }
}
