//! PostgreSQL forms rewritten in the text as the client sent it: see [`rewrite_postgres_forms`].

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Query, Visitor};

use super::{FunctionKinds, parse_expr, parse_query};
use crate::pg::functions::{EXPAND_ARRAY, SINGLE_ROW_CHECKED, SINGLE_ROW_VALUE};

/// Rewrites PostgreSQL forms that DataFusion plans differently (or not at all) into ones it
/// plans the PostgreSQL way, returning whether anything changed. Applied to the text as the
/// client wrote it, before `datafusion-postgres` reads it:
///
/// - a scalar function in FROM (`FROM string_to_array(x, ',') s`, Grafana's search-path lookup)
///   is one row with one column named after its alias, as in PostgreSQL: it becomes `(SELECT
///   string_to_array(x, ',') AS s) AS s`;
/// - `generate_series(…) AS i` without column names names its column `i` (DataFusion's would be
///   `value`), as PostgreSQL does for a function returning a scalar;
/// - the bare keyword `user` is `current_user`;
/// - `oid::regtype::text` is `format_type(oid, NULL)`, the type's name, as PostgreSQL shows it;
/// - `information_schema._pg_expandarray(a)` (pgjdbc's `getPrimaryKeys`, Metabase's index sync)
///   is `unnest` of a list of `(x, n)` rows, and a field of a composite value, `(keys).x`, is
///   `get_field(keys, 'x')`;
/// - a computed name cast to `regclass` is looked up in `pg_class`;
/// - `'pg_catalog.array_in'::regproc` (pgjdbc's array test) names the function without its
///   schema, which the dependency's name lookup needs;
/// - `x IN (SELECT …)` in a select list or ORDER BY becomes scalar subqueries (see
///   `SelectListInSets`), and an ORDER BY that holds a subquery sorts outside the query (see
///   `sort_outside`): Grafana's table list does both;
/// - a scalar subquery whose select list is one plain expression gets its value through
///   [`SINGLE_ROW_VALUE`] and [`SINGLE_ROW_CHECKED`], keeping PostgreSQL's answer (NULL for no
///   row) and its error for a second row where one is used: DataFusion refuses such a subquery when it is correlated (`(SELECT c.relkind
///   = 'c' FROM pg_class c WHERE c.oid = t.typrelid)` — pgjdbc's getTypeInfo, Npgsql's type
///   loading, pgcli's completion) and fails on its NULL when it is not and finds no row;
/// - a subquery that is a whole select item is put in parentheses, so `datafusion-postgres`
///   plans it instead of replacing it (see `post_visit_query`).
pub fn rewrite_postgres_forms(
    statements: &mut [datafusion::sql::sqlparser::ast::Statement],
    functions: &dyn FunctionKinds,
) -> bool {
    use datafusion::sql::sqlparser::ast::VisitMut;
    let mut forms = PostgresForms {
        functions,
        changed: false,
    };
    for statement in statements.iter_mut() {
        let _ = statement.visit(&mut forms);
    }
    forms.changed
}

struct PostgresForms<'a> {
    functions: &'a dyn FunctionKinds,
    changed: bool,
}

/// The last part of a function name, lower case (`pg_catalog.generate_series` →
/// `generate_series`).
fn function_name(name: &datafusion::sql::sqlparser::ast::ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(|ident| ident.value.to_ascii_lowercase())
        .unwrap_or_default()
}

