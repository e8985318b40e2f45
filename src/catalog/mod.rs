//! The durable catalog of one data dir.
//!
//! ```text
//! <data dir>/
//!   catalog.json        every relation: managed tables (-> a Delta dir), views (their SQL text
//!                       exactly as written), external tables (their CREATE EXTERNAL TABLE text)
//!   .catalog.lock       serialises DDL between processes on the same data dir
//!   tables/<id>/        one Delta Lake table per managed table (_delta_log/ + Parquet files)
//! ```
//!
//! Every DDL statement is one atomic replacement of `catalog.json` (write a temporary file,
//! fsync, rename). A new table's data is written into a fresh directory first, so a crash at any
//! moment leaves either the old catalog or the new one, never a half-made table; directories no
//! entry points to are removed on the next start. Row changes (INSERT) are Delta commits.

pub mod access;
pub mod managed_table;
pub mod storage_types;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use datafusion::arrow::datatypes::Schema;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::{
    CreateExternalTable, CreateMemoryTable, CreateView, LogicalPlan, LogicalPlanBuilder,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
use datafusion::prelude::{cast, col};
use deltalake::DeltaTable;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;
use log::warn;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{SqlError, codes};
use managed_table::ManagedTable;

/// The database name clients connect to, and DataFusion's catalog name.
pub const DATABASE: &str = "huaxiang";
/// The schema user tables live in.
pub const PUBLIC_SCHEMA: &str = "public";

const CATALOG_FILE: &str = "catalog.json";
const LOCK_FILE: &str = ".catalog.lock";
const TABLES_DIR: &str = "tables";
const FORMAT_VERSION: u32 = 1;

/// What `catalog.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    format_version: u32,
    /// Relations of the `public` schema by name. Views are replayed in `seq` order.
    relations: BTreeMap<String, Entry>,
    next_seq: u64,
    /// Grants and masking rules by relation (see [`access`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    access: BTreeMap<String, access::RelationAccess>,
    /// The user who created each relation (`pg_class.relowner`, psql's `\dt` Owner). Relations
    /// made before owners were kept have none: their owner is the data dir's administrator.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    owners: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Entry {
    /// A Delta table in `tables/<dir>`.
    Table { dir: String, seq: u64 },
    /// A view; `sql` is the CREATE VIEW statement exactly as the user wrote it.
    View { sql: String, seq: u64 },
    /// An external table over files; `sql` is the CREATE EXTERNAL TABLE statement as written.
    External { sql: String, seq: u64 },
}

impl Entry {
    fn seq(&self) -> u64 {
        match self {
            Entry::Table { seq, .. } | Entry::View { seq, .. } | Entry::External { seq, .. } => {
                *seq
            }
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Entry::Table { .. } => "table",
            Entry::View { .. } => "view",
            Entry::External { .. } => "external table",
        }
    }
}

/// A relation as the running engine sees it.
#[derive(Debug, Clone)]
struct Loaded {
    /// For views: the relations of `public` the view's SQL reads.
    depends_on: Vec<String>,
    /// `None` when the relation could not be opened (a missing file behind an external table,
    /// a view whose base table is gone); `problem` says why.
    provider: Option<Arc<dyn TableProvider>>,
    problem: Option<String>,
    /// For managed tables: their directory under `tables/`.
    dir: Option<String>,
}

/// How the relation kinds are named in messages and command tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

