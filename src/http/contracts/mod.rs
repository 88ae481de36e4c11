//! One module per wire contract: each parses its requests, calls the domain,
//! and renders the answers its document gives. Nothing else.

pub mod delivery;
pub mod kikapu;
pub mod pixel_genius;
pub mod simple;
pub mod university;

use super::AppState;
use crate::config::Contract;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::Router;

/// One mounted route: method, path and handler. Each contract lists its
/// routes in one table, from which its router is built, so a test can read
/// what is mounted (axum cannot list its routes) and compare it with the
/// OpenAPI document (`docs/openapi.json`).
pub struct Route {
    pub method: Method,
    /// As the router matches it: no trailing slash (the normaliser strips it).
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

impl Route {
    pub fn get<H, T>(path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self::new(Method::GET, path, routing::get(handler))
    }

    pub fn post<H, T>(path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self::new(Method::POST, path, routing::post(handler))
    }

    pub fn new(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        Self {
            method,
            path,
            handler,
        }
    }
}

/// The routes of one contract, at the paths its document gives.
pub fn routes(contract: Contract) -> Vec<Route> {
    match contract {
        Contract::PixelGenius => pixel_genius::routes(),
        Contract::Simple => simple::routes(),
        Contract::University => university::routes(),
        Contract::Delivery => delivery::routes(),
        Contract::Kikapu => kikapu::routes(),
    }
}

/// A router of the given routes.
pub fn mount(routes: Vec<Route>) -> Router<AppState> {
    routes
        .into_iter()
        .fold(Router::new(), |router, r| router.route(r.path, r.handler))
}

/// The router of one contract.
pub fn router(contract: Contract) -> Router<AppState> {
    mount(routes(contract))
}