impl PostgresForms<'_> {
    /// `f(args) [AS a[(c)]]` for a scalar `f` as a derived table of one row.
    fn scalar_in_from(
        &self,
        table: &datafusion::sql::sqlparser::ast::TableFactor,
    ) -> Option<datafusion::sql::sqlparser::ast::TableFactor> {
        use datafusion::sql::sqlparser::ast::{Ident, TableAlias, TableFactor};
        let TableFactor::Table {
            name,
            alias,
            args: Some(args),
            with_ordinality: false,
            ..
        } = table
        else {
            return None;
        };
        let function = function_name(name);
        if !self.functions.is_scalar(&function) {
            return None;
        }
        let table_name = alias
            .as_ref()
            .map(|a| a.name.clone())
            .unwrap_or_else(|| Ident::new(&function));
        let column = alias
            .as_ref()
            .and_then(|a| a.columns.first())
            .map(|c| c.name.clone())
            .unwrap_or_else(|| table_name.clone());
        let arguments = args
            .args
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let subquery = parse_query(&format!("SELECT {name}({arguments}) AS {column}"))?;
        Some(TableFactor::Derived {
            lateral: false,
            subquery,
            alias: Some(TableAlias {
                explicit: true,
                name: table_name,
                columns: vec![],
                at: None,
            }),
            sample: None,
        })
    }

    /// Whether `query`, a scalar subquery, should give its value through [`SINGLE_ROW_VALUE`]:
    /// its select list is one expression without an aggregate, and nothing else (GROUP BY,
    /// DISTINCT, LIMIT) makes it one row.
    fn unaggregated(&self, query: &Query) -> bool {
        use datafusion::sql::sqlparser::ast::{GroupByExpr, SelectItem, SetExpr, Visit};
        if query.order_by.is_some() || query.limit_clause.is_some() || query.fetch.is_some() {
            return false;
        }
        let SetExpr::Select(select) = query.body.as_ref() else {
            return false;
        };
        let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
            select.projection.as_slice()
        else {
            return false;
        };
        let grouped = match &select.group_by {
            GroupByExpr::All(_) => true,
            GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
        };
        if grouped || select.having.is_some() || select.distinct.is_some() || !decorrelatable(query)
        {
            return false;
        }
        // An aggregate (or window) in the select list already gives one row.
        let aggregated = item
            .visit(&mut FindExpr(|e: &Expr| {
                matches!(e, Expr::Function(f)
                    if f.over.is_some() || self.functions.is_aggregate(&function_name(&f.name)))
            }))
            .is_break();
        !aggregated
    }
}

