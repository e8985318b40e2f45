//! huaxiang (画像, "customer portrait"): an embedded analytical SQL engine for customer
//! profiling, served over the PostgreSQL wire protocol. See ARCHITECTURE.md.

pub mod access;
pub mod catalog;
pub mod cli;
pub mod command;
pub mod config;
pub mod demo;
pub mod engine;
pub mod error;
pub mod excel;
pub mod execution;
pub mod pg;
pub mod server;
pub mod sources;
pub mod sql_text;
