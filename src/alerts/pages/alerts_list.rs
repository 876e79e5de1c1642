//! `/alerts`: the rules with their states, the digests, and the delivery log.

use super::*;

pub(super) async fn alerts_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let loaded = async {
        Ok::<_, AlertError>((
            store::rules(&state.store).await?,
            store::digests(&state.store).await?,
            store::views(&state.store).await?,
            store::delivery_log(&state.store, 50).await?,
        ))
    }
    .await;
    let (rules, digests, views, log) = match loaded {
        Ok(all) => all,
        Err(e) => return failure(e),
    };
    let now = now_text(&state);
    let read_only = state.read_only;
    let destinations = &state.alerts.destinations;
    page(&state, StatusCode::OK, &headers, "Alerts", |token| {
        html! {
            p class="note" {
                "Rules are evaluated from the snapshot after each sync that changes it, and every "
                (humantime::format_duration(state.alerts.check_every)) ". A message goes out when a rule starts firing and when it resolves."
            }
            p class="note" data-testid="destinations" {
                "Destinations: "
                (destinations.available().iter().map(|d| destinations.describe(*d)).collect::<Vec<_>>().join(", "))
                "."
            }
            h2 { "Rules" }
            @if rules.is_empty() {
                p class="empty" data-testid="rules-empty" {
                    "No alert rules yet. Open a view and choose “Alert on this view”, or "
                    a href=(paths::url("/alerts/new")) { "create one" } "."
                }
            } @else {
                table class="admin-table" data-testid="rules" {
                    thead { tr {
                        th scope="col" { "Rule" } th scope="col" { "State" } th scope="col" { "Last evaluation" }
                        @if !read_only { th scope="col" { "Actions" } }
                    } }
                    tbody {
                        @for rule in &rules { (rule_row(rule, &now, token, read_only)) }
                    }
                }
            }
            h2 { "Digests" }
            @if digests.is_empty() {
                p class="empty" data-testid="digests-empty" { "No digests. A digest sends a saved view's week or day against the one before." }
            } @else {
                table class="admin-table" data-testid="digests" {
                    thead { tr { th scope="col" { "View" } th scope="col" { "Schedule" } th scope="col" { "To" } th scope="col" { "Last due" } @if !read_only { th scope="col" { "Actions" } } } }
                    tbody {
                        @for d in &digests {
                            tr data-testid="digest" {
                                td { a href=(view_href(&d.view)) { (d.view.name) } }
                                td { (digest::schedule(&d.frequency, d.hour)) }
                                td { (d.destinations.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")) }
                                td { (d.last_due_at.clone().unwrap_or_else(|| "not yet".into())) }
                                @if !read_only {
                                    td {
                                        form method="post" action=(paths::url(&format!("/digests/{}/send", d.id))) class="inline" {
                                            (csrf_field(token)) button type="submit" { "Send now" }
                                        }
                                        form method="post" action=(paths::url(&format!("/digests/{}/delete", d.id))) class="inline" {
                                            (csrf_field(token)) button type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !read_only && !views.is_empty() {
                form method="post" action=(paths::url("/digests")) class="admin-form" data-testid="digest-form" {
                    (csrf_field(token))
                    label for="digest-view" { "Saved view" }
                    select id="digest-view" name="view_id" { @for v in &views { option value=(v.id) { (v.name) } } }
                    label for="digest-frequency" { "Every" }
                    select id="digest-frequency" name="frequency" { option value="weekly" { "week (Mondays)" } option value="daily" { "day" } }
                    label for="digest-hour" { "At (UTC hour)" }
                    input id="digest-hour" name="hour" type="number" min="0" max="23" value="9";
                    (destination_fields(&state, &[], "", "digest"))
                    button type="submit" { "Add digest" }
                }
            }
            h2 { "Deliveries" }
            @if log.is_empty() {
                p class="empty" data-testid="log-empty" { "Nothing sent yet." }
            } @else {
                table class="admin-table" data-testid="delivery-log" {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Message" } th scope="col" { "To" } th scope="col" { "Outcome" } th scope="col" { "Detail" } } }
                    tbody {
                        @for entry in &log {
                            tr data-testid="delivery" data-outcome=(entry.outcome) {
                                td { (entry.at.replace('T', " ").trim_end_matches('Z')) }
                                td { (entry.title) }
                                td { (entry.destination) }
                                td { (entry.outcome) }
                                td { (entry.detail) }
                            }
                        }
                    }
                }
            }
        }
    })
}

fn rule_row(rule: &Rule, now: &str, token: &str, read_only: bool) -> Markup {
    let shown = rule.shown_state(now);
    let action = |what: &str| paths::url(&format!("/alerts/{}/{what}", rule.id));
    html! {
        tr data-testid="rule" data-rule-id=(rule.id) data-state=(shown) {
            td {
                strong { (rule.name) } br;
                (rule.describe()) br;
                "on " a href=(view_href(&rule.view)) { (rule.view.name) }
                @if rule.min_verifications > 0 { " · at least " (rule.min_verifications) " verifications" }
                br;
                span class="note" { "To: " (rule.destinations.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")) }
            }
            td {
                span class=(format!("state state-{shown}")) data-testid="rule-state" { (shown) }
                @if let (Some(until), "snoozed") = (&rule.snoozed_until, shown) { br; "until " (until.replace('T', " ").trim_end_matches('Z')) " UTC" }
                @if let Some(since) = &rule.state_since { br; span class="note" { "since " (since.replace('T', " ").trim_end_matches('Z')) } }
            }
            td {
                @match &rule.last_evaluation {
                    Some(e) => { (e.summary) }
                    None => { "Not evaluated yet" }
                }
            }
            @if !read_only {
                td class="actions" {
                    a href=(action("edit")) { "Edit" }
                    form method="post" action=(action(if rule.paused { "resume" } else { "pause" })) class="inline" {
                        (csrf_field(token)) button type="submit" { (if rule.paused { "Resume" } else { "Pause" }) }
                    }
                    @if shown == "snoozed" {
                        form method="post" action=(action("unsnooze")) class="inline" { (csrf_field(token)) button type="submit" { "Unsnooze" } }
                    } @else {
                        form method="post" action=(action("snooze")) class="inline" {
                            (csrf_field(token))
                            label class="visually-hidden" for=(format!("snooze-{}", rule.id)) { "Snooze " (rule.name) " for" }
                            select id=(format!("snooze-{}", rule.id)) name="for" {
                                option value="1h" { "1 hour" } option value="4h" { "4 hours" } option value="24h" { "1 day" } option value="7d" { "1 week" }
                            }
                            label for=(format!("snooze-until-{}", rule.id)) { "or until (UTC)" }
                            input id=(format!("snooze-until-{}", rule.id)) name="until" type="datetime-local";
                            button type="submit" { "Snooze" }
                        }
                    }
                    form method="post" action=(action("test")) class="inline" { (csrf_field(token)) button type="submit" { "Send test" } }
                    form method="post" action=(action("delete")) class="inline" { (csrf_field(token)) button type="submit" { "Delete" } }
                }
            }
        }
    }
}
