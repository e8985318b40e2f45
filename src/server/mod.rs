//! The PostgreSQL wire-protocol server.
//!
//! `datafusion-postgres`'s `serve_with_handlers` shares one handler object between all
//! connections, but pgwire keeps login state in the startup handler, so concurrent logins would
//! share it. This accept loop therefore gives every connection its own handlers (fresh SCRAM
//! state) around the shared [`handler::QueryService`], and hands the socket to pgwire.

pub mod auth;
mod connection;
mod copy;
pub mod handler;
mod session;
mod show;
pub mod tls;
pub mod wire_error;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use log::{info, warn};
use pgwire::api::ErrorHandler;
use pgwire::api::PgWireServerHandlers;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use tokio::net::TcpListener;

use crate::engine::Engine;
use auth::{ScramStartupHandler, Users};
use connection::Connections;
use handler::{QueryService, SqlStateErrorHandler};

/// Where and how to listen.
#[derive(Clone)]
pub struct ServerOptions {
    pub host: String,
    pub port: u16,
    /// 0: no limit.
    pub max_connections: usize,
    /// TLS for clients that ask for it (psql's `sslmode=prefer`, the default, does).
    pub tls: Option<pgwire::tokio::TlsAcceptor>,
    /// Refuse clients that do not use TLS (28000).
    pub require_tls: bool,
    /// Bytes one connection's query may hold in memory (None: no limit).
    pub query_memory: Option<usize>,
    /// Every connection's `statement_timeout` until it sets its own, in ms (0: none).
    pub statement_timeout_ms: u64,
    /// Statements one user may run at once; more wait for a turn (0: no limit).
    pub statements_per_user: usize,
}

/// How long shutdown waits for running statements to answer before closing their sockets.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// A bound server, ready to accept connections.
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

struct Shared {
    engine: Arc<Engine>,
    /// The open connections (CancelRequest finds the query to stop here; shutdown ends them).
    connections: Arc<Connections>,
    users: Arc<Users>,
    max_connections: usize,
    open_connections: AtomicUsize,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    require_tls: bool,
    query_memory: Option<usize>,
    admission: Arc<handler::Admission>,
}

/// Whether `host` only accepts connections from this machine.
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

impl Server {
    /// Binds the listening socket, refusing unsafe set-ups with a clear message.
    pub async fn bind(
        engine: Arc<Engine>,
        users: Users,
        options: &ServerOptions,
    ) -> anyhow::Result<Self> {
        if users.is_default && !is_loopback(&options.host) {
            anyhow::bail!(
                "refusing to listen on {} with the built-in user huaxiang/huaxiang: anyone on \
                 the network could log in. Add a user with `huaxiang passwd NAME` (it writes the \
                 config file) or listen on 127.0.0.1",
                options.host
            );
        }
        let address = format!("{}:{}", options.host, options.port);
        let listener = TcpListener::bind(&address).await.with_context(|| {
            format!(
                "cannot listen on {address} (another huaxiang or PostgreSQL may be using the \
                 port; choose another with --port)"
            )
        })?;
        Ok(Self {
            listener,
            shared: Arc::new(Shared {
                engine,
                connections: Arc::new(Connections::default()),
                users: Arc::new(users),
                max_connections: options.max_connections,
                open_connections: AtomicUsize::new(0),
                tls: options.tls.clone(),
                require_tls: options.require_tls,
                query_memory: options.query_memory,
                admission: Arc::new(handler::Admission::new(
                    options.statement_timeout_ms,
                    options.statements_per_user,
                )),
            }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` completes; then ends every connection (running
    /// statements answer 57P01, idle clients are told so) and returns within a few seconds.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => accepted,
            };
            let (socket, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the others.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let (socket, watch) = with_second_handle(socket);
            let shared = self.shared.clone();
            let open = shared.open_connections.fetch_add(1, Ordering::SeqCst) + 1;
            let too_many = shared.max_connections > 0 && open > shared.max_connections;
            tokio::spawn(async move {
                let connection = shared.connections.open(watch);
                let handlers = Arc::new(ConnectionHandlers {
                    query: Arc::new(QueryService::new(
                        shared.engine.clone(),
                        shared.users.clone(),
                        shared.query_memory,
                        connection.clone(),
                        shared.admission.clone(),
                    )),
                    startup: Arc::new(ScramStartupHandler::new(
                        shared.users.clone(),
                        too_many,
                        connection.clone(),
                        shared.require_tls,
                        shared.admission.statement_timeout_ms(),
                    )),
                    connections: shared.connections.clone(),
                });
                if let Err(e) =
                    pgwire::tokio::process_socket(socket, shared.tls.clone(), handlers).await
                {
                    info!("connection from {peer} ended: {e}");
                }
                // The second handle would keep the socket open after pgwire's is dropped.
                connection.close();
                shared.open_connections.fetch_sub(1, Ordering::SeqCst);
            });
        }
        info!("server stopped accepting connections; ending the open ones");
        drop(self.listener);
        self.shared.connections.shut_down(SHUTDOWN_GRACE).await;
    }
}

/// The socket, and a second handle on it for the connection's watch (see
/// `connection::Connection::gone`); without one when the descriptor cannot be duplicated.
fn with_second_handle(
    socket: tokio::net::TcpStream,
) -> (tokio::net::TcpStream, Option<tokio::net::TcpStream>) {
    let watch = socket2::SockRef::from(&socket)
        .try_clone()
        .and_then(|dup| {
            // The duplicate shares the socket's non-blocking flag.
            tokio::net::TcpStream::from_std(std::net::TcpStream::from(dup))
        })
        .map_err(|e| warn!("no second handle on a client socket: {e}"))
        .ok();
    (socket, watch)
}

/// The handlers of one connection.
struct ConnectionHandlers {
    query: Arc<QueryService>,
    startup: Arc<ScramStartupHandler>,
    connections: Arc<Connections>,
}

impl PgWireServerHandlers for ConnectionHandlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.query.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.query.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(SqlStateErrorHandler)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.connections.clone()
    }

    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        self.query.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "192.168.1.5", "example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
