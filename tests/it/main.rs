//! The one integration-test binary (each extra test binary would link DataFusion again).

mod clients;
mod common;
mod compat;
mod docs;
mod durability;
mod excel;
mod governance;
mod identity;
mod layout;
mod realdb;
mod reference;
mod replays;
mod robustness;
mod slt;
mod sources;
mod stopping;
