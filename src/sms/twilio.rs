//! `twilio`: Twilio's Messages API. Each message is
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic
//! auth with the Account SID and Auth Token, form fields `To`, `From` (or
//! `MessagingServiceSid` when the sender is a Messaging Service, `MG…`) and
//! `Body`. Only `201 Created` means Twilio accepted the message.

use crate::config::TwilioConfig;
use crate::domain::phone::Phone;
use crate::domain::ports::{SmsError, SmsSender};
use crate::domain::secret::Secret;
use async_trait::async_trait;
use std::time::Duration;

/// Who the message is from, as Twilio names it.
#[derive(Debug, Clone)]
enum Sender {
    From(String),
    MessagingService(String),
}

#[derive(Debug, Clone)]
pub struct TwilioSms {
    url: reqwest::Url,
    account_sid: String,
    auth_token: Secret,
    sender: Sender,
    client: reqwest::Client,
}

impl TwilioSms {
    pub fn new(config: &TwilioConfig, timeout: Duration) -> Result<Self, String> {
        let sid = config.account_sid.trim();
        // The SID goes into the path: letters and digits only (AC + 32 hex).
        if sid.is_empty() || !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("ACCOUNTD_TWILIO_ACCOUNT_SID: letters and digits only".into());
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{sid}/Messages.json",
            config.base_url.trim_end_matches('/')
        );
        let url =
            reqwest::Url::parse(&url).map_err(|e| format!("ACCOUNTD_TWILIO_BASE_URL: {e}"))?;
        let from = config.from.trim();
        let sender = if from.starts_with("MG") && from.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Sender::MessagingService(from.to_owned())
        } else {
            Sender::From(from.to_owned())
        };
        Ok(Self {
            url,
            account_sid: sid.to_owned(),
            auth_token: config.auth_token.clone(),
            sender,
            client: super::http_client(timeout)?,
        })
    }
}

#[async_trait]
impl SmsSender for TwilioSms {
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError> {
        let sender = match &self.sender {
            Sender::From(f) => ("From", f.as_str()),
            Sender::MessagingService(s) => ("MessagingServiceSid", s.as_str()),
        };
        let form = [("To", to.as_str()), sender, ("Body", message)];
        let response = self
            .client
            .post(self.url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| SmsError(format!("twilio: {}", e.without_url())))?;
        let status = response.status();
        if status == reqwest::StatusCode::CREATED {
            return Ok(());
        }
        // Twilio's error body: {"code": 21211, "message": "…", "status": 400, …}.
        // Its code says what went wrong; its text is the gateway's, not ours.
        let detail = match response.json::<serde_json::Value>().await {
            Ok(v) => match (v["code"].as_i64(), v["message"].as_str()) {
                (Some(code), Some(text)) => {
                    format!(
                        ": error {code}: {}",
                        text.chars().take(200).collect::<String>()
                    )
                }
                (Some(code), None) => format!(": error {code}"),
                _ => String::new(),
            },
            Err(_) => String::new(),
        };
        Err(SmsError(format!("twilio answered {status}{detail}")))
    }
}
