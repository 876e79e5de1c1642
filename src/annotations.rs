//! Annotations: notes on the timeline ("new SMS template", "Fraud Guard set to max") that
//! every time chart covering them shows. Added on the page, by scripts through
//! `POST /api/annotations` with a token, and by verilens for each incident it finds.

use crate::on_either;
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::analytics::anomalies::Incident;
use crate::model::twilio_time;
use crate::page_data::Annotation;
use crate::state::AppState;

/// The longest text an annotation keeps.
pub const MAX_TEXT: usize = 200;

/// An annotation as given, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAnnotation {
    pub at: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub text: String,
    pub link: Option<String>,
}

/// A time as a user or a script writes it: `2026-11-20T14:05:00Z`, `2026-11-20T14:05` (UTC),
/// or a day, `2026-11-20`.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    twilio_time::parse(text)
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc)))
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").ok().map(|t| t.and_utc()))
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
        })
}

impl NewAnnotation {
    /// The annotation of these fields, or what is wrong with them.
    pub fn parse(at: &str, end: &str, text: &str, link: &str) -> Result<NewAnnotation, String> {
        let at = parse_time(at)
            .ok_or_else(|| format!("\"{}\" is not a time (2026-11-20T14:05Z or 2026-11-20).", at.trim()))?;
        let end = match end.trim() {
            "" => None,
            given => {
                let end = parse_time(given).ok_or_else(|| format!("\"{given}\" is not a time."))?;
                if end < at {
                    return Err("The end comes before the start.".into());
                }
                Some(end)
            }
        };
        let text: String = text.trim().chars().filter(|c| !c.is_control()).collect();
        if text.is_empty() {
            return Err("An annotation needs a text.".into());
        }
        if text.chars().count() > MAX_TEXT {
            return Err(format!("An annotation's text is at most {MAX_TEXT} characters."));
        }
        let link = match link.trim() {
            "" => None,
            given => match reqwest::Url::parse(given) {
                Ok(url) if matches!(url.scheme(), "https" | "http") => Some(url.to_string()),
                _ => return Err(format!("\"{given}\" is not an http(s) link.")),
            },
        };
        Ok(NewAnnotation { at, end, text, link })
    }
}

