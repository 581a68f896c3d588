-- Consumer lag per topic and partition as last measured by the sink worker (messages not yet consumed).
SELECT topic, grp, partition, argMax(lag, at) AS lag, max(at) AS measured_at
FROM consumer_lag
GROUP BY topic, grp, partition
ORDER BY lag DESC
