//! Sending queued messages: each due message to its destination, retried with capped,
//! jittered backoff, every try in the delivery log. A message is marked delivered only after
//! its destination accepted it, so one cut off by a stop is sent again, with the same
//! idempotency key, after the restart.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AlertError;
use super::destinations::{DestinationKind, Destinations, address_allowed, check_url};
use super::message::Message;
use super::store::{self, StoredMessage};
use crate::model::twilio_time;
use crate::store::Store;

/// The header with the webhook's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>` of
/// `<t>.<body>` under the shared secret.
pub const SIGNATURE_HEADER: &str = "Verilens-Signature";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// How failed deliveries are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles with each further one.
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// Tries before giving up.
    pub max_tries: i64,
    /// How long one try may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_wait: Duration::from_secs(15),
            max_wait: Duration::from_secs(30 * 60),
            max_tries: 12,
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `tries + 1`, after `tries` failures: doubling from `first_wait`,
    /// capped at `max_wait`, less up to a fifth at random so that receivers coming back are
    /// not hit by every sender at once.
    pub fn wait_after(&self, tries: i64, jitter: f64) -> Duration {
        let doubled = self.first_wait.saturating_mul(1u32 << tries.clamp(0, 20) as u32);
        let capped = doubled.min(self.max_wait);
        capped.mul_f64(1.0 - 0.2 * jitter.clamp(0.0, 1.0))
    }
}

/// Sends every message due at `now`; returns how many were tried.
pub async fn deliver_due(
    snapshot: &Store,
    destinations: &Destinations,
    retry: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<usize, AlertError> {
    let due = store::due_messages(snapshot, &twilio_time::format(&now), 100).await?;
    for message in &due {
        let outcome = send(destinations, retry, message).await;
        let at = twilio_time::format(&now);
        let recorded = match outcome {
            Ok(detail) => Ok(detail),
            Err(error) if message.tries + 1 >= retry.max_tries => Err((error, None)),
            Err(error) => {
                let wait = retry.wait_after(message.tries, rand::random::<f64>());
                let next = now + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::minutes(30));
                tracing::warn!(
                    "alert message {} to {} failed (try {}): {error}; next try at {}",
                    message.id,
                    message.destination.as_str(),
                    message.tries + 1,
                    twilio_time::format(&next)
                );
                Err((error, Some(twilio_time::format(&next))))
            }
        };
        store::record_try(snapshot, message.id, &at, recorded).await?;
    }
    Ok(due.len())
}

/// One try of one message; the error says what failed without the destination's URL.
async fn send(destinations: &Destinations, retry: &RetryPolicy, stored: &StoredMessage) -> Result<String, String> {
    let message = &stored.message;
    match stored.destination {
        DestinationKind::Inbox => Ok("in the inbox".into()),
        DestinationKind::Slack => {
            let url = destinations.slack_url.as_ref().ok_or("Slack is not configured (VERILENS_SLACK_WEBHOOK_URL)")?;
            let body = serde_json::to_vec(&message.slack_payload()).map_err(|e| e.to_string())?;
            post(&url.0, destinations, retry, body, Vec::new()).await
        }
        DestinationKind::Webhook => {
            let url = destinations
                .webhook_url
                .as_ref()
                .ok_or("the webhook is not configured (VERILENS_ALERT_WEBHOOK_URL)")?;
            let secret = destinations.webhook_secret.as_ref().ok_or("the webhook has no signing secret")?;
            let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
            // The time of this try, whatever the pass's: a receiver checks it is recent.
            let timestamp = Utc::now().timestamp();
            let headers = vec![
                (SIGNATURE_HEADER, format!("t={timestamp},v1={}", sign(&secret.0, timestamp, &body))),
                (IDEMPOTENCY_HEADER, message.idempotency_key.clone()),
            ];
            post(&url.0, destinations, retry, body, headers).await
        }
        DestinationKind::Email => send_email(destinations, retry, stored).await,
    }
}

