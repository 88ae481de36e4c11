//! Who a request comes from, for the domain's `Origin`: the client address
//! (the peer, or the trusted proxy header's last entry) and the request id.

use super::request_log::RequestId;
use super::AppState;
use crate::config::Contract;
use crate::domain::origin::Origin;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

/// The client of a request; `client.origin(Contract::…)` for the use cases.
#[derive(Debug, Clone)]
pub struct Client {
    pub address: String,
    pub request_id: Option<String>,
}

impl Client {
    pub fn origin(&self, contract: Contract) -> Origin {
        Origin::new(contract.name(), self.address.clone()).with_request_id(self.request_id.clone())
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Infallible> {
        Ok(Client {
            address: super::client_addr(
                &parts.headers,
                &parts.extensions,
                app.config.trusted_proxy_header.as_deref(),
            ),
            // The id the edge gave the request (the client's own when it
            // was acceptable), never the raw header.
            request_id: parts
                .extensions
                .get::<RequestId>()
                .map(|id| id.as_str().to_owned()),
        })
    }
}