impl datafusion::sql::sqlparser::ast::VisitorMut for PostgresForms<'_> {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::{OrderByKind, SelectItem, SetExpr, VisitMut};
        let mut in_sets = SelectListInSets {
            depth: 0,
            changed: false,
        };
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                {
                    let _ = VisitMut::visit(e, &mut in_sets);
                    // `datafusion-postgres` replaces a correlated subquery that is a whole
                    // select item with NULL and cuts others to one row (LIMIT 1), answering
                    // wrongly without an error; in parentheses the item is planned as written.
                    // One DataFusion cannot decorrelate is left to that replacement.
                    if let Expr::Subquery(subquery) = e
                        && decorrelatable(subquery)
                    {
                        *e = Expr::Nested(Box::new(e.clone()));
                        self.changed = true;
                    }
                }
            }
        }
        if let Some(order_by) = query.order_by.as_mut()
            && let OrderByKind::Expressions(keys) = &mut order_by.kind
        {
            for key in keys {
                let _ = VisitMut::visit(&mut key.expr, &mut in_sets);
            }
        }
        self.changed |= in_sets.changed;
        if let SetExpr::Select(select) = query.body.as_mut() {
            self.changed |= name_calls_without_arguments(&mut select.projection);
        }
        if let Some(sorted) = sort_outside(query) {
            *query = sorted;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(
        &mut self,
        table: &mut datafusion::sql::sqlparser::ast::TableFactor,
    ) -> ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::{TableAliasColumnDef, TableFactor};
        if let Some(derived) = self.scalar_in_from(table) {
            *table = derived;
            self.changed = true;
        } else if let TableFactor::Table {
            name,
            alias: Some(alias),
            args: Some(_),
            with_ordinality: false,
            ..
        } = table
            && function_name(name) == "generate_series"
            && alias.columns.is_empty()
        {
            alias.columns = vec![TableAliasColumnDef {
                name: alias.name.clone(),
                data_type: None,
            }];
            self.changed = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            // Built-in functions and types live in pg_catalog; the name lookup of the
            // dependency's regproc/regtype casts matches unqualified names only.
            Expr::Cast {
                expr: inner,
                data_type,
                ..
            } if matches!(reg_type(data_type).as_deref(), Some("regproc" | "regtype")) => {
                if let Expr::Value(value) = inner.as_mut()
                    && let datafusion::sql::sqlparser::ast::Value::SingleQuotedString(name) =
                        &mut value.value
                    && let Some(unqualified) = name.strip_prefix("pg_catalog.")
                {
                    *name = unqualified.to_string();
                    self.changed = true;
                }
            }
            // `proargtypes` is an oidvector, text such as "25 26" here: cast to an array, its
            // elements are the space-separated oids, as PostgreSQL's coercion gives them.
            Expr::Cast {
                expr: inner,
                data_type: datafusion::sql::sqlparser::ast::DataType::Array(_),
                ..
            } if matches!(inner.as_ref(),
                Expr::Identifier(i) if i.value.eq_ignore_ascii_case("proargtypes"))
                || matches!(inner.as_ref(),
                Expr::CompoundIdentifier(parts)
                    if parts.last().is_some_and(|i| i.value.eq_ignore_ascii_case("proargtypes"))) =>
            {
                if let Some(split) =
                    parse_expr(&format!("array_remove(string_to_array({inner}, ' '), '')"))
                {
                    **inner = split;
                    self.changed = true;
                }
            }
            // A computed name cast to regclass (Metabase: `format('%I.%I', schema, table)::regclass`)
            // is looked up in pg_class as the name it parses to; the dependency resolves only
            // literal names and would cast the text to a number.
            Expr::Cast {
                expr: inner,
                data_type,
                ..
            } if reg_type(data_type).as_deref() == Some("regclass") && is_computed_text(inner) => {
                let name = format!("parse_ident({inner})");
                // The qualified name is a column of a derived table: DataFusion decorrelates
                // a correlated equality only between a column and outer references.
                let lookup = format!(
                    "{SINGLE_ROW_CHECKED}((SELECT {SINGLE_ROW_VALUE}(r.oid) FROM (SELECT c.oid, n.nspname || '.' || c.relname \
                     AS qualified FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
                     ON c.relnamespace = n.oid) AS r WHERE r.qualified = CASE WHEN array_length({name}, 1) = 1 \
                     THEN current_schema() || '.' || ({name})[1] ELSE array_to_string({name}, '.') END))"
                );
                if let Some(subquery) = parse_expr(&lookup) {
                    *expr = subquery;
                    self.changed = true;
                }
            }
            // PostgreSQL's set-returning `_pg_expandarray` is a list of (x, n) rows here, one row
            // each when unnested.
            Expr::Function(function) if function_name(&function.name) == EXPAND_ARRAY => {
                function.name = datafusion::sql::sqlparser::ast::ObjectName::from(vec![
                    datafusion::sql::sqlparser::ast::Ident::new(EXPAND_ARRAY),
                ]);
                if let Some(unnested) = parse_expr(&format!("unnest({function})")) {
                    *expr = unnested;
                    self.changed = true;
                }
            }
            // A field of a composite value, `(keys).x`, which DataFusion plans only by name:
            // `get_field(keys, 'x')`.
            Expr::CompoundFieldAccess { root, access_chain }
                if access_chain.len() == 1
                    && matches!(
                        &access_chain[0],
                        datafusion::sql::sqlparser::ast::AccessExpr::Dot(Expr::Identifier(_))
                    ) =>
            {
                if let datafusion::sql::sqlparser::ast::AccessExpr::Dot(Expr::Identifier(field)) =
                    &access_chain[0]
                    && let Some(access) = parse_expr(&format!(
                        "get_field({root}, '{}')",
                        field.value.replace('\'', "''")
                    ))
                {
                    *expr = access;
                    self.changed = true;
                }
            }
            // A type oid shown as text, `prorettype::regtype::text` (pgcli), is its name.
            Expr::Cast {
                expr: inner,
                data_type:
                    datafusion::sql::sqlparser::ast::DataType::Text
                    | datafusion::sql::sqlparser::ast::DataType::Varchar(_),
                ..
            } if matches!(inner.as_ref(), Expr::Cast { data_type, .. }
                if reg_type(data_type).as_deref() == Some("regtype")) =>
            {
                if let Expr::Cast { expr: oid, .. } = inner.as_ref()
                    && let Some(named) = parse_expr(&format!("format_type({oid}, NULL)"))
                {
                    *expr = named;
                    self.changed = true;
                }
            }
            // sqlparser reads the keyword as a call without parentheses.
            Expr::Function(function)
                if matches!(
                    function.args,
                    datafusion::sql::sqlparser::ast::FunctionArguments::None
                ) && function.name.0.len() == 1
                    && function.name.0[0].as_ident().is_some_and(|i| {
                        i.quote_style.is_none() && i.value.eq_ignore_ascii_case("user")
                    }) =>
            {
                function.name = datafusion::sql::sqlparser::ast::ObjectName::from(vec![
                    datafusion::sql::sqlparser::ast::Ident::new("current_user"),
                ]);
                self.changed = true;
            }
            Expr::Subquery(query) if self.unaggregated(query) => {
                use datafusion::sql::sqlparser::ast::{SelectItem, SetExpr};
                let mut query = query.clone();
                if let SetExpr::Select(select) = query.body.as_mut()
                    && let Some(item) = select.projection.first_mut()
                {
                    let value = match item {
                        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                            e.to_string()
                        }
                        _ => return ControlFlow::Continue(()),
                    };
                    if let Some(wrapped) = parse_expr(&format!("{SINGLE_ROW_VALUE}({value})")) {
                        *item = SelectItem::UnnamedExpr(wrapped);
                    }
                }
                if let Some(checked) = parse_expr(&format!("{SINGLE_ROW_CHECKED}(({query}))")) {
                    *expr = checked;
                    self.changed = true;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `query` sorted outside itself when its ORDER BY holds a subquery (Grafana's table list sorts
/// by `CASE WHEN schema IN (SELECT …) THEN 0 ELSE 1 END`), which DataFusion plans only in a
/// select list: `SELECT a, b FROM (SELECT a, b, <key> AS __sort_1 …) AS __sorted ORDER BY
/// __sort_1, …`. Positional keys keep their positions; LIMIT and OFFSET stay outside; an
/// unnamed expression is named as PostgreSQL names it (its function's name, else `?column?`).
fn sort_outside(query: &Query) -> Option<Query> {
    use datafusion::sql::sqlparser::ast::{Ident, OrderByKind, SelectItem, SetExpr, Visit};
    let order_by = query.order_by.as_ref()?;
    let OrderByKind::Expressions(keys) = &order_by.kind else {
        return None;
    };
    let has_subquery = |e: &Expr| {
        e.visit(&mut FindExpr(|e: &Expr| {
            matches!(
                e,
                Expr::Subquery(_) | Expr::InSubquery { .. } | Expr::Exists { .. }
            )
        }))
        .is_break()
    };
    if !keys.iter().any(|k| has_subquery(&k.expr)) {
        return None;
    }
    let mut inner = query.clone();
    inner.order_by = None;
    inner.limit_clause = None;
    inner.fetch = None;
    let SetExpr::Select(select) = inner.body.as_mut() else {
        return None;
    };
    if select.distinct.is_some() {
        return None;
    }
    let quoted = |name: &str| Ident::with_quote('"', name).to_string();
    let mut outer_items = Vec::new();
    for (i, item) in select.projection.iter_mut().enumerate() {
        match item {
            SelectItem::ExprWithAlias { alias, .. } => outer_items.push(alias.to_string()),
            SelectItem::UnnamedExpr(Expr::Identifier(name)) => outer_items.push(name.to_string()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                outer_items.push(parts.last()?.to_string())
            }
            SelectItem::UnnamedExpr(expr) => {
                let shown = match expr {
                    Expr::Function(f) => function_name(&f.name),
                    _ => "?column?".to_string(),
                };
                let name = format!("__column_{}", i + 1);
                outer_items.push(format!("{name} AS {}", quoted(&shown)));
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::new(name),
                };
            }
            _ => return None,
        }
    }
    let mut outer_keys = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let positional = matches!(&key.expr, Expr::Value(v)
            if matches!(v.value, datafusion::sql::sqlparser::ast::Value::Number(..)));
        let mut outer_key = key.clone();
        if !positional {
            let name = Ident::new(format!("__sort_{}", i + 1));
            select.projection.push(SelectItem::ExprWithAlias {
                expr: key.expr.clone(),
                alias: name.clone(),
            });
            outer_key.expr = Expr::Identifier(name);
        }
        outer_keys.push(outer_key.to_string());
    }
    let mut outer = format!(
        "SELECT {} FROM ({inner}) AS __sorted ORDER BY {}",
        outer_items.join(", "),
        outer_keys.join(", ")
    );
    if let Some(limit) = &query.limit_clause {
        outer.push_str(&limit.to_string());
    }
    if let Some(fetch) = &query.fetch {
        outer.push_str(&format!(" {fetch}"));
    }
    parse_query(&outer).map(|q| *q)
}

