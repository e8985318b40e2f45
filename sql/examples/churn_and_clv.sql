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

-- 5. With labels: what each customer looked like on 2026-05-01, and whether they ordered again
--    in the six months after (churned = 1 if not).
CREATE OR REPLACE TABLE churn_history AS
SELECT o.customer_id,
       CAST(DATE '2026-05-01' - max(CAST(o.order_ts AS DATE)) AS BIGINT) AS recency_days,
       count(*) AS orders,
       CAST(sum(o.amount) AS DOUBLE) AS spend,
       count(DISTINCT o.category) AS categories,
       CASE WHEN max(later.customer_id) IS NULL THEN 1 ELSE 0 END AS churned
FROM orders o
LEFT JOIN (SELECT DISTINCT customer_id FROM orders
           WHERE order_ts >= TIMESTAMP '2026-05-01 00:00:00') later
  ON later.customer_id = o.customer_id
WHERE o.order_ts < TIMESTAMP '2026-05-01 00:00:00'
GROUP BY o.customer_id;

-- 6. Train a logistic regression and a decision tree on that history; they are kept in the
--    data dir (SELECT * FROM models()) and replaced when trained again under the same name.
SELECT model, kind, rows, features, round(accuracy, 3) AS accuracy, round(auc, 3) AS auc
FROM train_model('churn_lr', 'logistic',
  'SELECT recency_days, orders, spend, categories, churned AS label FROM churn_history');

SELECT model, kind, rows, round(recall, 3) AS recall, round(auc, 3) AS auc
FROM train_model('churn_tree', 'tree',
  'SELECT recency_days, orders, spend, categories, churned AS label FROM churn_history',
  'max_depth=4, class_weight=balanced');

-- 7. Which features drive churn (coefficients per standard deviation), and how well the model
--    separates churners (the confusion matrix as rows).
SELECT feature, round(weight, 3) AS weight FROM model_weights('churn_lr') ORDER BY abs(weight) DESC;

SELECT metric, round(value, 3) AS value
FROM evaluate_model('churn_lr',
  'SELECT recency_days, orders, spend, categories, churned FROM churn_history');

-- 8. Score today's customers with the trained model, beside their stage and CLV: the ones
--    worth a call.
WITH today AS (
  SELECT customer_id, min(order_ts) AS first_ts, max(order_ts) AS last_ts, count(*) AS orders,
         CAST(sum(amount) AS DOUBLE) AS spend, count(DISTINCT category) AS categories
  FROM orders WHERE order_ts < TIMESTAMP '2026-11-01 00:00:00' GROUP BY customer_id
), features AS (
  SELECT *, CAST(DATE '2026-10-31' - CAST(last_ts AS DATE) AS BIGINT) AS recency_days FROM today
)
SELECT f.customer_id,
       round(churn_prob('churn_lr', f.recency_days, f.orders, f.spend, f.categories), 3) AS churn_risk,
       lifecycle_stage(f.first_ts, f.last_ts, f.orders, DATE '2026-10-31', 'labels=cn') AS stage,
       round(c.clv, 2) AS clv_90d
FROM features f
JOIN customer_clv c USING (customer_id)
WHERE churn_prob('churn_lr', f.recency_days, f.orders, f.spend, f.categories) >= 0.5
ORDER BY c.expected_avg_value * (c.frequency + 1) DESC
LIMIT 10;
