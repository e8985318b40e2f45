//! Stopping a statement's work: the [`StopToken`] a statement carries, and the checks long
//! loops make against it.
//!
//! Dropping a query's stream stops DataFusion's work only when that work next gives its thread
//! back to the runtime; a loop that never does (a k-means over a million rows, a nested-loop
//! join with a selective filter) would go on after a cancel, burning CPU for minutes. So every
//! statement carries a token that whoever stops it (a cancel request, `statement_timeout`, the
//! client going away, server shutdown) sets, and long loops call [`checkpoint`] between rounds
//! of work: a stopped statement's loop ends within one round.
//!
//! The token reaches the loops through a thread-local set for the duration of each poll of the
//! statement's operators (the engine's plan wrapper calls [`enter`]), so functions need no
//! argument for it: code that runs inside a query, on the thread that polls it, sees its
//! statement's token. Outside a query (a unit test, another `SessionContext` without the
//! wrapper) there is no token and [`checkpoint`] always passes.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use datafusion::common::{DataFusionError, Result};

/// Why a statement was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopReason {
    /// A cancel request (psql's Ctrl-C, a driver's `cancel()`).
    Cancelled,
    /// The statement ran longer than `statement_timeout`.
    Timeout,
    /// The client's connection closed while the statement ran.
    ClientGone,
    /// The server is shutting down.
    Shutdown,
}

impl StopReason {
    fn code(self) -> u8 {
        match self {
            StopReason::Cancelled => 1,
            StopReason::Timeout => 2,
            StopReason::ClientGone => 3,
            StopReason::Shutdown => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(StopReason::Cancelled),
            2 => Some(StopReason::Timeout),
            3 => Some(StopReason::ClientGone),
            4 => Some(StopReason::Shutdown),
            _ => None,
        }
    }

    /// PostgreSQL's message for it.
    pub fn message(self) -> &'static str {
        match self {
            StopReason::Cancelled => "canceling statement due to user request",
            StopReason::Timeout => "canceling statement due to statement timeout",
            StopReason::ClientGone => "connection to client lost",
            StopReason::Shutdown => "terminating connection due to administrator command",
        }
    }
}

/// The error a stopped statement's work ends with (`DataFusionError::External`), so the one
/// place that gives errors their SQLSTATE can tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped(pub StopReason);

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.message())
    }
}

impl std::error::Error for Stopped {}

impl Stopped {
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }
}

/// One statement's stop signal: set once, by whoever stops it first; read by its work (and
/// awaited by whoever must act at once, see [`StopToken::wait`]).
#[derive(Debug, Default)]
pub struct StopToken {
    reason: AtomicU8,
    waiters: tokio::sync::Notify,
}

impl StopToken {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Stops the statement; the first reason given is the one reported.
    pub fn stop(&self, reason: StopReason) {
        let first = self
            .reason
            .compare_exchange(0, reason.code(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if first {
            self.waiters.notify_waiters();
        }
    }

    /// Completes once the statement is stopped.
    pub async fn wait(&self) {
        loop {
            let notified = self.waiters.notified();
            tokio::pin!(notified);
            // Registered before the check, so a stop between the two is not missed.
            notified.as_mut().enable();
            if self.stopped().is_some() {
                return;
            }
            notified.await;
        }
    }

    /// Why the statement was stopped, if it was.
    pub fn stopped(&self) -> Option<StopReason> {
        StopReason::from_code(self.reason.load(Ordering::Relaxed))
    }

    /// `Err(Stopped)` once the statement is stopped.
    pub fn check(&self) -> Result<()> {
        match self.stopped() {
            Some(reason) => Err(Stopped(reason).into_datafusion()),
            None => Ok(()),
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<StopToken>>> = const { RefCell::new(None) };
}

/// Makes `token` the current thread's statement until the returned scope is dropped (then the
/// previous one is current again, so scopes nest).
pub fn enter(token: &Arc<StopToken>) -> Scope {
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(token)));
    Scope { previous }
}

/// Restores the previous statement of the thread when dropped.
#[must_use = "the token is current only while the scope lives"]
pub struct Scope {
    previous: Option<Arc<StopToken>>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The statement running on this thread, if any.
pub fn current() -> Option<Arc<StopToken>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// `Err` when the statement running on this thread has been stopped: call it between rounds of
/// a long computation (an iteration, a chunk of rows) and return the error.
///
/// ```
/// # use huaxiang_udfs::stop::checkpoint;
/// # fn main() -> datafusion::common::Result<()> {
/// for _iteration in 0..300 {
///     checkpoint()?;
///     // ... one pass over the rows ...
/// }
/// # Ok(()) }
/// ```
pub fn checkpoint() -> Result<()> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(token) => token.check(),
        None => Ok(()),
    })
}

/// Whether the statement running on this thread has been stopped: for loops that end early
/// and let their caller report the error.
pub fn stopped() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|t| t.stopped().is_some()))
}

/// Runs a long computation that never yields (a model fit, a clustering) so that the runtime
/// thread it was called on keeps serving other tasks meanwhile: on a multi-threaded tokio
/// runtime's worker the worker's queue is handed to another thread for the duration
/// (`tokio::task::block_in_place`); elsewhere `f` simply runs. The statement's token stays
/// current inside `f`, so its [`checkpoint`]s still work.
pub fn long_running<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let on_worker = Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
    if on_worker {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins_and_checkpoints_see_it_only_inside_the_scope() {
        let token = StopToken::new();
        assert!(checkpoint().is_ok(), "no statement: always passes");
        {
            let _scope = enter(&token);
            assert!(checkpoint().is_ok());
            token.stop(StopReason::Timeout);
            token.stop(StopReason::Cancelled);
            let err = checkpoint().expect_err("stopped");
            assert_eq!(
                err.to_string(),
                "External error: canceling statement due to statement timeout"
            );
        }
        assert!(checkpoint().is_ok(), "scope ended");
        assert_eq!(token.stopped(), Some(StopReason::Timeout));
    }

    #[test]
    fn scopes_nest() {
        let outer = StopToken::new();
        let inner = StopToken::new();
        let _a = enter(&outer);
        {
            let _b = enter(&inner);
            inner.stop(StopReason::Cancelled);
            assert!(checkpoint().is_err());
        }
        assert!(checkpoint().is_ok(), "the outer statement is running");
    }

    #[test]
    fn long_running_works_on_and_off_a_runtime() {
        assert_eq!(long_running(|| 1 + 1), 2);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("runtime");
        let token = StopToken::new();
        let value = runtime.block_on(async {
            tokio::spawn(async move {
                let _scope = enter(&token);
                token.stop(StopReason::Shutdown);
                long_running(|| checkpoint().is_err())
            })
            .await
            .expect("task")
        });
        assert!(value, "the token is current inside long_running");
        let current_thread = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(current_thread.block_on(async { long_running(|| 3) }), 3);
    }
}
