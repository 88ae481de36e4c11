//! The contracts' specification as the server serves it: `GET /openapi.json`
//! (the OpenAPI 3.1 document `docs/openapi.json`, cut down to the mounted
//! contracts) and `GET /docs` (Swagger UI over it). Both are compiled into
//! the binary: no CDN, no download at run time.

use crate::config::Contract;
use crate::http::contracts::Route;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The whole document, every contract: the specification in the repository.
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// The tag of the operations every server answers, whatever is mounted.
pub const SERVICE_TAG: &str = "service";

/// Swagger UI's files (`assets/swagger-ui/README.md` says where they come from).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    ),
    (
        "swagger-initializer.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-initializer.js"),
    ),
    (
        "favicon-32x32.png",
        "image/png",
        include_bytes!("../../assets/swagger-ui/favicon-32x32.png"),
    ),
];

const PAGE: &str = include_str!("../../assets/swagger-ui/index.html");

/// The page loads only its own scripts and styles; Swagger UI sets inline
/// styles and draws icons from data: URLs, and calls the API on this origin.
const PAGE_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `/openapi.json`, `/docs` and the page's assets, with the document built
/// once, here, for the mounted contracts.
pub fn routes(contracts: &[Contract]) -> Vec<Route> {
    let body = match serde_json::from_str::<Value>(DOCUMENT) {
        Ok(doc) => serde_json::to_vec(&restrict(doc, contracts)).unwrap_or_default(),
        // Cannot happen with the document the tests read; never panic for it.
        Err(e) => {
            tracing::error!(error = %e, "docs/openapi.json is not JSON");
            Vec::new()
        }
    };
    let body = axum::body::Bytes::from(body);
    vec![
        Route::get("/openapi.json", move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body).into_response() }
        }),
        Route::get("/docs", page),
        Route::get("/docs/{asset}", asset),
    ]
}

async fn page() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static(PAGE_POLICY),
            ),
        ],
        PAGE,
    )
        .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        // The router's own 404 (http::not_found).
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"detail": "Not found."})),
        )
            .into_response(),
    }
}

/// The document with only the mounted contracts: operations tagged with an
/// unmounted contract go, then paths left empty, tags no operation uses, and
/// components nothing refers to any more.
pub fn restrict(mut doc: Value, contracts: &[Contract]) -> Value {
    let mounted: BTreeSet<&str> = contracts
        .iter()
        .map(|c| c.name())
        .chain([SERVICE_TAG])
        .collect();
    let mut used_tags = BTreeSet::new();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            if let Some(item) = item.as_object_mut() {
                item.retain(|_, op| {
                    let tags = operation_tags(op);
                    // Keys of a path item that are no operation (parameters,
                    // summary) have no tags and stay.
                    tags.is_empty() || tags.iter().any(|t| mounted.contains(t.as_str()))
                });
                for op in item.values() {
                    used_tags.extend(operation_tags(op));
                }
            }
        }
        paths.retain(|_, item| item.as_object().is_some_and(has_operation));
    }
    if let Some(tags) = doc.get_mut("tags").and_then(Value::as_array_mut) {
        tags.retain(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| used_tags.contains(n))
        });
    }
    drop_unused_components(&mut doc);
    doc
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn has_operation(item: &Map<String, Value>) -> bool {
    METHODS.iter().any(|m| item.contains_key(*m))
}

fn operation_tags(op: &Value) -> Vec<String> {
    op.get("tags")
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Keep the components reachable from the paths (through `$ref`, however
/// deep) and the security schemes an operation names.
fn drop_unused_components(doc: &mut Value) {
    let Some(components) = doc.get("components").cloned() else {
        return;
    };
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<Value> = doc.get("paths").into_iter().cloned().collect();
    let mut schemes: BTreeSet<String> = BTreeSet::new();
    while let Some(v) = pending.pop() {
        collect(&v, &mut |key, value| match key {
            "$ref" => {
                if let Some(target) = value.as_str().and_then(|r| r.strip_prefix("#/components/")) {
                    if reached.insert(target.to_owned()) {
                        if let Some(c) = components.pointer(&format!("/{target}")) {
                            pending.push(c.clone());
                        }
                    }
                }
            }
            "security" => {
                for requirement in value.as_array().into_iter().flatten() {
                    if let Some(r) = requirement.as_object() {
                        schemes.extend(r.keys().cloned());
                    }
                }
            }
            _ => {}
        });
    }
    let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) else {
        return;
    };
    for (kind, entries) in components.iter_mut() {
        if let Some(entries) = entries.as_object_mut() {
            entries.retain(|name, _| {
                if kind == "securitySchemes" {
                    schemes.contains(name)
                } else {
                    // Names in the document contain no '/' or '~', so the
                    // pointer needs no escaping.
                    reached.contains(&format!("{kind}/{name}"))
                }
            });
        }
    }
    components.retain(|_, entries| entries.as_object().is_some_and(|e| !e.is_empty()));
}

/// Call `f` with every (key, value) pair of every object inside `v`.
fn collect(v: &Value, f: &mut impl FnMut(&str, &Value)) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                f(k, child);
                collect(child, f);
            }
        }
        Value::Array(a) => a.iter().for_each(|child| collect(child, f)),
        _ => {}
    }
}
