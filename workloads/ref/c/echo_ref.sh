#!/bin/sh
# echo_ref.sh: run a reference echo server (plain libuv or Node.js) under the same load
# generator as io.echo and print one line per repetition:
#   <server> conns=<C> msg=<B> requests=<n> req_per_s=<r> p50_ns=<..> p99_ns=<..> max_ns=<..>
#   server_cpu_ms=<user+sys of the server process; 0 without GNU time>
#
#   workloads/ref/c/echo_ref.sh uv|node CONNS [MSG_BYTES] [MSGS_PER_CONN] [REPS]
#
# The server prints "port=N" when it listens; the load generator's clock starts once all
# connections are open, as in io.echo. Servers exit on their own after CONNS connections.
set -eu
kind=$1 conns=$2 msg=${3:-1024} count=${4:-200} reps=${5:-5}
here=$(cd "$(dirname "$0")/../../.." && pwd)
case $kind in
uv) server="$here/build/uv_echo" ;;
node) server="node $here/workloads/ref/node/echo.js" ;;
*) echo "echo_ref.sh: server is uv or node" >&2; exit 2 ;;
esac
out=$(mktemp) cpu=$(mktemp)
trap 'rm -f "$out" "$cpu"' EXIT
timer=""
[ -x /usr/bin/time ] && timer="/usr/bin/time -o $cpu -f %U+%S" 
i=0
while [ "$i" -lt "$reps" ]; do
	echo 0+0 >"$cpu"
	$timer $server --conns "$conns" >"$out" &
	pid=$!
	tries=0
	while ! grep -q '^port=' "$out" && [ $tries -lt 200 ]; do sleep 0.05; tries=$((tries + 1)); done
	port=$(sed -n 's/^port=//p' "$out")
	[ -n "$port" ] || { kill "$pid"; echo "echo_ref.sh: $kind server did not start" >&2; exit 1; }
	set -- $("$here/bench" loadgen --port "$port" --conns "$conns" --msg "$msg" --count "$count")
	wait "$pid"
	awk -v k="$kind" -v c="$conns" -v m="$msg" -v req="$1" -v p50="$4" -v p99="$5" -v mx="$6" \
		-v el="$7" -v cpu="$(tail -n 1 "$cpu")" 'BEGIN { split(cpu, t, "+");
		printf "%s conns=%s msg=%s requests=%s req_per_s=%.0f p50_ns=%s p99_ns=%s max_ns=%s server_cpu_ms=%.0f\n",
		k, c, m, req, req / (el / 1e9), p50, p99, mx, (t[1] + t[2]) * 1000 }'
	i=$((i + 1))
done
