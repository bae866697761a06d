//! The SMTP relay (lettre) that email links go out through, when `smtp_url` is set.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The SMTP relay, when one is configured.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("configured", &self.transport.is_some()).finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(settings: &crate::config::Settings) -> anyhow::Result<Self> {
        crate::install_crypto_provider();
        let transport = match &settings.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(&url.0)
                    .map_err(|e| anyhow::anyhow!("smtp_url is not usable: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
            ),
            None => None,
        };
        let from =
            settings.mail_from.parse().map_err(|e| anyhow::anyhow!("mail_from `{}`: {e}", settings.mail_from))?;
        Ok(Self { transport, from })
    }

    /// Whether an SMTP relay is configured.
    pub fn configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends in the background; a failure is logged (the address is not).
    pub fn send_later(&self, to: &str, subject: &str, body: String) {
        let Some(transport) = self.transport.clone() else { return };
        let message = to.parse::<Mailbox>().map_err(anyhow::Error::from).and_then(|to| {
            Message::builder().from(self.from.clone()).to(to).subject(subject).body(body).map_err(Into::into)
        });
        tokio::spawn(async move {
            let sent = match message {
                Ok(message) => transport.send(message).await.map(|_| ()).map_err(anyhow::Error::from),
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::error!("cannot send email: {e}");
            }
        });
    }
}
