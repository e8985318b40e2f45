//! Where queries run, and how a running query is stopped.
//!
//! Two defences keep one bad query from taking the server down (an accidental Cartesian product
//! with a selective filter ran for minutes, ignoring cancel, `statement_timeout`, the client
//! leaving and SIGTERM, and starved every other connection):
//!
//! 1. **Queries run on their own runtime.** [`StopRule`] makes the root of every physical plan
//!    execute on the execution runtime ([`runtime`]), so DataFusion's operators and the tasks
//!    they spawn never run on the runtime that accepts connections, logs users in, fires
//!    statement timeouts and handles signals. However busy the queries keep their threads, the
//!    server answers.
//! 2. **A stopped statement's work ends at once.** Every statement carries a
//!    [`StopToken`](huaxiang_udfs::stop::StopToken) (see [`StatementSlot`]). [`StopRule`] wraps
//!    every operator of the plan (invisibly: `EXPLAIN` shows the same plan) so that each poll
//!    of its stream checks the token and makes it current for the code that runs inside (our
//!    functions' long loops call `huaxiang_udfs::stop::checkpoint`), and spends tokio's
//!    cooperative budget so that operators which produce many batches per input batch (joins:
//!    apache/datafusion issue 19358) give their thread back regularly. Dropping a stream alone
//!    is not enough: a task that never yields cannot be aborted.
//!
//! DataFusion's `NestedLoopJoinExec` needs more: with a selective filter it loops over every
//! (left row × right batch) pair inside a single poll, for minutes, without touching anything
//! the wrappers see. Its filter expression is wrapped ([`CheckedFilter`]) so the loop sees the
//! token at every evaluation (every few microseconds), and its polls hand their runtime thread's
//! queue to another thread meanwhile (`stop::long_running`). Reported upstream as issue 19358;
//! this is our workaround until DataFusion's joins yield.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, Statistics};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coop::make_cooperative;
use datafusion::physical_plan::joins::utils::JoinFilter;
use datafusion::physical_plan::joins::{NestedLoopJoinExec, NestedLoopJoinExecBuilder};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
};
use futures::{Stream, StreamExt};
use huaxiang_udfs::stop::{self, StopToken};

/// Stack of every runtime thread. Planning, naming and evaluating an expression recurse once
/// per level of nesting (`a OR b OR c …` of a BI tool's filter is a chain as deep as it is
/// long); tokio's default 2 MiB overflows near 5,000 levels and a stack overflow aborts the
/// whole server. The memory is reserved, not used, until a query needs it; statements nested
/// deeper than `sql_text::MAX_NESTING` are refused (54001) before they get here.
pub const THREAD_STACK_BYTES: usize = 256 * 1024 * 1024;

thread_local! {
    /// Set on the execution runtime's threads.
    static ON_EXECUTION_RUNTIME: Cell<bool> = const { Cell::new(false) };
}

/// The runtime queries execute on (one worker per core, as DataFusion plans one partition per
/// core), or `None` if it could not be started (queries then run where they are polled).
pub fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
            let built = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                // A stop wakes the plan's root from outside this runtime: look at the queue of
                // such wake-ups often, so the root drops its plan (and the plan's queued tasks)
                // within a few task polls instead of after every queued task has run.
                .global_queue_interval(4)
                .thread_name("huaxiang-exec")
                .thread_stack_size(THREAD_STACK_BYTES)
                .on_thread_start(|| ON_EXECUTION_RUNTIME.with(|on| on.set(true)))
                .enable_all()
                .build();
            match built {
                Ok(runtime) => Some(runtime),
                Err(e) => {
                    log::warn!("cannot start the query runtime, queries share the server's: {e}");
                    None
                }
            }
        })
        .as_ref()
}

fn on_execution_runtime() -> bool {
    ON_EXECUTION_RUNTIME.with(Cell::get)
}

/// The statement a session is running, as a session-config extension: each connection's
/// session has its own slot; [`StatementSlot::begin`] gives every statement a fresh token,
/// which the plan's root picks up when it starts executing.
#[derive(Debug, Default)]
pub struct StatementSlot {
    current: Mutex<Arc<StopToken>>,
}

impl StatementSlot {
    /// Starts a statement: its token, which whoever stops the statement sets.
    pub fn begin(&self) -> Arc<StopToken> {
        let token = StopToken::new();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = token.clone();
        token
    }

