//! The OpenAPI document (`docs/openapi.json`) against the server: every
//! route the router mounts is documented and nothing else; the document is
//! OpenAPI 3.1, self-consistent (every example matches its own schema, every
//! `$ref` resolves), served cut down to the mounted contracts, with Swagger
//! UI over it from the binary.

use crate::admin_support::validator_at;
use crate::harness::TestApp;
use accountd::config::Contract;
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use accountd::http::{contracts, docs};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Documented service endpoints whose handlers may live outside the route
/// tables (built by the health and signing-key work).
const SERVICE_ROUTES_ELSEWHERE: [(&str, &str); 3] = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/.well-known/jwks.json"),
];

/// Of `SERVICE_ROUTES_ELSEWHERE`, those not built yet on this branch: each
/// must still answer the router's 404, so the list cannot go stale. When one
/// is mounted, this test says so: take it off this list.
const NOT_MOUNTED_YET: [&str; 0] = [];

fn document() -> Value {
    serde_json::from_str(docs::DOCUMENT).expect("docs/openapi.json is JSON")
}

/// (METHOD, path) of every operation in a document, paths as written.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// (METHOD, path) of every route in the tables, paths as the router has them.
fn mounted_routes() -> BTreeSet<(String, String)> {
    let mut routes: Vec<contracts::Route> = Contract::ALL
        .into_iter()
        .flat_map(contracts::routes)
        .collect();
    routes.extend(docs::routes(&Contract::ALL));
    routes
        .into_iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect()
}

#[test]
fn every_route_the_router_mounts_is_documented_and_nothing_else() {
    // The router matches paths without their trailing slash; the document
    // gives them as the contracts do, with it.
    let documented: BTreeSet<(String, String)> = operations(&document())
        .into_iter()
        .map(|(m, p)| (m, p.trim_end_matches('/').to_owned()))
        .collect();
    let mounted = mounted_routes();
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "mounted but not in docs/openapi.json: {undocumented:?}"
    );
    let elsewhere: BTreeSet<(String, String)> = SERVICE_ROUTES_ELSEWHERE
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    // What no table mounts must be one of those; that it is mounted at all
    // is checked over HTTP (every_documented_operation_is_mounted_…).
    let not_in_tables: Vec<_> = documented
        .difference(&mounted)
        .filter(|op| !elsewhere.contains(*op))
        .collect();
    assert!(
        not_in_tables.is_empty(),
        "documented but in no route table: {not_in_tables:?}"
    );
}

/// A request for one documented operation, path parameters filled with
/// their first allowed value.
fn concrete_path(doc: &Value, method: &str, path: &str) -> String {
    let op = &doc["paths"][path][method.to_lowercase()];
    let mut out = path.to_owned();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap();
        let value = p["schema"]["enum"][0].as_str().unwrap();
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[tokio::test]
async fn every_documented_operation_is_mounted_with_and_without_its_trailing_slash() {
    let app = TestApp::spawn().await;
    let doc = document();
    for (method, path) in operations(&doc) {
        let concrete = concrete_path(&doc, &method, &path);
        let other = match concrete.strip_suffix('/') {
            Some(p) => p.to_owned(),
            None => format!("{concrete}/"),
        };
        for p in [&concrete, &other] {
            let r = app
                .client
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}{p}", app.url),
                )
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            let router_404 = status == 404 && body == r#"{"detail":"Not found."}"#;
            if NOT_MOUNTED_YET.contains(&path.as_str()) {
                assert!(
                    router_404,
                    "{method} {p} is mounted now: take it off NOT_MOUNTED_YET in tests/api/openapi.rs"
                );
                continue;
            }
            assert!(!router_404, "{method} {p}: the router's 404, not mounted");
            assert_ne!(status, 405, "{method} {p}: method not allowed: {body}");
        }
    }
}

