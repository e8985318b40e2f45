//! Trained models as they are stored (`model.rs`: what a model predicts from, its parameters
//! and metrics) and where (`store.rs`: in memory, or a directory of JSON files). Below both
//! families that save models — `models` (logistic, tree) and `clv` — and knowing neither.

pub mod model;
pub mod store;

use std::sync::{Arc, LazyLock};

use store::{MemoryStore, ModelStore};

/// The store of [`crate::register_all`]: in memory, for the life of the process.
pub fn default_store() -> Arc<dyn ModelStore> {
    static STORE: LazyLock<Arc<MemoryStore>> = LazyLock::new(MemoryStore::new);
    STORE.clone()
}