/// The webhook signature: hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The addresses `url`'s host resolves to, each allowed by the policy (checked at each
/// delivery, so a name that comes to point at a private address is refused then).
async fn allowed_addresses(host: &str, port: u16, destinations: &Destinations) -> Result<Vec<SocketAddr>, String> {
    let addresses: Vec<SocketAddr> =
        tokio::net::lookup_host((host, port)).await.map_err(|_| format!("cannot resolve {host}"))?.collect();
    if addresses.is_empty() {
        return Err(format!("{host} has no address"));
    }
    for address in &addresses {
        address_allowed(address.ip(), destinations.policy).map_err(|e| format!("refused: {host} {e}"))?;
    }
    Ok(addresses)
}

async fn post(
    url: &str,
    destinations: &Destinations,
    retry: &RetryPolicy,
    body: Vec<u8>,
    headers: Vec<(&str, String)>,
) -> Result<String, String> {
    let parsed = check_url(url, destinations.policy)?;
    let host = parsed.host_str().ok_or("the URL has no host")?.trim_matches(['[', ']']).to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = allowed_addresses(&host, port, destinations).await?;
    // Connect to the addresses checked, not to whatever the name resolves to next.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(retry.timeout)
        .resolve_to_addrs(&host, &addresses)
        .user_agent(concat!("verilens/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.without_url().to_string())?;
    let mut request = client.post(parsed).header("content-type", "application/json").body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| format!("not delivered: {}", e.without_url()))?;
    let status = response.status();
    if status.is_success() { Ok(format!("HTTP {}", status.as_u16())) } else { Err(format!("HTTP {}", status.as_u16())) }
}

async fn send_email(
    destinations: &Destinations,
    retry: &RetryPolicy,
    stored: &StoredMessage,
) -> Result<String, String> {
    use lettre::message::{Mailbox, MultiPart};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let url = destinations.smtp_url.as_ref().ok_or("e-mail is not configured (VERILENS_SMTP_URL)")?;
    let from: Mailbox = destinations
        .email_from
        .as_deref()
        .ok_or("e-mail has no sender (VERILENS_ALERT_EMAIL_FROM)")?
        .parse()
        .map_err(|_| "the sender is not an e-mail address")?;
    let parsed = reqwest::Url::parse(&url.0).map_err(|_| "the SMTP URL does not parse")?;
    let host = parsed.host_str().ok_or("the SMTP URL has no host")?.trim_matches(['[', ']']).to_string();
    allowed_addresses(&host, parsed.port().unwrap_or(25), destinations).await?;
    let message: &Message = &stored.message;
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(message.subject())
        .message_id(Some(format!("<{}@verilens>", message.idempotency_key)))
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
    let mut any = false;
    for to in stored.recipients.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        builder = builder.to(to.parse::<Mailbox>().map_err(|_| format!("\"{to}\" is not an e-mail address"))?);
        any = true;
    }
    if !any {
        return Err("the rule names no recipient".into());
    }
    let email = builder
        .multipart(MultiPart::alternative_plain_html(message.plain_text(), message.html()))
        .map_err(|e| format!("the e-mail could not be built: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url.0)
        .map_err(|_| "the SMTP URL is not one lettre can use")?
        .timeout(Some(retry.timeout))
        .build();
    match transport.send(email).await {
        Ok(response) => Ok(format!("SMTP {}", response.code())),
        Err(e) => Err(format!("SMTP: {}", smtp_error(&e))),
    }
}

/// An SMTP error in words, without the server's address or credentials.
fn smtp_error(error: &lettre::transport::smtp::Error) -> String {
    match error.status() {
        Some(code) => format!("the server answered {code}"),
        None if error.is_timeout() => "timed out".into(),
        None if error.is_tls() => "TLS failed".into(),
        None => "the connection failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_less_at_most_a_fifth() {
        let policy = RetryPolicy {
            first_wait: Duration::from_secs(10),
            max_wait: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.wait_after(0, 0.0), Duration::from_secs(10));
        assert_eq!(policy.wait_after(1, 0.0), Duration::from_secs(20));
        assert_eq!(policy.wait_after(2, 0.0), Duration::from_secs(40));
        assert_eq!(policy.wait_after(3, 0.0), Duration::from_secs(60));
        assert_eq!(policy.wait_after(30, 0.0), Duration::from_secs(60));
        assert_eq!(policy.wait_after(0, 1.0), Duration::from_secs(8));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac secret`
        assert_eq!(
            sign("secret", 1700000000, b"{}"),
            "b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }
}
