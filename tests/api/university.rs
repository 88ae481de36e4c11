//! 003-university.md over real HTTP: every documented response, whole bodies;
//! the student and staff users exactly as the document shows them.

use crate::harness::{claims, Reply, TestApp};
use accountd::config::{Contract, TokenTtl};
use accountd::domain::directory::{self, UserInput};
use accountd::domain::secret::Secret;
use accountd::domain::user::User;
use reqwest::StatusCode;
use serde_json::{json, Value};

const LOGIN: &str = "/api/auth/login/";
const LOGOUT: &str = "/api/auth/logout/";
const PROFILE: &str = "/api/auth/profile/";
const REFRESH: &str = "/api/auth/refresh/";

const JOHN_PASSWORD: &str = "securepassword123";
const JANE_PASSWORD: &str = "office hours are 2 to 4";

/// 003's own student, stored as INTERFACE.md says: role and profile.
async fn john(app: &TestApp) -> User {
    app.user(UserInput {
        username: Some("john_doe".into()),
        email: Some("john@university.edu".into()),
        phone: Some("+1234567890".into()),
        password: Some(Secret::from(JOHN_PASSWORD)),
        first_name: Some("John".into()),
        last_name: Some("Doe".into()),
        role: Some("student".into()),
        profile: Some(
            json!({
                "university_id": "STU2024001",
                "date_of_birth": "2000-01-15",
                "major": "Computer Science",
                "academic_level": "undergraduate",
                "enrollment_year": 2024,
                "student_profile": {
                    "student_id": "CS2024001",
                    "gpa": "3.75",
                    "credits_completed": 45,
                    "graduation_date": "2028-05-15"
                }
            })
            .to_string(),
        ),
        ..UserInput::default()
    })
    .await
}

/// The user object of 003's Login and Get User Profile examples, verbatim.
fn john_json() -> Value {
    json!({
        "id": 1,
        "username": "john_doe",
        "email": "john@university.edu",
        "first_name": "John",
        "last_name": "Doe",
        "university_id": "STU2024001",
        "user_type": "student",
        "phone_number": "+1234567890",
        "date_of_birth": "2000-01-15",
        "major": "Computer Science",
        "academic_level": "undergraduate",
        "enrollment_year": 2024,
        "department": null,
        "position": null,
        "is_student": true,
        "is_staff_member": false,
        "student_profile": {
            "student_id": "CS2024001",
            "gpa": "3.75",
            "credits_completed": 45,
            "graduation_date": "2028-05-15"
        },
        "staff_profile": null
    })
}

/// A staff member with the attributes of 003's "Staff User Response".
async fn jane(app: &TestApp) -> User {
    app.user(UserInput {
        username: Some("jane_smith".into()),
        email: Some("jane@university.edu".into()),
        password: Some(Secret::from(JANE_PASSWORD)),
        first_name: Some("Jane".into()),
        last_name: Some("Smith".into()),
        role: Some("staff".into()),
        profile: Some(
            json!({
                "university_id": "EMP2024001",
                "department": "Computer Science",
                "position": "Professor",
                "staff_profile": {
                    "employee_id": "EMP2024001",
                    "hire_date": "2020-08-15",
                    "office_location": "Building A, Room 301",
                    "office_hours": "Mon-Fri 2:00-4:00 PM"
                }
            })
            .to_string(),
        ),
        ..UserInput::default()
    })
    .await
}

async fn login(app: &TestApp, username: &str, password: &str) -> Reply {
    app.post(LOGIN, json!({"username": username, "password": password}))
        .await
}

/// Log in and return (access, refresh).
async fn tokens(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let r = login(app, username, password).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn invalid_token(message: &str) -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{
            "token_class": "AccessToken",
            "token_type": "access",
            "message": message
        }]
    })
}

fn not_provided() -> Value {
    json!({"detail": "Authentication credentials were not provided."})
}

const REALM: Option<&str> = Some("Bearer realm=\"api\"");

