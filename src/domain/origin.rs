//! Who is asking: the contract a request came through, the client's
//! address and the request's id. Limits count per address; the audit trail
//! records all three.

/// Where a use case was called from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The contract's one name (`pixel_genius`, …), or `cli` / `admin`.
    pub contract: &'static str,
    /// The client's address: the peer, or the trusted proxy's last hop.
    pub client: String,
    pub request_id: Option<String>,
}

impl Origin {
    pub fn new(contract: &'static str, client: impl Into<String>) -> Self {
        Self {
            contract,
            client: client.into(),
            request_id: None,
        }
    }

    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }

    /// An operator at the command line.
    pub fn cli() -> Self {
        Self::new("cli", "local")
    }
}
