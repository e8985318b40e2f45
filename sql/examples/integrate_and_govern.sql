-- Bring customer data together on the demo data set — the shop's customer table, the CRM's
-- contacts and the stores' Excel order export (imports/shop_orders.xlsx, written by
-- `huaxiang demo`): how clean is each system, clean the identifiers, link every record of one
-- person to one person id, and build `customer_360`, one row per person, which every later
-- analysis (RFM, segments, churn, sentiment) starts from.
-- Run it with:  huaxiang sql --data-dir huaxiang-data -f sql/examples/integrate_and_govern.sql
-- or paste the statements into psql.

-- 0. The first screen: every column of the CRM export — nulls, distinct values before and after
--    normalisation, the most frequent values, and what the text looks like.
SELECT column_name, data_type, nulls, round(null_share, 3) AS null_share, distinct_values,
       normalized_distinct, top_values, phone_share, email_share, date_share
FROM profile('crm_contacts');

-- 0b. The same person entered twice in the CRM: rows equal after normalising name and mobile.
SELECT count(DISTINCT duplicate_group) AS duplicate_groups, count(*) AS rows_involved
FROM find_duplicates('SELECT contact_id, full_name, mobile FROM crm_contacts', 'normalized',
                     'full_name, mobile');

-- 1. How clean is each system? Valid phones and e-mails, and how many records share one.
SELECT 'customers' AS system, count(*) AS records,
       round(avg(CASE WHEN phone_valid(phone) THEN 1.0 ELSE 0.0 END), 3) AS valid_phones,
       round(avg(CASE WHEN normalize_email(email) IS NOT NULL THEN 1.0 ELSE 0.0 END), 3) AS valid_emails,
       count(DISTINCT phone) AS distinct_raw_phones,
       count(DISTINCT normalize_phone(phone)) AS distinct_clean_phones
FROM customers
UNION ALL
SELECT 'crm_contacts', count(*),
       round(avg(CASE WHEN phone_valid(mobile) THEN 1.0 ELSE 0.0 END), 3),
       round(avg(CASE WHEN normalize_email(email) IS NOT NULL THEN 1.0 ELSE 0.0 END), 3),
       count(DISTINCT mobile),
       count(DISTINCT normalize_phone(mobile))
FROM crm_contacts
ORDER BY system;

-- 2. The same CRM contact, raw and cleaned.
SELECT contact_id, full_name, mobile, normalize_phone(mobile) AS phone,
       email, normalize_email(email) AS clean_email, normalize_text(full_name) AS name
FROM crm_contacts
ORDER BY contact_id
LIMIT 5;

