//! The rule form (`/alerts/new`, `/alerts/{id}/edit`) and a rule's actions.

use super::*;

/// The rule form's values, as shown (typed values are kept when the form is refused).
#[derive(Clone, Default)]
pub(super) struct RuleForm {
    pub(super) name: String,
    pub(super) view_id: Option<i64>,
    /// A view not saved yet: the query it is created from.
    pub(super) query: String,
    pub(super) kind: String,
    pub(super) threshold: String,
    pub(super) currency: String,
    pub(super) per: String,
    pub(super) min_verifications: String,
    /// Minutes, or empty for the view's range.
    pub(super) window: String,
    pub(super) destinations: Vec<String>,
    pub(super) email_to: String,
}

impl RuleForm {
    fn from_rule(rule: &Rule) -> RuleForm {
        let (currency, per) = match &rule.condition {
            Condition::SpendAbove { currency, per, .. } => (currency.clone(), per.as_str().to_string()),
            _ => ("USD".into(), "hour".into()),
        };
        RuleForm {
            name: rule.name.clone(),
            view_id: Some(rule.view.id),
            query: String::new(),
            kind: rule.condition.kind().into(),
            threshold: rule.condition.threshold_text(),
            currency,
            per,
            min_verifications: rule.min_verifications.to_string(),
            window: rule.window_minutes.map(|m| m.to_string()).unwrap_or_default(),
            destinations: rule.destinations.iter().map(|d| d.as_str().to_string()).collect(),
            email_to: rule.email_to.clone(),
        }
    }

    fn from_posted(form: &PostedForm) -> RuleForm {
        RuleForm {
            name: form.get("name").into(),
            view_id: form.get("view_id").parse().ok(),
            query: form.get("query").into(),
            kind: form.get("kind").into(),
            threshold: form.get("threshold").into(),
            currency: form.get("currency").into(),
            per: form.get("per").into(),
            min_verifications: form.get("min_verifications").into(),
            window: form.get("window").into(),
            destinations: form.all("destination").into_iter().map(String::from).collect(),
            email_to: form.get("email_to").into(),
        }
    }

    /// The rule it describes, or the first thing wrong with it.
    pub(super) fn input(&self, state: &AppState, view_id: i64) -> Result<RuleInput, String> {
        let name = clean_name(&self.name, "rule")?;
        let condition = Condition::from_form(&self.kind, &self.threshold, &self.currency, &self.per)?;
        let min_text = self.min_verifications.trim();
        let min_verifications: u64 = if min_text.is_empty() {
            0
        } else {
            min_text.parse().map_err(|_| format!("The minimum volume must be a whole number, not \"{min_text}\"."))?
        };
        let window_minutes = match self.window.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(minutes) if RATE_WINDOWS.contains(&minutes) => Some(minutes),
                _ => {
                    return Err(format!(
                        "\"{text}\" is not a window verilens offers (the view's range, or 5, 15 or 60 minutes)."
                    ));
                }
            },
        };
        let available = state.alerts.destinations.available();
        let mut destinations = Vec::new();
        for text in &self.destinations {
            let kind = DestinationKind::parse(text).ok_or_else(|| format!("\"{text}\" is not a destination."))?;
            if !available.contains(&kind) {
                return Err(format!("{} is not configured on this server.", kind.label()));
            }
            if !destinations.contains(&kind) {
                destinations.push(kind);
            }
        }
        let email_to = self.email_to.trim().to_string();
        if destinations.contains(&DestinationKind::Email) {
            let addresses: Vec<&str> = email_to.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
            if addresses.is_empty() {
                return Err("E-mail needs at least one recipient.".into());
            }
            for address in addresses {
                if address.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(format!("\"{address}\" is not an e-mail address."));
                }
            }
        }
        Ok(RuleInput { view_id, name, condition, min_verifications, window_minutes, destinations, email_to })
    }
}

/// The saved views a rule can watch, and the names of the services their filters name.
#[derive(Clone, Copy)]
struct ViewChoices<'a> {
    views: &'a [SavedView],
    services: &'a FriendlyNames,
}

