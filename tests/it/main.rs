//! The one integration-test binary (each extra test binary would link DataFusion again).

mod clients;
mod common;
mod durability;
mod robustness;
mod slt;