/// Rewrites `x [NOT] IN (SELECT …)` of a select list (or ORDER BY), which DataFusion cannot
/// execute there (only in WHERE), into scalar subqueries it can, with PostgreSQL's answers:
/// false for an empty set, true when `x` is among the values, NULL when it is not but `x` or
/// one of the values is NULL, false otherwise. Nested queries are left to their own visit.
struct SelectListInSets {
    depth: usize,
    changed: bool,
}

impl datafusion::sql::sqlparser::ast::VisitorMut for SelectListInSets {
    type Break = ();

    fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.depth > 0 {
            return ControlFlow::Continue(());
        }
        let Expr::InSubquery {
            expr: value,
            subquery,
            negated,
        } = expr
        else {
            return ControlFlow::Continue(());
        };
        // `array_agg` of no rows is NULL: that is the empty set.
        let set = format!("FROM ({subquery}) AS __in_set(v)");
        let values = format!("(SELECT array_agg(v) {set})");
        let text = format!(
            "{}(CASE WHEN {values} IS NULL THEN false \
             WHEN array_has({values}, {value}) THEN true \
             WHEN ({value}) IS NULL OR (SELECT bool_or(v IS NULL) {set}) THEN NULL \
             ELSE false END)",
            if *negated { "NOT " } else { "" }
        );
        if let Some(rewritten) = parse_expr(&text) {
            *expr = rewritten;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}

/// The oid-alias type `data_type` names (`regclass`, `regtype`, `regproc`, …; qualified or
/// not), if it is one.
fn reg_type(data_type: &datafusion::sql::sqlparser::ast::DataType) -> Option<String> {
    use datafusion::sql::sqlparser::ast::DataType;
    match data_type {
        DataType::Regclass => Some("regclass".to_string()),
        DataType::Custom(name, _) => Some(function_name(name)).filter(|n| n.starts_with("reg")),
        _ => None,
    }
}

/// Names a select item that calls a function without arguments (`current_schema()`,
/// `session_user`, `now()`) after the function, as PostgreSQL does (DataFusion would call it
/// `current_schema()`): DBeaver reads `current_schema` and `session_user` by name.
fn name_calls_without_arguments(items: &mut [datafusion::sql::sqlparser::ast::SelectItem]) -> bool {
    use datafusion::sql::sqlparser::ast::{FunctionArguments, Ident, SelectItem};
    let name_of = |item: &SelectItem| -> Option<(String, bool)> {
        match item {
            SelectItem::ExprWithAlias { alias, .. } => Some((alias.value.clone(), false)),
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some((i.value.clone(), false)),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                parts.last().map(|i| (i.value.clone(), false))
            }
            SelectItem::UnnamedExpr(Expr::Function(f))
                if match &f.args {
                    FunctionArguments::None => true,
                    FunctionArguments::List(list) => list.args.is_empty(),
                    FunctionArguments::Subquery(_) => false,
                } && f.over.is_none() =>
            {
                Some((function_name(&f.name), true))
            }
            _ => None,
        }
    };
    let names: Vec<Option<(String, bool)>> = items.iter().map(name_of).collect();
    // Names other items have (their aliases and columns), and those given here so far.
    let mut given: Vec<String> = names
        .iter()
        .flatten()
        .filter(|(_, call)| !call)
        .map(|(n, _)| n.clone())
        .collect();
    let mut changed = false;
    for (i, item) in items.iter_mut().enumerate() {
        let Some((name, true)) = &names[i] else {
            continue;
        };
        // PostgreSQL lets two columns share a name, DataFusion does not: a second one is
        // numbered (`now_2`).
        let mut alias = name.clone();
        let mut n = 1;
        while given.contains(&alias) {
            n += 1;
            alias = format!("{name}_{n}");
        }
        if let SelectItem::UnnamedExpr(expr) = &*item {
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', alias.clone()),
            };
            given.push(alias);
            changed = true;
        }
    }
    changed
}