/// URL-safe base64 without padding, as JWTs use.
fn b64url(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

async fn profile_with(app: &TestApp, authorization: &str) -> Reply {
    let r = app
        .client
        .get(format!("{}{PROFILE}", app.url))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap();
    Reply {
        status,
        headers,
        text,
        body,
    }
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn login_with_valid_credentials_returns_the_documented_envelope_with_the_student_user() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let r = login(&app, "john_doe", JOHN_PASSWORD).await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({
                "success": true,
                "message": "Login successful",
                "access_token": "<jwt>",
                "refresh_token": "<jwt>",
                "user": john_json()
            })
        )
    );
    // Keys in the document's order, byte for byte.
    assert!(
        r.text.starts_with(
            "{\"success\":true,\"message\":\"Login successful\",\"access_token\":\"eyJ"
        ),
        "{}",
        r.text
    );
    let keys: Vec<&String> = r.body["user"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "university_id",
            "user_type",
            "phone_number",
            "date_of_birth",
            "major",
            "academic_level",
            "enrollment_year",
            "department",
            "position",
            "is_student",
            "is_staff_member",
            "student_profile",
            "staff_profile"
        ]
    );
    // 003, Security Notes: access 60 minutes, refresh 7 days.
    let now = app.now();
    let access = claims(r.body["access_token"].as_str().unwrap());
    let refresh = claims(r.body["refresh_token"].as_str().unwrap());
    assert_eq!(
        (
            &access["token_type"],
            access["exp"].as_i64(),
            &access["user_id"]
        ),
        (&json!("access"), Some(now + 3600), &json!(user.id.0))
    );
    assert_eq!(
        (
            &refresh["token_type"],
            refresh["exp"].as_i64(),
            &refresh["user_id"]
        ),
        (&json!("refresh"), Some(now + 7 * 86_400), &json!(user.id.0))
    );
    assert_eq!(app.reload(&user).await.last_login, Some(now));
}

#[tokio::test]
async fn login_takes_its_lifetimes_from_the_university_configuration() {
    let app = TestApp::spawn_with(|c| {
        c.ttl.insert(
            Contract::University,
            TokenTtl {
                access: 120,
                refresh: 600,
            },
        );
    })
    .await;
    john(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let now = app.now();
    assert_eq!(claims(&access)["exp"].as_i64(), Some(now + 120));
    assert_eq!(claims(&refresh)["exp"].as_i64(), Some(now + 600));
}

#[tokio::test]
async fn login_accepts_form_bodies_and_paths_without_the_trailing_slash() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let r = app
        .post_raw(
            "/api/auth/login",
            "application/x-www-form-urlencoded",
            "username=john_doe&password=securepassword123",
        )
        .await;
    assert_eq!(
        (r.status, r.body["success"].clone()),
        (StatusCode::OK, json!(true))
    );
    assert_eq!(r.redacted()["user"], john_json());
}

#[tokio::test]
async fn login_with_a_wrong_password_an_unknown_user_or_an_inactive_user_returns_401_invalid_credentials(
) {
    let app = TestApp::spawn().await;
    john(&app).await;
    app.user(UserInput {
        username: Some("gone_away".into()),
        password: Some(Secret::from("gone's long password")),
        role: Some("student".into()),
        is_active: Some(false),
        ..UserInput::default()
    })
    .await;
    for (username, password) in [
        ("john_doe", "not his password"),
        ("nobody", JOHN_PASSWORD),
        ("gone_away", "gone's long password"),
    ] {
        let r = login(&app, username, password).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                StatusCode::UNAUTHORIZED,
                json!({
                    "success": false,
                    "message": "Invalid credentials",
                    "errors": {"non_field_errors": ["Invalid username or password"]}
                })
            ),
            "{username}"
        );
        // The view's own 401, not the authentication class's: no challenge.
        assert_eq!(r.header("www-authenticate"), None);
    }
}

