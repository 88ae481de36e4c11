//! The hot paths, measured over real HTTP on loopback against a temp SQLite
//! file: the bare HTTP stack (an unknown path), a refresh, a login, and one
//! argon2id verification alone. A login should cost one hash and little more;
//! a refresh should sit near the bare stack. Run with `cargo bench`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use accountd::app::{App, Overrides};
use accountd::config::Config;
use accountd::domain::clock::{Clock, SystemClock};
use accountd::domain::directory::{self, UserInput};
use accountd::domain::password::PasswordHasher;
use accountd::domain::secret::Secret;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use std::time::Duration;

struct Bench {
    url: String,
    client: reqwest::Client,
    refresh: String,
    _dir: tempfile::TempDir,
}

fn setup(rt: &tokio::runtime::Runtime) -> Bench {
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::from_sources(&[]).unwrap();
        config.database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        config.listen = "127.0.0.1:0".into();
        let app = App::build(config, Overrides::default()).await.unwrap();
        let url = format!("http://{}", app.local_addr().unwrap());
        let store = app.state().accounts.store().clone();
        directory::create_user(
            store.as_ref(),
            UserInput {
                username: Some("bench".into()),
                password: Some(Secret::from("a long bench password")),
                ..UserInput::default()
            },
            SystemClock.now(),
            false,
        )
        .await
        .unwrap();
        tokio::spawn(app.run(std::future::pending()));
        let client = reqwest::Client::new();
        let login: Value = client
            .post(format!("{url}/accounts/login/"))
            .json(&json!({"username": "bench", "password": "a long bench password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Bench {
            url,
            client,
            refresh: login["refresh"].as_str().unwrap().to_owned(),
            _dir: dir,
        }
    })
}

fn hot_paths(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let b = setup(&rt);

    c.bench_function("http_stack_unknown_path", |bench| {
        bench.to_async(&rt).iter(|| async {
            let r = b
                .client
                .post(format!("{}/nope/", b.url))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 404);
            r.bytes().await.unwrap()
        })
    });

    c.bench_function("pixel_genius_refresh", |bench| {
        bench.to_async(&rt).iter(|| async {
            let r = b
                .client
                .post(format!("{}/accounts/refresh/", b.url))
                .json(&json!({"refresh": b.refresh}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap()
        })
    });

    let mut slow = c.benchmark_group("argon2");
    slow.sample_size(20)
        .measurement_time(Duration::from_secs(8));
    slow.bench_function("pixel_genius_login", |bench| {
        bench.to_async(&rt).iter(|| async {
            let r = b
                .client
                .post(format!("{}/accounts/login/", b.url))
                .json(&json!({"username": "bench", "password": "a long bench password"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap()
        })
    });
    let hasher = PasswordHasher::new(1, 64).unwrap();
    let phc = rt
        .block_on(hasher.hash(&Secret::from("a long bench password")))
        .unwrap();
    slow.bench_function("argon2id_verify_alone", |bench| {
        bench.to_async(&rt).iter(|| async {
            assert!(hasher
                .verify(&Secret::from("a long bench password"), Some(&phc))
                .await
                .unwrap()
                .is_right());
        })
    });
    slow.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