pub async fn create(store: &Store, new: &NewAnnotation, source: &str, now: &str) -> Result<i64, sqlx::Error> {
    Ok(on_either!(store, |pool, _dialect| {
        sqlx::query_scalar(
            "INSERT INTO annotations (starts_at, ends_at, text, link, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(twilio_time::format(&new.at))
        .bind(new.end.as_ref().map(twilio_time::format))
        .bind(&new.text)
        .bind(&new.link)
        .bind(source)
        .bind(now)
        .fetch_one(pool)
        .await?
    }))
}

#[derive(sqlx::FromRow)]
struct AnnotationRow {
    id: i64,
    starts_at: String,
    ends_at: Option<String>,
    text: String,
    link: Option<String>,
    source: String,
}

impl From<AnnotationRow> for Annotation {
    fn from(row: AnnotationRow) -> Annotation {
        Annotation {
            id: row.id,
            at: row.starts_at,
            end: row.ends_at,
            text: row.text,
            link: row.link,
            source: row.source,
            chart_at: String::new(),
        }
    }
}

/// Says where each annotation falls on a chart whose buckets are hours (UTC) or else days,
/// weeks or months of the reporting zone.
pub fn place_on_chart(annotations: &mut [Annotation], hourly: bool) {
    for annotation in annotations {
        annotation.chart_at =
            if hourly { annotation.at.clone() } else { crate::zone::local_time(&annotation.at).into_owned() };
    }
}

/// The annotations that overlap `[from, to)` (ISO 8601 UTC), oldest first.
pub async fn between(store: &Store, from: &str, to: &str) -> Result<Vec<Annotation>, sqlx::Error> {
    let rows: Vec<AnnotationRow> = on_either!(store, |pool, _dialect| {
        sqlx::query_as(
            "SELECT id, starts_at, ends_at, text, link, source FROM annotations \
             WHERE starts_at < $1 AND COALESCE(ends_at, starts_at) >= $2 ORDER BY starts_at, id",
        )
        .bind(to)
        .bind(from)
        .fetch_all(pool)
        .await?
    });
    Ok(rows.into_iter().map(Annotation::from).collect())
}

/// The newest annotations, newest first.
pub async fn newest(store: &Store, limit: i64) -> Result<Vec<Annotation>, sqlx::Error> {
    let rows: Vec<AnnotationRow> = on_either!(store, |pool, _dialect| {
        sqlx::query_as(
            "SELECT id, starts_at, ends_at, text, link, source FROM annotations ORDER BY starts_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(pool)
        .await?
    });
    Ok(rows.into_iter().map(Annotation::from).collect())
}

/// Deletes one; false when there was none.
pub async fn delete(store: &Store, id: i64) -> Result<bool, sqlx::Error> {
    Ok(on_either!(store, |pool, _dialect| {
        sqlx::query("DELETE FROM annotations WHERE id = $1").bind(id).execute(pool).await?.rows_affected() == 1
    }))
}

/// Notes each incident once (by its kind, country, carrier and start); returns how many were new.
pub async fn record_incidents(store: &Store, incidents: &[Incident], now: &str) -> Result<u64, sqlx::Error> {
    Ok(on_either!(store, |pool, _dialect| {
        let mut tx = pool.begin().await?;
        let mut added = 0;
        for incident in incidents {
            let key = format!(
                "{}:{}:{}:{}",
                incident.anomaly.kind,
                incident.country,
                incident.carrier.as_deref().unwrap_or(""),
                incident.start
            );
            let text: String =
                format!("{}: {}", incident.anomaly.title, incident.anomaly.detail).chars().take(MAX_TEXT).collect();
            added += sqlx::query(
                "INSERT INTO annotations (starts_at, ends_at, text, link, source, incident_key, created_at) \
                 VALUES ($1, $2, $3, NULL, 'incident', $4, $5) ON CONFLICT (incident_key) DO NOTHING",
            )
            .bind(&incident.start)
            .bind(&incident.end)
            .bind(text)
            .bind(&key)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        added
    }))
}

/// Notes the incidents of the snapshot's rollups as a sync left them (after the first sync).
pub async fn note_incidents(state: &AppState, now: DateTime<Utc>) -> Result<u64, crate::store::StoreError> {
    if state.figures.watermark().await?.is_none() {
        return Ok(0);
    }
    let index = state.rollups.get_current(&state.figures).await?;
    Ok(record_incidents(&state.store, index.incidents(), &twilio_time::format(&now)).await?)
}

/// The body `POST /api/annotations` takes.
#[derive(serde::Deserialize)]
struct ApiAnnotation {
    at: String,
    #[serde(default)]
    end: Option<String>,
    text: String,
    #[serde(default)]
    link: Option<String>,
}

fn api_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// `POST /api/annotations`: a script's annotation, with `Authorization: Bearer <token>`
/// (`--annotations-token`). Answers 201 with its id, or an error in JSON.
pub async fn api_create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = state.annotations_token.as_deref() else {
        return api_error(StatusCode::NOT_FOUND, "annotations through the API are off: set VERILENS_ANNOTATIONS_TOKEN");
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !crate::security::same_secret(given, token) {
        return api_error(StatusCode::UNAUTHORIZED, "a valid token is needed: Authorization: Bearer <token>");
    }
    let parsed: ApiAnnotation = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(_) => return api_error(StatusCode::BAD_REQUEST, "the body must be JSON: {\"at\": …, \"text\": …}"),
    };
    let new = match NewAnnotation::parse(
        &parsed.at,
        parsed.end.as_deref().unwrap_or_default(),
        &parsed.text,
        parsed.link.as_deref().unwrap_or_default(),
    ) {
        Ok(new) => new,
        Err(message) => return api_error(StatusCode::BAD_REQUEST, &message),
    };
    match create(&state.store, &new, "api", &twilio_time::format(&Utc::now())).await {
        Ok(id) => (StatusCode::CREATED, axum::Json(serde_json::json!({ "id": id }))).into_response(),
        Err(e) => {
            tracing::error!("annotation not saved: {e}");
            api_error(StatusCode::INTERNAL_SERVER_ERROR, "the snapshot could not be written")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_texts_and_links_are_checked() {
        let ok = NewAnnotation::parse("2026-11-20T14:05", "", " New SMS template ", "https://example.com/x").unwrap();
        assert_eq!(twilio_time::format(&ok.at), "2026-11-20T14:05:00Z");
        assert_eq!(ok.text, "New SMS template");
        assert!(NewAnnotation::parse("2026-11-20", "2026-11-21", "x", "").unwrap().end.is_some());
        for (at, end, text, link) in [
            ("yesterday", "", "x", ""),
            ("2026-11-20", "2026-11-19", "x", ""),
            ("2026-11-20", "", "   ", ""),
            ("2026-11-20", "", "x", "javascript:alert(1)"),
        ] {
            assert!(NewAnnotation::parse(at, end, text, link).is_err(), "{at} {end} {text} {link}");
        }
        assert!(NewAnnotation::parse("2026-11-20", "", &"x".repeat(201), "").is_err());
    }
}