    fn current(&self) -> Arc<StopToken> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The token of the statement a task context belongs to: pinned by the plan's root (so work
/// that starts late still belongs to its own statement), else the session's current one.
fn token_of(context: &TaskContext) -> Option<Arc<StopToken>> {
    let config = context.session_config();
    config
        .get_extension::<StopToken>()
        .or_else(|| config.get_extension::<StatementSlot>().map(|s| s.current()))
}

/// `context` with `token` pinned in it, for every operator below the root.
fn pinned(context: Arc<TaskContext>, token: &Arc<StopToken>) -> Arc<TaskContext> {
    if context
        .session_config()
        .get_extension::<StopToken>()
        .is_some()
    {
        return context;
    }
    let config = context
        .session_config()
        .clone()
        .with_extension(token.clone());
    Arc::new(TaskContext::new(
        context.task_id(),
        context.session_id(),
        config,
        context.scalar_functions().clone(),
        context.higher_order_functions().clone(),
        context.aggregate_functions().clone(),
        context.window_functions().clone(),
        context.runtime_env(),
    ))
}

/// The physical optimizer rule (last of the session's) that makes every plan stoppable; see
/// the module documentation.
#[derive(Debug, Default)]
pub struct StopRule;

impl PhysicalOptimizerRule for StopRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if is_wrapped(&plan) {
            return Ok(plan);
        }
        let wrapped = plan
            .transform_up(|node| {
                if is_wrapped(&node) {
                    return Ok(Transformed::no(node));
                }
                Ok(Transformed::yes(wrap(node, false)?))
            })?
            .data;
        Ok(match unwrap(&wrapped) {
            Some(inner) => Arc::new(StopExec {
                inner: inner.inner.clone(),
                root: true,
                hand_off: inner.hand_off,
            }),
            None => wrap(wrapped, true)?,
        })
    }

    fn name(&self) -> &str {
        "stoppable"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn unwrap(plan: &Arc<dyn ExecutionPlan>) -> Option<&StopExec> {
    (plan.as_ref() as &dyn Any).downcast_ref::<StopExec>()
}

fn is_wrapped(plan: &Arc<dyn ExecutionPlan>) -> bool {
    unwrap(plan).is_some()
}

/// `node` wrapped; a nested-loop join also gets its filter checked and its polls handed off.
fn wrap(node: Arc<dyn ExecutionPlan>, root: bool) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(join) = node.downcast_ref::<NestedLoopJoinExec>() {
        let filter = join.filter().map(|f| {
            JoinFilter::new(
                Arc::new(CheckedFilter {
                    inner: f.expression().clone(),
                }),
                f.column_indices().to_vec(),
                f.schema().clone(),
            )
        });
        let rebuilt = NestedLoopJoinExecBuilder::new(
            join.left().clone(),
            join.right().clone(),
            *join.join_type(),
        )
        .with_projection_ref(join.projection().clone())
        .with_filter(filter)
        .build()?;
        return Ok(Arc::new(StopExec {
            inner: Arc::new(rebuilt),
            root,
            hand_off: true,
        }));
    }
    Ok(Arc::new(StopExec {
        inner: node,
        root,
        hand_off: false,
    }))
}

/// An operator whose stream checks its statement's token; the plan's root also moves the
/// execution to the query runtime. Invisible to plan display and to downcasting.
#[derive(Debug)]
struct StopExec {
    inner: Arc<dyn ExecutionPlan>,
    root: bool,
    /// Poll with `stop::long_running` (an operator whose single poll may run for minutes).
    hand_off: bool,
}

impl StopExec {
    fn rewrap(&self, inner: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        if is_wrapped(&inner) {
            return inner;
        }
        Arc::new(StopExec {
            inner,
            root: self.root,
            hand_off: self.hand_off,
        })
    }
}

impl DisplayAs for StopExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.fmt_as(t, f)
    }
}

impl ExecutionPlan for StopExec {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.inner.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn input_distribution_requirements(
        &self,
    ) -> datafusion::physical_plan::InputDistributionRequirements {
        self.inner.input_distribution_requirements()
    }

    fn required_input_ordering(
        &self,
    ) -> Vec<Option<datafusion::physical_expr::OrderingRequirements>> {
        self.inner.required_input_ordering()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.inner.maintains_input_order()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.inner.benefits_from_input_partitioning()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inner.children()
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let inner = self.inner.clone().replace_children(children, options)?;
        Ok(self.rewrap(inner))
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let inner = self.inner.clone().with_new_children(children)?;
        Ok(self.rewrap(inner))
    }

    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        let inner = self.inner.clone().reset_state()?;
        Ok(self.rewrap(inner))
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.inner.metrics()
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &datafusion::physical_plan::StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.inner.statistics_from_inputs(input_stats, args)
    }

    fn child_stats_requests(
        &self,
        partition: Option<usize>,
    ) -> Vec<datafusion::physical_plan::ChildStats> {
        self.inner.child_stats_requests(partition)
    }

    fn supports_limit_pushdown(&self) -> bool {
        self.inner.supports_limit_pushdown()
    }

    fn fetch(&self) -> Option<usize> {
        self.inner.fetch()
    }

    fn cardinality_effect(&self) -> datafusion::physical_plan::execution_plan::CardinalityEffect {
        self.inner.cardinality_effect()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(token) = token_of(&context) else {
            // A session without statements (no slot): nothing can stop it but its consumer.
            return self.inner.execute(partition, context);
        };
        let context = match self.root {
            true => pinned(context, &token),
            false => context,
        };
        if self.root
            && !on_execution_runtime()
            && let Some(runtime) = runtime()
        {
            return Ok(self.execute_on(runtime, partition, context, token));
        }
        let stream = {
            let _scope = stop::enter(&token);
            self.inner.execute(partition, context)?
        };
        Ok(Box::pin(StopStream::new(stream, token, self.hand_off)))
    }
}

