//! Splitting a query string into statements while keeping each statement's exact text.
//!
//! Views are how users define dynamic tags, so a view's SQL is stored exactly as the user wrote
//! it (comments, layout, case). sqlparser's AST prints a normalised form, so we split the input
//! with sqlparser's own tokenizer — it knows strings, dollar-quoting, comments and escapes — and
//! cut the original text at top-level semicolons.

use std::ops::ControlFlow;

use datafusion::sql::parser::{CopyToSource, DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{Expr, Query, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The deepest nesting of expressions and queries a statement may have. Planning, naming and
/// evaluating recurse once per level, and some of it is quadratic in the depth (a chain of
/// 5,000 `+` takes minutes in a debug build); deeper statements are refused with 54001
/// (PostgreSQL's "statement too complex" class) before they are planned.
pub const MAX_NESTING: usize = 1000;

/// Tracks the nesting while visiting, stopping past the limit so the visit itself stays
/// shallow.
struct Nesting {
    now: usize,
}

impl Nesting {
    fn enter(&mut self) -> ControlFlow<()> {
        self.now += 1;
        if self.now > MAX_NESTING {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl Visitor for Nesting {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}

/// `sql` parsed as DataFusion parses it (it knows `COPY … TO 'file'` and `CREATE EXTERNAL
/// TABLE`), or with sqlparser for what DataFusion's parser refuses (`COPY … FROM STDIN`);
/// `None` when neither parses — the normal path then reports the syntax error. Nesting is
/// parsed up to [`MAX_NESTING`] levels, so [`too_deep`] can measure it.
pub fn parse(sql: &str) -> Option<Vec<DFStatement>> {
    let dialect = PostgreSqlDialect {};
    let datafusion = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .build()
        .and_then(|mut p| p.parse_statements());
    if let Ok(statements) = datafusion {
        return Some(statements.into_iter().collect());
    }
    let statements = Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .ok()?;
    Some(
        statements
            .into_iter()
            .map(|s| DFStatement::Statement(Box::new(s)))
            .collect(),
    )
}

/// Whether any of `statements` nests deeper than [`MAX_NESTING`].
pub fn too_deep(statements: &[DFStatement]) -> bool {
    fn visit(statement: &DFStatement, nesting: &mut Nesting) -> ControlFlow<()> {
        match statement {
            DFStatement::Statement(s) => s.visit(nesting),
            DFStatement::CopyTo(copy) => match &copy.source {
                CopyToSource::Query(query) => query.visit(nesting),
                CopyToSource::Relation(_) => ControlFlow::Continue(()),
            },
            DFStatement::Explain(explain) => visit(&explain.statement, nesting),
            _ => ControlFlow::Continue(()),
        }
    }
    let mut nesting = Nesting { now: 0 };
    statements.iter().any(|s| visit(s, &mut nesting).is_break())
}

/// One statement of a query string, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementText<'a> {
    /// The statement's text without the terminating semicolon, trimmed of surrounding whitespace.
    pub text: &'a str,
}

/// Splits `sql` into statements at top-level semicolons.
///
/// Statements that contain only whitespace and comments are dropped, so `""`, `";"` and
/// `"-- note"` give an empty list (an empty query). A tokenizer error (an unterminated string or
/// comment) is returned as the error message, which callers report as a syntax error.
pub fn split_statements(sql: &str) -> Result<Vec<StatementText<'_>>, String> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| e.to_string())?;
    let offsets = LineOffsets::new(sql);

    let mut statements = Vec::new();
    let mut start = 0usize;
    let mut has_content = false;
    for token in &tokens {
        match &token.token {
            Token::SemiColon => {
                let end = offsets.byte_offset(token.span.start);
                push_statement(&mut statements, sql, start, end, has_content);
                start = offsets.byte_offset(token.span.end);
                has_content = false;
            }
            Token::Whitespace(_) | Token::EOF => {}
            _ => has_content = true,
        }
    }
    push_statement(&mut statements, sql, start, sql.len(), has_content);
    Ok(statements)
}

/// Returns true when the text holds nothing but whitespace and comments.
pub fn is_blank(sql: &str) -> bool {
    let dialect = PostgreSqlDialect {};
    match Tokenizer::new(&dialect, sql).tokenize() {
        Ok(tokens) => tokens
            .iter()
            .all(|t| matches!(t, Token::Whitespace(_) | Token::EOF)),
        Err(_) => false,
    }
}

/// The statement's first word (`select`, `set`, …) as written, after whitespace and comments;
/// empty when it starts with something else.
pub fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    &rest[..end]
}

fn push_statement<'a>(
    statements: &mut Vec<StatementText<'a>>,
    sql: &'a str,
    start: usize,
    end: usize,
    has_content: bool,
) {
    if !has_content || start >= end {
        return;
    }
    if let Some(text) = sql.get(start..end) {
        statements.push(StatementText {
            text: text.trim_matches(|c: char| c.is_whitespace()),
        });
    }
}

/// Maps sqlparser's 1-based (line, column-in-characters) locations to byte offsets.
struct LineOffsets<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(sql: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        Self { sql, line_starts }
    }

    fn byte_offset(&self, location: Location) -> usize {
        let line_index = (location.line as usize).saturating_sub(1);
        let Some(&line_start) = self.line_starts.get(line_index) else {
            return self.sql.len();
        };
        let column = (location.column as usize).saturating_sub(1);
        self.sql[line_start..]
            .char_indices()
            .nth(column)
            .map_or(self.sql.len(), |(i, _)| line_start + i)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_keyword_skips_comments() {
        use super::first_keyword;
        assert_eq!(first_keyword("SELECT 1"), "SELECT");
        assert_eq!(first_keyword("  -- a report\n/* note */ set x = 1"), "set");
        assert_eq!(first_keyword("(SELECT 1)"), "");
        assert_eq!(first_keyword("-- only a comment"), "");
        assert_eq!(first_keyword("/* unterminated"), "");
        assert_eq!(first_keyword(""), "");
    }

    #[test]
    fn nesting_beyond_the_limit_is_too_deep() {
        // The server's threads have a 256 MiB stack (main.rs); a test thread has 2 MiB.
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(nesting_checks)
            .unwrap()
            .join()
            .unwrap();
    }

    fn nesting_checks() {
        let too_deep = |sql: &str| super::parse(sql).is_some_and(|s| super::too_deep(&s));
        let chain = |n: usize| format!("SELECT {}", vec!["1"; n].join(" + "));
        assert!(!too_deep(&chain(super::MAX_NESTING - 5)));
        assert!(too_deep(&chain(super::MAX_NESTING + 5)));
        assert!(too_deep(&chain(50_000)));
        // Also inside what only DataFusion's parser knows.
        let copy = format!("COPY ({}) TO '/tmp/x.csv'", chain(super::MAX_NESTING + 5));
        assert!(too_deep(&copy));
        let subqueries = |n: usize| {
            format!(
                "SELECT * FROM {}(SELECT 1 AS a) t0{}",
                "(SELECT * FROM ".repeat(n),
                ") t".repeat(n)
            )
        };
        assert!(!too_deep(&subqueries(100)));
        // Not valid SQL: not "too deep", the syntax error is reported elsewhere.
        assert!(super::parse("SELEC 1").is_none());
    }

    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split_statements(sql)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        assert_eq!(
            texts("SELECT 'a;b'; SELECT $$x;y$$ ;\n-- c;\nSELECT 3"),
            vec!["SELECT 'a;b'", "SELECT $$x;y$$", "-- c;\nSELECT 3"]
        );
    }

    #[test]
    fn keeps_text_exactly_including_multibyte_and_comments() {
        let sql = "CREATE VIEW 高价值 AS\n  SELECT /* 客户 */ 1 AS x ; ";
        assert_eq!(
            texts(sql),
            vec!["CREATE VIEW 高价值 AS\n  SELECT /* 客户 */ 1 AS x"]
        );
    }

    #[test]
    fn blank_input_has_no_statements() {
        assert!(texts("").is_empty());
        assert!(texts(" ; ;\n").is_empty());
        assert!(texts("-- only a comment").is_empty());
        assert!(is_blank("/* x */ -- y"));
        assert!(!is_blank("SELECT 1"));
    }

    #[test]
    fn unterminated_string_is_an_error() {
        assert!(split_statements("SELECT 'abc").is_err());
    }
}
