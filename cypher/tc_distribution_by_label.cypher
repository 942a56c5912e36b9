// TC distribution per node label: how many nodes were scored and how TC spreads, so you can see
// which kinds of nodes link prediction serves well (high TC) or badly (low TC).
// Parameters: $low (a TC threshold, e.g. 0.1: share of scored nodes below it).
// Use: topo-graphdb query -f cypher/tc_distribution_by_label.cypher --param low=0.1
MATCH (n)
WHERE n.topo_run_id IS NOT NULL
UNWIND labels(n) AS label
WITH label, n.topo_tc AS tc
RETURN label,
       count(*) AS nodes,
       count(tc) AS scored,
       avg(tc) AS mean_tc,
       min(tc) AS min_tc,
       percentileCont(tc, 0.1) AS p10_tc,
       percentileCont(tc, 0.5) AS median_tc,
       percentileCont(tc, 0.9) AS p90_tc,
       max(tc) AS max_tc,
       CASE WHEN count(tc) = 0 THEN null
            ELSE toFloat(sum(CASE WHEN tc < $low THEN 1 ELSE 0 END)) / count(tc) END AS share_below_low
ORDER BY label