/// The durable catalog: the `public` schema of database `huaxiang`.
#[derive(Debug)]
pub struct Catalog {
    data_dir: PathBuf,
    loaded: RwLock<BTreeMap<String, Loaded>>,
    /// Grants and masks as last read or written.
    access: RwLock<BTreeMap<String, access::RelationAccess>>,
    /// Relation owners as last read or written.
    owners: RwLock<BTreeMap<String, String>>,
    /// What `catalog.json` looked like when last read or written, to notice other processes.
    stamp: Mutex<Option<FileStamp>>,
    /// Serialises DDL inside this process; the lock file serialises it between processes.
    ddl: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl Catalog {
    /// Opens the data dir, creating it when `create` is set.
    pub fn open(data_dir: &Path, create: bool) -> Result<Arc<Self>, SqlError> {
        if !data_dir.exists() {
            if !create {
                return Err(SqlError::new(
                    codes::IO_ERROR,
                    format!(
                        "data directory {} does not exist (create one with `huaxiang demo` or \
                         `huaxiang serve`, or pass --data-dir)",
                        data_dir.display()
                    ),
                ));
            }
            fs::create_dir_all(data_dir).map_err(|e| io_error(data_dir, e))?;
        }
        if !data_dir.is_dir() {
            return Err(SqlError::new(
                codes::IO_ERROR,
                format!("data directory {} is not a directory", data_dir.display()),
            ));
        }
        let tables = data_dir.join(TABLES_DIR);
        fs::create_dir_all(&tables).map_err(|e| io_error(&tables, e))?;
        let data_dir = fs::canonicalize(data_dir).map_err(|e| io_error(data_dir, e))?;
        Ok(Arc::new(Self {
            data_dir,
            loaded: RwLock::new(BTreeMap::new()),
            access: RwLock::new(BTreeMap::new()),
            owners: RwLock::new(BTreeMap::new()),
            stamp: Mutex::new(None),
            ddl: tokio::sync::Mutex::new(()),
        }))
    }

    /// Who created `relation`, if known (relations made before owners were kept have none).
    pub fn owner(&self, relation: &str) -> Option<String> {
        self.owners.read().ok()?.get(relation).cloned()
    }

    /// Every relation's known owner.
    pub fn owners(&self) -> BTreeMap<String, String> {
        self.owners.read().map(|o| o.clone()).unwrap_or_default()
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The DataFusion catalog provider for database `huaxiang` (schema `public`).
    pub fn catalog_provider(self: &Arc<Self>) -> Arc<dyn CatalogProvider> {
        Arc::new(HuaxiangCatalogProvider {
            public: Arc::new(PublicSchema {
                catalog: self.clone(),
            }),
            others: RwLock::new(BTreeMap::new()),
        })
    }

    /// Loads every relation, removing table directories a crash left behind.
    pub async fn load(&self, state: &SessionState) -> Result<()> {
        let _guard = self.ddl.lock().await;
        let lock = self.lock_file().await?;
        let file = self.read_file()?;
        self.remove_orphan_dirs(&file);
        drop(lock);
        self.install(&file, state).await;
        Ok(())
    }

    /// Reloads the catalog when another process changed it since we last looked.
    pub async fn refresh_if_changed(&self, state: &SessionState) -> Result<()> {
        let current = self.current_stamp();
        let known = self.stamp.lock().map(|s| s.clone()).unwrap_or(None);
        if current == known {
            return Ok(());
        }
        let _guard = self.ddl.lock().await;
        // Another process may change the catalog while this one opens the tables it lists —
        // a DROP removes the table's directory just after writing the catalog, so a table
        // read from the old catalog is gone when opened. Install again until the catalog
        // stood still while it was installed (a few rounds at most).
        for _ in 0..5 {
            let before = self.current_stamp();
            let file = self.read_file()?;
            self.install(&file, state).await;
            if self.current_stamp() == before {
                break;
            }
        }
        Ok(())
    }

    /// Names of the relations in `public`.
    pub fn relation_names(&self) -> Vec<String> {
        self.loaded
            .read()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Bytes a relation takes in the data dir (its Parquet files and Delta log), as
    /// `pg_table_size` reports it: 0 for views and external tables (their data is elsewhere),
    /// `None` for a name that is not a relation.
    pub fn relation_size(&self, name: &str) -> Option<u64> {
        let dir = {
            let loaded = self.loaded.read().ok()?;
            loaded.get(name)?.dir.clone()
        };
        let Some(dir) = dir else {
            return Some(0);
        };
        fn size(path: &Path) -> u64 {
            match fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => fs::read_dir(path)
                    .map(|entries| entries.flatten().map(|e| size(&e.path())).sum())
                    .unwrap_or(0),
                Ok(meta) => meta.len(),
                Err(_) => 0,
            }
        }
        Some(size(&self.data_dir.join(TABLES_DIR).join(dir)))
    }

    fn provider(&self, name: &str) -> Option<Arc<dyn TableProvider>> {
        let loaded = self.loaded.read().ok()?;
        loaded.get(name).and_then(|l| l.provider.clone())
    }

    fn problem(&self, name: &str) -> Option<String> {
        let loaded = self.loaded.read().ok()?;
        loaded.get(name).and_then(|l| l.problem.clone())
    }

    /// `CREATE TABLE name (...)` and `CREATE TABLE name AS SELECT ...` by user `owner`: returns
    /// the rows written.
    pub async fn create_table(
        &self,
        cmd: &CreateMemoryTable,
        owner: &str,
        state: &SessionState,
    ) -> Result<Option<usize>> {
        let name = relation_name(&cmd.name)?;
        if cmd.temporary {
            return Err(not_supported("CREATE TEMPORARY TABLE"));
        }
        let _guard = self.ddl.lock().await;
        let _lock = self.lock_file().await?;
        let mut file = self.read_file()?;
        let replaced = match file.relations.get(&name) {
            Some(_) if cmd.if_not_exists => return Ok(None),
            Some(Entry::Table { dir, .. }) if cmd.or_replace => Some(dir.clone()),
            Some(entry) if cmd.or_replace => {
                return Err(wrong_kind(&name, entry, "table"));
            }
            Some(_) => return Err(already_exists(&name)),
            None => None,
        };

        let dir_name = format!("{}-{}", sanitize(&name), uuid::Uuid::new_v4().simple());
        let table_dir = self.data_dir.join(TABLES_DIR).join(&dir_name);
        let rows = match write_new_table(&table_dir, &cmd.input, state).await {
            Ok(rows) => rows,
            Err(e) => {
                let _ = fs::remove_dir_all(&table_dir);
                return Err(e);
            }
        };
        let seq = file.take_seq();
        file.relations.insert(
            name.clone(),
            Entry::Table {
                dir: dir_name.clone(),
                seq,
            },
        );
        file.keep_owner(&name, owner);
        if let Err(e) = self.write_file(&file) {
            let _ = fs::remove_dir_all(&table_dir);
            return Err(e);
        }
        if let Some(old_dir) = replaced {
            let _ = fs::remove_dir_all(self.data_dir.join(TABLES_DIR).join(old_dir));
        }
        self.install(&file, state).await;
        Ok(Some(rows))
    }

    /// `CREATE [OR REPLACE] VIEW name AS ...` by user `owner`; `sql` is the statement exactly as
    /// written.
    pub async fn create_view(
        &self,
        cmd: &CreateView,
        sql: &str,
        owner: &str,
        state: &SessionState,
    ) -> Result<()> {
        let name = relation_name(&cmd.name)?;
        if cmd.temporary {
            return Err(not_supported("CREATE TEMPORARY VIEW"));
        }
        // Plan-time checks DataFusion does for its own views.
        let input = coerce(cmd.input.as_ref().clone(), state)?;
        ensure_unique_column_names(&input)?;
        if statement_relations(sql, state)?.contains(&name) {
            return Err(SqlError::new(
                "42P17",
                format!("infinite recursion detected: view \"{name}\" refers to itself"),
            )
            .into_datafusion());
        }

        let _guard = self.ddl.lock().await;
        let _lock = self.lock_file().await?;
        let mut file = self.read_file()?;
        match file.relations.get(&name) {
            Some(Entry::View { .. }) if cmd.or_replace => {}
            Some(entry) if cmd.or_replace => return Err(wrong_kind(&name, entry, "view")),
            Some(_) => return Err(already_exists(&name)),
            None => {}
        }
        let seq = file.take_seq();
        file.keep_owner(&name, owner);
        file.relations.insert(
            name,
            Entry::View {
                sql: sql.to_string(),
                seq,
            },
        );
        self.write_file(&file)?;
        self.install(&file, state).await;
        Ok(())
    }

    /// `CREATE EXTERNAL TABLE ...` by user `owner`; `sql` is the statement as written.
    pub async fn create_external_table(
        &self,
        cmd: &CreateExternalTable,
        sql: &str,
        owner: &str,
        state: &SessionState,
    ) -> Result<()> {
        let name = relation_name(&cmd.name)?;
        if cmd.temporary {
            return Err(not_supported("CREATE TEMPORARY EXTERNAL TABLE"));
        }
        // The definition is replayed at every start, from whatever directory the server runs
        // in, so a relative path would silently point somewhere else later.
        // (A database source's LOCATION is a table name, not a path; an Excel table's relative
        // path is taken in the import directory.)
        let relative_ok = cmd.file_type.eq_ignore_ascii_case("EXCEL")
            || crate::sources::SourceKind::from_stored_as(&cmd.file_type).is_some();
        if let Some(relative) = cmd
            .locations
            .iter()
            .find(|l| !relative_ok && !l.starts_with('/') && !l.contains("://"))
        {
            return Err(SqlError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!("external table location '{relative}' must be an absolute path"),
            )
            .with_hint("Write the full path, e.g. LOCATION '/data/exports/orders.csv'.")
            .into_datafusion());
        }
        let _guard = self.ddl.lock().await;
        let _lock = self.lock_file().await?;
        let mut file = self.read_file()?;
        match file.relations.get(&name) {
            Some(_) if cmd.if_not_exists => return Ok(()),
            Some(Entry::External { .. }) if cmd.or_replace => {}
            Some(entry) if cmd.or_replace => {
                return Err(wrong_kind(&name, entry, "external table"));
            }
            Some(_) => return Err(already_exists(&name)),
            None => {}
        }
        // Open it now so a wrong path or format is reported to the user, not at the next start.
        without_panic(open_external(cmd, state)).await?;
        let seq = file.take_seq();
        file.keep_owner(&name, owner);
        file.relations.insert(
            name,
            Entry::External {
                sql: sql.to_string(),
                seq,
            },
        );
        self.write_file(&file)?;
        self.install(&file, state).await;
        Ok(())
    }

    /// `DROP TABLE` / `DROP VIEW`. With `cascade`, views that depend on it are dropped too;
    /// without, such views make the drop fail as in PostgreSQL (2BP01).
    pub async fn drop_relation(
        &self,
        name: &TableReference,
        kind: RelationKind,
        if_exists: bool,
        cascade: bool,
        state: &SessionState,
    ) -> Result<bool> {
        let name = relation_name(name)?;
        let _guard = self.ddl.lock().await;
        let _lock = self.lock_file().await?;
        let mut file = self.read_file()?;
        let Some(entry) = file.relations.get(&name).cloned() else {
            if if_exists {
                return Ok(false);
            }
            let what = match kind {
                RelationKind::Table => "table",
                RelationKind::View => "view",
            };
            return Err(SqlError::new(
                codes::UNDEFINED_TABLE,
                format!("{what} \"{name}\" does not exist"),
            )
            .into_datafusion());
        };
        match (kind, &entry) {
            (RelationKind::Table, Entry::View { .. }) => {
                return Err(SqlError::new(
                    codes::WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not a table"),
                )
                .with_hint("Use DROP VIEW to remove a view.")
                .into_datafusion());
            }
            (RelationKind::View, Entry::Table { .. } | Entry::External { .. }) => {
                return Err(SqlError::new(
                    codes::WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not a view"),
                )
                .with_hint("Use DROP TABLE to remove a table.")
                .into_datafusion());
            }
            _ => {}
        }

        let dependents = self.dependents_of(&name);
        if !dependents.is_empty() && !cascade {
            let detail = dependents
                .iter()
                .map(|v| format!("view {v} depends on {} {name}", entry.kind_name()))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(SqlError::new(
                codes::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop {} {name} because other objects depend on it",
                    entry.kind_name()
                ),
            )
            .with_detail(detail)
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")
            .into_datafusion());
        }
        let mut removed_dirs = Vec::new();
        let dropped: Vec<&String> = std::iter::once(&name).chain(dependents.iter()).collect();
        for relation in &dropped {
            if let Some(Entry::Table { dir, .. }) = file.relations.remove(*relation) {
                removed_dirs.push(dir);
            }
        }
        access::forget(&mut file.access, &dropped);
        for relation in &dropped {
            file.owners.remove(*relation);
        }
        self.write_file(&file)?;
        for dir in removed_dirs {
            let path = self.data_dir.join(TABLES_DIR).join(dir);
            if let Err(e) = fs::remove_dir_all(&path) {
                warn!(
                    "could not remove {}: {e}; it is removed at the next start",
                    path.display()
                );
            }
        }
        self.install(&file, state).await;
        Ok(true)
    }

