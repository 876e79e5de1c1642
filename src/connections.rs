//! The accept loop both servers (the dashboard and the emulator) run, so that no client can
//! hold a connection or stop a shutdown: a deadline on each request's head, which on a
//! keep-alive connection also bounds the idle wait for the next request; a cap on open
//! connections below the process's file limit; and a hard deadline on graceful shutdown.
//! The deadline on a whole request, body included, is a layer of each router.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long a client has for each thing it could otherwise do forever.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// From the connection's start, or the end of its last answer, to the end of the next
    /// request's head: slow headers and idle keep-alive connections are closed after it.
    pub request_head: Duration,
    /// Connections open at once; more wait in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// After a shutdown signal, how long requests under way may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            request_head: Duration::from_secs(10),
            max_connections: connections_the_file_limit_allows(1024),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// At most `wanted` connections, and fewer when the process may open fewer files: each
/// connection is a file, and the snapshot, its WAL and the logs need some too.
pub fn connections_the_file_limit_allows(wanted: usize) -> usize {
    const FILES_KEPT_FOR_THE_REST: u64 = 64;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given and reads nothing else.
    let files = match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_cur,
        _ => return wanted,
    };
    let allowed = files.saturating_sub(FILES_KEPT_FOR_THE_REST).max(1);
    wanted.min(usize::try_from(allowed).unwrap_or(usize::MAX))
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests under way finish
/// for at most `limits.shutdown_grace` and closes whatever is left.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.request_head);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = open.clone().acquire_owned() => slot.expect("the connection semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of files or memory for a moment: wait rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection closed: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    let open_connections = graceful.count();
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            "{open_connections} connections were still open {} s after the shutdown began; closing them",
            limits.shutdown_grace.as_secs()
        );
    }
    Ok(())
}
