// Complete a run: final status (succeeded | failed), results or the error, duration.
MATCH (r:TopoRun {run_id: $run_id})
SET r += $props, r.status = $status, r.finished_at = datetime(), r.heartbeat_at = datetime(),
    r.seconds = duration.inSeconds(r.started_at, datetime()).milliseconds / 1000.0
RETURN count(r) AS updated