    /// Views that read `name`, directly or through other views.
    fn dependents_of(&self, name: &str) -> Vec<String> {
        let Ok(loaded) = self.loaded.read() else {
            return Vec::new();
        };
        let mut found: Vec<String> = Vec::new();
        let mut frontier = vec![name.to_string()];
        while let Some(target) = frontier.pop() {
            for (view_name, relation) in loaded.iter() {
                if view_name == name || found.contains(view_name) {
                    continue;
                }
                if relation.depends_on.contains(&target) {
                    found.push(view_name.clone());
                    frontier.push(view_name.clone());
                }
            }
        }
        found
    }

    /// Builds providers for every entry of `file` and makes them the visible relations.
    async fn install(&self, file: &CatalogFile, state: &SessionState) {
        self.publish_access(&file.access);
        if let Ok(mut owners) = self.owners.write() {
            *owners = file.owners.clone();
        }
        let mut next: BTreeMap<String, Loaded> = BTreeMap::new();
        let mut entries: Vec<(&String, &Entry)> = file.relations.iter().collect();
        entries.sort_by_key(|(_, e)| e.seq());

        // Tables and external tables first; they depend on nothing else in the catalog.
        for (name, entry) in &entries {
            let opened = match entry {
                Entry::Table { dir, .. } => without_panic(self.open_managed(dir)).await,
                Entry::External { sql, .. } => without_panic(replay_external(sql, state)).await,
                Entry::View { .. } => continue,
            };
            next.insert((*name).clone(), loaded(entry, opened, name));
        }
        // Publish tables now so views can be planned against them.
        self.publish(next.clone());

        // Views may depend on views in any order (OR REPLACE renews a view's seq), so plan
        // them in rounds until no more succeed.
        let mut pending: Vec<(&String, &Entry)> = entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::View { .. }))
            .copied()
            .collect();
        let mut last_errors: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let mut progressed = false;
            let mut still_pending = Vec::new();
            for (name, entry) in pending {
                let Entry::View { sql, .. } = entry else {
                    continue;
                };
                match without_panic(replay_view(sql, state)).await {
                    Ok((provider, depends_on)) => {
                        let mut view = loaded(entry, Ok(provider), name);
                        view.depends_on = depends_on;
                        next.insert(name.clone(), view);
                        self.publish(next.clone());
                        progressed = true;
                    }
                    Err(e) => {
                        last_errors.insert(name.clone(), crate::error::describe(&e).message);
                        still_pending.push((name, entry));
                    }
                }
            }
            pending = still_pending;
            if pending.is_empty() || !progressed {
                break;
            }
        }
        for (name, _) in pending {
            let reason = last_errors
                .remove(name)
                .unwrap_or_else(|| "unknown error".to_string());
            warn!("view {name} cannot be used: {reason}");
            next.insert(
                name.clone(),
                Loaded {
                    depends_on: Vec::new(),
                    provider: None,
                    problem: Some(reason),
                    dir: None,
                },
            );
        }
        self.publish(next);
    }

    fn publish(&self, relations: BTreeMap<String, Loaded>) {
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = relations;
        }
    }

    async fn open_managed(&self, dir: &str) -> Result<Arc<dyn TableProvider>> {
        let path = self.data_dir.join(TABLES_DIR).join(dir);
        let url = Url::from_directory_path(&path).map_err(|_| {
            DataFusionError::Execution(format!("bad table path {}", path.display()))
        })?;
        Ok(Arc::new(ManagedTable::open(url).await?))
    }

    fn read_file(&self) -> Result<CatalogFile> {
        let path = self.data_dir.join(CATALOG_FILE);
        let stamp = self.current_stamp();
        let file = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<CatalogFile>(&bytes).map_err(|e| {
                SqlError::new(
                    "XX001",
                    format!("catalog file {} is damaged: {e}", path.display()),
                )
                .into_datafusion()
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CatalogFile {
                format_version: FORMAT_VERSION,
                ..Default::default()
            },
            Err(e) => return Err(io_error(&path, e).into_datafusion()),
        };
        if file.format_version > FORMAT_VERSION {
            return Err(SqlError::new(
                codes::FEATURE_NOT_SUPPORTED,
                format!(
                    "catalog file {} was written by a newer huaxiang (format {})",
                    path.display(),
                    file.format_version
                ),
            )
            .into_datafusion());
        }
        if let Ok(mut s) = self.stamp.lock() {
            *s = stamp;
        }
        Ok(file)
    }

    /// Atomically replaces `catalog.json`: temporary file, fsync, rename, fsync of the dir.
    fn write_file(&self, file: &CatalogFile) -> Result<()> {
        let path = self.data_dir.join(CATALOG_FILE);
        let tmp = self
            .data_dir
            .join(format!(".{CATALOG_FILE}.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec_pretty(file)
            .map_err(|e| DataFusionError::Execution(format!("cannot encode catalog: {e}")))?;
        let result = (|| -> std::io::Result<()> {
            let mut out = fs::File::create(&tmp)?;
            out.write_all(&bytes)?;
            out.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.data_dir)?.sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&path, e).into_datafusion());
        }
        if let Ok(mut s) = self.stamp.lock() {
            *s = self.current_stamp();
        }
        Ok(())
    }

    fn current_stamp(&self) -> Option<FileStamp> {
        let meta = fs::metadata(self.data_dir.join(CATALOG_FILE)).ok()?;
        Some(FileStamp {
            modified: meta.modified().ok(),
            len: meta.len(),
        })
    }

    /// Takes the inter-process DDL lock (released when the returned file is dropped).
    async fn lock_file(&self) -> Result<fs::File> {
        let path = self.data_dir.join(LOCK_FILE);
        tokio::task::spawn_blocking(move || -> std::io::Result<fs::File> {
            let file = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            file.lock()?;
            Ok(file)
        })
        .await
        .map_err(|e| DataFusionError::Execution(format!("catalog lock task failed: {e}")))?
        .map_err(|e| io_error(&self.data_dir.join(LOCK_FILE), e).into_datafusion())
    }

    /// Removes table directories that no catalog entry points to (left by a crash mid-DDL).
    fn remove_orphan_dirs(&self, file: &CatalogFile) {
        let referenced: Vec<&str> = file
            .relations
            .values()
            .filter_map(|e| match e {
                Entry::Table { dir, .. } => Some(dir.as_str()),
                _ => None,
            })
            .collect();
        let Ok(read) = fs::read_dir(self.data_dir.join(TABLES_DIR)) else {
            return;
        };
        for dir in read.flatten() {
            let name = dir.file_name();
            let name = name.to_string_lossy();
            if !referenced.contains(&name.as_ref()) {
                warn!(
                    "removing {}, left by an interrupted CREATE TABLE",
                    dir.path().display()
                );
                let _ = fs::remove_dir_all(dir.path());
            }
        }
    }
}

