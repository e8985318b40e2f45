//! Identity resolution on the demo data, checked against the true customer ↔ CRM links the
//! demo generator keeps for tests (`demo-truth/crm_links.csv`).

use std::collections::{HashMap, HashSet};

use super::common::{demo_dir, sql_csv};

/// The demo's two systems, identifiers normalised in SQL.
const RECORDS: &str = "SELECT ''shop'' AS source, customer_id AS record_id, \
     normalize_phone(phone) AS phone, normalize_email(email) AS email, \
     CAST(NULL AS VARCHAR) AS wechat_id FROM customers \
     UNION ALL SELECT ''crm'', contact_id, normalize_phone(mobile), normalize_email(email), wechat_id \
     FROM crm_contacts";

#[test]
fn resolved_customer_crm_links_have_precision_and_recall_of_at_least_0_99() {
    let dir = demo_dir();
    let csv = sql_csv(
        dir,
        &format!("SELECT source, record_id, person_id FROM resolve_identities('{RECORDS}')"),
    );
    let mut customers_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut contacts_of: HashMap<String, Vec<String>> = HashMap::new();
    for line in csv.lines().skip(1) {
        let mut f = line.split(',');
        let (source, id, person) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let map = if source == "shop" {
            &mut customers_of
        } else {
            &mut contacts_of
        };
        map.entry(person.to_string())
            .or_default()
            .push(id.to_string());
    }
    // Predicted links: every (contact, customer) pair resolved to one person.
    let mut predicted = HashSet::new();
    for (person, contacts) in &contacts_of {
        for customer in customers_of.get(person).into_iter().flatten() {
            for contact in contacts {
                predicted.insert((contact.clone(), customer.clone()));
            }
        }
    }
    let truth_text = std::fs::read_to_string(dir.join("demo-truth/crm_links.csv")).unwrap();
    let truth: HashSet<(String, String)> = truth_text
        .lines()
        .skip(1)
        .map(|l| {
            let (contact, customer) = l.split_once(',').unwrap();
            (contact.to_string(), customer.to_string())
        })
        .collect();
    let right = predicted.intersection(&truth).count() as f64;
    let precision = right / predicted.len() as f64;
    let recall = right / truth.len() as f64;
    println!(
        "links: true {} predicted {} right {right}: precision {precision:.4} recall {recall:.4}",
        truth.len(),
        predicted.len()
    );
    assert!(precision >= 0.99, "precision {precision:.4} < 0.99");
    assert!(recall >= 0.99, "recall {recall:.4} < 0.99");
}

#[test]
fn the_shop_hotline_and_shared_mailbox_are_reported_not_used() {
    let csv = sql_csv(
        demo_dir(),
        &format!(
            "SELECT kind, value, persons > 10 FROM identity_rejected('{RECORDS}') ORDER BY kind"
        ),
    );
    assert_eq!(
        csv.lines().skip(1).collect::<Vec<_>>(),
        [
            "email,info@huaxiang-shop.com,true",
            "phone,+8613800138000,true"
        ],
        "{csv}"
    );
}