#[tokio::test]
async fn openapi_json_is_the_whole_document_when_every_contract_is_mounted() {
    let app = TestApp::spawn().await;
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1."));
    // Nothing is left out (so no component of the file is unused), and the
    // keys keep the file's order.
    let whole = document();
    for part in ["paths", "tags"] {
        assert_eq!(r.body[part], whole[part], "{part}");
    }
    for (kind, entries) in whole["components"].as_object().unwrap() {
        let served: Vec<&String> = r.body["components"][kind]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let unused: Vec<&String> = entries
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| !served.contains(k))
            .collect();
        assert!(
            unused.is_empty(),
            "components/{kind} nothing refers to: {unused:?}"
        );
    }
    assert_eq!(r.body, whole);
    assert_eq!(
        serde_json::to_string(&r.body).unwrap(),
        serde_json::to_string(&document()).unwrap()
    );
    // With and without a trailing slash, like every path.
    assert_eq!(app.get("/openapi.json/", None).await.body, r.body);
}

#[tokio::test]
async fn with_only_simple_mounted_openapi_json_has_simple_and_service_paths_only() {
    let app = TestApp::spawn_with(|c| c.contracts = vec![Contract::Simple]).await;
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.body;
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        [
            "/api/login/",
            "/api/token/refresh/",
            "/healthz",
            "/readyz",
            "/openapi.json",
            "/docs",
            "/docs/{asset}",
            "/.well-known/jwks.json"
        ]
    );
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["simple", "service"]);
    // Components of the other contracts are gone, and so is the bearer
    // scheme (simple authenticates nothing by header); what stays resolves.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("SimpleLoginRequest"));
    for gone in [
        "DeliveryUser",
        "UniversityUser",
        "KikapuUser",
        "PixelGeniusOtpSent",
    ] {
        assert!(!schemas.contains_key(gone), "{gone} is still there");
    }
    let responses = doc["components"]["responses"].as_object().unwrap();
    assert!(
        responses.keys().all(|k| k.starts_with("Simple")),
        "{responses:?}"
    );
    assert!(doc["components"].get("securitySchemes").is_none());
    assert_refs_resolve(&doc);
    // The part kept is exactly the file's.
    let whole = document();
    for p in ["/api/login/", "/api/token/refresh/", "/healthz"] {
        assert_eq!(doc["paths"][p], whole["paths"][p]);
    }
}

#[tokio::test]
async fn with_university_mounted_the_bearer_scheme_stays() {
    let app = TestApp::spawn_with(|c| c.contracts = vec![Contract::University]).await;
    let doc = app.get("/openapi.json", None).await.body;
    assert_eq!(
        doc["components"]["securitySchemes"],
        document()["components"]["securitySchemes"]
    );
    assert!(doc["paths"].get("/api/auth/profile/").is_some());
    assert!(doc["paths"].get("/accounts/login/").is_none());
    assert_refs_resolve(&doc);
}

/// Every `$ref` in `doc` points at something in it.
fn assert_refs_resolve(doc: &Value) {
    fn walk(v: &Value, doc: &Value) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    let pointer = r.strip_prefix('#').expect("local $ref");
                    assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
                }
                m.values().for_each(|c| walk(c, doc));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, doc)),
            _ => {}
        }
    }
    walk(doc, doc);
}

#[test]
fn the_document_is_valid_openapi_3_1() {
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
    assert_eq!(doc["openapi"], "3.1.0");
    // The document describes this build.
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_refs_resolve(&doc);
    // The checker does reject what is no OpenAPI 3.1 document.
    assert!(!validator.is_valid(&json!({"openapi": "3.0.3", "info": {}, "paths": {}})));
}