impl CatalogFile {
    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Records `owner` as the creator of `relation`, unless it already has one (CREATE OR
    /// REPLACE keeps the owner, as in PostgreSQL).
    fn keep_owner(&mut self, relation: &str, owner: &str) {
        self.owners
            .entry(relation.to_string())
            .or_insert_with(|| owner.to_string());
    }
}

/// Runs `future`, turning a panic (seen: the Parquet decoder on a corrupt file) into an error, so
/// one bad file cannot stop the server from starting or a statement from answering.
async fn without_panic<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(DataFusionError::Execution(format!(
                "internal error: {message}"
            )))
        }
    }
}

fn loaded(entry: &Entry, opened: Result<Arc<dyn TableProvider>>, name: &str) -> Loaded {
    let dir = match entry {
        Entry::Table { dir, .. } => Some(dir.clone()),
        _ => None,
    };
    match opened {
        Ok(provider) => Loaded {
            depends_on: Vec::new(),
            provider: Some(provider),
            problem: None,
            dir,
        },
        Err(e) => {
            let reason = crate::error::describe(&e).message;
            warn!("{} {name} cannot be used: {reason}", entry.kind_name());
            Loaded {
                depends_on: Vec::new(),
                provider: None,
                problem: Some(reason),
                dir,
            }
        }
    }
}

