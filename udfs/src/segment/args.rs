//! Reading the constant arguments of the clustering window functions
//! (`f1, ..., fn, k [, options]` and `f1, ..., fn, eps, min_points [, options]`).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

use ndarray::ArrayView2;

use super::kmeans_core::{KMeansFit, fit, fit_best_k};
use super::options::ClusterOptions;

/// The value of a constant argument, or an error naming it.
pub fn literal(function: &str, name: &str, expr: &Arc<dyn PhysicalExpr>) -> Result<ScalarValue> {
    match expr.downcast_ref::<Literal>() {
        Some(l) => Ok(l.value().clone()),
        None => plan_err!("{function}: {name} must be a constant"),
    }
}

pub fn text_of(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(s.as_str()),
        _ => None,
    }
}

pub fn number_of(value: &ScalarValue) -> Option<f64> {
    match value.cast_to(&DataType::Float64) {
        Ok(ScalarValue::Float64(Some(v))) if value.data_type().is_numeric() => Some(v),
        _ => None,
    }
}

/// Types after coercion: numbers become Float64, text stays text; anything else is refused.
pub fn coerce_numeric_or_text(
    function: &str,
    arg_types: &[DataType],
    min_args: usize,
    usage: &str,
) -> Result<Vec<DataType>> {
    if arg_types.len() < min_args {
        return plan_err!(
            "{function} takes {usage}, got {} argument(s)",
            arg_types.len()
        );
    }
    arg_types
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            t if t.is_numeric() || *t == DataType::Null => Ok(DataType::Float64),
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Ok(DataType::Utf8),
            other => plan_err!(
                "{function}: argument {} must be a number, got {other}",
                i + 1
            ),
        })
        .collect()
}

/// Refuses a text column among the first `count` arguments (the features): coercion lets text
/// through because k and the options are text.
pub fn check_numeric_features(function: &str, fields: &[FieldRef], count: usize) -> Result<()> {
    for (i, field) in fields.iter().take(count).enumerate() {
        if !(field.data_type().is_numeric() || field.data_type().is_null()) {
            return plan_err!(
                "{function}: argument {} must be a number, got {}",
                i + 1,
                field.data_type()
            );
        }
    }
    Ok(())
}

/// Splits off a trailing options text (any text that is not `'auto'`).
pub fn split_options<'a>(
    function: &str,
    exprs: &'a [Arc<dyn PhysicalExpr>],
) -> Result<(&'a [Arc<dyn PhysicalExpr>], ClusterOptions)> {
    if let Some(last) = exprs.last()
        && let Some(l) = last.downcast_ref::<Literal>()
        && let Some(text) = text_of(l.value())
        && !text.trim().eq_ignore_ascii_case("auto")
    {
        let options = ClusterOptions::parse(text)
            .map_err(|e| datafusion::error::DataFusionError::Plan(format!("{function}: {e}")))?;
        return Ok((&exprs[..exprs.len() - 1], options));
    }
    Ok((exprs, ClusterOptions::default()))
}

/// How many clusters: a fixed number, or the best silhouette in the options' range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KChoice {
    Fixed(usize),
    Auto,
}

pub fn k_choice(function: &str, value: &ScalarValue) -> Result<KChoice> {
    if let Some(text) = text_of(value) {
        if text.trim().eq_ignore_ascii_case("auto") {
            return Ok(KChoice::Auto);
        }
        return plan_err!("{function}: k must be a whole number or 'auto', got '{text}'");
    }
    match number_of(value) {
        Some(k) if k.fract() == 0.0 && (1.0..=1000.0).contains(&k) => {
            Ok(KChoice::Fixed(k as usize))
        }
        Some(k) => plan_err!("{function}: k must be a whole number from 1 to 1000, got {k}"),
        None if value.is_null() => plan_err!("{function}: k must not be NULL"),
        None => plan_err!("{function}: k must be a whole number or 'auto', got {value}"),
    }
}

/// Fits k-means for a k choice: a fixed k (at most the rows with all features) or the best
/// silhouette in the options' range. Errors name `function`; `scope` says where the rows were
/// counted (e.g. " in the partition").
pub fn fit_choice(
    function: &str,
    matrix: ArrayView2<f64>,
    k: KChoice,
    options: &ClusterOptions,
    scope: &str,
) -> Result<KMeansFit> {
    match k {
        KChoice::Fixed(k) if k > matrix.nrows() => {
            return exec_err!(
                "{function}: k ({k}) is larger than the number of rows with all features ({}){scope}",
                matrix.nrows()
            );
        }
        KChoice::Fixed(k) => fit(matrix, k, options),
        KChoice::Auto => fit_best_k(matrix, options).map(|(f, _)| f),
    }
    .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{function}: {e}")))
}
