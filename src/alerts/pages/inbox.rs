//! `/alerts/inbox`, and the demo's alert and incident.

use super::*;

pub(super) async fn inbox_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let messages = match store::inbox(&state.store, 100).await {
        Ok(m) => m,
        Err(e) => return failure(e),
    };
    let demo = state.alerts.demo_emulator.is_some() && !state.read_only;
    page(&state, StatusCode::OK, &headers, "Inbox", |token| {
        html! {
            p class="note" { "Messages sent to the in-app inbox, newest first." }
            @if demo {
                section class="demo-incident" aria-label="Demo incident" {
                    p {
                        "Demo: start an SMS-pumping burst in the built-in emulator (Indonesia, for five minutes). "
                        "The demo alert watches conversion in Indonesia over the last 5 minutes: it fires at the first sync "
                        "after the burst starts (the demo syncs every 30 seconds) and resolves about five minutes after it ends."
                    }
                    form method="post" action=(paths::url("/alerts/demo-alert")) class="inline" {
                        (csrf_field(token))
                        button type="submit" data-testid="create-demo-alert" { "Create the demo alert" }
                    }
                    form method="post" action=(paths::url("/alerts/demo-incident")) class="inline" {
                        (csrf_field(token))
                        button type="submit" data-testid="start-incident" { "Start a demo incident" }
                    }
                }
            }
            @if messages.is_empty() {
                p class="empty" data-testid="inbox-empty" { "No messages yet. When an alert fires or resolves, it shows here." }
            } @else {
                ul class="inbox" data-testid="inbox" {
                    @for m in &messages {
                        li data-testid="inbox-message" data-kind=(m.kind) {
                            strong { (m.message.title) }
                            " · " span class="note" { (m.message.at.replace('T', " ").trim_end_matches('Z')) " UTC" }
                            @if let Some(e) = &m.message.evaluation { p { (e.summary) } }
                            @for section in &m.message.sections {
                                h3 { (section.heading) }
                                ul { @for line in &section.lines { li { (line) } } }
                            }
                            p { a href=(m.message.view.url) { "Open " (m.message.view.name) } }
                        }
                    }
                }
            }
        }
    })
}

/// The demo's alert: conversion in Indonesia over the last 5 minutes below 50%, with at least
/// 10 verifications, to the inbox.
pub(super) async fn demo_alert(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    if state.alerts.demo_emulator.is_none() {
        return message_page(StatusCode::NOT_FOUND, "Not found", "The demo alert is for the demo.");
    }
    let now = now_text(&state);
    let created = async {
        let view_id = store::create_view(&state.store, "Indonesia", "country=ID&range=24h", &now).await?;
        let input = RuleInput {
            view_id,
            name: "Conversion in Indonesia (demo)".into(),
            condition: Condition::ConversionBelow { percent: 50.0 },
            min_verifications: 10,
            window_minutes: Some(5),
            destinations: vec![DestinationKind::Inbox],
            email_to: String::new(),
        };
        let id = store::create_rule(&state.store, &input, &now).await?;
        engine::evaluate_rule(&state, id, state.now()).await
    }
    .await;
    match created {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}

pub(super) async fn demo_incident(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let Some(emulator) = &state.alerts.demo_emulator else {
        return message_page(StatusCode::NOT_FOUND, "Not found", "Incidents can only be started in the demo.");
    };
    let span = emulator.start_incident(5 * 60);
    tracing::info!("demo: an SMS-pumping burst runs in the emulator from {} to {}", span.start, span.end);
    redirect("/alerts/inbox")
}