/// Writes the rows of `input` as a new Delta table in `dir`; returns the row count.
async fn write_new_table(dir: &Path, input: &LogicalPlan, state: &SessionState) -> Result<usize> {
    let input_schema = input.schema().as_arrow().clone();
    let stored = storage_schema_or_err(&input_schema)?;
    // Cast every column to the type Delta stores (see storage_types.rs).
    let casts = stored
        .fields()
        .iter()
        .zip(input.schema().columns())
        .map(|(field, column)| cast(col(column), field.data_type().clone()).alias(field.name()))
        .collect::<Vec<_>>();
    let plan = LogicalPlanBuilder::from(input.clone())
        .project(casts)?
        .build()?;

    fs::create_dir_all(dir).map_err(|e| io_error(dir, e).into_datafusion())?;
    let url = Url::from_directory_path(dir)
        .map_err(|_| DataFusionError::Execution(format!("bad table path {}", dir.display())))?;
    let table = DeltaTable::try_from_url(url).await.map_err(delta_err)?;
    let table = table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(Arc::new(state.clone()))
        .with_save_mode(SaveMode::ErrorIfExists)
        .await
        .map_err(delta_err)?;
    Ok(rows_added(&table).await)
}

fn storage_schema_or_err(schema: &Schema) -> Result<Schema> {
    storage_types::storage_schema(schema).map_err(SqlError::into_datafusion)
}

