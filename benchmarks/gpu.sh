#!/usr/bin/env bash
# GPU checks in one go: CPU-vs-GPU tests, then GPU benchmarks of exact TC and ATC.
#
# Usage: benchmarks/gpu.sh DATA_DIR [OUT_DIR]
#   DATA_DIR holds facebook/edges.csv and soc-slashdot0902/edges.csv (SNAP graphs).
#   OUT_DIR (default ./out) receives the pytest log and the benchmark JSON files.
# Every step has its own time limit, so one slow or failing step does not hide the others.
# PYTHON (default python3) must have CuPy, NumPy, SciPy, Numba, pandas, click and pytest.
set -u
DATA=${1:?usage: benchmarks/gpu.sh DATA_DIR [OUT_DIR]}
OUT=${2:-out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
step() {  # step SECONDS NAME COMMAND...
    local limit=$1 name=$2; shift 2
    echo "=== $name (limit ${limit}s)"
    local t0=$SECONDS
    timeout "$limit" "$@"
    echo "=== $name: exit $? after $((SECONDS - t0)) s"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import cupy, numpy, numba; print('cupy', cupy.__version__, 'numpy', numpy.__version__, 'numba', numba.__version__)"

step 180 "pytest -m gpu" $PY -m pytest -m gpu tests/gpu tests/unit -p no:cacheprovider -q -rfE --timeout 90 --junitxml "$OUT/gpu-tests.xml"
step 100 "exact + ATC, train variant, K=1,2" $PY benchmarks/tc.py --backend gpu --data-dir "$DATA" \
    --graphs facebook,soc-slashdot0902 --hops 1,2 --no-oracle --json "$OUT/tc-gpu-train.json"
step 45 "exact + ATC, eval variant (10% held out), K=2" $PY benchmarks/tc.py --backend gpu --data-dir "$DATA" \
    --graphs soc-slashdot0902 --hops 2 --eval-share 0.1 --no-oracle --json "$OUT/tc-gpu-eval.json"
step 30 "CLI on the GPU (facebook, K=2), process start included" bash -c \
    "time $PY cli.py tc --edges '$DATA/facebook/edges.csv' --hops 2 --backend gpu --output '$OUT/facebook-k2.csv'"
step 100 "exact 1-hop TC, synthetic power-law graph of 100M edges" $PY benchmarks/tc.py --backend gpu \
    --synthetic-edges 100000000 --hops 1 --json "$OUT/tc-gpu-synthetic.json"
step 100 "exact 1-hop TC, synthetic power-law graph of 100M edges, 10% held out as evaluation edges" $PY benchmarks/tc.py \
    --backend gpu --synthetic-edges 100000000 --hops 1 --eval-share 0.1 --json "$OUT/tc-gpu-synthetic-eval.json"
step 150 "exact + ATC, K=3, facebook and soc-slashdot0902" $PY benchmarks/tc.py --backend gpu --data-dir "$DATA" \
    --graphs facebook,soc-slashdot0902 --hops 3 --skip none --no-oracle --json "$OUT/tc-gpu-k3.json"
