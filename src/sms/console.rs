//! `console`: the message is written to the log instead of sent. For
//! development only: the log then holds live codes.

use crate::domain::phone::Phone;
use crate::domain::ports::{SmsError, SmsSender};
use async_trait::async_trait;

#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleSms;

#[async_trait]
impl SmsSender for ConsoleSms {
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError> {
        tracing::info!(target: "accountd::sms", to = %to, message, "sms (console provider: not sent)");
        Ok(())
    }
}