#[tokio::test]
async fn login_without_fields_returns_400_validation_failed_with_drf_messages() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let r = app.post(LOGIN, json!({})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({
                "success": false,
                "message": "Validation failed",
                "errors": {
                    "username": ["This field is required."],
                    "password": ["This field is required."]
                }
            })
        )
    );
    let cases = [
        (
            json!({"username": "", "password": null}),
            json!({"username": ["This field may not be blank."], "password": ["This field may not be null."]}),
        ),
        (
            json!({"username": ["john_doe"], "password": {"a": 1}}),
            json!({"username": ["Not a valid string."], "password": ["Not a valid string."]}),
        ),
        (
            json!({"username": true, "password": JOHN_PASSWORD}),
            json!({"username": ["Not a valid string."]}),
        ),
    ];
    for (body, errors) in cases {
        let r = app.post(LOGIN, body.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::BAD_REQUEST,
                json!({"success": false, "message": "Validation failed", "errors": errors})
            ),
            "{body}"
        );
    }
}

#[tokio::test]
async fn malformed_login_bodies_get_4xx_validation_envelopes_and_change_nothing() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let failed =
        |errors: Value| json!({"success": false, "message": "Validation failed", "errors": errors});
    let r = app
        .post_raw(LOGIN, "application/json", "{\"username\": ")
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            failed(json!({"non_field_errors": [
                "JSON parse error - EOF while parsing a value at line 1 column 13"
            ]}))
        )
    );
    for (body, kind) in [
        (json!([1, 2]), "list"),
        (json!("john_doe"), "str"),
        (json!(7), "int"),
    ] {
        let r = app.post(LOGIN, body).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::BAD_REQUEST,
                failed(json!({"non_field_errors": [
                    format!("Invalid data. Expected a dictionary, but got {kind}.")
                ]}))
            )
        );
    }
    let r = app.post_raw(LOGIN, "text/plain", "username=john_doe").await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            failed(json!({"non_field_errors": [
                "Unsupported media type \"text/plain\" in request."
            ]}))
        )
    );
    let huge = format!(
        "{{\"username\": \"john_doe\", \"password\": \"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let r = app.post_raw(LOGIN, "application/json", huge).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            failed(json!({"non_field_errors": ["Request body is too large."]}))
        )
    );
    // Nothing was counted against the account, nobody logged in.
    assert_eq!(app.count("SELECT COUNT(*) FROM attempts").await, 0);
    assert_eq!(app.reload(&user).await.last_login, None);
}

#[tokio::test]
async fn ten_failed_logins_throttle_the_account_in_drf_words_with_retry_after() {
    let app = TestApp::spawn().await;
    john(&app).await;
    for i in 0..10 {
        let r = login(&app, "john_doe", &format!("guess number {i}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        app.clock.advance(1);
    }
    // The first failure was at t=0; now t=10: the window passes at t=900.
    let r = login(&app, "john_doe", JOHN_PASSWORD).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"detail": "Request was throttled. Expected available in 890 seconds."})
        )
    );
    assert_eq!(r.header("retry-after"), Some("890"));
    app.clock.advance(889);
    let r = login(&app, "john_doe", JOHN_PASSWORD).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"detail": "Request was throttled. Expected available in 1 second."})
        )
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    app.clock.advance(1);
    let r = login(&app, "john_doe", JOHN_PASSWORD).await;
    assert_eq!(
        (r.status, r.body["success"].clone()),
        (StatusCode::OK, json!(true))
    );
}

#[tokio::test]
async fn failed_logins_at_other_contracts_count_towards_the_same_throttle() {
    let app = TestApp::spawn().await;
    john(&app).await;
    for i in 0..5 {
        let wrong = json!({"username": "john_doe", "password": format!("guess {i}")});
        assert_eq!(
            app.post("/accounts/login/", wrong).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login(&app, "john_doe", &format!("guess {i}")).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login(&app, "john_doe", JOHN_PASSWORD).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"detail": "Request was throttled. Expected available in 900 seconds."})
        )
    );
}

// ---------------------------------------------------------------- profile