fn rule_form_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    form: &RuleForm,
    rule_id: Option<i64>,
    choices: ViewChoices<'_>,
    error: Option<&str>,
) -> Response {
    let ViewChoices { views, services } = choices;
    let title = if rule_id.is_some() { "Edit alert" } else { "Alert on this view" };
    let action = match rule_id {
        Some(id) => paths::url(&format!("/alerts/{id}")),
        None => paths::url("/alerts"),
    };
    let read_only = state.read_only;
    page(state, status, headers, title, |token| {
        html! {
            @if let Some(error) = error { p class="notice" role="alert" data-testid="form-error" { (error) } }
            @if read_only {
                p class="note" { "This dashboard is read-only." }
            } @else {
                form method="post" action=(action) class="admin-form" data-testid="rule-form" {
                    (csrf_field(token))
                    label for="rule-name" { "Name" }
                    input id="rule-name" name="name" value=(form.name) required maxlength="120";
                    @if !form.query.is_empty() && form.view_id.is_none() {
                        input type="hidden" name="query" value=(form.query);
                        p { "View: " strong { (describe_query(state, services, &form.query)) } " (saved with the rule's name)" }
                    } @else {
                        label for="rule-view" { "Saved view" }
                        select id="rule-view" name="view_id" required {
                            @for v in views { option value=(v.id) selected[form.view_id == Some(v.id)] { (v.name) " — " (describe_query(state, services, &v.query)) } }
                        }
                    }
                    label for="rule-kind" { "Condition" }
                    select id="rule-kind" name="kind" {
                        @for (value, label) in CONDITION_KINDS { option value=(value) selected[form.kind == value] { (label) } }
                    }
                    label for="rule-threshold" { "Threshold (% for rates, points for a drop, an amount for spend)" }
                    input id="rule-threshold" name="threshold" value=(form.threshold) inputmode="decimal";
                    label for="rule-currency" { "Currency (spend)" }
                    input id="rule-currency" name="currency" value=(if form.currency.is_empty() { "USD" } else { &form.currency }) maxlength="3";
                    label for="rule-per" { "Spend per" }
                    select id="rule-per" name="per" {
                        option value="hour" selected[form.per != "day"] { "hour (this UTC hour so far, or the last one)" }
                        option value="day" selected[form.per == "day"] { "day (the last 24 hours)" }
                    }
                    label for="rule-window" { "Read conversion and delivery rates over" }
                    select id="rule-window" name="window" {
                        option value="" selected[form.window.is_empty()] { "the view's range" }
                        @for minutes in RATE_WINDOWS {
                            option value=(minutes) selected[form.window == minutes.to_string()] { "the last " (minutes) " minutes" }
                        }
                    }
                    label for="rule-min" { "Minimum volume (verifications) before it can fire" }
                    input id="rule-min" name="min_verifications" value=(form.min_verifications) inputmode="numeric";
                    (destination_fields(state, &form.destinations, &form.email_to, "rule"))
                    button type="submit" { (if rule_id.is_some() { "Save alert" } else { "Create alert" }) }
                }
            }
        }
    })
}

pub(super) async fn new_rule_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let views = match store::views(&state.store).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let services = service_names(&state).await;
    let query = query.unwrap_or_default();
    let pairs = crate::filters::query_pairs(&query);
    let view_id = pairs.iter().find(|(k, _)| k == "view").and_then(|(_, v)| v.parse::<i64>().ok());
    let mut form = RuleForm {
        kind: "conversion_below".into(),
        threshold: "60".into(),
        currency: "USD".into(),
        per: "hour".into(),
        min_verifications: "50".into(),
        ..RuleForm::default()
    };
    match view_id {
        Some(id) => {
            form.view_id = Some(id);
            form.name =
                views.iter().find(|v| v.id == id).map(|v| format!("{}: conversion", v.name)).unwrap_or_default();
        }
        None if !query.is_empty() => match clean_query(&state, &query) {
            Ok(q) => {
                form.name = describe_query(&state, &services, &q);
                form.query = q;
            }
            Err(e) => return message_page(StatusCode::BAD_REQUEST, "Alert on this view", &e),
        },
        None => {
            if views.is_empty() {
                form.query = clean_query(&state, "").unwrap_or_default();
                form.name = "All traffic: conversion".into();
            }
        }
    }
    rule_form_page(
        &state,
        &headers,
        StatusCode::OK,
        &form,
        None,
        ViewChoices { views: &views, services: &services },
        None,
    )
}

