//! What a command answers: its PostgreSQL command tag.

/// A PostgreSQL command tag, e.g. `CREATE TABLE`, `SELECT 5` (for CREATE TABLE AS), `INSERT 0 3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTag {
    pub command: String,
    pub rows: Option<usize>,
}

impl CommandTag {
    pub(crate) fn new(command: &str) -> Self {
        Self {
            command: command.to_string(),
            rows: None,
        }
    }

    pub(crate) fn with_rows(command: &str, rows: usize) -> Self {
        Self {
            command: command.to_string(),
            rows: Some(rows),
        }
    }
}

impl std::fmt::Display for CommandTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.command.as_str(), self.rows) {
            ("INSERT", Some(n)) => write!(f, "INSERT 0 {n}"),
            (c, Some(n)) => write!(f, "{c} {n}"),
            (c, None) => f.write_str(c),
        }
    }
}