/// Whether DataFusion can plan `query` as a scalar subquery: it is uncorrelated, or its
/// references to the outer query are only in WHERE conditions `inner_column = <outer
/// expression>` — DataFusion turns those into join keys and refuses anything else (an outer-only
/// condition like psql's `AND a.atthasdef`, a `<>`, an outer column in the select list).
/// Unqualified names count as the subquery's own.
fn decorrelatable(query: &Query) -> bool {
    use datafusion::sql::sqlparser::ast::{
        BinaryOperator, JoinConstraint, JoinOperator, SetExpr, TableFactor, Visit,
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let mut local = std::collections::HashSet::new();
    let mut name = |table: &TableFactor| match table {
        TableFactor::Table { name, alias, .. } => {
            local.insert(match alias {
                Some(alias) => alias.name.value.to_ascii_lowercase(),
                None => function_name(name),
            });
        }
        TableFactor::Derived {
            alias: Some(alias), ..
        }
        | TableFactor::Function {
            alias: Some(alias), ..
        }
        | TableFactor::UNNEST {
            alias: Some(alias), ..
        } => {
            local.insert(alias.name.value.to_ascii_lowercase());
        }
        _ => {}
    };
    for from in &select.from {
        name(&from.relation);
        for join in &from.joins {
            name(&join.relation);
        }
    }
    let qualifier_is_local = |parts: &[datafusion::sql::sqlparser::ast::Ident]| {
        local.contains(&parts[parts.len() - 2].value.to_ascii_lowercase())
    };
    let refers = |e: &Expr, outer: bool| {
        e.visit(&mut FindExpr(|e: &Expr| match e {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                qualifier_is_local(parts) != outer
            }
            Expr::Identifier(_) => !outer,
            _ => false,
        }))
        .is_break()
    };
    if select.projection.iter().any(|item| {
        item.visit(&mut FindExpr(|e: &Expr| refers(e, true)))
            .is_break()
    }) {
        return false;
    }
    for from in &select.from {
        for join in &from.joins {
            let constraint = match &join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c) => Some(c),
                _ => None,
            };
            if let Some(JoinConstraint::On(on)) = constraint
                && refers(on, true)
            {
                return false;
            }
        }
    }
    let mut conditions = Vec::new();
    let mut pending: Vec<&Expr> = select.selection.iter().collect();
    while let Some(e) = pending.pop() {
        match e {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                pending.push(left);
                pending.push(right);
            }
            Expr::Nested(inner) => pending.push(inner),
            other => conditions.push(other),
        }
    }
    let inner_column = |e: &Expr| match e {
        Expr::Identifier(_) => true,
        Expr::CompoundIdentifier(parts) if parts.len() >= 2 => qualifier_is_local(parts),
        _ => false,
    };
    conditions.into_iter().all(|condition| {
        !refers(condition, true)
            || matches!(condition, Expr::BinaryOp { left, op: BinaryOperator::Eq, right }
                if (inner_column(left) && !refers(right, false))
                    || (inner_column(right) && !refers(left, false)))
    })
}

