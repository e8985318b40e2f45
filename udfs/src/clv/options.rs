//! Options of the customer-base functions, one text argument of `key=value` pairs:
//! `'unit=days, model=bgnbd, penalizer=0'`.

use super::bgnbd::Variant;

/// The time unit of recency, customer age and the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Days,
    Weeks,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Self::Days => "days",
            Self::Weeks => "weeks",
        }
    }

    pub fn days(self) -> f64 {
        match self {
            Self::Days => 1.0,
            Self::Weeks => 7.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClvOptions {
    pub unit: Unit,
    pub model: Variant,
    pub penalizer: f64,
    /// Keep the fitted models under this name (for `churn_prob` and friends).
    pub save: Option<String>,
}

impl Default for ClvOptions {
    fn default() -> Self {
        Self {
            unit: Unit::Days,
            model: Variant::BgNbd,
            penalizer: 0.0,
            save: None,
        }
    }
}

pub const OPTION_NAMES: &str = "unit (days|weeks), model (bgnbd|mbgnbd), penalizer, save";

impl ClvOptions {
    /// Parses `key=value` pairs separated by commas, semicolons or spaces.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut options = Self::default();
        for (key, value) in crate::key_values(text, OPTION_NAMES)? {
            match key.as_str() {
                "unit" => {
                    options.unit = match value.to_ascii_lowercase().as_str() {
                        "day" | "days" => Unit::Days,
                        "week" | "weeks" => Unit::Weeks,
                        other => {
                            return Err(format!(
                                "option unit must be days or weeks, got '{other}'"
                            ));
                        }
                    }
                }
                "model" => {
                    options.model = Variant::parse(value).ok_or_else(|| {
                        format!("option model must be bgnbd or mbgnbd, got '{value}'")
                    })?
                }
                "penalizer" => {
                    options.penalizer = value
                        .parse::<f64>()
                        .ok()
                        .filter(|p| p.is_finite() && *p >= 0.0)
                        .ok_or_else(|| {
                            format!("option penalizer must be a non-negative number, got '{value}'")
                        })?
                }
                "save" => options.save = Some(crate::saved::store::check_name(value)?),
                other => {
                    return Err(format!(
                        "unknown option '{other}' (options: {OPTION_NAMES})"
                    ));
                }
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let o = ClvOptions::parse("unit=weeks, model=MBGNBD penalizer=0.01").unwrap();
        assert_eq!(
            o,
            ClvOptions {
                unit: Unit::Weeks,
                model: Variant::MbgNbd,
                penalizer: 0.01,
                save: None,
            }
        );
        assert_eq!(ClvOptions::parse("").unwrap(), ClvOptions::default());
        assert!(ClvOptions::parse("unit=months").is_err());
        assert!(ClvOptions::parse("penalizer=-1").is_err());
        assert!(ClvOptions::parse("colour=red").is_err());
        assert!(ClvOptions::parse("model").is_err());
        assert_eq!(
            ClvOptions::parse("save=CDNOW_bg").unwrap().save.as_deref(),
            Some("cdnow_bg")
        );
        assert!(ClvOptions::parse("save=a/b").is_err());
    }
}
