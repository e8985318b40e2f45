//! Which server files SQL may read and write.
//!
//! `huaxiang sql` runs in-process as the machine's own user and may open any file that user can.
//! Over the wire, SQL that names a server file — `COPY … TO 'file'`, `CREATE EXTERNAL TABLE …
//! LOCATION`, `read_excel('file')` — is an admin's privilege, and even an admin reaches only
//! files under the import directory (`server.import_dir`, default `<data dir>/imports`).
//! Everything else answers `42501`.

use std::path::{Component, Path, PathBuf};

use datafusion::common::Result;

use crate::error::{SqlError, codes};

/// What one session may do with server files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAccess {
    /// In-process use: any file the server's user may open.
    Unrestricted,
    /// An admin over the wire: files under the import directory only.
    ImportDirOnly,
    /// A user without the admin role over the wire: no server files.
    Denied,
}

fn denied(message: String, hint: &str) -> datafusion::error::DataFusionError {
    SqlError::new(codes::INSUFFICIENT_PRIVILEGE, message)
        .with_hint(hint)
        .into_datafusion()
}

/// `path` with `.` removed and `..` applied, without touching the file system; `None` when `..`
/// climbs above the root.
fn lexically_normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Some(out)
}

/// The path as the file system resolves it (symbolic links followed) as far as it exists, with
/// the not-yet-existing rest appended.
fn resolved(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
    let mut out = existing.canonicalize().unwrap_or(existing);
    for name in rest.into_iter().rev() {
        out.push(name);
    }
    out
}

impl FileAccess {
    /// Checks that `location` (a path, or a URL for object stores) may be used for `what`
    /// (e.g. "COPY TO"), and returns the path to open: relative paths are taken in
    /// `import_dir` (absolute), the only directory `ImportDirOnly` reaches.
    pub fn check(&self, location: &str, import_dir: &Path, what: &str) -> Result<PathBuf> {
        let is_url = location.contains("://");
        let path = Path::new(location);
        let full = if is_url || path.is_absolute() {
            path.to_path_buf()
        } else {
            import_dir.join(path)
        };
        match self {
            FileAccess::Unrestricted => Ok(full),
            FileAccess::Denied => Err(denied(
                format!(
                    "permission denied: {what} reads or writes server files, which only an admin may do"
                ),
                "An admin can place the file in the import directory and create an external \
                 table over it; grant the user `admin = true` in huaxiang.toml to let them do it.",
            )),
            FileAccess::ImportDirOnly => {
                let outside = || {
                    denied(
                        format!(
                            "permission denied: {what} may only use files under the import \
                             directory {}, not '{location}'",
                            import_dir.display()
                        ),
                        "Copy the file into the import directory (server.import_dir) first.",
                    )
                };
                if is_url {
                    return Err(outside());
                }
                let normal = lexically_normal(&full).ok_or_else(outside)?;
                // Both sides resolved, so neither `..` nor a symbolic link leads out.
                if resolved(&normal).starts_with(resolved(import_dir)) {
                    Ok(normal)
                } else {
                    Err(outside())
                }
            }
        }
    }

    /// Whether this session may declare sources and other server-side objects an admin owns.
    pub fn is_admin(&self) -> bool {
        !matches!(self, FileAccess::Denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_dir_only_allows_files_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let imports = dir.path().join("imports");
        std::fs::create_dir_all(&imports).unwrap();
        let access = FileAccess::ImportDirOnly;
        assert_eq!(
            access.check("book.xlsx", &imports, "read_excel").unwrap(),
            imports.join("book.xlsx")
        );
        let inside = imports.join("sub/out.csv");
        assert!(
            access
                .check(inside.to_str().unwrap(), &imports, "COPY TO")
                .is_ok()
        );
        for bad in [
            "../huaxiang.toml",
            "/etc/passwd",
            "s3://bucket/x.csv",
            "a/../../x",
        ] {
            assert!(access.check(bad, &imports, "COPY TO").is_err(), "{bad}");
        }
        // A symbolic link inside the import dir that points out of it does not lead out.
        std::os::unix::fs::symlink("/etc", imports.join("etc")).unwrap();
        assert!(access.check("etc/passwd", &imports, "read_excel").is_err());
    }

    #[test]
    fn denied_refuses_everything_and_unrestricted_nothing() {
        let imports = Path::new("/srv/imports");
        assert!(
            FileAccess::Denied
                .check("book.xlsx", imports, "read_excel")
                .is_err()
        );
        assert_eq!(
            FileAccess::Unrestricted
                .check("/etc/hosts", imports, "read_excel")
                .unwrap(),
            PathBuf::from("/etc/hosts")
        );
    }
}
