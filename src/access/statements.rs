//! The access statements, parsed over sqlparser's tokens and executed against the catalog:
//! GRANT/REVOKE (SELECT, UNMASK) and the masking statements (`ALTER TABLE … ALTER COLUMN …
//! ADD MASKED WITH (FUNCTION = …)` / `DROP MASKED`).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::RoleInfo;
use crate::catalog::access::{Mask, PUBLIC_GRANTEE};
use crate::catalog::{Catalog, DATABASE, PUBLIC_SCHEMA};
use crate::command::CommandTag;
use crate::error::{SqlError, codes};

/// What a GRANT or REVOKE gives or takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    Select,
    Unmask,
}

/// The statements of this module, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum AccessStatement {
    /// GRANT (`revoke: false`) or REVOKE.
    Grant {
        revoke: bool,
        privileges: Vec<Privilege>,
        /// `None`: every relation of `public` (`ON ALL TABLES IN SCHEMA public`).
        relations: Option<Vec<String>>,
        grantees: Vec<String>,
    },
    /// `ALTER TABLE … ALTER COLUMN … ADD MASKED WITH (…)` (`Some`) or `DROP MASKED` (`None`).
    Mask {
        relation: String,
        column: String,
        mask: Option<Mask>,
    },
}

impl AccessStatement {
    pub fn command(&self) -> &'static str {
        match self {
            AccessStatement::Grant { revoke: false, .. } => "GRANT",
            AccessStatement::Grant { revoke: true, .. } => "REVOKE",
            AccessStatement::Mask { .. } => "ALTER TABLE",
        }
    }
}

/// `Some` when `sql` is one of this module's statements (or a malformed one: then the error),
/// `None` for everything else.
pub fn parse(sql: &str) -> Option<Result<AccessStatement, SqlError>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut p = Tokens { tokens, at: 0 };
    if p.keyword("GRANT") {
        Some(p.grant(false))
    } else if p.keyword("REVOKE") {
        Some(p.grant(true))
    } else if p.peek_keyword("ALTER")
        && p.tokens.iter().any(|t| is_word(t, "MASKED"))
        && p.keyword("ALTER")
        && p.keyword("TABLE")
    {
        Some(p.mask())
    } else {
        None
    }
}

fn is_word(token: &Token, keyword: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
}

fn syntax(message: impl Into<String>) -> SqlError {
    SqlError::new(codes::SYNTAX_ERROR, message)
}

fn unsupported(message: impl Into<String>) -> SqlError {
    SqlError::new(codes::FEATURE_NOT_SUPPORTED, message)
}

/// A cursor over a statement's tokens (whitespace dropped). The tokens are sqlparser's, so
/// quoting, comments and escapes are PostgreSQL's; the grammar is small enough for this.
struct Tokens {
    tokens: Vec<Token>,
    at: usize,
}

