#!/usr/bin/env bash
# The README's first-hour steps, in order, on this checkout; stops at the first
# error and greps every output for warnings. Run from a clean clone:
#   git clone <repo> /tmp/x && cd /tmp/x && bash scripts/readme_walkthrough.sh
# It runs the main job twice (the second time with an analyst's read-only
# connection left open on the warehouse), then the API steps and the analyst's
# dbt commands. The test command (`make test`) is CI's; run it separately.
set -euo pipefail
cd "$(dirname "$0")/.."
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
log=$(mktemp -d)
step() { echo "== $*"; }

step "make run (install, sample, pipeline)"
make run > "$log/run1.txt" 2>&1 || { tail -20 "$log/run1.txt"; exit 1; }
tail -1 "$log/run1.txt"

step "make run again, a read-only connection open on the warehouse all along"
.venv/bin/python -c "import duckdb, time; c = duckdb.connect('data/warehouse/dev.duckdb', read_only=True);
print('analyst sees', c.sql('select count(*) from user_ranking').fetchall(), flush=True); time.sleep(600)" &
analyst=$!
sleep 3
make run > "$log/run2.txt" 2>&1 || { tail -20 "$log/run2.txt"; kill $analyst; exit 1; }
tail -1 "$log/run2.txt"

step "dbt show --target analyst, the connection still open"
(. .venv/bin/activate && dbt show --profiles-dir . --target analyst -s published_ranking --limit 3) > "$log/show.txt" 2>&1 \
  || { cat "$log/show.txt"; kill $analyst; exit 1; }
grep -A5 "Previewing" "$log/show.txt"
kill $analyst

step "make serve, curl, the client"
make serve > "$log/serve.txt" 2>&1 &
for _ in $(seq 50); do curl -s http://127.0.0.1:5000/api/health > /dev/null && break; sleep 0.2; done
curl -s -X GET -H "Content-type: application/json" -d '{"user_handle":"110"}' http://127.0.0.1:5000/api/similarity/; echo
root=$(pwd)
(cd /tmp && "$root/.venv/bin/user-similarity" --user_id 110)   # the installed client, from another folder
.venv/bin/python -m server.similarity --user_id 110
pkill -f "python -m runserver" || true

step "warnings in any output"
# ignored: this machine's pip.conf names local mirrors that may be absent ("Location ... is ignored")
if grep -iE "warn|traceback|error" "$log"/*.txt | grep -vE "WARN=0|ERROR=0|error_|This is a development server|Location 'file:"; then
  echo "unexpected warnings above"; exit 1
fi
echo "none"
