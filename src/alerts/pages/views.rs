//! `/views`: the saved views, saved from any view, renamed and deleted.

use super::*;

pub(super) async fn views_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let views = match store::views(&state.store).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let services = service_names(&state).await;
    let read_only = state.read_only;
    page(&state, StatusCode::OK, &headers, "Saved views", |token| {
        html! {
            p class="note" { "A saved view is a named link the server keeps: alerts and digests watch it. Relative ranges stay relative." }
            @if views.is_empty() {
                p class="empty" data-testid="views-empty" {
                    "No saved views yet. Open a view of the overview and choose “Save this view”."
                }
            } @else {
                table class="admin-table" data-testid="saved-views" {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Filters" } @if !read_only { th scope="col" { "Rename" } th scope="col" { "Delete" } } } }
                    tbody {
                        @for view in &views {
                            tr data-testid="saved-view" {
                                td { a href=(view_href(view)) { (view.name) } }
                                td { (describe_query(&state, &services, &view.query)) }
                                @if !read_only {
                                    td {
                                        form method="post" action=(paths::url(&format!("/views/{}/rename", view.id))) class="inline" {
                                            (csrf_field(token))
                                            label class="visually-hidden" for=(format!("rename-{}", view.id)) { "New name for " (view.name) }
                                            input id=(format!("rename-{}", view.id)) name="name" value=(view.name) required maxlength="120";
                                            button type="submit" { "Rename" }
                                        }
                                    }
                                    td {
                                        form method="post" action=(paths::url(&format!("/views/{}/delete", view.id))) class="inline" {
                                            (csrf_field(token))
                                            button type="submit" aria-label=(format!("Delete {}", view.name)) { "Delete" }
                                        }
                                        " "
                                        a href=(format!("{}?view={}", paths::url("/alerts/new"), view.id)) { "Alert on it" }
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

pub(super) async fn save_view_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let cleaned = match clean_query(&state, &query) {
        Ok(q) => q,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Save this view", &e),
    };
    let services = service_names(&state).await;
    let name = describe_query(&state, &services, &cleaned);
    save_view_form(&state, &headers, StatusCode::OK, &cleaned, &name, &services, None)
}

fn save_view_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    query: &str,
    name: &str,
    services: &FriendlyNames,
    error: Option<&str>,
) -> Response {
    let description = describe_query(state, services, query);
    let read_only = state.read_only;
    page(state, status, headers, "Save this view", |token| {
        html! {
            @if let Some(error) = error { p class="notice" role="alert" data-testid="form-error" { (error) } }
            p { "Filters: " strong { (description) } }
            @if read_only {
                p class="note" { "This dashboard is read-only." }
            } @else {
                form method="post" action=(paths::url("/views")) class="admin-form" {
                    (csrf_field(token))
                    input type="hidden" name="query" value=(query);
                    label for="view-name" { "Name" }
                    input id="view-name" name="name" value=(name) required maxlength="120";
                    button type="submit" { "Save view" }
                }
            }
        }
    })
}

pub(super) async fn create_view(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let query = match clean_query(&state, form.get("query")) {
        Ok(q) => q,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not saved", &e),
    };
    let name = match clean_name(form.get("name"), "view") {
        Ok(n) => n,
        Err(e) => {
            let services = service_names(&state).await;
            return save_view_form(
                &state,
                &headers,
                StatusCode::BAD_REQUEST,
                &query,
                form.get("name"),
                &services,
                Some(&e),
            );
        }
    };
    match store::create_view(&state.store, &name, &query, &now_text(&state)).await {
        Ok(_) => redirect("/views"),
        Err(e) => failure(e),
    }
}

pub(super) async fn rename_view(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    let name = match clean_name(form.get("name"), "view") {
        Ok(n) => n,
        Err(e) => return message_page(StatusCode::BAD_REQUEST, "Not renamed", &e),
    };
    match store::rename_view(&state.store, id, &name).await {
        Ok(()) => redirect("/views"),
        Err(e) => failure(e),
    }
}

pub(super) async fn delete_view(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let form = PostedForm::parse(&body);
    if let Some(refused) = refusal(&state, &headers, &form) {
        return refused;
    }
    match store::delete_view(&state.store, id).await {
        Ok(()) => redirect("/views"),
        Err(e) => failure(e),
    }
}
