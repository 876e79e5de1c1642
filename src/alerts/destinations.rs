//! Where messages go, as the operator configured them: the in-app inbox, a Slack incoming
//! webhook, a signed webhook, e-mail over SMTP. The URLs and the SMTP password are secrets:
//! they come from the environment or the config file and are never shown back in full.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A kind of destination a rule or digest can send to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    Inbox,
    Slack,
    Webhook,
    Email,
}

impl DestinationKind {
    pub const ALL: [DestinationKind; 4] =
        [DestinationKind::Inbox, DestinationKind::Slack, DestinationKind::Webhook, DestinationKind::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Inbox => "inbox",
            DestinationKind::Slack => "slack",
            DestinationKind::Webhook => "webhook",
            DestinationKind::Email => "email",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DestinationKind::Inbox => "In-app inbox",
            DestinationKind::Slack => "Slack",
            DestinationKind::Webhook => "Webhook",
            DestinationKind::Email => "E-mail",
        }
    }

    pub fn parse(text: &str) -> Option<DestinationKind> {
        DestinationKind::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// A secret string: its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Which addresses a destination may have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// `http://` to a loopback address (a receiver on the same machine).
    pub allow_loopback: bool,
    /// Private, link-local and other non-public addresses.
    pub allow_private: bool,
}

/// The operator's destinations.
#[derive(Clone, Debug, Default)]
pub struct Destinations {
    pub slack_url: Option<Secret>,
    pub webhook_url: Option<Secret>,
    pub webhook_secret: Option<Secret>,
    /// `smtp://user:password@host:port` (`?tls=required` for STARTTLS), or `smtps://` for TLS.
    pub smtp_url: Option<Secret>,
    pub email_from: Option<String>,
    pub policy: AddressPolicy,
}

impl Destinations {
    /// The destinations, checked: each URL parses, has an allowed scheme, and names no
    /// address the policy refuses; a webhook has its signing secret; e-mail has a sender.
    /// An error names the setting, never its value.
    pub fn checked(self) -> Result<Destinations, String> {
        if let Some(url) = &self.slack_url {
            check_url(&url.0, self.policy)
                .map_err(|e| format!("VERILENS_SLACK_WEBHOOK_URL (--slack-webhook-url): {e}"))?;
        }
        if let Some(url) = &self.webhook_url {
            check_url(&url.0, self.policy)
                .map_err(|e| format!("VERILENS_ALERT_WEBHOOK_URL (--alert-webhook-url): {e}"))?;
            match &self.webhook_secret {
                Some(secret) if secret.0.chars().count() >= 16 => {}
                _ => {
                    return Err(
                        "VERILENS_ALERT_WEBHOOK_SECRET (--alert-webhook-secret) must be set, 16 characters or more, \
                                to sign the webhook's messages"
                            .into(),
                    );
                }
            }
        }
        if let Some(url) = &self.smtp_url {
            check_smtp_url(&url.0, self.policy).map_err(|e| format!("VERILENS_SMTP_URL (--smtp-url): {e}"))?;
            match &self.email_from {
                Some(from) if from.parse::<lettre::message::Mailbox>().is_ok() => {}
                _ => return Err("VERILENS_ALERT_EMAIL_FROM (--alert-email-from) must be an e-mail address".into()),
            }
        }
        Ok(self)
    }

    /// The kinds configured; the inbox always is.
    pub fn available(&self) -> Vec<DestinationKind> {
        let mut kinds = vec![DestinationKind::Inbox];
        if self.slack_url.is_some() {
            kinds.push(DestinationKind::Slack);
        }
        if self.webhook_url.is_some() {
            kinds.push(DestinationKind::Webhook);
        }
        if self.smtp_url.is_some() {
            kinds.push(DestinationKind::Email);
        }
        kinds
    }

    /// How a page names a destination: its host, never its path or credentials.
    pub fn describe(&self, kind: DestinationKind) -> String {
        let host = |url: &Option<Secret>| {
            url.as_ref()
                .and_then(|u| reqwest::Url::parse(&u.0).ok())
                .and_then(|u| u.host_str().map(|h| format!("{}://{h}/…", u.scheme())))
                .unwrap_or_else(|| "not configured".into())
        };
        match kind {
            DestinationKind::Inbox => "the in-app inbox".into(),
            DestinationKind::Slack => format!("Slack ({})", host(&self.slack_url)),
            DestinationKind::Webhook => format!("Webhook ({})", host(&self.webhook_url)),
            DestinationKind::Email => format!("E-mail via {}", host(&self.smtp_url)),
        }
    }
}

