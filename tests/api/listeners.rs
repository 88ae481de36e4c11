//! The two listeners (INTERFACE.md, "Listeners"): the main one serves the
//! contracts, the admin one (`ACCOUNTD_ADMIN_LISTEN`) the operator's surface,
//! and nothing of the latter answers on the former.

use crate::harness::{temp_db, Server};
use serde_json::{json, Value};

fn get(url: &str) -> (u16, Value) {
    let r = reqwest::blocking::get(url).unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

#[test]
fn serve_prints_the_admin_listener_after_the_main_one_on_a_port_of_its_own() {
    let (_db, url) = temp_db();
    let server = Server::start(&url, &[]);
    let admin = server
        .admin_url
        .clone()
        .expect("an `admin listening on` line");
    assert_ne!(admin, server.url);
    assert_eq!(
        get(&format!("{admin}/nothing-here")),
        (404, json!({"error": "not found"}))
    );
    // The admin surface is not on the main listener.
    for path in ["/metrics", "/admin/", "/admin/api/users"] {
        assert_eq!(
            get(&format!("{}{path}", server.url)),
            (404, json!({"detail": "Not found."})),
            "{path}"
        );
    }
    assert_eq!(server.stop(), 0);
}

#[test]
fn admin_listen_off_starts_no_admin_listener() {
    let (_db, url) = temp_db();
    let server = Server::start(&url, &[("ACCOUNTD_ADMIN_LISTEN", "off")]);
    assert_eq!(server.admin_url, None);
    assert_eq!(get(&format!("{}/healthz", server.url)).0, 200);
    assert_eq!(server.stop(), 0);
}