impl Tokens {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| is_word(t, keyword))
    }

    fn keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek_keyword(keyword);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SqlError> {
        if self.keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected(keyword))
        }
    }

    fn token(&mut self, token: &Token) -> bool {
        let found = self.peek() == Some(token);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect(&mut self, token: &Token) -> Result<(), SqlError> {
        if self.token(token) {
            Ok(())
        } else {
            Err(self.unexpected(&token.to_string()))
        }
    }

    fn unexpected(&self, wanted: &str) -> SqlError {
        match self.peek() {
            Some(t) => syntax(format!(
                "syntax error at or near \"{t}\": expected {wanted}"
            )),
            None => syntax(format!("syntax error at end of input: expected {wanted}")),
        }
    }

    /// An identifier: folded to lower case unless quoted, as PostgreSQL does.
    fn ident(&mut self, what: &str) -> Result<String, SqlError> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let name = match w.quote_style {
                    Some(_) => w.value.clone(),
                    None => w.value.to_lowercase(),
                };
                self.at += 1;
                Ok(name)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// `name`, `public.name` or `huaxiang.public.name`.
    fn relation(&mut self) -> Result<String, SqlError> {
        let mut parts = vec![self.ident("a table or view name")?];
        while self.token(&Token::Period) {
            parts.push(self.ident("a name")?);
        }
        let name = parts.pop().unwrap_or_default();
        match parts.as_slice() {
            [] => Ok(name),
            [schema] | [_, schema] if schema != PUBLIC_SCHEMA => Err(SqlError::new(
                codes::INSUFFICIENT_PRIVILEGE,
                format!("permission denied: grants and masks apply to schema public, not {schema}"),
            )),
            [_] => Ok(name),
            [database, _] if database == DATABASE => Ok(name),
            _ => Err(SqlError::new(
                codes::FEATURE_NOT_SUPPORTED,
                format!(
                    "cross-database references are not implemented: {}.{name}",
                    parts.join(".")
                ),
            )),
        }
    }

    fn end(&mut self) -> Result<(), SqlError> {
        self.token(&Token::SemiColon);
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the statement")),
        }
    }

    /// After GRANT / REVOKE.
    fn grant(&mut self, revoke: bool) -> Result<AccessStatement, SqlError> {
        if revoke && self.keyword("GRANT") {
            return Err(unsupported(
                "WITH GRANT OPTION is not supported: only admins grant",
            ));
        }
        let mut privileges = Vec::new();
        if self.keyword("ALL") {
            self.keyword("PRIVILEGES");
            privileges = vec![Privilege::Select, Privilege::Unmask];
        } else {
            loop {
                let word = self.ident("a privilege")?;
                privileges.push(match word.as_str() {
                    "select" => Privilege::Select,
                    "unmask" => Privilege::Unmask,
                    "insert" | "update" | "delete" | "truncate" | "references" | "trigger"
                    | "create" | "usage" | "execute" | "connect" | "temporary" | "temp" => {
                        return Err(unsupported(format!(
                            "{} cannot be granted: writes and DDL need the admin role \
                             (admin = true in huaxiang.toml); grant SELECT or UNMASK",
                            word.to_uppercase()
                        )));
                    }
                    _ if !self.peek_keyword("ON") && !self.token_is_comma() => {
                        // `GRANT analyst TO ana`: role membership.
                        return Err(unsupported(
                            "role membership is set in huaxiang.toml (roles = [...] of a user)",
                        ));
                    }
                    other => {
                        return Err(syntax(format!("unrecognized privilege type \"{other}\"")));
                    }
                });
                if self.peek() == Some(&Token::LParen) {
                    return Err(unsupported(
                        "column privileges are not supported: grant the table, or a view of \
                         the columns",
                    ));
                }
                if !self.token(&Token::Comma) {
                    break;
                }
            }
        }
        if !self.peek_keyword("ON") {
            return Err(unsupported(
                "role membership is set in huaxiang.toml (roles = [...] of a user)",
            ));
        }
        self.expect_keyword("ON")?;
        let relations = if self.keyword("ALL") {
            if !(self.keyword("TABLES") || self.keyword("VIEWS")) {
                return Err(self.unexpected("TABLES"));
            }
            self.expect_keyword("IN")?;
            self.expect_keyword("SCHEMA")?;
            let schema = self.ident("a schema name")?;
            if schema != PUBLIC_SCHEMA {
                return Err(SqlError::new(
                    codes::INSUFFICIENT_PRIVILEGE,
                    format!("permission denied: grants apply to schema public, not {schema}"),
                ));
            }
            None
        } else {
            if self.keyword("SCHEMA")
                || self.keyword("DATABASE")
                || self.keyword("FUNCTION")
                || self.keyword("SEQUENCE")
            {
                return Err(unsupported(
                    "only tables and views can be granted: GRANT SELECT ON table TO role",
                ));
            }
            self.keyword("TABLE");
            let mut names = vec![self.relation()?];
            while self.token(&Token::Comma) {
                names.push(self.relation()?);
            }
            Some(names)
        };
        self.expect_keyword(if revoke { "FROM" } else { "TO" })?;
        let mut grantees = Vec::new();
        loop {
            let _ = self.keyword("GROUP") || self.keyword("ROLE");
            grantees.push(self.ident("a role name")?);
            if !self.token(&Token::Comma) {
                break;
            }
        }
        if !revoke && self.keyword("WITH") {
            return Err(unsupported(
                "WITH GRANT OPTION is not supported: only admins grant",
            ));
        }
        if revoke {
            let _ = self.keyword("CASCADE") || self.keyword("RESTRICT");
        }
        self.end()?;
        Ok(AccessStatement::Grant {
            revoke,
            privileges,
            relations,
            grantees,
        })
    }

    fn token_is_comma(&self) -> bool {
        self.peek() == Some(&Token::Comma)
    }

    /// After ALTER TABLE: `name ALTER [COLUMN] col {ADD MASKED WITH (FUNCTION = '…') | DROP MASKED}`.
    fn mask(&mut self) -> Result<AccessStatement, SqlError> {
        self.keyword("ONLY");
        let relation = self.relation()?;
        self.expect_keyword("ALTER")?;
        self.keyword("COLUMN");
        let column = self.ident("a column name")?;
        let mask = if self.keyword("DROP") {
            self.expect_keyword("MASKED")?;
            None
        } else {
            self.expect_keyword("ADD")?;
            self.expect_keyword("MASKED")?;
            self.expect_keyword("WITH")?;
            self.expect(&Token::LParen)?;
            self.expect_keyword("FUNCTION")?;
            self.expect(&Token::Eq)?;
            let spec = match self.peek() {
                Some(Token::SingleQuotedString(s)) => s.clone(),
                _ => {
                    return Err(
                        self.unexpected("the masking function as a string, e.g. 'mask_phone()'")
                    );
                }
            };
            self.at += 1;
            self.expect(&Token::RParen)?;
            Some(parse_mask(&spec)?)
        };
        self.end()?;
        Ok(AccessStatement::Mask {
            relation,
            column,
            mask,
        })
    }
}

