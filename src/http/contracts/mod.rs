//! One module per wire contract: each parses its requests, calls the domain,
//! and renders the answers its document gives. Nothing else.

pub mod delivery;
pub mod kikapu;
pub mod pixel_genius;
pub mod simple;
pub mod university;

use super::AppState;
use crate::config::Contract;
use axum::Router;

/// The routes of one contract, at the paths its document gives (without the
/// trailing slash, which the normaliser strips).
pub fn router(contract: Contract) -> Router<AppState> {
    match contract {
        Contract::PixelGenius => pixel_genius::router(),
        Contract::Simple => simple::router(),
        Contract::University => university::router(),
        Contract::Delivery => delivery::router(),
        Contract::Kikapu => kikapu::router(),
    }
}