#[tokio::test]
async fn profile_returns_the_student_exactly_as_the_document_shows() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let (access, _) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let r = app.get(PROFILE, Some(&access)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"success": true, "user": john_json()})
        )
    );
    assert!(
        r.text
            .starts_with("{\"success\":true,\"user\":{\"id\":1,\"username\":\"john_doe\""),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn profile_returns_a_staff_member_as_the_document_shows_staff() {
    let app = TestApp::spawn().await;
    let jane = jane(&app).await;
    let (access, _) = tokens(&app, "jane_smith", JANE_PASSWORD).await;
    let r = app.get(PROFILE, Some(&access)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::OK,
            json!({"success": true, "user": {
                "id": jane.id.0,
                "username": "jane_smith",
                "email": "jane@university.edu",
                "first_name": "Jane",
                "last_name": "Smith",
                "university_id": "EMP2024001",
                "user_type": "staff",
                "phone_number": null,
                "date_of_birth": null,
                "major": null,
                "academic_level": null,
                "enrollment_year": null,
                "department": "Computer Science",
                "position": "Professor",
                "is_student": false,
                "is_staff_member": true,
                "student_profile": null,
                "staff_profile": {
                    "employee_id": "EMP2024001",
                    "hire_date": "2020-08-15",
                    "office_location": "Building A, Room 301",
                    "office_hours": "Mon-Fri 2:00-4:00 PM"
                }
            }})
        )
    );
    // 003, User Types, "Staff User Response", key for key.
    let documented = json!({
        "user_type": "staff",
        "is_student": false,
        "is_staff_member": true,
        "department": "Computer Science",
        "position": "Professor",
        "staff_profile": {
            "employee_id": "EMP2024001",
            "hire_date": "2020-08-15",
            "office_location": "Building A, Room 301",
            "office_hours": "Mon-Fri 2:00-4:00 PM"
        }
    });
    for (key, value) in documented.as_object().unwrap() {
        assert_eq!(&r.body["user"][key], value, "{key}");
    }
}

#[tokio::test]
async fn a_user_with_no_role_and_no_attributes_renders_every_attribute_as_null() {
    let app = TestApp::spawn().await;
    app.user(UserInput {
        username: Some("plain_user".into()),
        password: Some(Secret::from("plain user's password")),
        ..UserInput::default()
    })
    .await;
    let (access, _) = tokens(&app, "plain_user", "plain user's password").await;
    let r = app.get(PROFILE, Some(&access)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"success": true, "user": {
                "id": 1, "username": "plain_user", "email": null, "first_name": "",
                "last_name": "", "university_id": null, "user_type": null, "phone_number": null,
                "date_of_birth": null, "major": null, "academic_level": null,
                "enrollment_year": null, "department": null, "position": null,
                "is_student": false, "is_staff_member": false, "student_profile": null,
                "staff_profile": null
            }})
        )
    );
}

#[tokio::test]
async fn profile_without_credentials_returns_401_not_provided_with_the_bearer_challenge() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let r = app.get(PROFILE, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::UNAUTHORIZED, not_provided())
    );
    assert_eq!(r.header("www-authenticate"), REALM);
    // Another scheme, or an empty header, is no Bearer token at all, as simplejwt reads it.
    for header in ["Basic am9objpwdw==", ""] {
        let r = profile_with(&app, header).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (StatusCode::UNAUTHORIZED, not_provided()),
            "{header:?}"
        );
        assert_eq!(r.header("www-authenticate"), REALM);
    }
}

#[tokio::test]
async fn profile_with_a_bearer_header_of_the_wrong_shape_returns_401_bad_authorization_header() {
    let app = TestApp::spawn().await;
    for header in ["Bearer", "Bearer two tokens"] {
        let r = profile_with(&app, header).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                StatusCode::UNAUTHORIZED,
                json!({
                    "detail": "Authorization header must contain two space-delimited values",
                    "code": "bad_authorization_header"
                })
            ),
            "{header}"
        );
        assert_eq!(r.header("www-authenticate"), REALM);
    }
}

