"""topo-graphdb sync as an Airflow task (Airflow 2.4+).

Nightly: an incremental sync (a full one every 7th run), then a retention step. The sync runs in
the tool's own process (``BashOperator``) so that a stuck run can be killed and its lock expires;
Airflow's ``execution_timeout`` sends SIGTERM, which sync turns into a recorded failure with its
lock released. ``--max-runtime`` stops earlier and cleanly (exit code 12).

Exit codes: 0 ok; 10 another sync holds the lock (skipped, not failed: the next run catches up);
11 drift alert (the run succeeded and is recorded; the task fails so that someone looks);
12 --max-runtime reached; 3 config/selection, 4 unreachable, 5 authentication, 6 permission,
1 unexpected. ``skip_on_exit_code`` turns 10 into a skipped task.

Connection settings come from an Airflow connection ``neo4j_topo`` (type generic: host, port,
login, password) passed as environment variables; the password is never in the command line.
The summary (``--json``) lands in the task log and, via ``do_xcom_push``, in XCom.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

TOPO = "/opt/topo-graphdb/venv/bin/topo-graphdb"
CONFIG = "/opt/airflow/config/topo-sync/sync.toml"

ENV = {
    "NEO4J_URI": "bolt://{{ conn.neo4j_topo.host }}:{{ conn.neo4j_topo.port }}",
    "NEO4J_USER": "{{ conn.neo4j_topo.login }}",
    "NEO4J_PASSWORD": "{{ conn.neo4j_topo.password }}",
    "TOPO_SYNC_CONFIG": CONFIG,
}

with DAG(
    dag_id="topo_graphdb_sync",
    schedule="15 2 * * *",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 0},  # a retry after a drift alert would find no new links and hide it
    tags=["neo4j", "graph"],
) as dag:
    sync = BashOperator(
        task_id="sync",
        bash_command=f"{TOPO} sync --since last --full-every 7 --max-runtime 90m --json --quiet",
        env=ENV,
        append_env=True,
        skip_on_exit_code=[10],
        execution_timeout=timedelta(hours=2),
        do_xcom_push=True,
    )
    retention = BashOperator(
        task_id="retention",
        bash_command=f"{TOPO} clean --keep-runs 30 --json",
        env=ENV,
        append_env=True,
        trigger_rule="all_done",
    )
    sync >> retention
