//! CancelRequest (psql's Ctrl-C): stops the statement that is running on the connection the
//! request names, whether it is still planning or already streaming rows.
//!
//! pgwire has a cancel registry of its own, but it only races the handler's `do_query` against
//! the cancel and treats a statement that starts a new cancel window as cancelled; the work of
//! a DataFusion query happens later, while its rows stream. So the connection's cancel signal
//! is ours: a generation counter that a cancel bumps, and that every running statement
//! watches (see `handler::Stop`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;

/// One connection's cancel signal.
#[derive(Debug, Default)]
pub struct CancelSignal {
    generation: AtomicU64,
    notify: tokio::sync::Notify,
}

impl CancelSignal {
    /// The current generation: a statement that starts now is cancelled once it changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Completes when a cancel arrives after `since` was read.
    pub async fn cancelled_since(&self, since: u64) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register before checking, so a cancel between the check and the wait is seen.
            notified.as_mut().enable();
            if self.generation() != since {
                return;
            }
            notified.await;
        }
    }

    fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
}

type Key = (i32, Bytes);

/// The cancel signals of the open connections, by their (process id, secret key).
#[derive(Debug, Default)]
pub struct CancelRegistry {
    signals: Mutex<HashMap<Key, Weak<CancelSignal>>>,
}

/// Keeps a connection's entry in the registry; dropped with the connection.
#[derive(Debug)]
pub struct Registration {
    key: Key,
    registry: Arc<CancelRegistry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut signals) = self.registry.signals.lock() {
            signals.remove(&self.key);
        }
    }
}

impl CancelRegistry {
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        secret: &SecretKey,
    ) -> (Arc<CancelSignal>, Registration) {
        let key = (pid, secret.to_bytes());
        let signal = Arc::new(CancelSignal::default());
        if let Ok(mut signals) = self.signals.lock() {
            signals.insert(key.clone(), Arc::downgrade(&signal));
        }
        (
            signal,
            Registration {
                key,
                registry: self.clone(),
            },
        )
    }

    fn find(&self, pid: i32, secret: &SecretKey) -> Option<Arc<CancelSignal>> {
        let signals = self.signals.lock().ok()?;
        signals.get(&(pid, secret.to_bytes()))?.upgrade()
    }
}

#[async_trait]
impl CancelHandler for CancelRegistry {
    async fn on_cancel_request(&self, request: CancelRequest) {
        // An unknown key is ignored, as PostgreSQL does (the requester learns nothing).
        if let Some(signal) = self.find(request.pid, &request.secret_key) {
            log::info!("cancel request for connection {}", request.pid);
            signal.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancel_reaches_the_statement_running_on_that_connection_only() {
        let registry = Arc::new(CancelRegistry::default());
        let (a, _ra) = registry.register(1, &SecretKey::I32(7));
        let (b, _rb) = registry.register(2, &SecretKey::I32(8));
        let (since_a, since_b) = (a.generation(), b.generation());
        // A wrong secret key does nothing.
        registry
            .on_cancel_request(CancelRequest::new(1, SecretKey::I32(9)))
            .await;
        assert_eq!(a.generation(), since_a);
        registry
            .on_cancel_request(CancelRequest::new(1, SecretKey::I32(7)))
            .await;
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            a.cancelled_since(since_a),
        )
        .await
        .expect("connection 1 is cancelled");
        assert_eq!(b.generation(), since_b);
    }

    #[test]
    fn a_closed_connection_leaves_the_registry() {
        let registry = Arc::new(CancelRegistry::default());
        let (signal, registration) = registry.register(3, &SecretKey::I32(1));
        drop(registration);
        assert!(registry.find(3, &SecretKey::I32(1)).is_none());
        drop(signal);
    }
}
