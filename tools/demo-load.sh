#!/usr/bin/env bash
# The demo workload of `make run`, run inside the demo's network namespace:
# provider agents and clients from ubc-client against the node at $2.
# Usage: demo-load.sh NETNS NODE_IP BUILD_DIR
set -uo pipefail
ns=$1 node=$2 build=$3
client=$build/tools/ubc-client
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; exit 0' TERM INT EXIT
if [ ! -x "$client" ]; then
    echo "demo-load: $client is not built" >&2
    exit 1
fi
for i in 1 2 3 4; do
    ip netns exec "$ns" "$client" --node "$node:7400" provider --id "$i" --operator "$i" \
        --cpu-millis 8000 --mem-mib 32768 >/dev/null 2>&1 &
    pids+=($!)
done
ip netns exec "$ns" "$client" --node "$node:7400" submit --count 1000000 --rate 200 \
    --tasks 2 --redundancy 2 --work-ms 200 >/dev/null 2>&1 &
pids+=($!)
wait
