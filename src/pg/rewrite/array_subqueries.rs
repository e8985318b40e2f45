//! `ARRAY(SELECT …)` and `generate_subscripts`: see [`rewrite_array_subqueries`].

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::Expr;

use super::parse_expr;

/// Whether `sql` may hold a construct [`rewrite_array_subqueries`] rewrites (a cheap test
/// before parsing).
pub fn may_have_array_subquery(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("array(") || lower.contains("array (") || lower.contains("generate_subscripts")
}

/// Rewrites PostgreSQL constructs DataFusion does not plan into equivalents it does, returning
/// whether anything changed: `ARRAY(SELECT x FROM … [ORDER BY …])` — psql's `\du`, pgAdmin and
/// DBeaver use it for role memberships and column lists — becomes `(SELECT array_agg(x [ORDER
/// BY …]) FROM …)`, a correlated scalar subquery DataFusion decorrelates (one difference: no
/// rows give NULL where PostgreSQL gives an empty array); and `generate_subscripts(a, 1)`
/// (SQLAlchemy's key and index reflection, beside `unnest(a)`) becomes
/// `unnest(generate_series(1, cardinality(a)))`, which DataFusion zips with the other `unnest`
/// row by row as PostgreSQL does.
pub fn rewrite_array_subqueries(
    statements: &mut Vec<datafusion::sql::sqlparser::ast::Statement>,
) -> bool {
    use datafusion::sql::sqlparser::ast::{
        FunctionArguments, SelectItem, SetExpr, visit_expressions_mut,
    };
    let mut changed = false;
    let _ = visit_expressions_mut(statements, |expr| {
        let Expr::Function(function) = expr else {
            return ControlFlow::<()>::Continue(());
        };
        let name = function.name.to_string().to_ascii_lowercase();
        if name == "generate_subscripts" || name == "pg_catalog.generate_subscripts" {
            if let FunctionArguments::List(list) = &function.args
                && let [array, dimension] = list.args.as_slice()
                && dimension.to_string() == "1"
                && let Some(replacement) =
                    parse_expr(&format!("unnest(generate_series(1, cardinality({array})))"))
            {
                *expr = replacement;
                changed = true;
            }
            return ControlFlow::Continue(());
        }
        if name != "array" {
            return ControlFlow::Continue(());
        }
        let FunctionArguments::Subquery(query) = &function.args else {
            return ControlFlow::Continue(());
        };
        let mut query = query.as_ref().clone();
        let SetExpr::Select(select) = query.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let [item] = select.projection.as_slice() else {
            return ControlFlow::Continue(());
        };
        let element = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
            _ => return ControlFlow::Continue(()),
        };
        let order = query
            .order_by
            .take()
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        let Some(aggregate) = parse_expr(&format!("array_agg({element}{order})")) else {
            return ControlFlow::Continue(());
        };
        if let SetExpr::Select(select) = query.body.as_mut() {
            select.projection = vec![SelectItem::UnnamedExpr(aggregate)];
        }
        *expr = Expr::Subquery(Box::new(query));
        changed = true;
        ControlFlow::Continue(())
    });
    changed
}

#[cfg(test)]
mod rewrite_tests {
    fn rewrite_for_engine(sql: &str) -> Option<String> {
        use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
        use datafusion::sql::sqlparser::parser::Parser;
        if !super::may_have_array_subquery(sql) {
            return None;
        }
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
        super::rewrite_array_subqueries(&mut statements).then(|| statements[0].to_string())
    }

    #[test]
    fn array_of_a_subquery_becomes_an_aggregate_subquery() {
        assert_eq!(
            rewrite_for_engine(
                "SELECT r.rolname, ARRAY(SELECT b.rolname FROM m JOIN b ON m.roleid = b.oid \
                 WHERE m.member = r.oid ORDER BY 1) AS memberof FROM r"
            )
            .as_deref(),
            Some(
                "SELECT r.rolname, (SELECT array_agg(b.rolname ORDER BY 1) FROM m JOIN b ON m.roleid = b.oid \
                 WHERE m.member = r.oid) AS memberof FROM r"
            )
        );
        assert_eq!(
            rewrite_for_engine("SELECT unnest(k) AS a, generate_subscripts(k, 1) AS o FROM c")
                .as_deref(),
            Some("SELECT unnest(k) AS a, unnest(generate_series(1, cardinality(k))) AS o FROM c")
        );
        assert_eq!(rewrite_for_engine("SELECT ARRAY[1, 2]"), None);
        assert_eq!(rewrite_for_engine("SELECT 'array(' AS a"), None);
        assert_eq!(rewrite_for_engine("SELECT array(1"), None);
    }
}
