//! The accounts core: rules about passwords, codes, tokens and sessions, once for
//! all five contracts. No HTTP, no SQL, no wire shapes live here.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod clock;
pub mod console;
pub mod directory;
pub mod error;
pub mod gates;
pub mod import;
pub mod keys;
pub mod limits;
pub mod org;
pub mod origin;
pub mod otp;
pub mod password;
pub mod password_policy;
pub mod phone;
mod places;
pub mod ports;
pub mod secret;
pub mod sessions;
pub mod supabase;
pub mod tokens;
pub mod user;

pub use accounts::Accounts;
pub use error::Error;
