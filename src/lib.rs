//! verilens: where Twilio Verify codes fail to convert, and what that costs.
// The overview's view type nests past the default limit in the hydrate build.
#![recursion_limit = "256"]

pub mod app;
pub mod buckets;
pub mod charts;
pub mod filters;
pub mod format;
pub mod model;
pub mod page_data;
pub mod paths;
pub mod zone;

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod alerts;
#[cfg(feature = "ssr")]
pub mod analytics;
#[cfg(feature = "ssr")]
pub mod annotations;
#[cfg(feature = "ssr")]
pub mod chart_svg;
#[cfg(feature = "ssr")]
pub mod connections;
#[cfg(feature = "ssr")]
pub mod demo;
#[cfg(feature = "ssr")]
pub mod emulator;
#[cfg(feature = "ssr")]
pub mod export;
#[cfg(feature = "ssr")]
pub mod fees;
#[cfg(feature = "ssr")]
pub mod guards;
#[cfg(feature = "ssr")]
pub mod http_error;
#[cfg(feature = "ssr")]
pub mod privacy;
#[cfg(feature = "ssr")]
pub mod rate_window;
#[cfg(feature = "ssr")]
pub mod requests;
#[cfg(feature = "ssr")]
pub mod security;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod site;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod sync;
#[cfg(feature = "ssr")]
pub mod telemetry;
#[cfg(feature = "ssr")]
pub mod twilio;
#[cfg(feature = "ssr")]
pub mod views;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The server names the sub-path it is mounted at (`--base-path`) in the page.
    let base = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|html| html.get_attribute("data-base-path"))
        .unwrap_or_default();
    if paths::set_base_path(&base).is_ok() && !paths::base_path().is_empty() {
        let _ = leptos::server_fn::client::try_set_server_url(paths::base_path());
    }
    leptos::mount::hydrate_body(app::App);
}

/// The server allocates and frees a dozen small strings per attempt it syncs or serves;
/// glibc's allocator spent a fifth of a first sync's CPU on them. Declared here, so the
/// binary, its tests and its benchmarks measure the same thing.
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
