//! Why a page has no data, and the status its answer carries.

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The error of the pages' server functions: a short message for the page, never details
/// (those go to the server log).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PageError {
    /// The request is not a call of the server function (its arguments do not parse).
    #[error("This request is not one the dashboard understands: {0}")]
    BadRequest(String),
    #[error("The snapshot could not be read; see the server log.")]
    Snapshot,
    /// The server failed while answering (it panicked): a bug, whose details are in the log.
    #[error("The dashboard failed to answer this view; see the server log.")]
    Internal,
    /// The call did not reach the server function, or its answer did not come back.
    #[error("The dashboard could not be reached: {0}")]
    Unreachable(String),
}

impl PageError {
    /// The HTTP status of a page or server function answer with this error.
    #[cfg(feature = "ssr")]
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::Snapshot | PageError::Internal | PageError::Unreachable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl FromServerFnError for PageError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        let error = match error {
            ServerFnErrorErr::Args(e) | ServerFnErrorErr::MissingArg(e) => PageError::BadRequest(e),
            e => PageError::Unreachable(e.to_string()),
        };
        // On the server, this is where a call whose arguments do not parse becomes its answer.
        #[cfg(feature = "ssr")]
        set_status(error.status());
        error
    }
}

/// Sets the status of the answer being rendered, when there is one (on the server).
#[cfg(feature = "ssr")]
pub fn set_status(status: axum::http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// Runs a server function's work (`what` names it in the log). A store error becomes
/// `PageError::Snapshot`; a panic becomes `PageError::Internal`, because pages run their
/// server functions in detached tasks, where a panic would leave the page waiting forever.
/// Both are logged and set the answer's status.
#[cfg(feature = "ssr")]
pub async fn answer_server_fn<T>(
    what: &str,
    work: impl Future<Output = Result<T, crate::store::StoreError>>,
) -> Result<T, PageError> {
    use futures_util::FutureExt;
    let error = match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(e)) => {
            tracing::error!("{what}: {e:?}");
            PageError::Snapshot
        }
        Err(panic) => {
            tracing::error!("{what} panicked: {}", crate::guards::panic_message(panic.as_ref()));
            PageError::Internal
        }
    };
    set_status(error.status());
    Err(error)
}

/// A page's error message; on the server, the page's status is the error's.
#[component]
pub fn ErrorNotice(error: PageError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_status(error.status());
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[tokio::test]
    async fn a_panicking_server_fn_is_an_internal_error() {
        let answer = answer_server_fn::<()>("panicking", async { panic!("at the calendar's end") }).await;
        assert_eq!(answer, Err(PageError::Internal));
        let message = format!("{}", answer.unwrap_err());
        assert!(!message.contains("calendar"), "the page shows no details: {message}");
        let answer = answer_server_fn::<()>("failing", async { Err(StoreError::Rollups("unreadable".into())) }).await;
        assert_eq!(answer, Err(PageError::Snapshot));
        assert_eq!(answer_server_fn("working", async { Ok(7) }).await, Ok(7));
    }
}
