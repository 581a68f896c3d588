-- Consumer lag per topic as last measured by the sink worker (messages not yet consumed).
SELECT topic, grp, argMax(lag, at) AS lag, max(at) AS measured_at
FROM consumer_lag
GROUP BY topic, grp, partition
ORDER BY lag DESC
