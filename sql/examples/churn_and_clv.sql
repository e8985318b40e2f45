-- Churn risk and lifetime value from raw orders, on the demo data set (huaxiang demo / serve --demo).
-- Run it with:  huaxiang sql --data-dir huaxiang-data -f sql/examples/churn_and_clv.sql
-- or paste the statements into psql. The demo's orders end on 2026-11-01, our "today".

-- 1. The models behind the numbers: BG/NBD (purchase rates r, alpha; drop-out a, b) and
--    Gamma-Gamma (spend p, q, gamma), fitted on every customer's order history.
SELECT model, parameter, round(value, 4) AS value
FROM clv_fit('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-10-31');

-- 2. Every customer: probability of still being a customer, expected orders and value in the
--    next 90 days. Kept as a table for the next steps and for BI dashboards.
CREATE OR REPLACE TABLE customer_clv AS
SELECT *
FROM clv('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-10-31', 90);

-- 3. How the customer base splits by churn risk, and what each band is worth.
SELECT CASE WHEN churn_prob >= 0.8 THEN '1 gone (>= 80%)'
            WHEN churn_prob >= 0.5 THEN '2 at risk (50-80%)'
            WHEN churn_prob >= 0.2 THEN '3 watch (20-50%)'
            ELSE '4 active (< 20%)' END AS risk_band,
       count(*) AS customers,
       round(avg(frequency + 1), 1) AS avg_order_days,
       round(avg(t - recency)) AS avg_days_since_last,
       round(sum(clv) / 10000, 1) AS clv_90d_wan
FROM customer_clv
GROUP BY 1
ORDER BY 1;

-- 4. The churn-warning list: customers who bought often and well, now likely to leave, ranked by
--    what they used to be worth per quarter (their order rate x expected value), with the CLV they
--    still have if nothing is done.
SELECT c.customer_id, p.name, p.city,
       c.frequency + 1 AS order_days,
       CAST(c.t - c.recency AS BIGINT) AS days_since_last,
       round(c.churn_prob, 3) AS churn_prob,
       round(90.0 * (c.frequency + 1) / greatest(c.t, 1) * c.expected_avg_value, 2) AS value_per_quarter,
       round(c.clv, 2) AS clv_90d
FROM customer_clv c
JOIN customers p USING (customer_id)
WHERE c.churn_prob >= 0.5 AND c.frequency >= 3
ORDER BY value_per_quarter DESC
LIMIT 20;
