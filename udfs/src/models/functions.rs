//! The SQL functions of trained models: `train_model`, `churn_prob`, `evaluate_model`,
//! `roc_curve`, `model_weights`, `models` and `drop_model`. Each holds the [`ModelStore`] it
//! was registered with.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Float64Builder, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::metrics::{binary_metrics, roc_curve};
use super::train::{TrainOptions, check_columns, read_rows, train};
use crate::query_table::{QueryTable, plan_query, session_state, string_arg};
use crate::saved::model::{Kind, Model};
use crate::saved::store::{ModelStore, check_name};

/// A scalar function bound to a model store: `new(store)`, equal when bound to the same store,
/// hashed by its name.
macro_rules! store_bound_udf {
    ($ty:ident, $name:literal) => {
        impl $ty {
            pub fn new(store: Arc<dyn ModelStore>) -> Self {
                Self {
                    store,
                    signature: Signature::user_defined(Volatility::Stable),
                }
            }
        }

        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.store, &other.store)
            }
        }

        impl Eq for $ty {}

        impl std::hash::Hash for $ty {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                $name.hash(state);
            }
        }
    };
}

fn plan_error(function: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Plan(format!("{function}: {e}"))
}

fn exec_error(function: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("{function}: {e}"))
}

/// Loads model `name` or says it does not exist.
fn load(store: &dyn ModelStore, function: &str, name: &str) -> Result<Model> {
    match store.get(name).map_err(|e| exec_error(function, e))? {
        Some(model) => Ok(model),
        None => exec_err!("{function}: model '{name}' does not exist (see SELECT * FROM models())"),
    }
}

/// A table computed when the statement runs, from no input.
fn at_execution(
    name: &'static str,
    schema: SchemaRef,
    f: impl Fn() -> Result<Vec<ArrayRef>> + Send + Sync + 'static,
) -> Result<Arc<dyn TableProvider>> {
    let plan = LogicalPlanBuilder::empty(true).build()?;
    let out = schema.clone();
    let finish = Arc::new(move |_batches: Vec<RecordBatch>| {
        let columns = f()?;
        if columns.first().is_some_and(|c| c.is_empty()) {
            return Ok(vec![]);
        }
        Ok(vec![RecordBatch::try_new(out.clone(), columns)?])
    });
    Ok(Arc::new(QueryTable::new(name, plan, schema, finish)))
}

fn metric_columns() -> Vec<Field> {
    ["accuracy", "precision", "recall", "f1", "auc"]
        .iter()
        .map(|m| Field::new(*m, DataType::Float64, true))
        .collect()
}

