//! What huaxiang says it is and how it is set, as PostgreSQL reports it: the version strings
//! (startup ParameterStatus, `version()`, `SHOW server_version`) and the values of the settings
//! client tools read while connecting (`current_setting`, `SHOW`).

use datafusion::common::config::ConfigOptions;

/// The PostgreSQL version huaxiang presents itself as.
pub const PG_VERSION: &str = "16.6";

/// `server_version` as sent in the startup ParameterStatus.
pub fn server_version() -> String {
    format!("{PG_VERSION} (huaxiang {})", env!("CARGO_PKG_VERSION"))
}

/// The text of `version()`.
pub fn version_string() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (huaxiang {}) on {}-pc-linux-gnu, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

/// `server_version_num`: 16.6 → 160006.
pub fn server_version_num() -> u32 {
    let mut parts = PG_VERSION.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    major * 10000 + minor
}

/// The value of a run-time setting as PostgreSQL's `current_setting` reports it: the
/// connection's DataFusion settings by their names, and the PostgreSQL settings client tools
/// read while connecting. `None` for an unknown name.
pub fn setting_value(name: &str, options: &ConfigOptions) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("datafusion.") {
        return options
            .entries()
            .into_iter()
            .find(|e| e.key == lower)
            .map(|e| e.value.unwrap_or_default());
    }
    Some(match lower.as_str() {
        "server_version" => server_version(),
        "server_version_num" => server_version_num().to_string(),
        "timezone" => options
            .execution
            .time_zone
            .clone()
            .unwrap_or_else(|| "UTC".to_string()),
        "server_encoding" | "client_encoding" => "UTF8".to_string(),
        "datestyle" => "ISO, MDY".to_string(),
        "intervalstyle" => "postgres".to_string(),
        "standard_conforming_strings" | "integer_datetimes" => "on".to_string(),
        "search_path" => "\"$user\", public".to_string(),
        "max_identifier_length" => "63".to_string(),
        "default_transaction_read_only" | "transaction_read_only" => "off".to_string(),
        "transaction_isolation" | "default_transaction_isolation" => "read committed".to_string(),
        "lc_collate" | "lc_ctype" => "C.UTF-8".to_string(),
        _ => return None,
    })
}
