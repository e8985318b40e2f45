-- Segmentation walk-through on the demo data set (huaxiang demo / serve --demo).
-- Run it with:  huaxiang sql --data-dir huaxiang-data -f sql/examples/segmentation.sql
-- or paste the statements into psql. The demo's orders end on 2026-11-01, our "today".

-- 1. One row per customer: recency, frequency, monetary, RFM scores, cell and named segment.
SELECT customer_id, recency_days, frequency, monetary, rfm_cell, segment
FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01')
ORDER BY monetary DESC
LIMIT 5;

-- 2. How big is each named segment, and what is it worth?
SELECT segment,
       count(*) AS customers,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
       round(avg(recency_days)) AS avg_recency_days,
       round(avg(frequency), 1) AS avg_orders,
       round(avg(monetary), 0) AS avg_spend,
       round(sum(monetary) / 10000, 1) AS spend_wan
FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01')
GROUP BY segment
ORDER BY spend_wan DESC;

-- 3. The same customers in the 8-class Chinese model (R, F, M high or low against the mean).
SELECT segment, count(*) AS customers, round(avg(monetary), 0) AS avg_spend
FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01', 5, 'cn')
GROUP BY segment
ORDER BY customers DESC;

-- 4. Keep the RFM table for the next steps (and for BI dashboards).
CREATE OR REPLACE TABLE customer_rfm AS
SELECT * FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01');

-- 5. RFM cells per city: scores relative to each city's own customers.
SELECT city, cell, count(*) AS customers
FROM (
  SELECT c.city,
         rfm_score(r.recency_days, r.frequency, r.monetary) OVER (PARTITION BY c.city) AS cell
  FROM customer_rfm r JOIN customers c USING (customer_id))
WHERE cell IN ('555', '111')
GROUP BY city, cell
ORDER BY city, cell;

-- 6. How many segments does the data support? Inertia (elbow) and silhouette per k.
--    Spend is skewed, so cluster on its logarithm.
SELECT k, round(inertia, 1) AS inertia, round(silhouette, 3) AS silhouette, best
FROM kmeans_choose_k(
  'SELECT customer_id, recency_days, frequency, ln(monetary + 1) AS log_spend FROM customer_rfm',
  2, 8);

-- 7. Segment centres in real units (days, orders, log of spend), one row per segment,
--    numbered by size: what a BI tool charts side by side.
SELECT segment, size, round(share, 3) AS share,
       round(recency_days) AS recency_days, round(frequency, 1) AS orders,
       round(exp(log_spend) - 1, 0) AS typical_spend
FROM kmeans_centers(
  'SELECT customer_id, recency_days, frequency, ln(monetary + 1) AS log_spend FROM customer_rfm', 5);

-- 8. Every customer's k-means segment next to their RFM segment: which named segments
--    does each k-means segment gather?
CREATE OR REPLACE TABLE customer_segments AS
SELECT r.customer_id, r.segment AS rfm_segment, k.segment AS kmeans_segment, k.distance
FROM customer_rfm r
JOIN kmeans_segment(
  'SELECT customer_id, recency_days, frequency, ln(monetary + 1) AS log_spend FROM customer_rfm', 5) k
  USING (customer_id);

SELECT kmeans_segment, rfm_segment, count(*) AS customers
FROM customer_segments
GROUP BY kmeans_segment, rfm_segment
HAVING count(*) >= 1000
ORDER BY kmeans_segment, customers DESC;

-- 9. Give the k-means segments names an analyst can use, as a view (a dynamic tag: it follows
--    customer_segments whenever that table is rebuilt).
CREATE OR REPLACE VIEW segment_names AS
SELECT s.kmeans_segment,
       CASE
         WHEN c.frequency >= 40 THEN 'VIP regulars'
         WHEN c.recency_days > 365 THEN 'Churned'
         WHEN c.recency_days > 90 THEN 'Slipping away'
         WHEN c.frequency >= 15 THEN 'Active regulars'
         ELSE 'Occasional buyers'
       END AS name
FROM (SELECT DISTINCT kmeans_segment FROM customer_segments) s
JOIN kmeans_centers(
  'SELECT customer_id, recency_days, frequency, ln(monetary + 1) AS log_spend FROM customer_rfm', 5) c
  ON c.segment = s.kmeans_segment;

SELECT n.name, count(*) AS customers
FROM customer_segments s JOIN segment_names n USING (kmeans_segment)
GROUP BY n.name ORDER BY customers DESC;

-- 10. A retrain next month should give the same segments: compare two runs with different
--     seeds (1.0 = the same split of customers).
SELECT segment_agreement(a, b) AS agreement
FROM (
  SELECT kmeans_segment(recency_days, frequency, ln(monetary + 1), 5, 'seed=1') OVER () AS a,
         kmeans_segment(recency_days, frequency, ln(monetary + 1), 5, 'seed=2') OVER () AS b
  FROM customer_rfm);

-- 11. Outliers: DBSCAN marks customers who fit no dense group as noise (-1).
SELECT city, dbscan, count(*) AS customers, round(avg(frequency), 1) AS orders,
       round(avg(monetary), 0) AS spend, round(avg(recency_days)) AS recency_days
FROM (
  SELECT c.city, r.frequency, r.monetary, r.recency_days,
         dbscan_segment(ln(r.frequency), ln(r.monetary + 1), r.recency_days, 0.2, 50)
           OVER (PARTITION BY c.city) AS dbscan
  FROM customer_rfm r JOIN customers c USING (customer_id)
  WHERE c.city IN ('杭州', '成都'))
GROUP BY city, dbscan ORDER BY city, dbscan;
