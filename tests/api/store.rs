//! The `Store` itself, on the backend under test: what no HTTP scenario
//! reaches directly.

use crate::harness::TestApp;
use accountd::domain::phone::Phone;
use accountd::domain::ports::{LoginAttempt, OtpReservation, Reserved};

#[tokio::test]
async fn prune_removes_expired_rows_and_keeps_live_ones() {
    let app = TestApp::spawn().await;
    let user = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let store = app.state.accounts.store();
    let now = app.now();
    let phone = Phone::parse("+12025550123").unwrap();
    store
        .record_refresh_token("a", user.id, now, now + 10)
        .await
        .unwrap();
    store
        .record_refresh_token("b", user.id, now, now + 1_000_000)
        .await
        .unwrap();
    assert!(store.blacklist("a", user.id, now + 10, now).await.unwrap());
    assert!(!store.blacklist("a", user.id, now + 10, now).await.unwrap());
    assert_eq!(
        store
            .reserve_login_attempt("ann", now, now - 900, 10)
            .await
            .unwrap(),
        LoginAttempt::Counted
    );
    let reserved = store
        .reserve_otp(&OtpReservation {
            phone: &phone,
            purpose: "login",
            code_hash: "h",
            now,
            expires_at: now + 300,
            resend_after: now - 60,
            window_start: now - 3600,
            max_in_window: 5,
        })
        .await
        .unwrap();
    assert!(matches!(reserved, Reserved::Granted(_)), "{reserved:?}");
    // Nothing has expired yet (the server's own pruner may have run first).
    assert_eq!(store.prune(now).await.unwrap(), 0);
    assert!(store.is_blacklisted("a").await.unwrap());
    // A day and more later: token "a", its blacklist entry, the failure and
    // the code go; token "b" stays.
    assert_eq!(store.prune(now + 86_401).await.unwrap(), 4);
    assert!(!store.is_blacklisted("a").await.unwrap());
    assert_eq!(
        store.login_failures("ann", now - 1).await.unwrap(),
        (0, None)
    );
}

#[tokio::test]
async fn login_attempts_are_counted_up_to_the_limit_then_refused_with_the_oldest() {
    let app = TestApp::spawn().await;
    let store = app.state.accounts.store();
    let now = app.now();
    for i in 0..3 {
        assert_eq!(
            store
                .reserve_login_attempt("k", now + i, now - 900, 3)
                .await
                .unwrap(),
            LoginAttempt::Counted
        );
    }
    assert_eq!(
        store
            .reserve_login_attempt("k", now + 5, now - 900, 3)
            .await
            .unwrap(),
        LoginAttempt::Throttled { oldest: now }
    );
    // Another key is its own count; clearing frees the key at once.
    assert_eq!(
        store
            .reserve_login_attempt("other", now, now - 900, 3)
            .await
            .unwrap(),
        LoginAttempt::Counted
    );
    store.clear_login_failures("k").await.unwrap();
    assert_eq!(
        store
            .reserve_login_attempt("k", now + 6, now - 900, 3)
            .await
            .unwrap(),
        LoginAttempt::Counted
    );
}
