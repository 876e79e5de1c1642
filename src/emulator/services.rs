//! The Verify services of the emulated account (`GET /v2/Services`, `/v2/Services/{Sid}`), as
//! Twilio's Verify API describes them: the dataset's three service SIDs, with names.

use serde::Serialize;
use serde_json::json;

use super::dataset::{Dataset, format_sid};
use crate::model::twilio_time;

/// The friendly names of the dataset's services, in the order of `Dataset::service_sids`
/// (the second carries the sign-ups that SMS pumping targets).
pub const SERVICE_NAMES: [&str; 3] = ["Login OTP", "Sign-up", "Password reset"];

/// One service as the API shows it.
#[derive(Serialize)]
pub struct ServiceView {
    sid: String,
    account_sid: String,
    friendly_name: String,
    code_length: u8,
    lookup_enabled: bool,
    psd2_enabled: bool,
    skip_sms_to_landlines: bool,
    dtmf_input_required: bool,
    tts_name: Option<String>,
    do_not_share_warning_enabled: bool,
    custom_code_enabled: bool,
    push: serde_json::Value,
    totp: serde_json::Value,
    default_template_sid: Option<String>,
    whatsapp: serde_json::Value,
    verify_event_subscription_enabled: bool,
    date_created: String,
    date_updated: String,
    url: String,
    links: serde_json::Value,
}

/// The services of `dataset`, created the week before its window.
pub fn services(dataset: &Dataset, base_url: &str) -> Vec<ServiceView> {
    let window_start = dataset.records.first().map_or(0, |r| r.created);
    let created = chrono::DateTime::from_timestamp(window_start - 7 * 24 * 3600, 0).unwrap_or_default();
    let created = twilio_time::format(&created);
    dataset
        .service_sids
        .iter()
        .zip(SERVICE_NAMES)
        .map(|(bits, name)| {
            let sid = format_sid("VA", *bits);
            let url = format!("{base_url}/v2/Services/{sid}");
            let link = |path: &str| format!("{url}/{path}");
            ServiceView {
                account_sid: dataset.account_sid.clone(),
                friendly_name: name.to_string(),
                code_length: 6,
                lookup_enabled: false,
                psd2_enabled: false,
                skip_sms_to_landlines: false,
                dtmf_input_required: true,
                tts_name: None,
                do_not_share_warning_enabled: false,
                custom_code_enabled: false,
                push: json!({"include_date": false, "apn_credential_sid": null, "fcm_credential_sid": null}),
                totp: json!({"issuer": name, "time_step": 30, "code_length": 6, "skew": 1}),
                default_template_sid: None,
                whatsapp: json!({"msg_service_sid": null, "from": null}),
                verify_event_subscription_enabled: false,
                date_created: created.clone(),
                date_updated: created.clone(),
                links: json!({
                    "verification_checks": link("VerificationCheck"),
                    "verifications": link("Verifications"),
                    "rate_limits": link("RateLimits"),
                    "messaging_configurations": link("MessagingConfigurations"),
                    "entities": link("Entities"),
                    "webhooks": link("Webhooks"),
                    "access_tokens": link("AccessTokens"),
                }),
                url,
                sid,
            }
        })
        .collect()
}
