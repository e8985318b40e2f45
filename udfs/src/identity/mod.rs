//! Identity resolution across systems: `resolve_identities`, `identity_persons`,
//! `identity_rejected`.

pub mod functions;
pub mod resolve;

use crate::TableFunction;
use functions::{IdentityPersonsFunc, IdentityRejectedFunc, ResolveIdentitiesFunc};

pub fn table_functions() -> Vec<TableFunction> {
    vec![
        crate::stateless_table_function!("resolve_identities", ResolveIdentitiesFunc),
        crate::stateless_table_function!("identity_persons", IdentityPersonsFunc),
        crate::stateless_table_function!("identity_rejected", IdentityRejectedFunc),
    ]
}
