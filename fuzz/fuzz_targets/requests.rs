//! Any request body, content type and bearer token, at every route of the
//! five contracts, through the real router over a real SQLite file: never a
//! 5xx, never a panic, and every answer JSON (or the empty 205 of logout).
//!
//! Input: byte 0 picks the route, byte 1 the content type and whether a
//! bearer header is sent; then the header's token up to the first NUL; the
//! rest is the body.
#![no_main]

use accountd::app::{App, Overrides};
use accountd::config::{Config, Contract};
use accountd::http::contracts::routes;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tower::ServiceExt;

struct Target {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    routes: Vec<(Method, &'static str)>,
    _dir: tempfile::TempDir,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::from_sources(&[]).unwrap();
        config.database_url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        config.listen = "127.0.0.1:0".into();
        config.admin_listen = None;
        config.hash_workers = 1;
        let app = rt
            .block_on(App::build(config, Overrides::default()))
            .unwrap();
        let router = accountd::http::router(app.state().clone());
        let routes = Contract::ALL
            .into_iter()
            .flat_map(routes)
            .map(|r| (r.method, r.path))
            .collect();
        Target {
            rt,
            router,
            routes,
            _dir: dir,
        }
    })
}

const TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json; charset=utf-8",
    "",
];

fuzz_target!(|data: &[u8]| {
    let t = target();
    let [route, flags, rest @ ..] = data else {
        return;
    };
    let (method, path) = &t.routes[*route as usize % t.routes.len()];
    let content_type = TYPES[*flags as usize % TYPES.len()];
    let (token, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) if flags & 0x80 != 0 => (Some(&rest[..i]), &rest[i + 1..]),
        _ => (None, rest),
    };
    let mut request = Request::builder().method(method.clone()).uri(*path);
    if !content_type.is_empty() {
        request = request.header("content-type", content_type);
    }
    if let Some(token) = token {
        let mut value = b"Bearer ".to_vec();
        value.extend_from_slice(token);
        request = request.header("authorization", value.as_slice());
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return; // not a valid header value: no server would receive it
    };
    let response = t
        .rt
        .block_on(t.router.clone().oneshot(request))
        .unwrap();
    let status = response.status();
    // The database is a local file that stays: no outage, so no 5xx at all.
    assert!(!status.is_server_error(), "{method} {path}: {status}");
    let bytes = t
        .rt
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .unwrap();
    if status != StatusCode::RESET_CONTENT {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .unwrap_or_else(|e| panic!("{method} {path}: {status} is not JSON: {e}"));
    }
});
