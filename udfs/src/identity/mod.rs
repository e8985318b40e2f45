//! Identity resolution across systems: `resolve_identities`, `identity_persons`,
//! `identity_rejected`.

pub mod functions;
pub mod resolve;

use std::sync::{Arc, LazyLock};

use datafusion::catalog::TableFunctionImpl;

use crate::TableFunction;
use functions::{IdentityPersonsFunc, IdentityRejectedFunc, ResolveIdentitiesFunc};

pub fn table_functions() -> Vec<TableFunction> {
    static RESOLVE: LazyLock<Arc<ResolveIdentitiesFunc>> = LazyLock::new(Default::default);
    static PERSONS: LazyLock<Arc<IdentityPersonsFunc>> = LazyLock::new(Default::default);
    static REJECTED: LazyLock<Arc<IdentityRejectedFunc>> = LazyLock::new(Default::default);
    vec![
        TableFunction {
            name: "resolve_identities",
            implementation: RESOLVE.clone() as Arc<dyn TableFunctionImpl>,
            documentation: RESOLVE.documentation(),
        },
        TableFunction {
            name: "identity_persons",
            implementation: PERSONS.clone() as Arc<dyn TableFunctionImpl>,
            documentation: PERSONS.documentation(),
        },
        TableFunction {
            name: "identity_rejected",
            implementation: REJECTED.clone() as Arc<dyn TableFunctionImpl>,
            documentation: REJECTED.documentation(),
        },
    ]
}
