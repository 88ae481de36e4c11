//! Prometheus metrics (INTERFACE.md, "Observability"), served at
//! `GET /metrics` on the admin listener.
//!
//! prometheus-client (the Prometheus project's own Rust client) rather than
//! the `metrics` facade: its registry is a value, not a process-wide
//! recorder, so each server (and each test server in one test process)
//! counts only its own requests, and label sets are typed structs checked by
//! the compiler. Counting a request costs a read lock, one hash lookup per
//! family and an atomic add; no allocation once a label set exists.

use crate::domain::audit::{AuditEvent, EventSink};
use crate::domain::phone::Phone;
use crate::domain::ports::{SmsError, SmsSender};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// The `Content-Type` of what `render` writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    contract: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    contract: &'static str,
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    contract: &'static str,
    event: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SmsLabels {
    provider: &'static str,
    outcome: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Request latencies from 0.5 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The counters of one server.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily,
    auth_events: Family<EventLabels, Counter>,
    sms_sends: Family<SmsLabels, Counter>,
    hash_waiting: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = HistogramFamily::new_with_constructor(latency_histogram);
        let auth_events = Family::<EventLabels, Counter>::default();
        let sms_sends = Family::<SmsLabels, Counter>::default();
        let hash_waiting = Gauge::default();
        let mut registry = Registry::with_prefix("accountd");
        // Counters are registered without `_total`: the encoder appends it.
        registry.register(
            "http_requests",
            "HTTP requests answered, by contract, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by contract and route",
            durations.clone(),
        );
        registry.register(
            "auth_events",
            "Auth events (the audit trail's), by contract, event and outcome",
            auth_events.clone(),
        );
        registry.register(
            "sms_sends",
            "SMS messages handed to the provider, by provider and outcome",
            sms_sends.clone(),
        );
        registry.register(
            "password_hash_waiting",
            "Password checks waiting for a hash worker",
            hash_waiting.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            auth_events,
            sms_sends,
            hash_waiting,
        }
    }

    /// One answered request. `route` is the matched route (never the raw
    /// path: a client must not be able to mint label values).
    pub fn request(
        &self,
        contract: &'static str,
        route: &'static str,
        status: u16,
        took: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                contract,
                route,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { contract, route })
            .observe(took.as_secs_f64());
    }

    fn auth_event(&self, e: &AuditEvent) {
        self.auth_events
            .get_or_create(&EventLabels {
                contract: e.contract,
                event: e.event.as_str(),
                outcome: e.outcome,
            })
            .inc();
    }

    fn sms_send(&self, provider: &'static str, outcome: &'static str) {
        self.sms_sends
            .get_or_create(&SmsLabels { provider, outcome })
            .inc();
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, hash_waiting: usize) -> String {
        self.hash_waiting
            .set(i64::try_from(hash_waiting).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// An event sink that counts each event, then hands it on.
pub struct CountedEvents {
    pub inner: Arc<dyn EventSink>,
    pub metrics: Arc<Metrics>,
}

#[async_trait::async_trait]
impl EventSink for CountedEvents {
    fn emit(&self, event: AuditEvent) {
        self.metrics.auth_event(&event);
        self.inner.emit(event);
    }

    async fn flush(&self) {
        self.inner.flush().await
    }
}

/// An SMS sender that counts each send by its outcome.
pub struct CountedSms {
    pub inner: Arc<dyn SmsSender>,
    pub provider: &'static str,
    pub metrics: Arc<Metrics>,
}

#[async_trait::async_trait]
impl SmsSender for CountedSms {
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError> {
        let result = self.inner.send(to, message).await;
        let outcome = if result.is_ok() { "sent" } else { "failed" };
        self.metrics.sms_send(self.provider, outcome);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_families_interface_md_names() {
        let m = Metrics::new();
        m.request("simple", "/api/login", 401, Duration::from_millis(3));
        m.sms_send("webhook", "failed");
        let text = m.render(7);
        for line in [
            "accountd_http_requests_total{contract=\"simple\",route=\"/api/login\",status=\"401\"} 1",
            "accountd_http_request_duration_seconds_count{contract=\"simple\",route=\"/api/login\"} 1",
            "accountd_http_request_duration_seconds_bucket{le=\"0.004\",contract=\"simple\",route=\"/api/login\"} 1",
            "accountd_sms_sends_total{provider=\"webhook\",outcome=\"failed\"} 1",
            "accountd_password_hash_waiting 7",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }
}
