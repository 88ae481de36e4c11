//! The admin surface on the admin listener (INTERFACE.md, "Administration"):
//! the JSON admin API under `/admin/api/` and the server-rendered console
//! under `/admin/`, both over the same use cases as the CLI
//! (`domain::admin`, `domain::console`); nothing of it is mounted on the
//! main listener.

pub mod json;