#[tokio::test]
async fn profile_with_a_tampered_token_returns_the_invalid_token_body() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let jane = jane(&app).await;
    let (access, _) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    // John rewrites his token to say he is Jane, keeping his signature.
    let mut c = claims(&access);
    c["user_id"] = json!(jane.id.0);
    let parts: Vec<&str> = access.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(c.to_string().as_bytes()),
        parts[2]
    );
    assert_ne!(tampered, access);
    // Signed with some other key than the server's.
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(&access),
        &jsonwebtoken::EncodingKey::from_secret(b"not the server's secret"),
    )
    .unwrap();
    for token in [tampered.as_str(), foreign.as_str(), "not-a-token"] {
        let r = app.get(PROFILE, Some(token)).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                StatusCode::UNAUTHORIZED,
                invalid_token("Token is invalid or expired")
            ),
            "{token}"
        );
        assert_eq!(r.header("www-authenticate"), REALM);
    }
    // The real one still works.
    assert_eq!(app.get(PROFILE, Some(&access)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn profile_with_an_expired_token_returns_the_invalid_token_body() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let (access, _) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    app.clock.advance(3599);
    assert_eq!(app.get(PROFILE, Some(&access)).await.status, StatusCode::OK);
    app.clock.advance(1);
    let r = app.get(PROFILE, Some(&access)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            invalid_token("Token is invalid or expired")
        )
    );
    assert_eq!(r.header("www-authenticate"), REALM);
}

#[tokio::test]
async fn profile_with_a_refresh_token_returns_the_invalid_token_body_saying_wrong_type() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let (_, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let r = app.get(PROFILE, Some(&refresh)).await;
    // simplejwt 5.4 lists the reason AccessToken gave: "Token has wrong type".
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            invalid_token("Token has wrong type")
        )
    );
    assert_eq!(r.header("www-authenticate"), REALM);
}

#[tokio::test]
async fn profile_with_an_unsigned_alg_none_token_returns_the_invalid_token_body() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let (access, _) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let payload = b64url(claims(&access).to_string().as_bytes());
    for header in [
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"None","typ":"JWT"}"#,
        r#"{"alg":"HS512","typ":"JWT"}"#,
    ] {
        for signature in ["", "c2ln"] {
            let token = format!("{}.{payload}.{signature}", b64url(header.as_bytes()));
            let r = app.get(PROFILE, Some(&token)).await;
            assert_eq!(
                (r.status, r.body.clone()),
                (
                    StatusCode::UNAUTHORIZED,
                    invalid_token("Token is invalid or expired")
                ),
                "{header} {signature:?}"
            );
            assert_eq!(r.header("www-authenticate"), REALM);
        }
    }
}

#[tokio::test]
async fn a_deactivated_users_tokens_are_refused_at_profile_and_refresh() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    directory::deactivate_user(app.state.accounts.store().as_ref(), user.id)
        .await
        .unwrap();
    let r = app.get(PROFILE, Some(&access)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User is inactive", "code": "user_inactive"})
        )
    );
    assert_eq!(r.header("www-authenticate"), REALM);
    let r = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": "Invalid refresh token"})
        )
    );
    let r = app
        .post_auth(LOGOUT, &access, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User is inactive", "code": "user_inactive"})
        )
    );
}

#[tokio::test]
async fn a_deleted_users_tokens_are_refused_with_user_not_found_at_profile_and_at_refresh() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    app.execute_sql(&format!("DELETE FROM users WHERE id = {}", user.id.0))
        .await;
    let r = app.get(PROFILE, Some(&access)).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User not found", "code": "user_not_found"})
        )
    );
    assert_eq!(r.header("www-authenticate"), REALM);
    let r = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": "Invalid refresh token"})
        )
    );
}

#[tokio::test]
async fn wrong_methods_answer_in_drf_words() {
    let app = TestApp::spawn().await;
    let r = app.get(LOGIN, None).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method \"GET\" not allowed."})
        )
    );
    let r = app.post(PROFILE, json!({})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"detail": "Method \"POST\" not allowed."})
        )
    );
}

// ---------------------------------------------------------------- refresh

