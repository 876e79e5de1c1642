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
                // The page works before hydration (links and forms are plain), so the wasm
                // and ECharts load off the critical path; the server's SVG of the time chart
                // shows until ECharts draws it.
                <script src=paths::url("/echarts.min.js") defer=true fetchpriority="low"></script>
                <Hydration options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Loads the app's wasm and hydrates the page once it has loaded and the browser is idle:
/// Leptos's `HydrationScripts` would also preload the wasm from the head, which puts its
/// 400 KB on the way to the first paint of a slow phone. What it sets besides (file hashes,
/// split wasm) this build does not use.
#[component]
fn Hydration(options: LeptosOptions) -> impl IntoView {
    let pkg = format!("{}/{}", paths::base_path(), options.site_pkg_dir);
    let name = options.output_name;
    let script = format!(
        "const hydrate = () => import(\"{pkg}/{name}.js\").then((app) =>\n\
           app.default({{ module_or_path: \"{pkg}/{name}_bg.wasm\" }}).then(() => app.hydrate()));\n\
         const whenIdle = () => (\"requestIdleCallback\" in window\n\
           ? requestIdleCallback(hydrate, {{ timeout: 2000 }}) : setTimeout(hydrate, 0));\n\
         if (document.readyState === \"complete\") whenIdle(); else addEventListener(\"load\", whenIdle);"
    );
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> }
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