/// Whether an address is one the policy allows a destination to have.
pub fn address_allowed(ip: IpAddr, policy: AddressPolicy) -> Result<(), String> {
    if ip.is_loopback() {
        return if policy.allow_loopback || policy.allow_private {
            Ok(())
        } else {
            Err("it points at this machine (loopback); allow it with --allow-loopback-destinations".into())
        };
    }
    if !is_public(ip) && !policy.allow_private {
        return Err(
            "it points at a private, link-local or reserved address; allow it with --allow-private-destinations".into(),
        );
    }
    Ok(())
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            // Addresses that carry an IPv4 one: mapped, compatible, NAT64 and 6to4.
            if let Some(v4) = v6.to_ipv4() {
                return is_public(IpAddr::V4(v4));
            }
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., a, b, c, d] = v6.octets();
                return is_public(IpAddr::from([a, b, c, d]));
            }
            if segments[0] == 0x2002 {
                let [_, _, a, b, c, d, ..] = v6.octets();
                return is_public(IpAddr::from([a, b, c, d]));
            }
            let first = segments[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || first == 0x2001 && v6.segments()[1] == 0xdb8)
        }
    }
}

/// The address a URL's host names when it is written as one (or is `localhost`). URLs of
/// schemes the URL standard does not know (`smtp`) keep an IP address as text.
fn host_ip(host: &url::Host<&str>) -> Option<IpAddr> {
    match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => Some(IpAddr::from([127, 0, 0, 1])),
        url::Host::Domain(name) => name.trim_matches(['[', ']']).parse().ok(),
    }
}

/// A destination URL: `https`, or `http` to a loopback address when allowed; an address
/// written as an IP is checked now, a name when it is resolved at each delivery.
pub fn check_url(text: &str, policy: AddressPolicy) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|_| "not a URL".to_string())?;
    let host = url.host().ok_or_else(|| "the URL has no host".to_string())?;
    let ip = host_ip(&host);
    match url.scheme() {
        "https" => {}
        "http" if ip.is_some_and(|ip| ip.is_loopback()) && (policy.allow_loopback || policy.allow_private) => {}
        "http" => return Err("the URL must be https (http only to a loopback address, when allowed)".into()),
        _ => return Err("the URL must be https".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not carry credentials".into());
    }
    if let Some(ip) = ip {
        address_allowed(ip, policy)?;
    }
    Ok(url)
}

fn check_smtp_url(text: &str, policy: AddressPolicy) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|_| "not a URL".to_string())?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err("the URL must start smtp:// (with ?tls=required for STARTTLS) or smtps://".into());
    }
    let host = url.host().ok_or_else(|| "the URL has no host".to_string())?;
    let ip = host_ip(&host);
    let tls = url.scheme() == "smtps" || url.query_pairs().any(|(k, v)| k == "tls" && v == "required");
    if !tls && !ip.is_some_and(|ip| ip.is_loopback()) {
        return Err("mail to another machine must use TLS: smtps://, or smtp:// with ?tls=required".into());
    }
    if let Some(ip) = ip {
        address_allowed(ip, policy)?;
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(text)
        .map(|_| ())
        .map_err(|_| "lettre cannot use this SMTP URL".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_refuse_what_a_forged_rule_could_reach() {
        let strict = AddressPolicy::default();
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.5/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[fe80::1]/x",
            "https://[::ffff:10.0.0.1]/x",
            "https://[64:ff9b::a9fe:a9fe]/x",
            "https://[2002:a00:1::1]/x",
            "https://192.0.0.8/x",
            "https://user:pw@hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "not a url",
        ] {
            assert!(check_url(bad, strict).is_err(), "{bad}");
        }
        assert!(check_url("https://hooks.slack.com/services/T/B/X", strict).is_ok());
        let loopback = AddressPolicy { allow_loopback: true, allow_private: false };
        assert!(check_url("http://127.0.0.1:9000/hook", loopback).is_ok());
        assert!(check_url("https://192.168.1.1/x", loopback).is_err());
        let private = AddressPolicy { allow_loopback: false, allow_private: true };
        assert!(check_url("https://192.168.1.1/x", private).is_ok());
    }

    #[test]
    fn an_error_never_carries_the_secret() {
        let d = Destinations {
            slack_url: Some(Secret("http://hooks.slack.com/services/T0/B0/sekrit".into())),
            ..Destinations::default()
        };
        let error = d.checked().unwrap_err();
        assert!(!error.contains("sekrit"), "{error}");
        assert_eq!(format!("{:?}", Secret("sekrit".into())), "Secret(***)");
    }
}
