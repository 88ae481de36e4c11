//! `webhook`: each message is POSTed as JSON `{"to": "+E164", "message": "…"}`;
//! any non-2xx answer, timeout or connection error is a failed send
//! (INTERFACE.md, ACCOUNTD_SMS_WEBHOOK_URL).

use crate::domain::phone::Phone;
use crate::domain::ports::{SmsError, SmsSender};
use async_trait::async_trait;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WebhookSms {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl WebhookSms {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("ACCOUNTD_SMS_WEBHOOK_URL: {e}"))?;
        Ok(Self {
            url,
            client: super::http_client(timeout)?,
        })
    }
}

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError> {
        let body = serde_json::json!({ "to": to.as_str(), "message": message });
        // Errors name the host only: a URL may carry credentials in its query.
        let host = self.url.host_str().unwrap_or("webhook").to_owned();
        let response = self
            .client
            .post(self.url.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| SmsError(format!("webhook {host}: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SmsError(format!("webhook {host} answered {status}")))
        }
    }
}
