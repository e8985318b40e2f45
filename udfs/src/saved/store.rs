//! Where trained models live: in memory (any `SessionContext`), or one JSON file per model in a
//! directory (the huaxiang server's data dir), replaced atomically.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::saved::model::Model;

/// A place to keep models by name.
pub trait ModelStore: Send + Sync + std::fmt::Debug {
    fn get(&self, name: &str) -> Result<Option<Model>, String>;
    /// Stores `model`, replacing one of the same name.
    fn put(&self, model: &Model) -> Result<(), String>;
    /// Removes a model; false when there was none.
    fn remove(&self, name: &str) -> Result<bool, String>;
    /// Every model, by name.
    fn list(&self) -> Result<Vec<Model>, String>;
}

/// Model names are identifiers: letters, digits and `_`, at most 63 characters; compared
/// without case (stored lower-case).
pub fn check_name(name: &str) -> Result<String, String> {
    let lower = name.trim().to_lowercase();
    if lower.is_empty()
        || lower.chars().count() > 63
        || !lower.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return Err(format!(
            "model name '{name}' must be 1 to 63 letters, digits or '_'"
        ));
    }
    Ok(lower)
}

/// Models kept in memory for the life of the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    models: Mutex<BTreeMap<String, Model>>,
}

impl MemoryStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
}

impl ModelStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Model>, String> {
        let models = self.models.lock().map_err(|_| "model store poisoned")?;
        Ok(models.get(&check_name(name)?).cloned())
    }

    fn put(&self, model: &Model) -> Result<(), String> {
        let name = check_name(&model.name)?;
        let mut models = self.models.lock().map_err(|_| "model store poisoned")?;
        models.insert(name, model.clone());
        Ok(())
    }

    fn remove(&self, name: &str) -> Result<bool, String> {
        let mut models = self.models.lock().map_err(|_| "model store poisoned")?;
        Ok(models.remove(&check_name(name)?).is_some())
    }

    fn list(&self) -> Result<Vec<Model>, String> {
        let models = self.models.lock().map_err(|_| "model store poisoned")?;
        Ok(models.values().cloned().collect())
    }
}

/// One `NAME.json` per model in a directory. A model is written to a temporary file, synced and
/// renamed over the old one, so a crash leaves either the old or the new model, never half.
#[derive(Debug)]
pub struct DirStore {
    dir: PathBuf,
    /// Serialises writers of this process.
    writing: Mutex<()>,
}

impl DirStore {
    pub fn open(dir: &Path) -> Result<Arc<Self>, String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the model directory {}: {e}", dir.display()))?;
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            writing: Mutex::new(()),
        }))
    }

    fn path(&self, name: &str) -> Result<PathBuf, String> {
        Ok(self.dir.join(format!("{}.json", check_name(name)?)))
    }

    fn read(path: &Path) -> Result<Option<Model>, String> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("model file {} is damaged: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    fn sync_dir(&self) -> Result<(), String> {
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", self.dir.display()))
    }
}

impl ModelStore for DirStore {
    fn get(&self, name: &str) -> Result<Option<Model>, String> {
        Self::read(&self.path(name)?)
    }

    fn put(&self, model: &Model) -> Result<(), String> {
        let path = self.path(&model.name)?;
        let bytes = serde_json::to_vec_pretty(model).map_err(|e| e.to_string())?;
        let _guard = self.writing.lock().map_err(|_| "model store poisoned")?;
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(|e| format!("cannot write a model in {}: {e}", self.dir.display()))?;
        temp.write_all(&bytes)
            .and_then(|_| temp.as_file().sync_all())
            .map_err(|e| format!("cannot write a model in {}: {e}", self.dir.display()))?;
        temp.persist(&path)
            .map_err(|e| format!("cannot replace {}: {e}", path.display()))?;
        self.sync_dir()
    }

    fn remove(&self, name: &str) -> Result<bool, String> {
        let path = self.path(name)?;
        let _guard = self.writing.lock().map_err(|_| "model store poisoned")?;
        match fs::remove_file(&path) {
            Ok(()) => {
                self.sync_dir()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
        }
    }

    fn list(&self) -> Result<Vec<Model>, String> {
        let mut models = Vec::new();
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| format!("cannot list {}: {e}", self.dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_some_and(|e| e == "json")
                && let Some(model) = Self::read(&path)?
            {
                models.push(model);
            }
        }
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saved::model::{Kind, Node, Params};

    fn model(name: &str, rows: usize) -> Model {
        Model {
            name: name.to_string(),
            kind: Kind::Tree,
            features: vec!["x".to_string()],
            params: Params::Tree {
                root: Node::Leaf { probability: 0.25 },
                importances: vec![0.0],
            },
            metrics: vec![("auc".to_string(), 0.5)],
            options: String::new(),
            trained_at: 0,
            rows,
        }
    }

    #[test]
    fn both_stores_keep_replace_list_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let stores: Vec<Arc<dyn ModelStore>> = vec![
            MemoryStore::new(),
            DirStore::open(&dir.path().join("models")).unwrap(),
        ];
        for store in stores {
            store.put(&model("a", 1)).unwrap();
            store.put(&model("b", 2)).unwrap();
            store.put(&model("a", 3)).unwrap();
            assert_eq!(store.get("A").unwrap().unwrap().rows, 3);
            assert_eq!(
                store
                    .list()
                    .unwrap()
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>(),
                vec!["a", "b"]
            );
            assert!(store.remove("a").unwrap());
            assert!(!store.remove("a").unwrap());
            assert_eq!(store.get("a").unwrap(), None);
            assert!(store.get("../etc").is_err());
        }
    }
}
