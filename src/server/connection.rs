//! The server's view of each open connection: what may stop the statement running on it — a
//! CancelRequest (psql's Ctrl-C), the client going away, server shutdown — and how the
//! connection is ended when the server stops.
//!
//! pgwire has a cancel registry of its own, but it only races the handler's `do_query` against
//! the cancel and treats a statement that starts a new cancel window as cancelled; the work of
//! a DataFusion query happens later, while its rows stream. So the connection's cancel signal
//! is ours: a generation counter that a cancel bumps, and that every running statement
//! watches (see `handler::Stop`).
//!
//! pgwire reads the socket only between statements, so a client that disconnects while its
//! statement computes (no rows to write yet) would go unnoticed until the statement ends —
//! possibly never. Each connection therefore keeps a second handle on its socket
//! ([`Connection::gone`] waits for the peer's FIN on it) that is also how the server, when it
//! shuts down, tells an idle client 57P01 and closes the socket under pgwire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use huaxiang_udfs::stop::{StopReason, StopToken};
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::io::Interest;
use tokio::net::TcpStream;

type Key = (i32, Bytes);

/// One open connection.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    /// Bumped by every CancelRequest for this connection.
    generation: AtomicU64,
    cancelled: tokio::sync::Notify,
    /// A second handle on the socket (None where it could not be made).
    watch: Option<TcpStream>,
    /// The statement running now, if any.
    running: Mutex<Option<Arc<StopToken>>>,
    /// Logged in over TLS: nothing may be written around pgwire's encryption.
    secure: AtomicBool,
    /// Ended by the server (shutdown): closed once its statement has answered.
    terminated: AtomicBool,
    connections: Weak<Connections>,
}

/// The open connections: by cancel key (CancelRequest) and all of them (shutdown).
#[derive(Debug, Default)]
pub struct Connections {
    keys: Mutex<HashMap<Key, Weak<Connection>>>,
    open: Mutex<HashMap<u64, Weak<Connection>>>,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
    shutdown: tokio::sync::Notify,
}

