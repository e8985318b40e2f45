//! huaxiang (画像, "customer portrait"): an embedded analytical SQL engine for customer
//! profiling, served over the PostgreSQL wire protocol. See ARCHITECTURE.md.

pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod error;
pub mod excel;
pub mod execution;
pub mod files;
pub mod info_schema;
pub mod pg_catalog_tables;
pub mod pg_compat;
pub mod privileges;
pub mod server;
pub mod sources;
pub mod sql_text;
