//! Both models fitted on one set of customers.

use super::bgnbd::{self, History, Variant};
use super::gamma_gamma::{self, Spend};
use super::options::ClvOptions;

/// The purchase model and the spend model of one customer base.
#[derive(Debug, Clone, Copy)]
pub struct Fitted {
    pub variant: Variant,
    pub purchases: bgnbd::Params,
    /// None when no repeat buyer has a positive value (e.g. the amounts are all NULL).
    pub spend: Option<gamma_gamma::Params>,
}

/// Fits the purchase model on every customer and the spend model on the repeat buyers with a
/// positive mean value, if there are any.
pub fn fit_both(
    histories: &[History],
    values: &[Option<f64>],
    options: &ClvOptions,
) -> Result<Fitted, String> {
    let purchases = bgnbd::fit(options.model, histories, options.penalizer)
        .map_err(|e| format!("purchase model ({}): {e}", options.model.name()))?;
    let buyers: Vec<Spend> = histories
        .iter()
        .zip(values)
        .filter_map(|(h, v)| match v {
            Some(m) if h.x > 0.0 && *m > 0.0 => Some(Spend { x: h.x, m: *m }),
            _ => None,
        })
        .collect();
    let spend = if buyers.is_empty() {
        None
    } else {
        Some(
            gamma_gamma::fit(&buyers, options.penalizer)
                .map_err(|e| format!("spend model (gamma-gamma): {e}"))?,
        )
    };
    Ok(Fitted {
        variant: options.model,
        purchases,
        spend,
    })
}

/// Keeps `fitted` as model `name` in `store`, fitted on `customers` customers.
pub fn save(
    store: &dyn crate::saved::store::ModelStore,
    name: &str,
    fitted: &Fitted,
    options: &ClvOptions,
    options_text: &str,
    customers: usize,
) -> Result<(), String> {
    use crate::saved::model::{Kind, Model, Params};
    let p = fitted.purchases;
    let model = Model {
        name: name.to_string(),
        kind: Kind::Clv,
        features: vec!["frequency".into(), "recency".into(), "t".into()],
        params: Params::Clv {
            purchases: fitted.variant.name().to_string(),
            r: p.r,
            alpha: p.alpha,
            a: p.a,
            b: p.b,
            spend: fitted.spend.map(|s| [s.p, s.q, s.gamma]),
            unit: options.unit.name().to_string(),
        },
        metrics: vec![],
        options: options_text.to_string(),
        trained_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0),
        rows: customers,
    };
    store.put(&model)
}

/// The common start of `clv` and `clv_fit`: reads the customers, fits both models and saves
/// them if the options say `save=NAME`. None when there are no customers.
pub fn read_fit_save(
    function: &str,
    input: &super::input::Input,
    batches: Vec<datafusion::arrow::array::RecordBatch>,
    options: &ClvOptions,
    options_text: &str,
    store: &dyn crate::saved::store::ModelStore,
) -> datafusion::common::Result<Option<(super::input::Customers, Fitted)>> {
    let customers = input.read(function, batches)?;
    if customers.histories.is_empty() {
        return Ok(None);
    }
    let error =
        |e: String| datafusion::error::DataFusionError::Execution(format!("{function}: {e}"));
    let fitted = fit_both(&customers.histories, &customers.values, options).map_err(error)?;
    if let Some(name) = &options.save {
        save(
            store,
            name,
            &fitted,
            options,
            options_text,
            customers.histories.len(),
        )
        .map_err(error)?;
    }
    Ok(Some((customers, fitted)))
}

/// The purchase and spend models of a saved `clv` model.
pub fn parameters(
    model: &crate::saved::model::Model,
) -> Option<(bgnbd::Variant, bgnbd::Params, Option<gamma_gamma::Params>)> {
    match &model.params {
        crate::saved::model::Params::Clv {
            purchases,
            r,
            alpha,
            a,
            b,
            spend,
            ..
        } => Some((
            bgnbd::Variant::parse(purchases)?,
            bgnbd::Params {
                r: *r,
                alpha: *alpha,
                a: *a,
                b: *b,
            },
            spend.map(|[p, q, gamma]| gamma_gamma::Params { p, q, gamma }),
        )),
        _ => None,
    }
}