/// Whether `expr` computes text (a call, a concatenation, a cast), as opposed to naming a
/// column or a literal — a column cast to regclass is an oid.
fn is_computed_text(expr: &Expr) -> bool {
    match expr {
        Expr::Function(_) => true,
        Expr::BinaryOp {
            op: datafusion::sql::sqlparser::ast::BinaryOperator::StringConcat,
            ..
        } => true,
        Expr::Cast { data_type, .. } => matches!(
            data_type,
            datafusion::sql::sqlparser::ast::DataType::Text
                | datafusion::sql::sqlparser::ast::DataType::Varchar(_)
        ),
        Expr::Nested(inner) => is_computed_text(inner),
        _ => false,
    }
}

/// Stops at the first expression `matches` accepts.
struct FindExpr<F>(F);

impl<F: FnMut(&Expr) -> bool> Visitor for FindExpr<F> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if (self.0)(expr) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

#[cfg(test)]
mod forms_tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    struct Kinds;

    impl super::FunctionKinds for Kinds {
        fn is_scalar(&self, name: &str) -> bool {
            matches!(name, "string_to_array" | "upper")
        }

        fn is_aggregate(&self, name: &str) -> bool {
            matches!(name, "max" | "count")
        }
    }

    fn forms(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        if super::rewrite_postgres_forms(&mut statements, &Kinds) {
            statements[0].to_string()
        } else {
            "(unchanged)".to_string()
        }
    }

    #[test]
    fn from_items_and_keywords() {
        assert_eq!(
            forms("SELECT s[i] FROM generate_series(1, 3) AS i, string_to_array('a,b', ',') s"),
            "SELECT s[i] FROM generate_series(1, 3) AS i (i), (SELECT string_to_array('a,b', ',') AS s) AS s"
        );
        assert_eq!(
            forms("SELECT user"),
            "SELECT current_user AS \"current_user\""
        );
        assert_eq!(
            forms("SELECT current_schema(), now(), now()"),
            "SELECT current_schema() AS \"current_schema\", now() AS \"now\", now() AS \"now_2\""
        );
        assert_eq!(forms("SELECT \"user\" FROM t"), "(unchanged)");
        assert_eq!(
            forms("SELECT 'pg_catalog.array_in'::regproc"),
            "SELECT 'array_in'::regproc"
        );
    }

    #[test]
    fn scalar_subqueries_give_one_value() {
        // Correlated by an equality on an inner column: one value through the aggregate, taken
        // out where it is used.
        assert_eq!(
            forms(
                "SELECT (SELECT c.relname FROM pg_class c WHERE c.oid = t.typrelid) AS r FROM pg_type t"
            ),
            "SELECT single_row((SELECT single_row_value(c.relname) FROM pg_class c WHERE c.oid = t.typrelid)) AS r FROM pg_type t"
        );
        // Already one row: parentheses only.
        assert_eq!(
            forms("SELECT (SELECT max(x) FROM u WHERE u.k = t.k) FROM t"),
            "SELECT ((SELECT max(x) FROM u WHERE u.k = t.k)) FROM t"
        );
        // A condition DataFusion cannot decorrelate (outer-only, `<>`) is left as it is.
        assert_eq!(
            forms("SELECT (SELECT d.x FROM d WHERE d.k = a.k AND a.flag) FROM a"),
            "(unchanged)"
        );
        assert_eq!(
            forms("SELECT (SELECT d.x FROM d WHERE d.k <> a.k) FROM a"),
            "(unchanged)"
        );
    }

    #[test]
    fn in_subqueries_of_select_lists_and_order_by() {
        let sorted = forms(
            "SELECT a AS x, upper(b) FROM t ORDER BY CASE WHEN a IN (SELECT v FROM u) THEN 0 ELSE 1 END, 1 LIMIT 5",
        );
        assert!(
            sorted.starts_with("SELECT x, __column_2 AS \"upper\" FROM (SELECT a AS x, upper(b) AS __column_2, CASE WHEN (CASE WHEN (SELECT array_agg(v) FROM (SELECT v FROM u) AS __in_set (v)) IS NULL THEN false"),
            "{sorted}"
        );
        assert!(
            sorted.ends_with(") AS __sorted ORDER BY __sort_1, 1 LIMIT 5"),
            "{sorted}"
        );
        // In WHERE, DataFusion plans IN itself (as a semi join): unchanged.
        assert_eq!(
            forms("SELECT a FROM t WHERE a IN (SELECT v FROM u)"),
            "(unchanged)"
        );
    }
}
