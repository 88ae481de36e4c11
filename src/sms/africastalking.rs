//! `africastalking`: Africa's Talking SMS API. Each message is
//! `POST {base}/version1/messaging` with headers `apiKey` and
//! `Accept: application/json`, form fields `username`, `to`, `message` and,
//! when configured, `from`. The answer is
//! `{"SMSMessageData": {"Message": "…", "Recipients": [{"statusCode": 101,
//! "status": "Success", …}]}}`; the message went out only if the one
//! recipient's statusCode is 100 (Processed), 101 (Sent) or 102 (Queued),
//! whatever the HTTP status says.

use crate::config::AfricasTalkingConfig;
use crate::domain::phone::Phone;
use crate::domain::ports::{SmsError, SmsSender};
use async_trait::async_trait;
use reqwest::header::{HeaderValue, ACCEPT};
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AfricasTalkingSms {
    url: reqwest::Url,
    username: String,
    /// Marked sensitive, so `Debug` and the client's own logs hide it.
    api_key: HeaderValue,
    from: Option<String>,
    client: reqwest::Client,
}

impl AfricasTalkingSms {
    pub fn new(config: &AfricasTalkingConfig, timeout: Duration) -> Result<Self, String> {
        let url = format!(
            "{}/version1/messaging",
            config.base_url.trim_end_matches('/')
        );
        let url = reqwest::Url::parse(&url)
            .map_err(|e| format!("ACCOUNTD_AFRICASTALKING_BASE_URL: {e}"))?;
        let mut api_key = HeaderValue::from_str(config.api_key.expose().trim())
            .map_err(|_| "ACCOUNTD_AFRICASTALKING_API_KEY: not a valid header value".to_owned())?;
        api_key.set_sensitive(true);
        Ok(Self {
            url,
            username: config.username.trim().to_owned(),
            api_key,
            from: config.from.as_ref().map(|f| f.trim().to_owned()),
            client: super::http_client(timeout)?,
        })
    }
}

/// The first recipient's outcome: Ok, or the gateway's words for the failure.
fn outcome(body: &Value) -> Result<(), String> {
    let data = &body["SMSMessageData"];
    let Some(first) = data["Recipients"].as_array().and_then(|r| r.first()) else {
        // No recipient: the whole request was refused ("InvalidSenderId", …).
        return Err(format!("no recipient accepted: {}", data["Message"]));
    };
    match first["statusCode"].as_i64() {
        Some(100..=102) => Ok(()),
        // Without a code, the status word alone decides.
        None if first["status"] == "Success" => Ok(()),
        code => Err(format!(
            "recipient status {} ({})",
            code.map(|c| c.to_string()).unwrap_or_else(|| "none".into()),
            first["status"]
        )),
    }
}

#[async_trait]
impl SmsSender for AfricasTalkingSms {
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError> {
        let mut form = vec![
            ("username", self.username.as_str()),
            ("to", to.as_str()),
            ("message", message),
        ];
        if let Some(from) = &self.from {
            form.push(("from", from));
        }
        let response = self
            .client
            .post(self.url.clone())
            .header("apiKey", self.api_key.clone())
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| SmsError(format!("africastalking: {}", e.without_url())))?;
        let status = response.status();
        // A refused key answers 401 in plain text; anything not JSON is a failure.
        let body = response.json::<Value>().await.map_err(|_| {
            SmsError(format!(
                "africastalking answered {status} without a JSON body"
            ))
        })?;
        outcome(&body).map_err(|e| SmsError(format!("africastalking answered {status}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_processed_sent_or_queued_recipients_count_as_sent() {
        let answer = |code: i64, status: &str| {
            json!({"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [
                {"statusCode": code, "number": "+255712345678", "status": status,
                 "cost": "TZS 20.0000", "messageId": "ATXid_1"}]}})
        };
        for code in [100, 101, 102] {
            assert_eq!(outcome(&answer(code, "Success")), Ok(()));
        }
        for (code, status) in [
            (403, "InvalidPhoneNumber"),
            (405, "InsufficientBalance"),
            (500, "InternalServerError"),
        ] {
            assert!(outcome(&answer(code, status)).is_err());
        }
        assert!(outcome(
            &json!({"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}})
        )
        .is_err());
        assert!(outcome(&json!({})).is_err());
    }
}