#[tokio::test]
async fn refresh_returns_a_new_access_token_that_works_at_profile() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    app.clock.advance(3600);
    let r = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({"success": true, "access_token": "<jwt>"})
        )
    );
    let fresh = r.body["access_token"].as_str().unwrap();
    assert_ne!(fresh, access);
    let c = claims(fresh);
    assert_eq!(
        (&c["token_type"], c["exp"].as_i64(), &c["user_id"]),
        (&json!("access"), Some(app.now() + 3600), &json!(user.id.0))
    );
    assert_eq!(
        app.get(PROFILE, Some(&access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.get(PROFILE, Some(fresh)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"success": true, "user": john_json()})
        )
    );
}

#[tokio::test]
async fn refresh_without_a_token_returns_400_refresh_token_required() {
    let app = TestApp::spawn().await;
    for body in [
        json!({}),
        json!({"refresh_token": null}),
        json!({"refresh_token": ""}),
        json!({"refresh": "the pixel_genius field name is not this contract's"}),
    ] {
        let r = app.post(REFRESH, body.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::BAD_REQUEST,
                json!({"success": false, "message": "Refresh token required"})
            ),
            "{body}"
        );
    }
}

#[tokio::test]
async fn refresh_with_a_bad_expired_access_or_non_text_token_returns_401_invalid_refresh_token() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let invalid = json!({"success": false, "message": "Invalid refresh token"});
    let mut forged = refresh.clone();
    forged.pop();
    forged.push(if refresh.ends_with('A') { 'B' } else { 'A' });
    for body in [
        json!({"refresh_token": forged}),
        json!({"refresh_token": "not-a-token"}),
        json!({"refresh_token": access}),
        json!({"refresh_token": 12345}),
        json!({"refresh_token": [refresh]}),
        json!({"refresh_token": true}),
    ] {
        let r = app.post(REFRESH, body.clone()).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (StatusCode::UNAUTHORIZED, invalid.clone()),
            "{body}"
        );
        // The view's own 401, not the authentication class's: no challenge.
        assert_eq!(r.header("www-authenticate"), None);
    }
    app.clock.advance(7 * 86_400 - 1);
    let r = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    assert_eq!(r.status, StatusCode::OK);
    app.clock.advance(1);
    let r = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    assert_eq!((r.status, r.body), (StatusCode::UNAUTHORIZED, invalid));
}

#[tokio::test]
async fn malformed_refresh_bodies_get_4xx_validation_envelopes() {
    let app = TestApp::spawn().await;
    let failed =
        |errors: Value| json!({"success": false, "message": "Validation failed", "errors": errors});
    let r = app.post_raw(REFRESH, "application/json", "nope").await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            failed(json!({"non_field_errors": [
                "JSON parse error - expected ident at line 1 column 2"
            ]}))
        )
    );
    let r = app.post(REFRESH, json!(["token"])).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            failed(json!({"non_field_errors": [
                "Invalid data. Expected a dictionary, but got list."
            ]}))
        )
    );
    let r = app
        .post_raw(
            REFRESH,
            "application/json",
            format!("{{\"refresh_token\": \"{}\"}}", "x".repeat(2 << 20)),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            failed(json!({"non_field_errors": ["Request body is too large."]}))
        )
    );
}

// ---------------------------------------------------------------- logout

