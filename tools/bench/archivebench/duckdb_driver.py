# The DuckDB side of `sharelog bench archive`: one long-lived process, so
# that Python and DuckDB start-up is not timed. Reads one JSON request per
# line on stdin, answers one JSON line on stdout:
#
#   {"sql": "...", "params": [...], "want": "ids"}   -> {"seconds": s, "ids": [...]}
#   {"sql": "...", "params": [...], "want": "count"} -> {"seconds": s, "count": n}
#
# "ids" materializes the whole result as an Arrow table (every column, as
# the sharelog engine materializes whole events) and returns its id column;
# "count" returns the first value of the only row. seconds is measured with
# time.perf_counter around running the query and fetching its result, and
# nothing else. Errors answer {"error": "..."}; the process goes on.
import json
import sys
import time

import duckdb

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
settings = dict(con.execute(
    "SELECT name, value FROM duckdb_settings() WHERE name IN ('threads', 'enable_external_file_cache', 'parquet_metadata_cache', 'memory_limit')"
).fetchall())
print(json.dumps({"version": duckdb.__version__, "settings": settings}), flush=True)

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        req = json.loads(line)
        params = req.get("params") or None
        if req["want"] == "ids":
            t0 = time.perf_counter()
            table = con.sql(req["sql"], params=params).to_arrow_table()
            seconds = time.perf_counter() - t0
            out = {"seconds": seconds, "ids": table.column("id").to_pylist(), "columns": table.num_columns}
        else:
            t0 = time.perf_counter()
            rows = con.sql(req["sql"], params=params).fetchall()
            seconds = time.perf_counter() - t0
            out = {"seconds": seconds, "count": rows[0][0]}
    except Exception as e:  # report, keep serving
        out = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out), flush=True)