#[test]
fn every_operation_names_its_contract_and_reads_json_and_forms() {
    let doc = document();
    let files = [
        ("pixel_genius", "000-pixel-genius.md"),
        ("delivery", "001-delivery-phone-otp.md"),
        ("simple", "002-simple-login.md"),
        ("university", "003-university.md"),
        ("kikapu", "004-kikapu.md"),
        ("service", "INTERFACE.md"),
    ];
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let tags = op["tags"].as_array().unwrap();
        assert_eq!(tags.len(), 1, "{method} {path}: one tag");
        let tag = tags[0].as_str().unwrap();
        let (_, file) = files
            .iter()
            .find(|(t, _)| *t == tag)
            .unwrap_or_else(|| panic!("{method} {path}: unknown tag {tag}"));
        let description = op["description"].as_str().unwrap_or("");
        if tag != "service" || path != "/docs/{asset}" {
            assert!(
                description.starts_with(file),
                "{method} {path}: the description names {file} first: {description}"
            );
        }
        // Contract paths end with the slash their documents give.
        assert_eq!(tag != "service", path.ends_with('/'), "{method} {path}");
        if let Some(body) = op.get("requestBody") {
            let content = body["content"].as_object().unwrap();
            let types: Vec<&str> = content.keys().map(String::as_str).collect();
            assert_eq!(
                types,
                ["application/json", "application/x-www-form-urlencoded"],
                "{method} {path}"
            );
        }
        assert!(op["operationId"].is_string(), "{method} {path}");
    }
}

