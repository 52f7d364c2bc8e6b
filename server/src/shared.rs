//! Running blocking database work from async handlers.
//!
//! rusqlite is synchronous. Each database sits behind a `std::sync::Mutex`
//! that is only ever locked inside `spawn_blocking`, so no async task holds
//! it across an `.await`, and concurrent requests on one database run one
//! after another (which is also what makes a push batch sent twice at once
//! apply once).

use std::sync::{Arc, Mutex};

/// A value used from blocking threads, one caller at a time.
pub struct Shared<T>(Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T: Send + 'static> Shared<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Shared<T> {
        Shared(Arc::new(Mutex::new(value)))
    }

    /// Runs `f` with the value on a blocking thread.
    pub async fn call<R, F>(&self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.0.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await;
        match joined {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Runs `f` with the value on the current thread (start-up, shutdown).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}
