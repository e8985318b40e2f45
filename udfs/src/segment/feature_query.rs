//! The query argument of the clustering table functions: first column a row key (any type),
//! the other columns numeric features.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{Expr, LogicalPlan};

use super::args::{KChoice, k_choice};
use crate::query_table::{constant_arg, plan_query, session_state, string_arg};

pub struct FeatureQuery {
    pub plan: LogicalPlan,
    pub key: Field,
    pub features: Vec<Field>,
}

/// Plans the query and checks its shape.
pub fn feature_query(args: &TableFunctionArgs, function: &str) -> Result<FeatureQuery> {
    let state = session_state(args.session(), function)?;
    let Some(first) = args.exprs().first() else {
        return plan_err!("{function}: missing the query argument");
    };
    let text = string_arg(function, "query", first)?;
    let plan = plan_query(state, function, &text)?;
    let fields = plan.schema().fields().clone();
    if fields.len() < 2 {
        return plan_err!(
            "{function}: the query must return a row key and at least one numeric feature; it returns {} column(s)",
            fields.len()
        );
    }
    for f in fields.iter().skip(1) {
        if !(f.data_type().is_numeric() || f.data_type() == &DataType::Null) {
            return plan_err!(
                "{function}: feature {} must be numeric, got {} (the first column is the row key)",
                f.name(),
                f.data_type()
            );
        }
    }
    let mut names = std::collections::HashSet::new();
    for f in fields.iter() {
        if !names.insert(f.name().clone()) {
            return plan_err!("{function}: the query returns column {} twice", f.name());
        }
    }
    Ok(FeatureQuery {
        plan,
        key: fields[0].as_ref().clone().with_nullable(true),
        features: fields.iter().skip(1).map(|f| f.as_ref().clone()).collect(),
    })
}

pub fn k_arg(args: &TableFunctionArgs, function: &str, index: usize) -> Result<KChoice> {
    match args.exprs().get(index) {
        Some(expr) => k_choice(function, &constant_arg(function, "k", expr)?),
        None => plan_err!("{function}: missing k"),
    }
}

pub fn integer_arg(
    args: &TableFunctionArgs,
    function: &str,
    name: &str,
    index: usize,
) -> Result<usize> {
    let Some(expr) = args.exprs().get(index) else {
        return plan_err!("{function}: missing {name}");
    };
    let value = match expr {
        Expr::Literal(v, _) => v.clone(),
        other => return plan_err!("{function}: {name} must be a constant, got {other}"),
    };
    match value.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(Some(v))) if value.data_type().is_integer() && v >= 0 => {
            Ok(v as usize)
        }
        _ => plan_err!("{function}: {name} must be a non-negative whole number, got {value}"),
    }
}

/// The key column and feature columns of the collected query result.
pub fn gather(
    batches: &[RecordBatch],
    features: usize,
) -> Result<(ArrayRef, Vec<ArrayRef>, usize)> {
    let Some(first) = batches.first() else {
        return plan_err!("no input batches");
    };
    let batch = concat_batches(&first.schema(), batches)?;
    let n = batch.num_rows();
    let key = batch.column(0).clone();
    let columns = (1..=features).map(|i| batch.column(i).clone()).collect();
    Ok((key, columns, n))
}

pub fn float_field(name: &str) -> Arc<Field> {
    Arc::new(Field::new(name, DataType::Float64, true))
}
