-- Voice of the customer on the demo data set: sentiment and complaint topics of every review,
-- turned into satisfaction and complaint-topic tags per customer and per segment.
-- Run it with:  huaxiang sql --data-dir huaxiang-data -f sql/examples/voice_of_customer.sql
-- or paste the statements into psql.

-- 1. Every review tagged: sentiment score, tag (also in Chinese) and topics.
SELECT review_id, rating, text,
       round(sentiment_score(text), 2) AS score,
       sentiment_tag(text) AS tag,
       sentiment_tag(text, 0.05, 'cn') AS 情感,
       text_topics(text) AS topics
FROM reviews
ORDER BY review_id
LIMIT 10;

-- 2. Does the text agree with the star rating? Share of each tag by rating.
SELECT rating,
       count(*) AS reviews,
       round(avg(sentiment_score(text)), 3) AS avg_score,
       round(100.0 * avg(CASE WHEN sentiment_tag(text) = 'positive' THEN 1 ELSE 0 END), 1) AS pct_positive,
       round(100.0 * avg(CASE WHEN sentiment_tag(text) = 'negative' THEN 1 ELSE 0 END), 1) AS pct_negative
FROM reviews
GROUP BY rating
ORDER BY rating;

-- 3. Why was a review tagged negative? The words and rules behind the score.
SELECT review_id, text, sentiment_explain(text) AS why
FROM reviews
WHERE sentiment_tag(text) = 'negative'
ORDER BY review_id
LIMIT 5;

-- 4. Keep one row per review with its tags, for the profile and for BI tools.
CREATE OR REPLACE TABLE review_tags AS
SELECT review_id, customer_id, review_ts, rating,
       sentiment_score(text) AS score,
       sentiment_tag(text) AS tag,
       text_topics(text) AS topics
FROM reviews;

-- 5. Complaint topics: which topics come up in negative reviews, and how often.
SELECT topic, count(*) AS negative_reviews
FROM (SELECT unnest(topics) AS topic FROM review_tags WHERE tag = 'negative') t
GROUP BY topic
ORDER BY negative_reviews DESC;

-- 6. Satisfaction tag per customer: the average score of their reviews, and their most
--    frequent complaint topic.
CREATE OR REPLACE TABLE customer_voice AS
WITH scores AS (
    SELECT customer_id, count(*) AS reviews, avg(score) AS avg_score,
           sum(CASE WHEN tag = 'negative' THEN 1 ELSE 0 END) AS complaints
    FROM review_tags
    GROUP BY customer_id
),
topics AS (
    SELECT customer_id, topic,
           row_number() OVER (PARTITION BY customer_id ORDER BY count(*) DESC, topic) AS rank
    FROM (SELECT customer_id, unnest(topics) AS topic FROM review_tags WHERE tag = 'negative') t
    GROUP BY customer_id, topic
)
SELECT s.customer_id, s.reviews, round(s.avg_score, 3) AS avg_score, s.complaints,
       CASE WHEN s.avg_score >= 0.3 THEN 'satisfied'
            WHEN s.avg_score <= -0.05 THEN 'dissatisfied'
            ELSE 'neutral' END AS satisfaction,
       t.topic AS main_complaint
FROM scores s LEFT JOIN topics t ON t.customer_id = s.customer_id AND t.rank = 1;

SELECT satisfaction, count(*) AS customers, round(avg(avg_score), 3) AS avg_score
FROM customer_voice
GROUP BY satisfaction
ORDER BY customers DESC;

-- 7. Per RFM segment: how satisfied is each segment, and what do its unhappy customers
--    complain about most?
WITH rfm AS (
    SELECT customer_id, segment
    FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', DATE '2026-11-01')
),
joined AS (
    SELECT r.segment, v.avg_score, v.satisfaction, v.main_complaint
    FROM rfm r JOIN customer_voice v ON v.customer_id = r.customer_id
),
top AS (
    SELECT segment, main_complaint,
           row_number() OVER (PARTITION BY segment ORDER BY count(*) DESC, main_complaint) AS rank
    FROM joined
    WHERE main_complaint IS NOT NULL
    GROUP BY segment, main_complaint
)
SELECT j.segment,
       count(*) AS reviewers,
       round(avg(j.avg_score), 3) AS avg_score,
       round(100.0 * avg(CASE WHEN j.satisfaction = 'dissatisfied' THEN 1 ELSE 0 END), 1) AS pct_dissatisfied,
       t.main_complaint AS top_complaint
FROM joined j LEFT JOIN top t ON t.segment = j.segment AND t.rank = 1
GROUP BY j.segment, t.main_complaint
ORDER BY pct_dissatisfied DESC;
