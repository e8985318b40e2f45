//! Feature matrices from Arrow columns: rows with a NULL (or non-finite) feature are left out of
//! the fit and get a NULL segment. The rows are put in a canonical order (by their feature
//! values) so that a seeded fit depends on the data, not on the order a query happened to
//! return it in (a parallel GROUP BY returns rows in a different order on every run).

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use ndarray::Array2;

/// The complete rows of `columns` as a matrix in canonical order (sorted by feature values), with
/// the index of each matrix row in the input.
pub fn complete_rows(columns: &[ArrayRef], num_rows: usize) -> Result<(Array2<f64>, Vec<usize>)> {
    let columns = columns
        .iter()
        .map(|c| cast(c, &DataType::Float64))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let floats: Vec<_> = columns
        .iter()
        .map(|c| c.as_primitive::<Float64Type>())
        .collect();
    let mut index: Vec<usize> = (0..num_rows)
        .filter(|i| {
            floats
                .iter()
                .all(|c| c.is_valid(*i) && c.value(*i).is_finite())
        })
        .collect();
    // Stable sort: equal rows keep input order, and equal rows are interchangeable anyway.
    index.sort_by(|a, b| {
        floats
            .iter()
            .map(|c| c.value(*a).total_cmp(&c.value(*b)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut values = Vec::with_capacity(index.len() * floats.len());
    for i in &index {
        values.extend(floats.iter().map(|c| c.value(*i)));
    }
    let matrix = Array2::from_shape_vec((index.len(), floats.len()), values).map_err(|e| {
        datafusion::error::DataFusionError::Internal(format!("feature matrix: {e}"))
    })?;
    Ok((matrix, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Float64Array;
    use std::sync::Arc;

    #[test]
    fn rows_come_out_in_the_same_order_whatever_the_input_order() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(3.0),
            None,
            Some(1.0),
            Some(1.0),
        ]));
        let b: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(1.0),
            Some(9.0),
            Some(2.0),
        ]));
        let (matrix, index) = complete_rows(&[a, b], 4).unwrap();
        assert_eq!(index, vec![3, 2, 0]);
        assert_eq!(matrix.row(0).to_vec(), vec![1.0, 2.0]);
        assert_eq!(matrix.row(2).to_vec(), vec![3.0, 0.0]);
    }
}
