#!/usr/bin/env bash
# `make run`: one node on the embedded default, driven by a demo workload.
#
# The node runs inside a network namespace of its own (ubc-demo), so that its
# net_tap port and the demo's clients form a private network that touches no
# other host: the kernel side of the tap is 198.18.0.1, the node 198.18.0.2
# (RFC 2544 benchmark addresses). The admin socket is a file, reachable from
# anywhere: ./var/ubcd.sock. Stops after DURATION seconds (0: on Ctrl-C).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/${BUILD:-build}
duration=${DURATION:-0}
ns=${UBC_DEMO_NETNS:-ubc-demo}
data=$top/var
socket=$data/ubcd.sock
ubcd=$build/node/ubcd
ubcctl=$build/tools/ubcctl
client=$build/tools/ubc-client
node_ip=198.18.0.2
host_ip=198.18.0.1
# The demo's client account, credited at genesis so its jobs can be escrowed.
owner=c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1

say() { printf 'make run: %s\n' "$*"; }
die() { printf 'make run: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (a net_tap port and a network namespace); run: sudo make run"
[ -x "$ubcd" ] && [ -x "$ubcctl" ] || die "not built: run make build"
mkdir -p "$data"

node_pid=
load_pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
        "$ubcctl" --socket "$socket" shutdown >/dev/null 2>&1 || kill -TERM "$node_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$node_pid" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
stopping=0
trap 'stopping=1' INT TERM

ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip -n "$ns" link set lo up

say "starting ubcd (log: var/ubcd.log, admin socket: var/ubcd.sock)"
# A session of its own: Ctrl-C reaches this script, which then stops the node
# through its admin socket and prints the summary, rather than the node itself.
setsid ip netns exec "$ns" "$ubcd" --data-dir "$data" --set ledger.genesis_account="$owner" \
    --set ledger.genesis_balance=1000000000000 >"$data/ubcd.log" 2>&1 &
node_pid=$!
for _ in $(seq 150); do
    "$ubcctl" --socket "$socket" status >/dev/null 2>&1 && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$data/ubcd.log" >&2; die "ubcd exited at start"; }
    sleep 0.2
done
"$ubcctl" --socket "$socket" status >/dev/null || die "ubcd did not answer on $socket"

# The kernel side of the tap: an address, and the node's MAC (no ARP needed).
mac=$("$ubcctl" --socket "$socket" --json ports | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["mac"])')
ip -n "$ns" addr add "$host_ip/24" dev ubc0
ip -n "$ns" link set ubc0 up
ip -n "$ns" neigh replace "$node_ip" lladdr "$mac" dev ubc0 nud permanent
say "node $node_ip ($mac) on ubc0 in netns $ns; try: $ubcctl --socket $socket status"

setsid tools/demo-load.sh "$ns" "$node_ip" "$build" "$owner" "$data/demo-replies.jsonl" &
load_pids+=($!)

counters() {
    "$ubcctl" --socket "$socket" --json stats && "$ubcctl" --socket "$socket" --json sched-stats \
        && "$ubcctl" --socket "$socket" --json ledger
}

start=$(date +%s)
while [ "$stopping" -eq 0 ]; do
    sleep 1
    kill -0 "$node_pid" 2>/dev/null || die "ubcd died; see var/ubcd.log"
    elapsed=$(( $(date +%s) - start ))
    counters | python3 "$top/tools/demo-progress.py" "$elapsed" || true
    [ "$duration" -gt 0 ] && [ "$elapsed" -ge "$duration" ] && break
done

say "stopping"
{ counters && "$ubcctl" --socket "$socket" --json ledger stats; } > "$data/final-stats.json" || true
for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null || true; done
"$ubcctl" --socket "$socket" shutdown >/dev/null
rc=0
wait "$node_pid" || rc=$?
node_pid=
python3 "$top/tools/demo-progress.py" summary "$data/demo-replies.jsonl" \
    < "$data/final-stats.json" || true
[ "$rc" -eq 0 ] || die "ubcd exited with status $rc; see var/ubcd.log"
# Anyone can audit the ledger: replay its journal from genesis, checking every state hash.
if [ -x "$build/tools/ubc-journal" ]; then
    audit=$("$build/tools/ubc-journal" audit "$data/ledger" --every 0 | tail -1) || true
    echo "  ledger audit        $audit"
fi
say "node stopped cleanly"
