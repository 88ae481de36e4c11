//! The one integration-test binary: real HTTP on random ports, real databases
//! (SQLite files, or throwaway PostgreSQL databases with
//! `ACCOUNTD_TEST_BACKEND=postgres`), the real `accountd` binary where the CLI
//! is under test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod abuse;
mod admin_api;
mod admin_cli;
mod admin_support;
mod at_rest;
mod audit;
mod cli;
mod connections;
mod console;
mod console_browser;
mod cors;
mod delivery;
mod django;
mod harness;
mod health;
mod import_django;
mod import_supabase;
mod instances;
mod keys;
mod kikapu;
mod listeners;
mod logs;
mod no_store;
mod nul;
mod observability;
mod openapi;
mod outage;
mod outage_server;
mod password_policy;
mod passwords;
mod pixel_genius;
mod revocation;
mod simple;
mod sms_gateways;
mod sms_webhook;
mod store;
mod tokens;
mod university;
