//! Named segments from R, F and M scores, under two schemes.
//!
//! **`en`: the 11-segment map** popularised by Putler ("RFM Analysis For Successful Customer
//! Segmentation") and used by most RFM tutorials. Scores are first put on a 1–5 scale
//! (`1 + floor((s - 1) * 5 / bins)`); the rules are checked in this order and the first that
//! holds names the segment, so every one of the 125 combinations has exactly one name:
//!
//! | segment | rule (R, F, M on 1–5) |
//! |---|---|
//! | Champions | R ≥ 4, F ≥ 4, M ≥ 4 |
//! | Can't Lose Them | R ≤ 2, F ≥ 4, M ≥ 4 |
//! | Loyal Customers | R ≥ 3, F ≥ 3, M ≥ 3 |
//! | At Risk | R ≤ 2, F ≥ 3 or M ≥ 3 |
//! | New Customers | R = 5, F = 1 |
//! | Promising | R = 4, F = 1 |
//! | Potential Loyalists | R ≥ 4 (F 2–5 with M ≤ 2, or F 2–3) |
//! | Need Attention | R = 3, F ≥ 2 or M ≥ 3 |
//! | About to Sleep | R = 3 |
//! | Hibernating | R = 2 |
//! | Lost | R = 1 |
//!
//! **`cn`: the 8-class RFM model** (重要价值客户 …). Each of R, F and M is *high* when its score is
//! above the mean score of the population, which for quantile scores is the middle of the scale:
//! high ⇔ score > (bins + 1) / 2. The table form of `rfm_score` uses the classic definition
//! instead: high ⇔ the customer's raw value is better than the population mean (fewer days,
//! more orders, more spend).

/// The segment schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    En,
    Cn,
}

impl Scheme {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "en" | "english" | "11" => Some(Scheme::En),
            "cn" | "zh" | "chinese" | "8" => Some(Scheme::Cn),
            _ => None,
        }
    }
}

pub const EN_SEGMENTS: [&str; 11] = [
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
];

/// Putler's 11 segments; `r`, `f`, `m` are scores in `1..=bins`.
pub fn en_segment(r: u8, f: u8, m: u8, bins: u8) -> &'static str {
    let scale = |s: u8| -> u8 {
        let s = s.clamp(1, bins.max(1));
        1 + ((s as u32 - 1) * 5 / bins.max(1) as u32) as u8
    };
    let (r, f, m) = (scale(r), scale(f), scale(m));
    match (r, f, m) {
        (4..=5, 4..=5, 4..=5) => "Champions",
        (1..=2, 4..=5, 4..=5) => "Can't Lose Them",
        (3..=5, 3..=5, 3..=5) => "Loyal Customers",
        (1..=2, f, m) if f >= 3 || m >= 3 => "At Risk",
        (5, 1, _) => "New Customers",
        (4, 1, _) => "Promising",
        (4..=5, _, _) => "Potential Loyalists",
        (3, f, m) if f >= 2 || m >= 3 => "Need Attention",
        (3, _, _) => "About to Sleep",
        (2, _, _) => "Hibernating",
        _ => "Lost",
    }
}

/// The 8-class model from high/low flags.
pub fn cn_segment(r_high: bool, f_high: bool, m_high: bool) -> &'static str {
    match (r_high, f_high, m_high) {
        (true, true, true) => "重要价值客户",
        (true, false, true) => "重要发展客户",
        (false, true, true) => "重要保持客户",
        (false, false, true) => "重要挽留客户",
        (true, true, false) => "一般价值客户",
        (true, false, false) => "一般发展客户",
        (false, true, false) => "一般保持客户",
        (false, false, false) => "一般挽留客户",
    }
}

/// The 8-class model from scores: high ⇔ score above the middle of the scale.
pub fn cn_segment_from_scores(r: u8, f: u8, m: u8, bins: u8) -> &'static str {
    let high = |s: u8| (s as f64) > (bins as f64 + 1.0) / 2.0;
    cn_segment(high(r), high(f), high(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_combination_has_one_of_the_eleven_names_and_every_name_is_used() {
        let mut used = BTreeSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let name = en_segment(r, f, m, 5);
                    assert!(EN_SEGMENTS.contains(&name), "{name}");
                    used.insert(name);
                }
            }
        }
        assert_eq!(used.len(), 11, "unused segments: {used:?}");
    }

    #[test]
    fn textbook_cells() {
        assert_eq!(en_segment(5, 5, 5, 5), "Champions");
        assert_eq!(en_segment(1, 5, 5, 5), "Can't Lose Them");
        assert_eq!(en_segment(5, 1, 1, 5), "New Customers");
        assert_eq!(en_segment(1, 1, 1, 5), "Lost");
        assert_eq!(en_segment(2, 1, 1, 5), "Hibernating");
        assert_eq!(en_segment(3, 3, 3, 5), "Loyal Customers");
        assert_eq!(en_segment(2, 4, 2, 5), "At Risk");
    }

    #[test]
    fn other_bin_counts_map_onto_five() {
        // with 3 bins: 1 -> 1, 2 -> 2, 3 -> 4
        assert_eq!(en_segment(3, 3, 3, 3), "Champions");
        assert_eq!(en_segment(1, 1, 1, 3), "Lost");
    }

    #[test]
    fn chinese_model() {
        assert_eq!(cn_segment_from_scores(5, 5, 5, 5), "重要价值客户");
        assert_eq!(cn_segment_from_scores(3, 3, 3, 5), "一般挽留客户");
        assert_eq!(cn_segment_from_scores(4, 1, 4, 5), "重要发展客户");
        assert_eq!(cn_segment_from_scores(1, 5, 1, 5), "一般保持客户");
    }
}