impl StopExec {
    /// Executes the partition in a task of the query runtime (where the operators below spawn
    /// their own tasks too), passing its batches back. Dropping the stream aborts the task; a
    /// panic in it is resumed in the consumer, as DataFusion's own exchanges do.
    fn execute_on(
        &self,
        runtime: &tokio::runtime::Runtime,
        partition: usize,
        context: Arc<TaskContext>,
        token: Arc<StopToken>,
    ) -> SendableRecordBatchStream {
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.inner.schema(), 2);
        let output = builder.tx();
        let inner = self.inner.clone();
        let hand_off = self.hand_off;
        builder.spawn_on(
            async move {
                let started = {
                    let _scope = stop::enter(&token);
                    inner.execute(partition, context)
                };
                drop(inner);
                let mut stream = match started {
                    Ok(stream) => StopStream::new(stream, token, hand_off),
                    Err(e) => {
                        output.send(Err(e)).await.ok();
                        return Ok(());
                    }
                };
                let token = stream.token.clone();
                loop {
                    let item = tokio::select! {
                        item = stream.next() => item,
                        // Stopped while the plan waits on tasks of its own (a sort's runs, an
                        // exchange): drop the plan now, which cancels those tasks, rather than
                        // when the next batch would arrive.
                        _ = token.wait() => {
                            drop(stream);
                            if let Err(stopped) = token.check() {
                                output.send(Err(stopped)).await.ok();
                            }
                            return Ok(());
                        }
                    };
                    let Some(item) = item else { break };
                    let failed = item.is_err();
                    if output.send(item).await.is_err() || failed {
                        break;
                    }
                }
                Ok(())
            },
            runtime.handle(),
        );
        builder.build()
    }
}

/// An operator's stream that ends with the statement's stop error once its token is set, makes
/// the token current while it polls, and spends cooperative budget per batch.
struct StopStream {
    inner: SendableRecordBatchStream,
    token: Arc<StopToken>,
    hand_off: bool,
    ended: bool,
}

impl StopStream {
    fn new(inner: SendableRecordBatchStream, token: Arc<StopToken>, hand_off: bool) -> Self {
        Self {
            inner: make_cooperative(inner),
            token,
            hand_off,
            ended: false,
        }
    }
}

impl Stream for StopStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Err(stopped) = self.token.check() {
            self.ended = true;
            return Poll::Ready(Some(Err(stopped)));
        }
        let this = &mut *self;
        let _scope = stop::enter(&this.token);
        let polled = if this.hand_off {
            stop::long_running(|| this.inner.poll_next_unpin(cx))
        } else {
            this.inner.poll_next_unpin(cx)
        };
        // Work that saw the stop inside the poll may have ended with an error of its own
        // making (or a partial result): report the stop instead.
        match (&polled, this.token.check()) {
            (Poll::Ready(Some(Err(_))), Err(stopped)) => {
                this.ended = true;
                Poll::Ready(Some(Err(stopped)))
            }
            _ => polled,
        }
    }
}

impl RecordBatchStream for StopStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

/// A nested-loop join's filter that ends the join with the statement's stop error: the join
/// evaluates it once per left row (or range of rows) against each right batch, the only thing
/// its inner loop does that is ours to see.
#[derive(Debug, Eq)]
struct CheckedFilter {
    inner: Arc<dyn PhysicalExpr>,
}

impl PartialEq for CheckedFilter {
    fn eq(&self, other: &Self) -> bool {
        self.inner.eq(&other.inner)
    }
}

impl Hash for CheckedFilter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl fmt::Display for CheckedFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl PhysicalExpr for CheckedFilter {
    fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
        self.inner.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.inner.nullable(input_schema)
    }

    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.inner.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        stop::checkpoint()?;
        self.inner.evaluate(batch)
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        match <[Arc<dyn PhysicalExpr>; 1]>::try_from(children) {
            Ok([inner]) => Ok(Arc::new(CheckedFilter { inner })),
            Err(children) => datafusion::common::internal_err!(
                "CheckedFilter takes one child, got {}",
                children.len()
            ),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_sql(f)
    }
}