pub(super) async fn edit_rule_page(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    let loaded =
        async { Ok::<_, AlertError>((store::rule(&state.store, id).await?, store::views(&state.store).await?)) }.await;
    match loaded {
        Ok((rule, views)) => {
            let services = service_names(&state).await;
            let form = RuleForm::from_rule(&rule);
            rule_form_page(
                &state,
                &headers,
                StatusCode::OK,
                &form,
                Some(id),
                ViewChoices { views: &views, services: &services },
                None,
            )
        }
        Err(e) => failure(e),
    }
}

pub(super) async fn create_rule(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    save_rule(state, headers, None, body).await
}

pub(super) async fn update_rule(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    save_rule(state, headers, Some(id), body).await
}

async fn save_rule(state: AppState, headers: HeaderMap, rule_id: Option<i64>, body: Bytes) -> Response {
    let posted = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &posted) {
        return refused;
    }
    let form = RuleForm::from_posted(&posted);
    let views = match store::views(&state.store).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let services = service_names(&state).await;
    let refuse = |error: String| {
        let choices = ViewChoices { views: &views, services: &services };
        rule_form_page(&state, &headers, StatusCode::BAD_REQUEST, &form, rule_id, choices, Some(&error))
    };
    // Checked before anything is written: a refused form changes nothing.
    let query = if form.view_id.is_none() {
        match clean_query(&state, &form.query) {
            Ok(q) => Some(q),
            Err(e) => return refuse(e),
        }
    } else {
        if !views.iter().any(|v| Some(v.id) == form.view_id) {
            return refuse("That saved view does not exist (any more).".into());
        }
        None
    };
    if let Err(e) = form.input(&state, 0) {
        return refuse(e);
    }
    let now = now_text(&state);
    let view_id = match (form.view_id, query) {
        (Some(id), _) => id,
        (None, Some(query)) => match store::create_view(&state.store, form.name.trim(), &query, &now).await {
            Ok(id) => id,
            Err(e) => return failure(e),
        },
        (None, None) => return refuse("Choose a saved view.".into()),
    };
    let input = match form.input(&state, view_id) {
        Ok(input) => input,
        Err(e) => return refuse(e),
    };
    let saved = match rule_id {
        Some(id) => store::update_rule(&state.store, id, &input).await.map(|()| id),
        None => store::create_rule(&state.store, &input, &now).await,
    };
    match saved {
        Ok(id) => {
            if let Err(e) = engine::evaluate_rule(&state, id, state.now()).await {
                tracing::error!("alert rule {id} could not be evaluated: {e}");
            }
            redirect("/alerts")
        }
        Err(e) => failure(e),
    }
}

/// The end of a snooze: a preset length from now, or a time `until` (UTC).
fn snooze_until(form: &PostedForm, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let until = form.get("until").trim();
    if !until.is_empty() {
        let parsed = NaiveDateTime::parse_from_str(until, "%Y-%m-%dT%H:%M")
            .or_else(|_| NaiveDateTime::parse_from_str(until, "%Y-%m-%dT%H:%M:%S"))
            .map_err(|_| format!("\"{until}\" is not a time (YYYY-MM-DDTHH:MM, UTC)."))?
            .and_utc();
        if parsed <= now {
            return Err("A snooze must end in the future.".into());
        }
        return Ok(parsed);
    }
    let length = match form.get("for") {
        "1h" => Duration::hours(1),
        "4h" => Duration::hours(4),
        "24h" => Duration::hours(24),
        "7d" => Duration::days(7),
        other => return Err(format!("\"{other}\" is not a snooze length.")),
    };
    Ok(now + length)
}

pub(super) async fn rule_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let now = state.now();
    let done = match action.as_str() {
        "pause" => store::set_paused(&state.store, id, true).await,
        "resume" => match store::set_paused(&state.store, id, false).await {
            Ok(()) => engine::evaluate_rule(&state, id, now).await,
            Err(e) => Err(e),
        },
        "snooze" => match snooze_until(&form, now) {
            Ok(until) => store::set_snooze(&state.store, id, Some(&twilio_time::format(&until))).await,
            Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not snoozed", &e),
        },
        "unsnooze" => match store::set_snooze(&state.store, id, None).await {
            Ok(()) => engine::evaluate_rule(&state, id, now).await,
            Err(e) => Err(e),
        },
        "delete" => store::delete_rule(&state.store, id).await,
        "test" => engine::send_test(&state, id, now).await,
        _ => return message_page(StatusCode::NOT_FOUND, "Not found", "There is no such action."),
    };
    match done {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}
