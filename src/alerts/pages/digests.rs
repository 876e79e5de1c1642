//! Digests: added from `/alerts`, sent now or deleted.

use super::rules::RuleForm;
use super::*;

pub(super) async fn create_digest(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let Ok(view_id) = form.get("view_id").parse::<i64>() else {
        return message_page(StatusCode::BAD_REQUEST, "Not saved", "Choose a saved view.");
    };
    let frequency = match form.get("frequency") {
        f @ ("daily" | "weekly") => f,
        other => {
            return message_page(StatusCode::BAD_REQUEST, "Not saved", &format!("\"{other}\" is not daily or weekly."));
        }
    };
    let hour = match form.get("hour").trim().parse::<u32>() {
        Ok(h) if h < 24 => h,
        _ => {
            return message_page(StatusCode::BAD_REQUEST, "Not saved", "The hour must be a whole number from 0 to 23.");
        }
    };
    let rule_form = RuleForm {
        name: "digest".into(),
        kind: "anomaly".into(),
        destinations: form.all("destination").into_iter().map(String::from).collect(),
        email_to: form.get("email_to").into(),
        ..RuleForm::default()
    };
    let input = match rule_form.input(&state, view_id) {
        Ok(input) => input,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not saved", &e),
    };
    let now = state.now();
    // The first one goes out at the next scheduled hour, not for one already past.
    let created = async {
        let id = store::create_digest(
            &state.store,
            view_id,
            frequency,
            hour,
            &input.destinations,
            &input.email_to,
            &twilio_time::format(&now),
        )
        .await?;
        let due = twilio_time::format(&digest::last_due(frequency, hour, now));
        store::queue_digest(&state.store, id, None, &due, &[]).await?;
        Ok::<_, AlertError>(())
    }
    .await;
    match created {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}

pub(super) async fn digest_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    body: Bytes,
) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let done = match action.as_str() {
        "delete" => store::delete_digest(&state.store, id).await,
        "send" => digest::send_now(&state, id, state.now()).await,
        _ => return message_page(StatusCode::NOT_FOUND, "Not found", "There is no such action."),
    };
    match done {
        Ok(()) => redirect("/alerts"),
        Err(e) => failure(e),
    }
}