/// Every `example` and `examples.*.value` beside a `schema`, with the
/// pointer of that schema.
fn examples(v: &Value, pointer: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("schema") {
                let at = format!("{pointer}/schema");
                if let Some(e) = m.get("example") {
                    out.push((at.clone(), e.clone()));
                }
                for e in m
                    .get("examples")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    out.push((at.clone(), e.1["value"].clone()));
                }
            }
            for (k, c) in m {
                let key = k.replace('~', "~0").replace('/', "~1");
                examples(c, format!("{pointer}/{key}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                examples(c, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_example_in_the_document_matches_its_own_schema() {
    let doc = document();
    let mut found = Vec::new();
    examples(&doc, String::new(), &mut found);
    // Every request body and every response with content has one or more.
    assert!(found.len() > 100, "{} examples", found.len());
    let mut failures = Vec::new();
    for (pointer, example) in &found {
        let validator = validator_at(&doc, pointer);
        for e in validator.iter_errors(example) {
            failures.push(format!("{pointer}: {example}: {e} at {}", e.instance_path));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_example_check_does_refuse_a_body_off_its_schema() {
    let doc = document();
    let pair = validator_at(&doc, "/components/schemas/SimpleJwtPair");
    assert!(pair.is_valid(&json!({"refresh": "r", "access": "a"})));
    assert!(!pair.is_valid(&json!({"refresh": "r"})));
    assert!(!pair.is_valid(&json!({"refresh": "r", "access": "a", "extra": 1})));
    assert!(!pair.is_valid(&json!({"refresh": 1, "access": "a"})));
    let user = validator_at(&doc, "/components/schemas/DeliveryUser");
    let mut u = json!({"id": 1, "phone_number": "+1234567890", "email": null, "full_name": "",
        "role": "SHOPKEEPER", "is_active": true, "date_joined": "2025-10-27T10:30:00Z", "last_login": null});
    assert!(user.is_valid(&u));
    u["date_joined"] = json!("yesterday");
    assert!(!user.is_valid(&u), "formats are checked");
}

#[tokio::test]
async fn docs_serves_swagger_ui_and_its_assets_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(format!("{}/docs", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    let html = page.text().await.unwrap();
    assert_eq!(html, include_str!("../../assets/swagger-ui/index.html"));
    for (name, content_type, bytes) in [
        (
            "swagger-ui-bundle.js",
            "text/javascript; charset=utf-8",
            &include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js")[..],
        ),
        (
            "swagger-ui.css",
            "text/css; charset=utf-8",
            &include_bytes!("../../assets/swagger-ui/swagger-ui.css")[..],
        ),
        (
            "swagger-initializer.js",
            "text/javascript; charset=utf-8",
            &include_bytes!("../../assets/swagger-ui/swagger-initializer.js")[..],
        ),
        (
            "favicon-32x32.png",
            "image/png",
            &include_bytes!("../../assets/swagger-ui/favicon-32x32.png")[..],
        ),
    ] {
        // The page refers to each asset, and each is served as it is in the repository.
        assert!(
            html.contains(&format!("\"/docs/{name}\"")),
            "{name} is not on the page"
        );
        let r = app
            .client
            .get(format!("{}/docs/{name}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.headers()["content-type"], content_type, "{name}");
        assert_eq!(&r.bytes().await.unwrap()[..], bytes, "{name}");
    }
    // The UI reads this server's document, and nothing from elsewhere.
    let init = include_str!("../../assets/swagger-ui/swagger-initializer.js");
    assert!(init.contains(r#"url: "/openapi.json""#));
    assert!(!html.contains("http://") && !html.contains("https://"));
    let missing = app.get("/docs/swagger-ui.js.map", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, json!({"detail": "Not found."}));
}

/// The documented answer for `status` of one operation: the response
/// object's pointer (a `$ref` to `components/responses` followed).
fn response_pointer(doc: &Value, op_pointer: &str, status: u16) -> Option<String> {
    let at = format!("{op_pointer}/responses/{status}");
    let response = doc.pointer(&at)?;
    Some(match response.get("$ref").and_then(Value::as_str) {
        Some(r) => r.trim_start_matches('#').to_owned(),
        None => at,
    })
}

/// Send one request and check the answer against the document: its status
/// is documented for the operation, and so are its content type and body.
async fn assert_documented(
    doc: &Value,
    method: &str,
    path: &str,
    request: reqwest::RequestBuilder,
) -> (u16, Value) {
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = r.text().await.unwrap();
    let escaped = path.replace('~', "~0").replace('/', "~1");
    let op = format!("/paths/{escaped}/{}", method.to_lowercase());
    let Some(response) = response_pointer(doc, &op, status) else {
        panic!("{method} {path} answered {status}, not documented: {text}");
    };
    let content = &doc.pointer(&response).unwrap()["content"];
    if content.is_null() {
        assert_eq!(
            text, "",
            "{method} {path} {status}: documented with no content"
        );
        return (status, Value::Null);
    }
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{method} {path} {status}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let validator = validator_at(doc, &format!("{response}/content/application~1json/schema"));
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {body} is not as documented: {errors:?}"
    );
    (status, body)
}

/// Every contract operation, sent its documented example and the bodies no
/// contract documents (none, `{}`, bad JSON, a list, a form, another media
/// type, an oversized body): each answer is one the document gives, status,
/// content type and body. A small schemathesis inside `cargo test`, on
/// either backend.
#[tokio::test]
async fn documented_and_undocumented_requests_get_documented_answers() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 1024).await;
    // The contracts' example users, so the examples reach their 200s.
    for (username, phone, password, role) in [
        ("john_doe", "+1234567890", "securepassword123", "student"),
        ("example_user", "+12025550124", "example_password", ""),
        ("agent7", "+255712345678", "securepassword", "AGENT"),
    ] {
        app.user(UserInput {
            username: Some(username.into()),
            phone: Some(phone.into()),
            password: Some(Secret::from(password)),
            role: (!role.is_empty()).then(|| role.into()),
            ..UserInput::default()
        })
        .await;
    }
    let doc = document();
    let mut statuses = BTreeSet::new();
    for (method, path) in operations(&doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let tag = op["tags"][0].as_str().unwrap();
        if tag == "service" {
            continue;
        }
        let url = format!("{}{path}", app.url);
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let request = || app.client.request(m.clone(), &url);
        let mut requests = vec![request(), request().json(&json!({}))];
        if let Some(body) = op.get("requestBody") {
            let example = &body["content"]["application/json"]["example"];
            requests.extend([
                request().json(example),
                request().form(
                    &example
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_string().trim_matches('"').to_owned()))
                        .collect::<Vec<_>>(),
                ),
                request()
                    .header("content-type", "application/json")
                    .body("{"),
                request()
                    .header("content-type", "application/json")
                    .body("[1]"),
                request().header("content-type", "text/plain").body("x"),
                request()
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"x": "{}"}}"#, "a".repeat(2048))),
            ]);
        }
        for r in requests {
            let (status, _) = assert_documented(&doc, &method, &path, r).await;
            statuses.insert((path.clone(), status));
        }
    }
    // The Bearer operations with a live token of their own contract.
    let login = app
        .post(
            "/api/auth/login/",
            json!({"username": "john_doe", "password": "securepassword123"}),
        )
        .await;
    let token = login.body["access_token"].as_str().unwrap().to_owned();
    for (method, path) in [("GET", "/api/auth/profile/"), ("POST", "/api/auth/logout/")] {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .client
            .request(m, format!("{}{path}", app.url))
            .bearer_auth(&token)
            .json(&json!({"refresh_token": "not mine"}));
        let (status, _) = assert_documented(&doc, method, path, r).await;
        statuses.insert((path.to_owned(), status));
    }
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": "+12025550181"}),
    )
    .await;
    let code = app.sms.last_code("+12025550181");
    let session = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": "+12025550181", "otp": code}),
        )
        .await;
    let token = session.body["access_token"].as_str().unwrap().to_owned();
    for (method, path) in [
        ("GET", "/api/accounts/auth/me/"),
        ("POST", "/api/accounts/auth/logout/"),
    ] {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .client
            .request(m, format!("{}{path}", app.url))
            .bearer_auth(&token);
        let (status, _) = assert_documented(&doc, method, path, r).await;
        statuses.insert((path.to_owned(), status));
    }
    // The examples did reach the documented successes.
    for (path, status) in [
        ("/api/login/", 200),
        ("/api/auth/login/", 200),
        ("/api/auth/profile/", 200),
        ("/api/auth/logout/", 400),
        ("/auth/api/agent/login/", 200),
        ("/auth/api/resend-otp/", 200),
        ("/api/accounts/auth/send-otp/", 200),
        ("/api/accounts/auth/me/", 200),
        ("/api/accounts/auth/logout/", 200),
        ("/accounts/login/", 401),
        ("/api/login/", 413),
        ("/api/auth/refresh/", 415),
    ] {
        assert!(
            statuses.contains(&(path.to_owned(), status)),
            "{path} never answered {status}: {statuses:?}"
        );
    }
}

/// The JWK set under each algorithm, and after a rotation from EdDSA to
/// RS256 (both kinds at once): as documented, Cache-Control too.
#[tokio::test]
async fn the_jwk_set_is_as_documented_under_every_algorithm() {
    use accountd::domain::keys::Algorithm;
    let doc = document();
    let mut sizes = Vec::new();
    let mut apps = Vec::new();
    for algorithm in [Algorithm::Hs256, Algorithm::EdDsa, Algorithm::Rs256] {
        let app = TestApp::spawn_with(|c| c.jwt_algorithm = algorithm).await;
        sizes.push(documented_jwks(&doc, &app).await);
        apps.push(app);
    }
    // A restart with RS256 where EdDSA signed: both kinds at once.
    let switched = apps[1]
        .another_instance_with(|c| c.jwt_algorithm = Algorithm::Rs256)
        .await;
    sizes.push(documented_jwks(&doc, &switched).await);
    // HS256 none; EdDSA one; RS256 one; after the switch two.
    assert_eq!(sizes, [0, 1, 1, 2]);
}

/// GET the JWK set, check it against the document; how many keys it has.
async fn documented_jwks(doc: &Value, app: &TestApp) -> usize {
    let url = format!("{}/.well-known/jwks.json", app.url);
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(
        r.headers().get("cache-control").unwrap(),
        "public, max-age=10"
    );
    let (status, body) =
        assert_documented(doc, "GET", "/.well-known/jwks.json", app.client.get(&url)).await;
    assert_eq!(status, 200);
    body["keys"].as_array().unwrap().len()
}
