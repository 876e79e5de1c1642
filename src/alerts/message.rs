//! A message as every destination gets it: the webhook's JSON body (schema
//! `verilens.alert.v1`, documented in docs/alerts.md), and the Slack and e-mail renderings of it.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::condition::Evaluation;

pub const SCHEMA: &str = "verilens.alert.v1";

/// One message: a rule that started firing or resolved, a test, or a digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub schema: String,
    /// The same for every delivery of this message to this destination: a receiver drops repeats by it.
    pub idempotency_key: String,
    /// `firing`, `resolved`, `test` or `digest`.
    pub kind: String,
    pub sent_for: SentFor,
    pub view: ViewLink,
    /// The figures, for a rule's message.
    pub evaluation: Option<Evaluation>,
    /// A digest's sections, in order.
    pub sections: Vec<Section>,
    /// One line: what happened.
    pub title: String,
    /// When it happened (the evaluation's time), ISO 8601 UTC.
    pub at: String,
}

/// The rule or digest a message is for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SentFor {
    /// `rule` or `digest`.
    pub kind: String,
    pub id: i64,
    pub name: String,
    /// The rule's condition in words, or the digest's schedule.
    pub condition: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewLink {
    pub id: i64,
    pub name: String,
    /// The view with the range fixed to the dates the figures cover.
    pub url: String,
}

/// A digest section: a heading and its lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub heading: String,
    pub lines: Vec<String>,
}

impl Message {
    /// The lines a human reads: the figures of a rule's evaluation, or a digest's sections.
    pub fn detail_lines(&self) -> Vec<(String, String)> {
        let Some(e) = &self.evaluation else {
            return Vec::new();
        };
        let number = |v: f64| {
            if e.unit == "%" || e.unit == "points" { format!("{v:.1}") } else { format!("{v:.2}") }
        };
        let unit = |v: f64| match e.unit.as_str() {
            "%" => format!("{}%", number(v)),
            "points" => format!("{} points", number(v)),
            "anomalies" => format!("{v:.0}"),
            currency => format!("{} {currency}", number(v)),
        };
        let mut lines = Vec::new();
        if let Some(v) = e.value {
            lines.push(("Value".to_string(), unit(v)));
        }
        if let Some(t) = e.threshold.filter(|_| e.unit != "anomalies") {
            lines.push(("Threshold".to_string(), unit(t)));
        }
        if let Some(p) = e.previous {
            lines.push(("Previous period".to_string(), format!("{p:.1}%")));
        }
        if let Some((low, high)) = e.interval {
            lines.push(("95% interval".to_string(), format!("{low:.1}% – {high:.1}%")));
        }
        if let Some(p) = e.p_value {
            lines.push(("p-value".to_string(), crate::format::format_p_value(p)));
        }
        lines.push(("Verifications".to_string(), crate::format::format_count(e.verifications)));
        lines.push((
            "Window".to_string(),
            format!("{} to {} UTC", short_time(&e.window_start), short_time(&e.window_end)),
        ));
        lines
    }

    /// The text every rendering leads with.
    pub fn headline(&self) -> String {
        match &self.evaluation {
            Some(e) => format!("{}: {}", self.title, e.summary),
            None => self.title.clone(),
        }
    }

    /// Slack's incoming-webhook body: Block Kit blocks, with `text` as the notification's fallback.
    pub fn slack_payload(&self) -> serde_json::Value {
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": clip(&self.title, 150), "emoji": false}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&slack_escape(&self.headline()), 3000)}}),
        ];
        let fields: Vec<serde_json::Value> = self
            .detail_lines()
            .into_iter()
            .take(10)
            .map(|(k, v)| json!({"type": "mrkdwn", "text": clip(&format!("*{}*\n{}", slack_escape(&k), slack_escape(&v)), 2000)}))
            .collect();
        if !fields.is_empty() {
            blocks.push(json!({"type": "section", "fields": fields}));
        }
        if let Some(e) = &self.evaluation {
            for anomaly in e.anomalies.iter().take(5) {
                blocks.push(
                    json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&slack_escape(anomaly), 3000)}}),
                );
            }
        }
        for section in self.sections.iter().take(20) {
            let body = section.lines.iter().map(|l| format!("• {}", slack_escape(l))).collect::<Vec<_>>().join("\n");
            let text = format!(
                "*{}*\n{}",
                slack_escape(&section.heading),
                if body.is_empty() { "Nothing".into() } else { body }
            );
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&text, 3000)}}));
        }
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open the view"},
            "url": clip(&self.view.url, 3000),
        }]}));
        blocks.push(json!({"type": "context", "elements": [{
            "type": "mrkdwn",
            "text": clip(&format!("{} · {} · {}", slack_escape(&self.view.name), slack_escape(&self.sent_for.condition), self.at), 3000),
        }]}));
        json!({"text": clip(&self.headline(), 3000), "blocks": blocks})
    }

    /// The e-mail's subject.
    pub fn subject(&self) -> String {
        clip(&format!("[verilens] {}", self.title), 200).replace(['\r', '\n'], " ")
    }

    /// The e-mail's plain-text body.
    pub fn plain_text(&self) -> String {
        let mut text = format!("{}\n\n", self.headline());
        for (k, v) in self.detail_lines() {
            text.push_str(&format!("{k}: {v}\n"));
        }
        if let Some(e) = &self.evaluation {
            for a in &e.anomalies {
                text.push_str(&format!("- {a}\n"));
            }
        }
        for section in &self.sections {
            text.push_str(&format!("\n{}\n", section.heading));
            for line in &section.lines {
                text.push_str(&format!("- {line}\n"));
            }
        }
        text.push_str(&format!(
            "\nView: {} ({})\nCondition: {}\nIdempotency key: {}\n",
            self.view.name, self.view.url, self.sent_for.condition, self.idempotency_key
        ));
        text
    }

    /// The e-mail's HTML body.
    pub fn html(&self) -> String {
        maud::html! {
            html {
                body style="font-family: sans-serif" {
                    h1 style="font-size: 18px" { (self.title) }
                    @if let Some(e) = &self.evaluation { p { (e.summary) } }
                    table {
                        @for (k, v) in self.detail_lines() { tr { th style="text-align:left" { (k) } td { (v) } } }
                    }
                    @if let Some(e) = &self.evaluation { ul { @for a in &e.anomalies { li { (a) } } } }
                    @for section in &self.sections {
                        h2 style="font-size: 15px" { (section.heading) }
                        ul { @for line in &section.lines { li { (line) } } }
                    }
                    p { a href=(self.view.url) { "Open " (self.view.name) } }
                    p style="color:#666;font-size:12px" { (self.sent_for.condition) " · " (self.idempotency_key) }
                }
            }
        }
        .into_string()
    }
}

fn short_time(iso: &str) -> String {
    iso.get(..16).unwrap_or(iso).replace('T', " ")
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters: names with them stay text.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(max - 1).collect();
    clipped.push('…');
    clipped
}
