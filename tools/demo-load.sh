#!/usr/bin/env bash
# The demo workload of `make run`, run inside the demo's network namespace:
# provider agents and clients from ubc-client against the node at $2.
# Usage: demo-load.sh NETNS NODE_IP BUILD_DIR OWNER REPLIES_FILE
# The client's replies (JSON lines, with latencies) go to REPLIES_FILE.
set -uo pipefail
ns=$1 node=$2 build=$3 owner=$4 replies=$5
client=$build/tools/ubc-client
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; exit 0' TERM INT EXIT
if [ ! -x "$client" ]; then
    echo "demo-load: $client is not built" >&2
    exit 1
fi
# Eight provider agents of four operators, then a steady stream of swarm jobs:
# gangs of 2 tasks, each replicated on 2 providers of distinct operators.
# Provider 9 crashes after 6 s (killed: no deregistration, its heartbeats just
# stop): the node fails it over and re-places its tasks on the others.
ip netns exec "$ns" "$client" --node "$node:7400" provider --id 9 --operator 5 --cpu 16000 \
    --mem 65536 --price 500 --heartbeat-ms 200 --work-ms 1000 >/dev/null 2>&1 &
crashing=$!
pids+=($crashing)
for i in 1 2 3 4 5 6 7 8; do
    ip netns exec "$ns" "$client" --node "$node:7400" provider --id "$i" \
        --operator $(( (i + 1) / 2 )) --cpu 16000 --mem 65536 --price $(( 800 + 100 * i )) \
        --heartbeat-ms 200 --work-ms 150 >/dev/null 2>&1 &
    pids+=($!)
done
sleep 1
# Job ids are unique across runs: the node recovers the unfinished jobs of an
# earlier run from its journal, and a reused id would be refused as a duplicate.
first_job=$(( $(date +%s) * 100000 ))
ip netns exec "$ns" "$client" --node "$node:7400" --owner "$owner" --json submit --job "$first_job" --count 10000000 --rate 80 \
    --tasks 2 --redundancy 2 --cpu 2000 --mem 4096 --bid 4000 --work-ms 150 >"$replies" 2>&1 &
pids+=($!)
# Clients' own signed ledger operations over the wire (LEDGER_OP), through the
# verify role: a few new accounts, each created by its key's signature.
ledger_op=$build/tools/ubc-ledger-op
if [ -x "$ledger_op" ]; then
    (for n in 1 2 3 4 5; do
        read -r _ public _ secret < <("$ledger_op" keygen | tr '\n' ' ')
        op=$("$ledger_op" sign --kind create-account --account "$public" --nonce 1 \
            --secret "$secret")
        ip netns exec "$ns" "$client" --node "$node:7400" ledger-op "$op" >/dev/null 2>&1
        sleep 1
    done) &
    pids+=($!)
fi
sleep 6
kill -KILL "$crashing" 2>/dev/null
wait