/// Rows written by the table's latest commit, from its operation metrics.
async fn rows_added(table: &DeltaTable) -> usize {
    let history: Vec<_> = table
        .history(Some(1))
        .try_collect()
        .await
        .unwrap_or_default();
    history
        .first()
        .and_then(|commit| commit.info.get("operationMetrics"))
        .and_then(|m| m.get("num_added_rows"))
        .and_then(|n| n.as_u64())
        .unwrap_or(0) as usize
}

fn delta_err(err: deltalake::DeltaTableError) -> DataFusionError {
    DataFusionError::External(Box::new(err))
}

/// The relations of `public` a statement reads (views are inlined when planned, so the
/// statement, not the plan, says what a view depends on).
fn statement_relations(sql: &str, state: &SessionState) -> Result<Vec<String>> {
    let statement =
        state.sql_to_statement(sql, &datafusion::common::config::Dialect::PostgreSQL)?;
    let references = state.resolve_table_references(&statement)?;
    Ok(references
        .into_iter()
        .filter(|r| r.catalog().is_none_or(|c| c == DATABASE))
        .filter(|r| r.schema().is_none_or(|s| s == PUBLIC_SCHEMA))
        .map(|r| r.table().to_string())
        .collect())
}

/// Re-plans a stored CREATE VIEW statement; returns its provider and what it reads.
async fn replay_view(
    sql: &str,
    state: &SessionState,
) -> Result<(Arc<dyn TableProvider>, Vec<String>)> {
    let plan = plan_sql(state, sql).await?;
    match plan {
        LogicalPlan::Ddl(datafusion::logical_expr::DdlStatement::CreateView(cmd)) => {
            let input = coerce(cmd.input.as_ref().clone(), state)?;
            let depends_on = statement_relations(sql, state)?;
            Ok((
                Arc::new(ViewTable::new(input, Some(sql.to_string()))),
                depends_on,
            ))
        }
        _ => Err(DataFusionError::Internal(format!(
            "stored view text is not a CREATE VIEW: {sql}"
        ))),
    }
}

