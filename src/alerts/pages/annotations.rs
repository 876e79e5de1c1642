//! `/annotations`: notes on the timeline, added and deleted by hand; scripts use
//! `POST /api/annotations` (`crate::annotations`).

use super::*;
use crate::annotations::{self, NewAnnotation};

pub(super) async fn annotations_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    annotations_form(&state, &headers, StatusCode::OK, &[], None).await
}

async fn annotations_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    typed: &[(&str, &str)],
    error: Option<&str>,
) -> Response {
    let list = match annotations::newest(&state.store, 200).await {
        Ok(list) => list,
        Err(e) => return failure(AlertError::Snapshot(e)),
    };
    let value = |name: &str| typed.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| *v).to_string();
    let read_only = state.read_only;
    page(state, status, headers, "Annotations", |token| {
        html! {
            p class="note" {
                "Notes on the timeline, shown on every chart that covers them. verilens adds one for each incident it finds; "
                "scripts add them with POST /api/annotations and a token (see the README)."
            }
            @if let Some(error) = error { p class="notice" role="alert" data-testid="form-error" { (error) } }
            @if !read_only {
                form method="post" action=(paths::url("/annotations")) class="admin-form" data-testid="annotation-form" {
                    (csrf_field(token))
                    label for="annotation-at" { "When (UTC: 2026-11-20 or 2026-11-20T14:05)" }
                    input id="annotation-at" name="at" value=(value("at")) required;
                    label for="annotation-end" { "Until (optional)" }
                    input id="annotation-end" name="end" value=(value("end"));
                    label for="annotation-text" { "Text" }
                    input id="annotation-text" name="text" value=(value("text")) required maxlength=(annotations::MAX_TEXT);
                    label for="annotation-link" { "Link (optional)" }
                    input id="annotation-link" name="link" value=(value("link")) type="url";
                    button type="submit" { "Add annotation" }
                }
            }
            @if list.is_empty() {
                p class="empty" data-testid="annotations-empty" { "No annotations yet." }
            } @else {
                table class="admin-table" data-testid="annotation-list" {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Text" } th scope="col" { "Added by" } @if !read_only { th scope="col" { "Delete" } } } }
                    tbody {
                        @for a in &list {
                            tr data-testid="annotation-row" {
                                td { (a.at.replace('T', " ").trim_end_matches('Z')) @if let Some(end) = &a.end { " to " (end.replace('T', " ").trim_end_matches('Z')) } }
                                td { (a.text) @if let Some(link) = &a.link { " · " a href=(link) rel="noopener noreferrer nofollow" { "link" } } }
                                td { (match a.source.as_str() { "incident" => "verilens", "api" => "a script", _ => "hand" }) }
                                @if !read_only {
                                    td {
                                        form method="post" action=(paths::url(&format!("/annotations/{}/delete", a.id))) class="inline" {
                                            (csrf_field(token)) button type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

pub(super) async fn create_annotation(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let typed =
        [("at", form.get("at")), ("end", form.get("end")), ("text", form.get("text")), ("link", form.get("link"))];
    let new = match NewAnnotation::parse(form.get("at"), form.get("end"), form.get("text"), form.get("link")) {
        Ok(new) => new,
        Err(e) => return annotations_form(&state, &headers, StatusCode::BAD_REQUEST, &typed, Some(&e)).await,
    };
    match annotations::create(&state.store, &new, "page", &now_text(&state)).await {
        Ok(_) => redirect("/annotations"),
        Err(e) => failure(AlertError::Snapshot(e)),
    }
}

pub(super) async fn delete_annotation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    match annotations::delete(&state.store, id).await {
        Ok(true) => redirect("/annotations"),
        Ok(false) => failure(AlertError::NotFound("annotation")),
        Err(e) => failure(AlertError::Snapshot(e)),
    }
}