#[tokio::test]
async fn logout_blacklists_the_refresh_token_which_is_refused_ever_after() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let r = app
        .post_auth(LOGOUT, &access, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"success": true, "message": "Logout successful"})
        )
    );
    let r = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": "Invalid refresh token"})
        )
    );
    let r = app
        .post_auth(LOGOUT, &access, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"success": false, "message": "Logout failed"})
        )
    );
    // Never again, at any contract (INTERFACE.md).
    let r = app
        .post("/accounts/refresh/", json!({"refresh": refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        )
    );
    // As with simplejwt, the access token lives out its minutes; a new login works.
    assert_eq!(app.get(PROFILE, Some(&access)).await.status, StatusCode::OK);
    assert_eq!(
        login(&app, "john_doe", JOHN_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_with_a_missing_bad_or_foreign_refresh_token_returns_400_logout_failed() {
    let app = TestApp::spawn().await;
    john(&app).await;
    jane(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let (_, janes_refresh) = tokens(&app, "jane_smith", JANE_PASSWORD).await;
    for body in [
        json!({}),
        json!({"refresh_token": null}),
        json!({"refresh_token": ""}),
        json!({"refresh_token": "not-a-token"}),
        json!({"refresh_token": ["x"]}),
        json!({"refresh_token": access}),
        json!({"refresh_token": janes_refresh}),
    ] {
        let r = app.post_auth(LOGOUT, &access, body.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::BAD_REQUEST,
                json!({"success": false, "message": "Logout failed"})
            ),
            "{body}"
        );
    }
    // Jane's token was left alone, and so was John's own.
    let r = app
        .post(REFRESH, json!({"refresh_token": janes_refresh}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.post(REFRESH, json!({"refresh_token": refresh})).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_without_a_valid_access_token_is_refused_by_authentication_first() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let (access, refresh) = tokens(&app, "john_doe", JOHN_PASSWORD).await;
    let body = json!({"refresh_token": refresh});
    let r = app.post(LOGOUT, body.clone()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::UNAUTHORIZED, not_provided())
    );
    assert_eq!(r.header("www-authenticate"), REALM);
    // The refresh token is no Bearer token here.
    let r = app.post_auth(LOGOUT, &refresh, body.clone()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::UNAUTHORIZED,
            invalid_token("Token has wrong type")
        )
    );
    assert_eq!(r.header("www-authenticate"), REALM);
    // DRF authenticates before the view reads the body.
    let r = app
        .client
        .post(format!("{}{LOGOUT}", app.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap(), not_provided());
    // Nothing was blacklisted.
    let r = app.post(REFRESH, body).await;
    assert_eq!(r.status, StatusCode::OK);
    // With the access token, a malformed body is the validation envelope.
    let r = app
        .client
        .post(format!("{}{LOGOUT}", app.url))
        .bearer_auth(&access)
        .json(&json!([refresh]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"success": false, "message": "Validation failed", "errors": {
            "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
        }})
    );
}

#[tokio::test]
async fn an_account_with_otp_enabled_cannot_bypass_its_code_at_university_login() {
    let app = TestApp::spawn().await;
    app.user(accountd::domain::directory::UserInput {
        username: Some("olga".into()),
        phone: Some("+12025550177".into()),
        password: Some(accountd::domain::secret::Secret::from(
            "olga's long password",
        )),
        otp_enabled: Some(true),
        ..Default::default()
    })
    .await;
    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "olga", "password": "olga's long password"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": "Invalid credentials",
                   "errors": {"non_field_errors": ["Invalid username or password"]}})
        )
    );
}

#[tokio::test]
async fn a_token_signed_elsewhere_with_the_configured_secret_works_at_profile() {
    // A team moving from its Django backend keeps SIGNING_KEY as
    // ACCOUNTD_JWT_SECRET; the tokens that backend issued keep working.
    // Django's generated SECRET_KEY is 50 characters; accountd asks for 32 bytes at least.
    const KEY: &str = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz";
    let app = TestApp::spawn_with(|c| c.jwt_secret = Some(KEY.into())).await;
    let user = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let claims = json!({
        "token_type": "access", "exp": app.now() + 60, "iat": app.now(),
        "jti": "0123456789abcdef0123456789abcdef", "user_id": user.id.0
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap();
    let r = app.get("/api/auth/profile/", Some(&token)).await;
    assert_eq!(
        (
            r.status,
            r.body["success"].clone(),
            r.body["user"]["username"].clone()
        ),
        (StatusCode::OK, json!(true), json!("ann"))
    );
    // And one signed with another key is refused in simplejwt's words.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another key"),
    )
    .unwrap();
    let r = app.get("/api/auth/profile/", Some(&forged)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.body["messages"][0]["message"],
        "Token is invalid or expired"
    );
}