impl Connections {
    /// Registers an accepted socket; `watch` is a second handle on it (see the module doc).
    pub fn open(self: &Arc<Self>, watch: Option<TcpStream>) -> Arc<Connection> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            generation: AtomicU64::new(0),
            cancelled: tokio::sync::Notify::new(),
            watch,
            running: Mutex::new(None),
            secure: AtomicBool::new(false),
            terminated: AtomicBool::new(false),
            connections: Arc::downgrade(self),
        });
        lock(&self.open).insert(id, Arc::downgrade(&connection));
        connection
    }

    fn find(&self, pid: i32, secret: &SecretKey) -> Option<Arc<Connection>> {
        lock(&self.keys).get(&(pid, secret.to_bytes()))?.upgrade()
    }

    fn all(&self) -> Vec<Arc<Connection>> {
        lock(&self.open)
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Whether the server is shutting down.
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Completes when the server starts shutting down.
    pub async fn shutdown_started(&self) {
        loop {
            let notified = self.shutdown.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shutting_down() {
                return;
            }
            notified.await;
        }
    }

    /// Ends every connection as PostgreSQL's smart-then-fast shutdown does: running statements
    /// are stopped and answer 57P01 (FATAL, so pgwire closes the connection after it), idle
    /// clients are told 57P01 and their sockets closed. Waits up to `grace` for connections to
    /// go, then closes what is left.
    pub async fn shut_down(&self, grace: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown.notify_waiters();
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let open = self.all();
            if open.is_empty() {
                return;
            }
            let past_grace = tokio::time::Instant::now() >= deadline;
            for connection in &open {
                connection.terminate(past_grace);
            }
            if past_grace {
                log::warn!("{} connection(s) did not end in time", open.len());
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Connection {
    /// Registers the connection's cancel key (at login); forgotten when the connection closes.
    pub fn register_cancel_key(&self, pid: i32, secret: &SecretKey, secure: bool) {
        self.secure.store(secure, Ordering::SeqCst);
        if let Some(connections) = self.connections.upgrade() {
            let me = lock(&connections.open).get(&self.id).cloned();
            if let Some(me) = me {
                lock(&connections.keys).insert((pid, secret.to_bytes()), me);
            }
        }
    }

    /// The current cancel generation: a statement that starts now is cancelled once it changes.
    pub fn cancel_generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Completes when a cancel arrives after `since` was read.
    pub async fn cancelled_since(&self, since: u64) {
        loop {
            let notified = self.cancelled.notified();
            tokio::pin!(notified);
            // Register before checking, so a cancel between the check and the wait is seen.
            notified.as_mut().enable();
            if self.cancel_generation() != since {
                return;
            }
            notified.await;
        }
    }

    fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cancelled.notify_waiters();
    }

    /// Completes when the client has closed its end of the connection (never, without a
    /// second handle on the socket). Bytes the client sent ahead (a pipelined next statement)
    /// are left for pgwire.
    pub async fn gone(&self) {
        let Some(watch) = &self.watch else {
            return std::future::pending().await;
        };
        loop {
            match watch.ready(Interest::READABLE).await {
                Ok(ready) if ready.is_read_closed() || ready.is_error() => return,
                Ok(_) => {
                    // Readable but open: the client's next message waits in the socket. Clear
                    // the readiness (nothing is read) and wait for the next event — the FIN
                    // when the client leaves; a poll every second covers a missed edge.
                    let _ = watch.try_io(Interest::READABLE, || {
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    });
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        watch.ready(Interest::READABLE),
                    )
                    .await;
                    if peer_closed(watch) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// Notes the statement now running (its token is stopped when the server shuts down).
    pub fn statement_started(&self, token: Arc<StopToken>) {
        *lock(&self.running) = Some(token);
    }

    /// Notes that the statement of `token` has ended (a later one may be running already).
    pub fn statement_ended(&self, token: &Arc<StopToken>) {
        let mut running = lock(&self.running);
        if running.as_ref().is_some_and(|r| Arc::ptr_eq(r, token)) {
            *running = None;
        }
    }

    pub fn shutting_down(&self) -> bool {
        self.connections
            .upgrade()
            .is_some_and(|c| c.shutting_down())
    }

    /// Completes when the server starts shutting down.
    pub async fn shutdown_started(&self) {
        match self.connections.upgrade() {
            Some(connections) => connections.shutdown_started().await,
            None => std::future::pending().await,
        }
    }

    /// Shutdown: stops the running statement (it answers 57P01 and pgwire closes); an idle
    /// connection is told 57P01 and closed. `force`: close even a busy one.
    fn terminate(&self, force: bool) {
        let running = lock(&self.running).clone();
        match running {
            Some(token) if !force => token.stop(StopReason::Shutdown),
            _ => {
                if !self.terminated.swap(true, Ordering::SeqCst) && running.is_none() {
                    self.tell_terminated();
                }
                self.close();
            }
        }
    }

    /// Writes FATAL 57P01 to an idle client (not over TLS: it would corrupt the stream).
    fn tell_terminated(&self) {
        let Some(watch) = &self.watch else { return };
        if self.secure.load(Ordering::SeqCst) {
            return;
        }
        let info = pgwire::error::ErrorInfo::new(
            "FATAL".to_string(),
            crate::error::codes::ADMIN_SHUTDOWN.to_string(),
            StopReason::Shutdown.message().to_string(),
        );
        let message: pgwire::messages::response::ErrorResponse = info.into();
        let mut bytes = BytesMut::new();
        if pgwire::messages::Message::encode(&message, &mut bytes).is_ok() {
            // A few dozen bytes into an idle socket's empty send buffer: one write.
            let _ = watch.try_write(&bytes);
        }
    }

    /// Closes the socket under pgwire (its next read sees the end and the connection ends).
    pub fn close(&self) {
        if let Some(watch) = &self.watch {
            let _ = socket2::SockRef::from(watch).shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Whether the peer has ended the stream: a peek that reads 0 bytes. Pending data (the
/// client's next message) or nothing yet is not the end.
fn peer_closed(watch: &TcpStream) -> bool {
    use futures::FutureExt;
    let mut byte = [0u8; 1];
    matches!(watch.peek(&mut byte).now_or_never(), Some(Ok(0)))
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(connections) = self.connections.upgrade() {
            lock(&connections.open).remove(&self.id);
            lock(&connections.keys).retain(|_, c| c.strong_count() > 0);
        }
    }
}

#[async_trait]
impl CancelHandler for Connections {
    async fn on_cancel_request(&self, request: CancelRequest) {
        // An unknown key is ignored, as PostgreSQL does (the requester learns nothing).
        if let Some(connection) = self.find(request.pid, &request.secret_key) {
            log::info!("cancel request for connection {}", request.pid);
            connection.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_reaches_the_statement_running_on_that_connection_only() {
        let connections = Arc::new(Connections::default());
        let a = connections.open(None);
        let b = connections.open(None);
        a.register_cancel_key(1, &SecretKey::I32(7), false);
        b.register_cancel_key(2, &SecretKey::I32(8), false);
        let (since_a, since_b) = (a.cancel_generation(), b.cancel_generation());
        // A wrong secret key does nothing.
        connections
            .on_cancel_request(CancelRequest::new(1, SecretKey::I32(9)))
            .await;
        assert_eq!(a.cancel_generation(), since_a);
        connections
            .on_cancel_request(CancelRequest::new(1, SecretKey::I32(7)))
            .await;
        tokio::time::timeout(Duration::from_secs(1), a.cancelled_since(since_a))
            .await
            .expect("connection 1 is cancelled");
        assert_eq!(b.cancel_generation(), since_b);
    }

    #[test]
    fn a_closed_connection_leaves_the_registry() {
        let connections = Arc::new(Connections::default());
        let connection = connections.open(None);
        connection.register_cancel_key(3, &SecretKey::I32(1), false);
        drop(connection);
        assert!(connections.find(3, &SecretKey::I32(1)).is_none());
        assert!(connections.all().is_empty());
    }

    #[tokio::test]
    async fn shutdown_stops_running_statements_and_waits_for_them() {
        let connections = Arc::new(Connections::default());
        let busy = connections.open(None);
        let token = StopToken::new();
        busy.statement_started(token.clone());
        let ending = {
            let busy = busy.clone();
            let token = token.clone();
            tokio::spawn(async move {
                while token.stopped().is_none() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                busy.statement_ended(&token);
                drop(busy);
            })
        };
        drop(busy);
        connections.shut_down(Duration::from_secs(5)).await;
        ending.await.expect("task");
        assert_eq!(token.stopped(), Some(StopReason::Shutdown));
        assert!(connections.all().is_empty());
        assert!(connections.shutting_down());
    }

    #[tokio::test]
    async fn a_client_that_closes_its_socket_is_seen_gone() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let (server_side, _) = listener.accept().await.expect("accept");
        let connections = Arc::new(Connections::default());
        let connection = connections.open(Some(server_side));
        // Data the client sends ahead is not the end.
        let mut client = client;
        tokio::io::AsyncWriteExt::write_all(&mut client, b"Q")
            .await
            .expect("write");
        assert!(
            tokio::time::timeout(Duration::from_millis(300), connection.gone())
                .await
                .is_err(),
            "pending data is not the end"
        );
        drop(client);
        tokio::time::timeout(Duration::from_secs(3), connection.gone())
            .await
            .expect("the close is seen");
    }
}
