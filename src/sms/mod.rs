//! SMS delivery behind the domain's `SmsSender`: `console` for development,
//! `webhook` to hand messages to any HTTP endpoint, and the real gateways
//! `twilio` and `africastalking`. No sender logs or reports a credential.

mod africastalking;
mod console;
mod twilio;
mod webhook;

pub use africastalking::AfricasTalkingSms;
pub use console::ConsoleSms;
pub use twilio::TwilioSms;
pub use webhook::WebhookSms;

use crate::config::{Config, SmsProvider};
use crate::domain::ports::SmsSender;
use std::sync::Arc;
use std::time::Duration;

/// The sender the configuration names.
pub fn from_config(config: &Config) -> Result<Arc<dyn SmsSender>, String> {
    let timeout = Duration::from_secs(config.sms_timeout_seconds);
    Ok(match &config.sms {
        SmsProvider::Console => Arc::new(ConsoleSms),
        SmsProvider::Webhook { url } => Arc::new(WebhookSms::new(url, timeout)?),
        SmsProvider::Twilio(c) => Arc::new(TwilioSms::new(c, timeout)?),
        SmsProvider::AfricasTalking(c) => Arc::new(AfricasTalkingSms::new(c, timeout)?),
    })
}

/// An HTTP client for gateways: rustls, a timeout on the whole exchange.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the SMS HTTP client: {e}"))
}