fn metric_values(model: &Model) -> Vec<ArrayRef> {
    ["accuracy", "precision", "recall", "f1", "auc"]
        .iter()
        .map(|m| {
            let v = model.metric(m).filter(|v| v.is_finite());
            Arc::new(Float64Array::from(vec![v])) as ArrayRef
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "Trains a churn (or any 0/1) classifier on a labelled query and keeps it under `name`, replacing a model of that name atomically; returns one row: `model, kind, rows, features, skipped, accuracy, precision, recall, f1, auc` (metrics on the training rows at threshold 0.5). The label is the column named `label`, else the last column; it must be 0/1 or boolean. The other columns are the features, numbers, in the order `churn_prob` takes them. Rows with a NULL feature or label are skipped (counted in `skipped`). Kinds: `'logistic'` (`linfa-logistic`, L2-regularised like scikit-learn's `LogisticRegression(C=1)`, features z-scored by default) and `'tree'` (`linfa-trees`, a CART decision tree on gini impurity; leaf probabilities are the share of label 1 among its training rows).",
    syntax_example = "train_model('name', 'logistic' | 'tree', 'query' [, 'standardize=zscore|none, c=1.0, max_iter=100, max_depth=5, min_leaf=1, class_weight=none|balanced, threshold=0.5'])",
    sql_example = r#"```sql
> -- churn_history: see sql/examples/churn_and_clv.sql
> SELECT model, kind, rows, features, round(auc, 3) AS auc
  FROM train_model('churn_lr', 'logistic',
    'SELECT recency_days, orders, spend, categories, churned AS label FROM churn_history');
+----------+----------+-------+-----------------------------------------+-------+
| model    | kind     | rows  | features                                | auc   |
+----------+----------+-------+-----------------------------------------+-------+
| churn_lr | logistic | 79888 | recency_days, orders, spend, categories | 0.891 |
+----------+----------+-------+-----------------------------------------+-------+
```"#,
    argument(
        name = "name",
        description = "The model's name: letters, digits and _, compared without case."
    ),
    argument(name = "kind", description = "'logistic' or 'tree'."),
    argument(
        name = "query",
        description = "A SELECT (or table name) returning the features and a 0/1 label."
    ),
    argument(
        name = "options",
        description = "`standardize` (logistic; default zscore), `c` (inverse L2 strength, default 1), `max_iter` (100), `max_depth` (tree, 5), `min_leaf` (tree: least total weight in a leaf, 1), `class_weight=balanced` (weights each class inversely to its size, like scikit-learn; for logistic our own weighted L-BFGS fit, since `linfa-logistic` takes no sample weights), `threshold` (for the reported metrics, 0.5)."
    )
)]
#[derive(Debug)]
pub struct TrainModelFunc {
    pub store: Arc<dyn ModelStore>,
}

impl TrainModelFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for TrainModelFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "train_model";
        let exprs = args.exprs();
        if !(3..=4).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} takes 3 or 4 arguments ('name', 'kind', 'query' [, options]), got {}",
                exprs.len()
            );
        }
        let state = session_state(args.session(), NAME)?;
        let name =
            check_name(&string_arg(NAME, "name", &exprs[0])?).map_err(|e| plan_error(NAME, e))?;
        let kind_text = string_arg(NAME, "kind", &exprs[1])?;
        let Some(kind) = Kind::parse(&kind_text) else {
            return plan_err!("{NAME}: kind must be 'logistic' or 'tree', got '{kind_text}'");
        };
        let query = string_arg(NAME, "query", &exprs[2])?;
        let options_text = match exprs.get(3) {
            Some(e) => string_arg(NAME, "options", e)?,
            None => String::new(),
        };
        let options = TrainOptions::parse(&options_text).map_err(|e| plan_error(NAME, e))?;
        let input = plan_query(state, NAME, &query)?;
        let input_schema: SchemaRef = Arc::new(input.schema().as_arrow().clone());
        if input_schema.fields().len() < 2 {
            return plan_err!("{NAME}: the query must return at least one feature and a label");
        }
        check_columns(&input_schema, true).map_err(|e| plan_error(NAME, e))?;
        let mut fields = vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("rows", DataType::Int64, false),
            Field::new("features", DataType::Utf8, false),
            Field::new("skipped", DataType::Int64, false),
        ];
        fields.extend(metric_columns());
        let schema = Arc::new(Schema::new(fields));
        let out = schema.clone();
        let store = self.store.clone();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            let rows = read_rows(&input_schema, &batches, true).map_err(|e| exec_error(NAME, e))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0);
            let model = train(&name, kind, &rows, &options, &options_text, now)
                .map_err(|e| exec_error(NAME, e))?;
            store.put(&model).map_err(|e| exec_error(NAME, e))?;
            let mut columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(vec![model.name.clone()])),
                Arc::new(StringArray::from(vec![kind.name()])),
                Arc::new(Int64Array::from(vec![model.rows as i64])),
                Arc::new(StringArray::from(vec![model.features.join(", ")])),
                Arc::new(Int64Array::from(vec![rows.skipped as i64])),
            ];
            columns.extend(metric_values(&model));
            Ok(vec![RecordBatch::try_new(out.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, input, schema, finish)))
    }
}

// ---------------------------------------------------------------------------------------------

/// `evaluate_model` and `roc_curve` share their input: a model and a labelled query.
fn labelled_input(
    args: &TableFunctionArgs,
    name_of: &'static str,
    max_args: usize,
) -> Result<(String, datafusion::logical_expr::LogicalPlan, SchemaRef)> {
    let exprs = args.exprs();
    if !(2..=max_args).contains(&exprs.len()) {
        return plan_err!(
            "{name_of} takes {} arguments ('model', 'query'{}), got {}",
            if max_args == 2 { "2" } else { "2 or 3" },
            if max_args == 2 { "" } else { " [, threshold]" },
            exprs.len()
        );
    }
    let state = session_state(args.session(), name_of)?;
    let name = check_name(&string_arg(name_of, "model", &exprs[0])?)
        .map_err(|e| plan_error(name_of, e))?;
    let query = string_arg(name_of, "query", &exprs[1])?;
    let input = plan_query(state, name_of, &query)?;
    let schema: SchemaRef = Arc::new(input.schema().as_arrow().clone());
    if schema.fields().len() < 2 {
        return plan_err!("{name_of}: the query must return the features and a label");
    }
    check_columns(&schema, true).map_err(|e| plan_error(name_of, e))?;
    Ok((name, input, schema))
}

/// Scores of labelled rows under a stored model.
fn score_rows(
    store: &dyn ModelStore,
    function: &str,
    name: &str,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(Vec<f64>, Vec<bool>)> {
    let model = load(store, function, name)?;
    let rows = read_rows(schema, batches, true).map_err(|e| exec_error(function, e))?;
    if rows.features.len() != model.features.len() {
        return exec_err!(
            "{function}: model '{name}' takes {} features ({}), the query has {} ({})",
            model.features.len(),
            model.features.join(", "),
            rows.features.len(),
            rows.features.join(", ")
        );
    }
    let scores = rows
        .x
        .rows()
        .into_iter()
        .map(|r| super::predict::predict(&model, &r.to_vec()))
        .collect();
    Ok((scores, rows.y))
}

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "How well a stored model predicts a labelled query (label as for `train_model`): rows of `metric, value` — rows, accuracy, precision, recall, f1, auc, and the confusion matrix as true_positive, false_positive, true_negative, false_negative. A row is predicted positive when its probability is at least the threshold (default 0.5). A metric that is undefined (e.g. precision without positive predictions, AUC with one class) is NULL.",
    syntax_example = "evaluate_model('model', 'query' [, threshold])",
    sql_example = r#"```sql
> SELECT metric, round(value, 3) AS value
  FROM evaluate_model('churn_lr',
    'SELECT recency_days, orders, spend, categories, churned FROM churn_history')
  WHERE metric IN ('accuracy', 'auc', 'true_positive', 'false_negative');
+----------------+---------+
| metric         | value   |
+----------------+---------+
| accuracy       | 0.851   |
| auc            | 0.891   |
| true_positive  | 16255.0 |
| false_negative | 10215.0 |
+----------------+---------+
```"#,
    argument(name = "model", description = "A model trained with `train_model`."),
    argument(
        name = "query",
        description = "The features in the model's order and a 0/1 label."
    ),
    argument(name = "threshold", description = "Between 0 and 1; default 0.5.")
)]
#[derive(Debug)]
pub struct EvaluateModelFunc {
    pub store: Arc<dyn ModelStore>,
}

impl EvaluateModelFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for EvaluateModelFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "evaluate_model";
        let (name, input, input_schema) = labelled_input(&args, NAME, 3)?;
        let threshold = match args.exprs().get(2) {
            None => 0.5,
            Some(datafusion::logical_expr::Expr::Literal(v, _)) => {
                match v.cast_to(&DataType::Float64) {
                    Ok(ScalarValue::Float64(Some(t)))
                        if v.data_type().is_numeric() && (0.0..=1.0).contains(&t) =>
                    {
                        t
                    }
                    _ => return plan_err!("{NAME}: threshold must be between 0 and 1, got {v}"),
                }
            }
            Some(other) => return plan_err!("{NAME}: threshold must be a constant, got {other}"),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("metric", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
        ]));
        let out = schema.clone();
        let store = self.store.clone();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            let (scores, labels) =
                score_rows(store.as_ref(), NAME, &name, &input_schema, &batches)?;
            let metrics = binary_metrics(&scores, &labels, threshold);
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(
                    metrics.iter().map(|m| m.0.as_str()),
                )),
                Arc::new(Float64Array::from_iter(
                    metrics.iter().map(|m| m.1.is_finite().then_some(m.1)),
                )),
            ];
            Ok(vec![RecordBatch::try_new(out.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, input, schema, finish)))
    }
}

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "The ROC curve of a stored model on a labelled query: one row per distinct predicted probability, highest first, with `threshold, false_positive_rate, true_positive_rate` (the first row is threshold +Infinity at (0, 0)), as scikit-learn's `roc_curve(drop_intermediate=False)` — ready for a BI line chart.",
    syntax_example = "roc_curve('model', 'query')",
    sql_example = r#"```sql
> SELECT round(threshold, 4) AS threshold, round(false_positive_rate, 4) AS fpr,
         round(true_positive_rate, 4) AS tpr
  FROM roc_curve('churn_lr',
    'SELECT recency_days, orders, spend, categories, churned FROM churn_history')
  LIMIT 3;
+-----------+-----+--------+
| threshold | fpr | tpr    |
+-----------+-----+--------+
| inf       | 0.0 | 0.0    |
| 0.9977    | 0.0 | 0.0    |
| 0.9977    | 0.0 | 0.0001 |
+-----------+-----+--------+
```"#,
    argument(name = "model", description = "A model trained with `train_model`."),
    argument(
        name = "query",
        description = "The features in the model's order and a 0/1 label."
    )
)]
#[derive(Debug)]
pub struct RocCurveFunc {
    pub store: Arc<dyn ModelStore>,
}

impl RocCurveFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for RocCurveFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "roc_curve";
        let (name, input, input_schema) = labelled_input(&args, NAME, 2)?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("threshold", DataType::Float64, false),
            Field::new("false_positive_rate", DataType::Float64, true),
            Field::new("true_positive_rate", DataType::Float64, true),
        ]));
        let out = schema.clone();
        let store = self.store.clone();
        let finish = Arc::new(move |batches: Vec<RecordBatch>| {
            let (scores, labels) =
                score_rows(store.as_ref(), NAME, &name, &input_schema, &batches)?;
            if scores.is_empty() {
                return Ok(vec![]);
            }
            let points = roc_curve(&scores, &labels);
            let finite = |v: f64| v.is_finite().then_some(v);
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Float64Array::from_iter_values(points.iter().map(|p| p.0))),
                Arc::new(Float64Array::from_iter(points.iter().map(|p| finite(p.1)))),
                Arc::new(Float64Array::from_iter(points.iter().map(|p| finite(p.2)))),
            ];
            Ok(vec![RecordBatch::try_new(out.clone(), columns)?])
        });
        Ok(Arc::new(QueryTable::new(NAME, input, schema, finish)))
    }
}

// ---------------------------------------------------------------------------------------------

/// The one text argument of `model_weights` and `drop_model`.
fn model_name_arg(args: &TableFunctionArgs, function: &str) -> Result<String> {
    let exprs = args.exprs();
    if exprs.len() != 1 {
        return plan_err!("{function} takes 1 argument ('model'), got {}", exprs.len());
    }
    check_name(&string_arg(function, "model", &exprs[0])?).map_err(|e| plan_error(function, e))
}

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "What a stored model learned, one row per feature: `feature, weight` — for a logistic model its coefficient (per standard deviation of the feature when standardised; positive raises the probability of label 1), for a tree the feature's share of the impurity decrease (importances sum to 1); for a model saved by `clv` its parameters (r, alpha, a, b, p, q, gamma).",
    syntax_example = "model_weights('model')",
    sql_example = r#"```sql
> SELECT feature, round(weight, 3) AS weight FROM model_weights('churn_lr')
  ORDER BY abs(weight) DESC;
+--------------+--------+
| feature      | weight |
+--------------+--------+
| recency_days | 2.457  |
| spend        | -1.962 |
| orders       | 1.139  |
| categories   | 0.225  |
+--------------+--------+
```"#,
    argument(name = "model", description = "A model trained with `train_model`.")
)]
#[derive(Debug)]
pub struct ModelWeightsFunc {
    pub store: Arc<dyn ModelStore>,
}

impl ModelWeightsFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for ModelWeightsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "model_weights";
        let name = model_name_arg(&args, NAME)?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("feature", DataType::Utf8, false),
            Field::new("weight", DataType::Float64, false),
        ]));
        let store = self.store.clone();
        at_execution(NAME, schema, move || {
            let weights = load(store.as_ref(), NAME, &name)?.weights();
            Ok(vec![
                Arc::new(StringArray::from_iter_values(
                    weights.iter().map(|w| w.0.as_str()),
                )) as ArrayRef,
                Arc::new(Float64Array::from_iter_values(weights.iter().map(|w| w.1))),
            ])
        })
    }
}

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "Every stored model: `name, kind, features, rows, accuracy, precision, recall, f1, auc, options, trained_at` (metrics on the training rows). The huaxiang server keeps models in `<data dir>/models/`, one file each, so they survive restarts.",
    syntax_example = "models()",
    sql_example = r#"```sql
> SELECT name, kind, rows, round(auc, 3) AS auc FROM models() ORDER BY name;
+------------+----------+-------+-------+
| name       | kind     | rows  | auc   |
+------------+----------+-------+-------+
| churn_lr   | logistic | 79888 | 0.891 |
| churn_tree | tree     | 79888 | 0.788 |
+------------+----------+-------+-------+
```"#
)]
#[derive(Debug)]
pub struct ModelsFunc {
    pub store: Arc<dyn ModelStore>,
}

impl ModelsFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for ModelsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return plan_err!("models takes no arguments, got {}", args.exprs().len());
        }
        models_table(self.store.clone())
    }
}

/// The table of every stored model, read afresh at each scan: the body of `models()` and the
/// system table `huaxiang.models`.
pub fn models_table(store: Arc<dyn ModelStore>) -> Result<Arc<dyn TableProvider>> {
    const NAME: &str = "models";
    let mut fields = vec![
        Field::new("name", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("features", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
    ];
    fields.extend(metric_columns());
    fields.push(Field::new("options", DataType::Utf8, false));
    fields.push(Field::new(
        "trained_at",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    ));
    let schema = Arc::new(Schema::new(fields));
    at_execution(NAME, schema, move || {
        let models = store.list().map_err(|e| exec_error(NAME, e))?;
        let metric = |m: &str| -> ArrayRef {
            Arc::new(Float64Array::from_iter(
                models.iter().map(|x| x.metric(m).filter(|v| v.is_finite())),
            ))
        };
        Ok(vec![
            Arc::new(StringArray::from_iter_values(
                models.iter().map(|m| m.name.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                models.iter().map(|m| m.kind.name()),
            )),
            Arc::new(StringArray::from_iter_values(
                models.iter().map(|m| m.features.join(", ")),
            )),
            Arc::new(Int64Array::from_iter_values(
                models.iter().map(|m| m.rows as i64),
            )),
            metric("accuracy"),
            metric("precision"),
            metric("recall"),
            metric("f1"),
            metric("auc"),
            Arc::new(StringArray::from_iter_values(
                models.iter().map(|m| m.options.as_str()),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(models.iter().map(|m| m.trained_at))
                    .with_timezone("UTC"),
            ),
        ])
    })
}

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "Removes a stored model; one row `model, dropped` (false when there was no such model).",
    syntax_example = "drop_model('model')",
    sql_example = r#"```sql
> SELECT * FROM drop_model('churn_tree');
+------------+---------+
| model      | dropped |
+------------+---------+
| churn_tree | true    |
+------------+---------+
```"#,
    argument(name = "model", description = "The model's name.")
)]
#[derive(Debug)]
pub struct DropModelFunc {
    pub store: Arc<dyn ModelStore>,
}

impl DropModelFunc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for DropModelFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "drop_model";
        let name = model_name_arg(&args, NAME)?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("dropped", DataType::Boolean, false),
        ]));
        let store = self.store.clone();
        at_execution(NAME, schema, move || {
            let dropped = store.remove(&name).map_err(|e| exec_error(NAME, e))?;
            Ok(vec![
                Arc::new(StringArray::from(vec![name.clone()])) as ArrayRef,
                Arc::new(BooleanArray::from(vec![dropped])),
            ])
        })
    }
}

// ---------------------------------------------------------------------------------------------

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "The probability of label 1 (churn) under a stored model, for each row: the features in the order the model was trained with. For a model saved by `clv(..., 'save=NAME')` the features are frequency, recency and t (in the model's unit) and the result is 1 − P(alive). NULL when a feature is NULL. A wrong number of features is an error naming the ones the model expects.",
    syntax_example = "churn_prob('model', feature1 [, feature2, ...])",
    sql_example = r#"```sql
> SELECT customer_id,
         round(churn_prob('churn_lr', recency_days, orders, spend, categories), 3) AS p
  FROM churn_history ORDER BY customer_id LIMIT 3;
+-------------+-------+
| customer_id | p     |
+-------------+-------+
| 100001      | 0.068 |
| 100002      | 0.064 |
| 100003      | 0.081 |
+-------------+-------+
```"#,
    argument(
        name = "model",
        description = "A model trained with `train_model` (a constant)."
    ),
    argument(
        name = "feature1",
        description = "The model's first feature, a number; and so on."
    )
)]
#[derive(Debug)]
pub struct ChurnProbFunc {
    pub store: Arc<dyn ModelStore>,
    signature: Signature,
}

store_bound_udf!(ChurnProbFunc, "churn_prob");

impl ScalarUDFImpl for ChurnProbFunc {
    fn name(&self) -> &str {
        "churn_prob"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 {
            return plan_err!(
                "churn_prob takes a model name and at least one feature, got {} argument(s)",
                arg_types.len()
            );
        }
        let mut out = Vec::with_capacity(arg_types.len());
        for (i, t) in arg_types.iter().enumerate() {
            out.push(match i {
                0 if matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => {
                    DataType::Utf8
                }
                0 => return plan_err!("churn_prob: the model name must be text, got {t}"),
                _ if t.is_numeric() || t == &DataType::Boolean || t == &DataType::Null => {
                    DataType::Float64
                }
                _ => return plan_err!("churn_prob: feature {i} must be a number, got {t}"),
            });
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        const NAME: &str = "churn_prob";
        let name = model_name_of(NAME, &args.args)?;
        let model = load(self.store.as_ref(), NAME, &name)?;
        let given = args.args.len() - 1;
        if given != model.features.len() {
            return exec_err!(
                "{NAME}: model '{name}' takes {} features ({}), got {given}",
                model.features.len(),
                model.features.join(", ")
            );
        }
        map_rows(&args, |row| {
            if model.kind == Kind::Clv {
                let h = crate::clv::bgnbd::History {
                    x: row[0],
                    tx: row[1],
                    t: row[2],
                };
                h.check().map_err(|e| exec_error(NAME, e))?;
            }
            Ok(Some(super::predict::predict(&model, row)))
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

// ---------------------------------------------------------------------------------------------

/// The model name, the first argument of the model scalar functions: a text constant.
fn model_name_of(function: &str, args: &[ColumnarValue]) -> Result<String> {
    match &args[0] {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => Ok(s.clone()),
        ColumnarValue::Scalar(_) => exec_err!("{function}: the model name must not be NULL"),
        ColumnarValue::Array(_) => exec_err!("{function}: the model name must be a constant"),
    }
}

/// Loads a `clv` model for a scalar function.
fn load_clv(
    store: &dyn ModelStore,
    function: &str,
    args: &[ColumnarValue],
) -> Result<(
    String,
    crate::clv::bgnbd::Variant,
    crate::clv::bgnbd::Params,
    Option<crate::clv::gamma_gamma::Params>,
)> {
    let name = model_name_of(function, args)?;
    let model = load(store, function, &name)?;
    match crate::clv::fitted::parameters(&model) {
        Some((variant, purchases, spend)) => Ok((name, variant, purchases, spend)),
        None => exec_err!(
            "{function}: model '{name}' is a {} model; this function needs one saved by clv(..., 'save={name}')",
            model.kind.name()
        ),
    }
}

/// Coerces (model name, numbers...) with exactly `arity` numbers.
fn coerce_model_numbers(
    function: &str,
    arg_names: &str,
    arity: usize,
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    if arg_types.len() != arity + 1 {
        return plan_err!(
            "{function} takes {} arguments ('model', {arg_names}), got {}",
            arity + 1,
            arg_types.len()
        );
    }
    arg_types
        .iter()
        .enumerate()
        .map(|(i, t)| match i {
            0 if matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) => {
                Ok(DataType::Utf8)
            }
            0 => plan_err!("{function}: the model name must be text, got {t}"),
            _ if t.is_numeric() || t == &DataType::Null => Ok(DataType::Float64),
            _ => plan_err!("{function}: argument {} must be a number, got {t}", i + 1),
        })
        .collect()
}

/// Applies `f` to the numeric arguments of each row; NULL in, NULL out.
fn map_rows(
    args: &ScalarFunctionArgs,
    mut f: impl FnMut(&[f64]) -> Result<Option<f64>>,
) -> Result<ColumnarValue> {
    let n = args.number_rows;
    let columns = args.args[1..]
        .iter()
        .map(|a| Ok(cast(&a.to_array(n)?, &DataType::Float64)?))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let columns: Vec<_> = columns
        .iter()
        .map(|c| c.as_primitive::<Float64Type>())
        .collect();
    let mut out = Float64Builder::with_capacity(n);
    let mut row = vec![0.0; columns.len()];
    for i in 0..n {
        if columns.iter().any(|c| c.is_null(i)) {
            out.append_null();
            continue;
        }
        for (slot, c) in row.iter_mut().zip(&columns) {
            *slot = c.value(i);
        }
        out.append_option(f(&row)?);
    }
    crate::scalar_or_array(&args.args, Arc::new(out.finish()))
}

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "Expected number of purchases in the next `horizon` time units of a customer with this history, under a model saved by `clv(..., 'save=NAME')` (BG/NBD or MBG/NBD): the `expected_purchases` column of `clv`, for any table. Times are in the model's unit (`models()` shows the options). NULL in, NULL out; an impossible history (recency > t, fractional frequency) is an error.",
    syntax_example = "expected_purchases('model', frequency, recency, t, horizon)",
    sql_example = r#"```sql
> -- after SELECT * FROM clv_fit('SELECT customer_id, order_ts, amount FROM orders',
> --                              DATE '2026-10-31', 'save=shop');
> SELECT round(expected_purchases('shop', 4, 200, 300, 90), 4) AS next_90_days;
+--------------+
| next_90_days |
+--------------+
| 1.3067       |
+--------------+
```"#,
    argument(
        name = "model",
        description = "A model saved by `clv` or `clv_fit` with `save=NAME`."
    ),
    argument(
        name = "frequency",
        description = "Repeat purchases (days with a purchase after the first)."
    ),
    argument(
        name = "recency",
        description = "Time from the first to the last purchase."
    ),
    argument(
        name = "t",
        description = "Time from the first purchase to the end of observation."
    ),
    argument(name = "horizon", description = "How far ahead, in the model's unit.")
)]
#[derive(Debug)]
pub struct ExpectedPurchasesFunc {
    pub store: Arc<dyn ModelStore>,
    signature: Signature,
}

store_bound_udf!(ExpectedPurchasesFunc, "expected_purchases");

impl ScalarUDFImpl for ExpectedPurchasesFunc {
    fn name(&self) -> &str {
        "expected_purchases"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_model_numbers(self.name(), "frequency, recency, t, horizon", 4, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        const NAME: &str = "expected_purchases";
        let (_, variant, purchases, _) = load_clv(self.store.as_ref(), NAME, &args.args)?;
        map_rows(&args, |row| {
            let h = crate::clv::bgnbd::History {
                x: row[0],
                tx: row[1],
                t: row[2],
            };
            h.check().map_err(|e| exec_error(NAME, e))?;
            if !(row[3].is_finite() && row[3] >= 0.0) {
                return exec_err!(
                    "{NAME}: horizon must be a non-negative number, got {}",
                    row[3]
                );
            }
            crate::clv::bgnbd::expected_purchases(variant, purchases, h, row[3])
                .map(Some)
                .map_err(|e| exec_error(NAME, e))
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[user_doc(
    doc_section(label = "Churn and Lifetime Value Functions"),
    description = "Expected mean value per purchase of a customer with `frequency` repeat purchases of mean `avg_value`, under the Gamma-Gamma spend model of a model saved by `clv(..., 'save=NAME')`: the `expected_avg_value` column of `clv`. Without repeat purchases (or with a NULL or non-positive `avg_value`) it is the population mean. NULL frequency gives NULL.",
    syntax_example = "expected_avg_value('model', frequency, avg_value)",
    sql_example = r#"```sql
> SELECT round(expected_avg_value('shop', 4, 800.0), 2) AS per_order,
         round(expected_avg_value('shop', 0, NULL), 2) AS newcomer;
+-----------+----------+
| per_order | newcomer |
+-----------+----------+
| 704.67    | 474.63   |
+-----------+----------+
```"#,
    argument(
        name = "model",
        description = "A model saved by `clv` or `clv_fit` with `save=NAME`."
    ),
    argument(name = "frequency", description = "Repeat purchases."),
    argument(
        name = "avg_value",
        description = "Mean value of the repeat purchases."
    )
)]
#[derive(Debug)]
pub struct ExpectedAvgValueFunc {
    pub store: Arc<dyn ModelStore>,
    signature: Signature,
}

store_bound_udf!(ExpectedAvgValueFunc, "expected_avg_value");

impl ScalarUDFImpl for ExpectedAvgValueFunc {
    fn name(&self) -> &str {
        "expected_avg_value"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_model_numbers(self.name(), "frequency, avg_value", 2, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        const NAME: &str = "expected_avg_value";
        let (name, _, _, spend) = load_clv(self.store.as_ref(), NAME, &args.args)?;
        let Some(spend) = spend else {
            return exec_err!(
                "{NAME}: model '{name}' has no spend model (its amounts were all NULL)"
            );
        };
        // A NULL avg_value means "no repeat purchases": only the frequency decides NULL.
        let n = args.number_rows;
        let frequency = cast(&args.args[1].to_array(n)?, &DataType::Float64)?;
        let value = cast(&args.args[2].to_array(n)?, &DataType::Float64)?;
        let (frequency, value) = (
            frequency.as_primitive::<Float64Type>(),
            value.as_primitive::<Float64Type>(),
        );
        let mut out = Float64Builder::with_capacity(n);
        for i in 0..n {
            if frequency.is_null(i) {
                out.append_null();
                continue;
            }
            let x = frequency.value(i);
            if !(x >= 0.0 && x.fract() == 0.0) {
                return exec_err!(
                    "{NAME}: frequency must be a whole number of repeat purchases, got {x}"
                );
            }
            let m = value.is_valid(i).then(|| value.value(i));
            out.append_value(crate::clv::gamma_gamma::expected_value(spend, x, m));
        }
        crate::scalar_or_array(&args.args, Arc::new(out.finish()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
