//! The integration tests: a module per subject, in one test binary. Built as a binary per
//! file, each recompiled the shared helpers and the generic code of the crates they call, and
//! linked on its own: most of the test command's build. The tests that set what a process sets
//! once (its log subscriber and panic hook, its base path, its time zone) are binaries of
//! their own: `panic_log`, `base_path`, `time_zone`.

mod common;

mod accounts;
mod advice;
mod alerts;
mod annotations;
mod api_outage;
mod attempt_refresh;
mod backup;
mod cli_credentials;
mod cli_version;
mod comparison_modes;
mod comparisons;
mod csv_export;
mod dashboard_http;
mod demo_history;
mod emulator_contract;
mod fuzz_dashboard;
mod load;
mod numbers_agree;
mod operations;
mod postgres_dashboard;
mod postgres_failover;
mod postgres_read_replica;
mod postgres_store;
mod postgres_sync;
mod request_edges;
mod roles;
mod rollups;
mod services;
mod slow_clients;
mod snapshot_files;
mod sync_against_emulator;
mod sync_faults;