async fn replay_external(sql: &str, state: &SessionState) -> Result<Arc<dyn TableProvider>> {
    let plan = plan_sql(state, sql).await?;
    match plan {
        LogicalPlan::Ddl(datafusion::logical_expr::DdlStatement::CreateExternalTable(cmd)) => {
            open_external(&cmd, state).await
        }
        _ => Err(DataFusionError::Internal(format!(
            "stored external table text is not a CREATE EXTERNAL TABLE: {sql}"
        ))),
    }
}

/// Builds the provider for an external table the way DataFusion does (its table factories).
async fn open_external(
    cmd: &CreateExternalTable,
    state: &SessionState,
) -> Result<Arc<dyn TableProvider>> {
    let file_type = cmd.file_type.to_uppercase();
    let factory = state
        .table_factories()
        .get(file_type.as_str())
        .ok_or_else(|| {
            SqlError::new(
                codes::FEATURE_NOT_SUPPORTED,
                format!(
                    "unknown file type {} for an external table (use CSV, PARQUET, JSON, AVRO, EXCEL, POSTGRES or MYSQL)",
                    cmd.file_type
                ),
            )
            .into_datafusion()
        })?;
    let provider = factory.create(state, cmd).await?;
    Ok(provider)
}

fn coerce(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
    TypeCoercion::new().analyze(plan, state.config_options())
}

fn ensure_unique_column_names(plan: &LogicalPlan) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for field in plan.schema().fields() {
        if !seen.insert(field.name().clone()) {
            return Err(SqlError::new(
                "42701",
                format!("column \"{}\" specified more than once", field.name()),
            )
            .into_datafusion());
        }
    }
    Ok(())
}