/// `mask_phone()`, `mask_email()` or `mask_partial(keep_start, "padding", keep_end)` (the
/// padding in double quotes, as SQL Server writes it, or in doubled single quotes).
fn parse_mask(spec: &str) -> Result<Mask, SqlError> {
    let bad = || {
        SqlError::new(
            codes::INVALID_PARAMETER_VALUE,
            format!(
                "masking function '{spec}' is not one of mask_phone(), mask_email(), \
                 mask_partial(keep_start, \"padding\", keep_end)"
            ),
        )
    };
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, spec)
        .tokenize()
        .map_err(|_| bad())?;
    let tokens: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut p = Tokens { tokens, at: 0 };
    let name = p.ident("a masking function").map_err(|_| bad())?;
    p.expect(&Token::LParen).map_err(|_| bad())?;
    let count = |p: &mut Tokens| -> Result<usize, SqlError> {
        match p.peek() {
            Some(Token::Number(n, _)) => {
                let n = n.parse::<usize>().map_err(|_| bad())?;
                p.at += 1;
                Ok(n)
            }
            _ => Err(bad()),
        }
    };
    let mask = match name.as_str() {
        "mask_phone" => Mask::MaskPhone,
        "mask_email" => Mask::MaskEmail,
        "mask_partial" => {
            let keep_start = count(&mut p)?;
            p.expect(&Token::Comma).map_err(|_| bad())?;
            let padding = match p.peek() {
                Some(Token::SingleQuotedString(s)) => s.clone(),
                Some(Token::Word(w)) if w.quote_style == Some('"') => w.value.clone(),
                _ => return Err(bad()),
            };
            p.at += 1;
            p.expect(&Token::Comma).map_err(|_| bad())?;
            let keep_end = count(&mut p)?;
            Mask::MaskPartial {
                keep_start,
                padding,
                keep_end,
            }
        }
        _ => return Err(bad()),
    };
    p.expect(&Token::RParen).map_err(|_| bad())?;
    if p.peek().is_some() {
        return Err(bad());
    }
    Ok(mask)
}

/// Runs a parsed statement (the caller has checked that the user is an admin).
pub async fn execute(
    statement: &AccessStatement,
    catalog: &Catalog,
    roles: &[RoleInfo],
) -> Result<CommandTag> {
    match statement {
        AccessStatement::Grant {
            revoke,
            privileges,
            relations,
            grantees,
        } => {
            for grantee in grantees {
                if grantee != PUBLIC_GRANTEE && !roles.iter().any(|r| &r.name == grantee) {
                    return Err(SqlError::new(
                        codes::UNDEFINED_OBJECT,
                        format!("role \"{grantee}\" does not exist"),
                    )
                    .with_hint("Users and their roles are set in huaxiang.toml.")
                    .into_datafusion());
                }
            }
            let relations = match relations {
                Some(names) => names.clone(),
                None => catalog.relation_names(),
            };
            catalog
                .change_access(&relations, |_, access| {
                    for privilege in privileges {
                        let set = match privilege {
                            Privilege::Select => &mut access.select,
                            Privilege::Unmask => &mut access.unmask,
                        };
                        for grantee in grantees {
                            if *revoke {
                                set.remove(grantee);
                            } else {
                                set.insert(grantee.clone());
                            }
                        }
                    }
                    Ok(())
                })
                .await?;
        }
        AccessStatement::Mask {
            relation,
            column,
            mask,
        } => {
            if mask.is_some() && catalog.is_view(relation) {
                return Err(SqlError::new(
                    codes::WRONG_OBJECT_TYPE,
                    format!("\"{relation}\" is a view: masks are set on the tables it reads"),
                )
                .with_hint("Views over a masked table show the masked values.")
                .into_datafusion());
            }
            if let (Some(_), Some(schema)) = (mask, catalog.relation_schema(relation)) {
                let field = schema.field_with_name(column).map_err(|_| {
                    SqlError::new(
                        codes::UNDEFINED_COLUMN,
                        format!("column \"{column}\" of relation \"{relation}\" does not exist"),
                    )
                    .into_datafusion()
                })?;
                if !is_text(field.data_type()) {
                    return Err(SqlError::new(
                        codes::DATATYPE_MISMATCH,
                        format!(
                            "column \"{column}\" is of type {}: masking functions take text",
                            field.data_type()
                        ),
                    )
                    .with_hint("Mask a view that casts the column to text.")
                    .into_datafusion());
                }
            }
            catalog
                .change_access(std::slice::from_ref(relation), |_, access| {
                    match mask {
                        Some(mask) => {
                            access.masks.insert(column.clone(), mask.clone());
                        }
                        None => {
                            if access.masks.remove(column).is_none() {
                                return Err(SqlError::new(
                                    codes::UNDEFINED_OBJECT,
                                    format!("column \"{column}\" of \"{relation}\" is not masked"),
                                )
                                .into_datafusion());
                            }
                        }
                    }
                    Ok(())
                })
                .await?;
        }
    }
    Ok(CommandTag::new(statement.command()))
}

fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(sql: &str) -> AccessStatement {
        parse(sql).expect("ours").expect("parses")
    }

    #[test]
    fn grants_parse_like_postgresql() {
        assert_eq!(
            grant("GRANT SELECT ON TABLE customers, Public.\"Orders\" TO analyst, PUBLIC;"),
            AccessStatement::Grant {
                revoke: false,
                privileges: vec![Privilege::Select],
                relations: Some(vec!["customers".into(), "Orders".into()]),
                grantees: vec!["analyst".into(), "public".into()],
            }
        );
        assert_eq!(
            grant("revoke all privileges on all tables in schema public from ROLE support cascade"),
            AccessStatement::Grant {
                revoke: true,
                privileges: vec![Privilege::Select, Privilege::Unmask],
                relations: None,
                grantees: vec!["support".into()],
            }
        );
        assert_eq!(
            grant("GRANT UNMASK ON customers TO support"),
            AccessStatement::Grant {
                revoke: false,
                privileges: vec![Privilege::Unmask],
                relations: Some(vec!["customers".into()]),
                grantees: vec!["support".into()],
            }
        );
    }

    #[test]
    fn masks_parse_with_sql_server_syntax() {
        assert_eq!(
            grant(
                "ALTER TABLE customers ALTER COLUMN phone ADD MASKED WITH (FUNCTION = 'mask_phone()')"
            ),
            AccessStatement::Mask {
                relation: "customers".into(),
                column: "phone".into(),
                mask: Some(Mask::MaskPhone),
            }
        );
        assert_eq!(
            grant(
                "alter table customers alter name add masked with (function = 'mask_partial(1, \"**\", 0)')"
            ),
            AccessStatement::Mask {
                relation: "customers".into(),
                column: "name".into(),
                mask: Some(Mask::MaskPartial {
                    keep_start: 1,
                    padding: "**".into(),
                    keep_end: 0
                }),
            }
        );
        assert_eq!(
            grant("ALTER TABLE customers ALTER COLUMN email DROP MASKED"),
            AccessStatement::Mask {
                relation: "customers".into(),
                column: "email".into(),
                mask: None,
            }
        );
    }

    #[test]
    fn wrong_statements_get_clear_errors() {
        let code = |sql: &str| parse(sql).expect("ours").expect_err("refused").sqlstate;
        assert_eq!(code("GRANT INSERT ON customers TO analyst"), "0A000");
        assert_eq!(code("GRANT analyst TO ana"), "0A000");
        assert_eq!(
            code("GRANT SELECT (phone) ON customers TO analyst"),
            "0A000"
        );
        assert_eq!(code("GRANT SELECT ON customers"), "42601");
        assert_eq!(
            code("GRANT SELECT ON pg_catalog.pg_class TO analyst"),
            "42501"
        );
        assert_eq!(
            code("ALTER TABLE c ALTER COLUMN p ADD MASKED WITH (FUNCTION = 'md5()')"),
            "22023"
        );
        assert_eq!(
            code(
                "ALTER TABLE c ALTER COLUMN p ADD MASKED WITH (FUNCTION = 'mask_partial(-1, \"*\", 2)')"
            ),
            "22023"
        );
        assert!(parse("SELECT 1").is_none());
        assert!(parse("ALTER TABLE t ADD COLUMN c int").is_none());
    }
}
