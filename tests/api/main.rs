//! The one integration-test binary: real HTTP on random ports, real databases
//! (SQLite files, or throwaway PostgreSQL databases with
//! `ACCOUNTD_TEST_BACKEND=postgres`), the real `accountd` binary where the CLI
//! is under test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod connections;
mod cors;
mod delivery;
mod harness;
mod health;
mod instances;
mod kikapu;
mod logs;
mod no_store;
mod nul;
mod outage;
mod password_policy;
mod pixel_genius;
mod simple;
mod sms_gateways;
mod sms_webhook;
mod store;
mod tokens;
mod university;
