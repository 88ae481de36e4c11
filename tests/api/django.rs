//! The real Django the import tests compare against (issue 9): run
//! `tests/django/make_fixture.py` with the venv `.ci/venv` makes.

// The import tests that use it come later; one test here uses it already.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The venv `.ci/venv` makes: `ACCOUNTD_TEST_VENV`, or `~/.cache/accountd-venv`.
pub fn venv() -> PathBuf {
    match std::env::var_os("ACCOUNTD_TEST_VENV").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/accountd-venv")
        }
    }
}

/// Make Django's fixture in the (existing, empty) database at `db_url`
/// (`sqlite://PATH` or `postgres://…`) and return what the script printed:
/// the signing key and every user with password, hasher, stored hash,
/// simplejwt tokens, whether blacklisted and extra columns (see the script).
pub fn django_fixture(db_url: &str) -> Value {
    let python = venv().join("bin/python");
    if !python.exists() {
        panic!(
            "no Django venv at {}: run .ci/venv first (it makes it from \
             tests/django/requirements.txt; ACCOUNTD_TEST_VENV picks another place)",
            venv().display()
        );
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/django/make_fixture.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(db_url)
        // Django's own variables only; nothing of the test's environment leaks in.
        .env_remove("DJANGO_SETTINGS_MODULE")
        .env_remove("DJANGO_DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "make_fixture.py failed ({}):\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "make_fixture.py printed no JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