/// The relation name inside `public`, refusing other schemas and databases.
fn relation_name(reference: &TableReference) -> Result<String> {
    if let Some(catalog) = reference.catalog()
        && catalog != DATABASE
    {
        return Err(SqlError::new(
            codes::FEATURE_NOT_SUPPORTED,
            format!("cross-database references are not implemented: {reference}"),
        )
        .into_datafusion());
    }
    if let Some(schema) = reference.schema()
        && schema != PUBLIC_SCHEMA
    {
        return Err(SqlError::new(
            codes::INVALID_SCHEMA_NAME,
            format!("schema \"{schema}\" does not exist"),
        )
        .with_hint("Tables and views are created in schema public.")
        .into_datafusion());
    }
    Ok(reference.table().to_string())
}

/// A directory-name-safe prefix for a table directory (the catalog maps names to directories,
/// so this only helps a person looking at the data dir).
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if cleaned.is_empty() {
        "t".to_string()
    } else {
        cleaned
    }
}

fn already_exists(name: &str) -> DataFusionError {
    SqlError::new(
        codes::DUPLICATE_TABLE,
        format!("relation \"{name}\" already exists"),
    )
    .into_datafusion()
}

fn wrong_kind(name: &str, entry: &Entry, wanted: &str) -> DataFusionError {
    SqlError::new(
        codes::WRONG_OBJECT_TYPE,
        format!("\"{name}\" is a {}, not a {wanted}", entry.kind_name()),
    )
    .into_datafusion()
}

fn not_supported(what: &str) -> DataFusionError {
    SqlError::new(
        codes::FEATURE_NOT_SUPPORTED,
        format!("{what} is not supported"),
    )
    .into_datafusion()
}

fn io_error(path: &Path, e: std::io::Error) -> SqlError {
    SqlError::new(codes::IO_ERROR, format!("{}: {e}", path.display()))
}

/// Database `huaxiang`: schema `public` is ours; other schemas (`pg_catalog`,
/// `information_schema`) are registered by `datafusion-pg-catalog` and `crate::pg::info_schema`.
#[derive(Debug)]
struct HuaxiangCatalogProvider {
    public: Arc<PublicSchema>,
    others: RwLock<BTreeMap<String, Arc<dyn SchemaProvider>>>,
}

impl CatalogProvider for HuaxiangCatalogProvider {
    fn schema_names(&self) -> Vec<String> {
        let mut names = vec![PUBLIC_SCHEMA.to_string()];
        if let Ok(others) = self.others.read() {
            names.extend(others.keys().cloned());
        }
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == PUBLIC_SCHEMA {
            return Some(self.public.clone());
        }
        self.others.read().ok()?.get(name).cloned()
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        if name == PUBLIC_SCHEMA {
            return Err(DataFusionError::Plan(
                "schema public is managed by the huaxiang catalog".to_string(),
            ));
        }
        let mut others = self
            .others
            .write()
            .map_err(|_| DataFusionError::Internal("schema registry poisoned".to_string()))?;
        Ok(others.insert(name.to_string(), schema))
    }
}

/// Schema `public`, backed by the durable catalog.
#[derive(Debug)]
struct PublicSchema {
    catalog: Arc<Catalog>,
}

#[async_trait]
impl SchemaProvider for PublicSchema {
    fn owner_name(&self) -> Option<&str> {
        Some(DATABASE)
    }

    fn table_names(&self) -> Vec<String> {
        self.catalog.relation_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(provider) = self.catalog.provider(name) {
            return Ok(Some(provider));
        }
        if let Some(problem) = self.catalog.problem(name) {
            return Err(SqlError::new(
                "55000",
                format!("relation \"{name}\" cannot be read: {problem}"),
            )
            .into_datafusion());
        }
        Ok(None)
    }

    /// Tables are created with SQL (CREATE TABLE / VIEW / EXTERNAL TABLE) so that they are
    /// durable; a registration that bypasses the catalog would silently vanish at restart.
    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::Plan(format!(
            "relation \"{name}\" must be created with CREATE TABLE, CREATE VIEW or CREATE \
             EXTERNAL TABLE so that it is kept in the data dir"
        )))
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::Plan(format!(
            "relation \"{name}\" must be removed with DROP TABLE or DROP VIEW"
        )))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.catalog
            .loaded
            .read()
            .map(|l| l.contains_key(name))
            .unwrap_or(false)
    }
}

/// Plans one SQL statement with the session's dialect (used to replay stored DDL).
pub async fn plan_sql(state: &SessionState, sql: &str) -> Result<LogicalPlan> {
    let statement =
        state.sql_to_statement(sql, &datafusion::common::config::Dialect::PostgreSQL)?;
    state.statement_to_plan(statement).await
}
