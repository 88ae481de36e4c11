//! accountd: one accounts server that speaks five account APIs byte for byte.
//! See DESIGN.md in the shared folder for the shape: contracts translate, the
//! domain decides, the store remembers.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod import;
pub mod logging;
pub mod metrics;
pub mod sms;
pub mod store;
