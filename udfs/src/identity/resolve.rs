//! Identity resolution: records from several systems that share an identifier (a normalised
//! phone, e-mail, WeChat id, …) are one person — the connected components of the graph whose
//! edges are shared identifier values.
//!
//! Our own code, because no crate does this: the graph is a union-find over record indices,
//! which is a few lines; what matters is the guard. An identifier value carried by records of
//! more than `max_persons` different persons (a shop hotline, `info@…`, a test account) would
//! merge them all, so such values are not used as links and are reported instead. Kinds are
//! taken in order of trust (most trusted first), and a value's persons are counted as the
//! components stood before its kind was applied: an e-mail shared by the three records of one
//! person, already joined by their phone, counts as one person, not three. Within one kind,
//! every value is judged against the same snapshot, so the result does not depend on row
//! order.
//!
//! The person id is the key (`source:record_id`) of the person's smallest record (byte order of
//! source, then record id): the same input gives the same ids, and new records change the id of
//! a person only when they join it with a smaller key.

use std::collections::HashMap;

/// The records to resolve: a key per record and, per identifier kind, a value or `None`.
#[derive(Debug, Default)]
pub struct Records {
    pub sources: Vec<String>,
    pub record_ids: Vec<String>,
    /// Identifier kinds (column names), in trust order.
    pub kinds: Vec<String>,
    /// `values[kind][record]`.
    pub values: Vec<Vec<Option<String>>>,
}

/// One identifier value that linked records.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub kind: usize,
    pub value: String,
    pub records: Vec<u32>,
}

/// An identifier value left unused because too many persons carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub kind: usize,
    pub value: String,
    pub records: usize,
    pub persons: usize,
}

#[derive(Debug)]
pub struct Resolution {
    /// For each record, the index of its person's smallest record.
    pub person: Vec<u32>,
    pub links: Vec<Link>,
    pub rejected: Vec<Rejected>,
}

struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let up = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = up;
            x = up;
        }
        x
    }

    /// Joins the sets of `a` and `b`; the root is the smaller record index, so that every
    /// root is its set's smallest record once records are indexed in key order.
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (low, high) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[high as usize] = low;
        }
    }
}

/// Resolves `records`, which must be sorted by (source, record_id) with no key twice.
pub fn resolve(records: &Records, max_persons: usize) -> Resolution {
    let n = records.sources.len();
    let mut sets = UnionFind::new(n);
    let mut links = Vec::new();
    let mut rejected = Vec::new();
    for (kind, column) in records.values.iter().enumerate() {
        if crate::stop::stopped() {
            // The caller checks its statement next and reports the stop.
            break;
        }
        let mut groups: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, value) in column.iter().enumerate() {
            if let Some(v) = value {
                groups.entry(v.as_str()).or_default().push(i as u32);
            }
        }
        // Judge every value of this kind against the persons as they stand now...
        let mut accepted = Vec::new();
        let mut roots = Vec::new();
        for (value, members) in groups {
            if members.len() < 2 {
                continue;
            }
            roots.clear();
            roots.extend(members.iter().map(|&m| sets.find(m)));
            roots.sort_unstable();
            roots.dedup();
            if roots.len() > max_persons {
                rejected.push(Rejected {
                    kind,
                    value: value.to_string(),
                    records: members.len(),
                    persons: roots.len(),
                });
            } else {
                accepted.push((value, members));
            }
        }
        // ...then apply them all.
        for (value, members) in accepted {
            for pair in members.windows(2) {
                sets.union(pair[0], pair[1]);
            }
            links.push(Link {
                kind,
                value: value.to_string(),
                records: members,
            });
        }
    }
    let person = (0..n as u32).map(|i| sets.find(i)).collect();
    links.sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
    rejected.sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
    Resolution {
        person,
        links,
        rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(rows: &[(&str, &str, &[Option<&str>])], kinds: &[&str]) -> Records {
        let mut r = Records {
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            values: vec![Vec::new(); kinds.len()],
            ..Records::default()
        };
        for (source, id, values) in rows {
            r.sources.push(source.to_string());
            r.record_ids.push(id.to_string());
            for (k, v) in values.iter().enumerate() {
                r.values[k].push(v.map(str::to_string));
            }
        }
        r
    }

    #[test]
    fn shared_identifiers_link_transitively() {
        let r = records(
            &[
                ("crm", "1", &[Some("p1"), None]),
                ("crm", "2", &[None, Some("e1")]),
                ("shop", "a", &[Some("p1"), Some("e1")]),
                ("shop", "b", &[Some("p2"), Some("e2")]),
            ],
            &["phone", "email"],
        );
        let res = resolve(&r, 10);
        assert_eq!(res.person, [0, 0, 0, 3]);
        assert_eq!(res.links.len(), 2);
        assert!(res.rejected.is_empty());
    }

    #[test]
    fn a_value_shared_by_too_many_persons_is_not_a_link() {
        // Five different people (distinct phones) share the shop's mailbox.
        let rows: Vec<(String, [Option<&str>; 2])> = (0..5)
            .map(|i| {
                (
                    i.to_string(),
                    [
                        Some(["p0", "p1", "p2", "p3", "p4"][i]),
                        Some("info@shop.com"),
                    ],
                )
            })
            .collect();
        let rows: Vec<(&str, &str, &[Option<&str>])> = rows
            .iter()
            .map(|(id, v)| ("crm", id.as_str(), &v[..]))
            .collect();
        let res = resolve(&records(&rows, &["phone", "email"]), 4);
        assert_eq!(res.person, [0, 1, 2, 3, 4]);
        assert_eq!(res.rejected.len(), 1);
        assert_eq!((res.rejected[0].records, res.rejected[0].persons), (5, 5));
        // With the limit above five it links them (the limit is what decides).
        assert_eq!(
            resolve(&records(&rows, &["phone", "email"]), 5).person,
            [0; 5]
        );
    }

    #[test]
    fn trust_order_counts_persons_after_the_more_trusted_kinds() {
        // Two persons of two records each (joined by phone) share one e-mail: four records,
        // but two persons when phones are trusted first.
        let phone_first = records(
            &[
                ("a", "1", &[Some("p"), Some("e")]),
                ("a", "2", &[Some("p"), Some("e")]),
                ("a", "3", &[Some("q"), Some("e")]),
                ("a", "4", &[Some("q"), Some("e")]),
            ],
            &["phone", "email"],
        );
        let res = resolve(&phone_first, 2);
        assert_eq!(res.person, [0, 0, 0, 0]);
        assert!(res.rejected.is_empty());
        // E-mail first: four separate records carry it, more than two persons.
        let email_first = Records {
            kinds: vec!["email".into(), "phone".into()],
            values: phone_first.values.iter().rev().cloned().collect(),
            ..phone_first
        };
        let res = resolve(&email_first, 2);
        assert_eq!(res.person, [0, 0, 2, 2]);
        assert_eq!(res.rejected.len(), 1);
    }
}
