//! The Leptos dashboard: shell, routes and pages.

#[cfg(feature = "ssr")]
pub mod advice;
mod attempts;
mod comparison;
mod components;
pub mod errors;
mod kpis;
pub mod navigation;
mod overview;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

use crate::paths;

pub use attempts::{load_attempt, load_attempts, refresh_attempt};
pub use overview::load_overview;

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(response), Some(nonce)) = (use_context::<leptos_axum::ResponseOptions>(), leptos::nonce::use_nonce()) {
        let policy = crate::security::content_security_policy(Some(&nonce.to_string()));
        if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
            response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en" data-base-path=paths::base_path()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="data:," />
                // Deferred: the charts are drawn after hydration, which runs after it, so it
                // need not hold up the first paint.
                <script src=paths::url("/echarts.min.js") defer=true></script>
                <HydrationScripts options root=paths::base_path() />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href=paths::url("/pkg/verilens.css") />
        <Title text="verilens: Verify conversion" />
        // The server routes requests with the base path already stripped; the browser's
        // router sees the whole path.
        <Router base=if cfg!(feature = "hydrate") { paths::base_path() } else { "" }>
            <Routes fallback=NotFound>
                <Route path=StaticSegment("") view=overview::OverviewPage ssr=SsrMode::Async />
                <Route path=StaticSegment("attempts") view=attempts::AttemptsPage ssr=SsrMode::Async />
                <Route
                    path=(StaticSegment("attempts"), ParamSegment("sid"))
                    view=attempts::AttemptDetailPage
                    ssr=SsrMode::Async
                />
            </Routes>
        </Router>
    }
}

#[component]
pub(crate) fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="page" id="content" tabindex="-1">
            <h1>"Page not found"</h1>
            <p>
                <a href=paths::url("/")>"Back to the overview"</a>
            </p>
        </main>
    }
}