-- 2b. The Excel export identifies customers only by name and mobile number, as people typed it.
--     Keep a snapshot of it as a table (a relative path is looked up in the data dir's imports/).
CREATE OR REPLACE TABLE store_orders AS
SELECT * FROM read_excel('shop_orders.xlsx', '订单');
SELECT column_name, data_type, rows, distinct_values, normalized_distinct, top_values, phone_share
FROM profile('store_orders');

-- 3. Every record of the three systems with cleaned identifiers, kept as a table. The export
--    lists orders, not customers: its customer records are its distinct mobile numbers (one
--    record per customer and system — one per order would make a frequent buyer's number look
--    shared by many people).
CREATE OR REPLACE TABLE clean_records AS
SELECT 'shop' AS source, CAST(customer_id AS TEXT) AS record_id,
       normalize_text(name) AS name, city,
       normalize_phone(phone) AS phone, normalize_email(email) AS email,
       CAST(NULL AS TEXT) AS wechat_id
FROM customers
UNION ALL
SELECT 'crm', contact_id, normalize_text(full_name), city,
       normalize_phone(mobile), normalize_email(email), normalize_text(wechat_id)
FROM crm_contacts
UNION ALL
SELECT 'store', normalize_phone("手机号"), min(normalize_text("客户姓名")), CAST(NULL AS TEXT),
       normalize_phone("手机号"), CAST(NULL AS TEXT), CAST(NULL AS TEXT)
FROM store_orders
WHERE normalize_phone("手机号") IS NOT NULL
GROUP BY normalize_phone("手机号");

-- 4. The trap: identifiers on too many different people (a shop hotline, a shared mailbox).
--    They are not used as links; keep them to hide them in the profile.
CREATE OR REPLACE TABLE rejected_identifiers AS
SELECT * FROM identity_rejected(
    'SELECT source, record_id, wechat_id, phone, email FROM clean_records');
SELECT * FROM rejected_identifiers ORDER BY kind, value;

-- 5. Resolve once and keep the links: one row per record with its person id.
CREATE OR REPLACE TABLE person_links AS
SELECT * FROM resolve_identities(
    'SELECT source, record_id, wechat_id, phone, email FROM clean_records');
SELECT person_records, count(*) AS records
FROM person_links GROUP BY person_records ORDER BY person_records;

-- 6. Why were records merged? The identifiers behind a few persons.
SELECT person_id, records, sources, members, linked_by
FROM identity_persons('SELECT source, record_id, wechat_id, phone, email FROM clean_records')
ORDER BY records DESC, person_id
LIMIT 5;

-- 7. customer_360: one row per person. Shop data wins over CRM data where both have a value;
--    rejected identifiers are not shown as anyone's phone or e-mail. Orders and spend come from
--    the shop's order table; the export repeats its last 14 days, so it only adds how many of
--    those orders the export attributes to the person (export_orders).
CREATE OR REPLACE VIEW customer_360 AS
WITH members AS (
    SELECT l.person_id, l.person_records, c.source, c.record_id, c.name, c.city, c.wechat_id,
           CASE WHEN rp.value IS NULL THEN c.phone END AS phone,
           CASE WHEN re.value IS NULL THEN c.email END AS email
    FROM person_links l
    JOIN clean_records c ON c.source = l.source AND c.record_id = l.record_id
    LEFT JOIN rejected_identifiers rp ON rp.kind = 'phone' AND rp.value = c.phone
    LEFT JOIN rejected_identifiers re ON re.kind = 'email' AND re.value = c.email
),
spend AS (
    SELECT 'shop' AS source, CAST(customer_id AS TEXT) AS record_id, count(*) AS orders,
           sum(amount) AS spend, max(order_ts) AS last_order
    FROM orders
    GROUP BY customer_id
),
store AS (
    SELECT normalize_phone("手机号") AS record_id, count(*) AS orders
    FROM store_orders
    GROUP BY normalize_phone("手机号")
)
SELECT m.person_id,
       max(m.person_records) AS records,
       array_agg(DISTINCT m.source) AS sources,
       min(CASE WHEN m.source = 'shop' THEN m.record_id END) AS customer_id,
       coalesce(sum(st.orders), 0) AS export_orders,
       coalesce(min(CASE WHEN m.source = 'shop' THEN m.name END), min(m.name)) AS name,
       coalesce(min(CASE WHEN m.source = 'shop' THEN m.city END), min(m.city)) AS city,
       coalesce(min(CASE WHEN m.source = 'shop' THEN m.phone END), min(m.phone)) AS phone,
       coalesce(min(CASE WHEN m.source = 'shop' THEN m.email END), min(m.email)) AS email,
       min(m.wechat_id) AS wechat_id,
       coalesce(sum(s.orders), 0) AS orders,
       coalesce(sum(s.spend), 0) AS spend,
       max(s.last_order) AS last_order
FROM members m
LEFT JOIN spend s ON s.source = m.source AND s.record_id = m.record_id
LEFT JOIN store st ON m.source = 'store' AND st.record_id = m.record_id
GROUP BY m.person_id;

-- 8. One row per person, and what the profile knows: people in the shop and the CRM, people in
--    the stores' export, customers the CRM never saw, and CRM prospects who never bought.
SELECT count(*) AS persons, count(DISTINCT person_id) AS distinct_person_ids,
       sum(CASE WHEN array_has(sources, 'shop') AND array_has(sources, 'crm') THEN 1 ELSE 0 END) AS in_shop_and_crm,
       sum(CASE WHEN array_has(sources, 'store') THEN 1 ELSE 0 END) AS in_store_export,
       sum(CASE WHEN NOT array_has(sources, 'crm') THEN 1 ELSE 0 END) AS not_in_crm,
       sum(CASE WHEN sources = ['crm'] THEN 1 ELSE 0 END) AS crm_only_prospects
FROM customer_360;

SELECT person_id, records, sources, customer_id, name, city, phone, email, export_orders, orders,
       round(spend, 2) AS spend
FROM customer_360
ORDER BY spend DESC, person_id
LIMIT 5;
