#!/usr/bin/env python3
"""Formats the node's counters for `make run`. Reads, on stdin, the JSON of
`ubcctl --json stats` followed by that of `ubcctl --json sched-stats`, and
prints a progress line (argument: elapsed seconds) or the closing summary
(argument: summary)."""
import json
import sys


def read_documents(text):
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


def drops_by_reason(port):
    drops = {}
    for queue in port["queues"]:
        for layer, reasons in queue["drops"].items():
            for reason, count in reasons.items():
                if count:
                    key = f"{layer}:{reason}"
                    drops[key] = drops.get(key, 0) + count
    return drops


def progress(stats, sched, elapsed):
    port = stats["ports"][0]
    states = sched.get("jobs_by_state", {})
    refused = sum(sched.get("refusals", {}).values())
    print(f"[{int(elapsed):4d}s] packets rx {port['rx_packets']:>8,} tx {port['tx_packets']:>8,}"
          f" | jobs accepted {sched.get('jobs_accepted', 0):>6,} validated "
          f"{states.get('validated', 0):>6,} failed {states.get('failed', 0):>4,} refused "
          f"{refused:>4,} | placements/s {sched.get('decisions_per_s', 0):>7,.0f}"
          f" | providers up {sched.get('providers', {}).get('up', 0)}", flush=True)


def summary(stats, sched):
    port = stats["ports"][0]
    uptime = stats["uptime_s"]
    states = sched.get("jobs_by_state", {})
    print("summary:")
    print(f"  uptime              {uptime:.1f} s")
    print(f"  port {port['name']:<14} rx {port['rx_packets']:,} packets, tx {port['tx_packets']:,}")
    print(f"  jobs                submitted {sched.get('jobs_submitted', 0):,}, accepted "
          f"{sched.get('jobs_accepted', 0):,} ({sched.get('jobs_accepted', 0) / uptime:,.1f}/s)")
    for state, count in sorted(states.items()):
        print(f"    {state:<18}{count:,}")
    print(f"  placements          {sched.get('decisions', 0):,}, failovers "
          f"{sched.get('failovers', 0):,}, retries {sched.get('retries', 0):,}, preemptions "
          f"{sched.get('preemptions', 0):,}")
    for reason, count in sorted(sched.get("refusals", {}).items()):
        print(f"  refused {reason:<20}{count:,}")
    for reason, count in sorted(drops_by_reason(port).items()):
        print(f"  dropped {reason:<28}{count:,}")
    for name, role in stats["roles"].items():
        print(f"  role {name:<10} lcore {role['lcore']} items {role['items']:,}, busy polls "
              f"{role['busy_polls']:,} of {role['polls']:,}")
    for lcore in stats["lcores"]:
        print(f"  lcore {lcore['lcore']}             sleeps {lcore['sleeps']:,}, wake-up late avg "
              f"{lcore['wake_late_us_avg']:.1f} us, max {lcore['wake_late_us_max']:.1f} us")


def ledger_summary(ledger, journal):
    if not ledger:
        return
    supply, results = ledger["supply"], ledger.get("results", {})
    print(f"  ledger              height {ledger['height']:,}, ops applied "
          f"{ledger['ops_applied']:,}, refused {ledger['ops_refused']:,}")
    if journal:
        print(f"  ledger journal      {journal['batches_durable']:,} of {journal['batches']:,} "
              f"batches durable, {journal['batches_failed']:,} lost; every answer left after "
              f"its batch was on disk")
    for result, count in sorted(results.items()):
        print(f"    {result:<18}{count:,}")
    print(f"  supply              minted {supply['minted']:,} = balances {supply['balances']:,}"
          f" + staked {supply['staked']:,} + escrowed {supply['escrowed']:,} + unbonding "
          f"{supply['unbonding']:,} + rewards {supply['reward_pool']:,} + burned "
          f"{supply['burned']:,}: {'conserved' if supply['conserved'] else 'NOT CONSERVED'}")


def client_summary(path):
    """The clients' view: replies by result and submit-to-ack latency."""
    try:
        replies = [json.loads(line) for line in open(path) if line.startswith("{")]
    except OSError:
        return
    if not replies:
        return
    results = {}
    for reply in replies:
        key = reply["result"] if reply["result"] == "ack" else f"{reply['result']}:{reply['error']}"
        results[key] = results.get(key, 0) + 1
    latencies = sorted(r["latency_us"] for r in replies if r["result"] == "ack")
    print(f"  client replies      " + ", ".join(f"{k} {v:,}" for k, v in sorted(results.items())))
    if latencies:
        def pct(p):
            return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] / 1000
        print(f"  submit-to-ack       p50 {pct(50):.2f} ms, p99 {pct(99):.2f} ms, p99.9 "
              f"{pct(99.9):.2f} ms (journaled before the ack)")


def main():
    documents = read_documents(sys.stdin.read())
    stats = documents[0]
    sched = documents[1] if len(documents) > 1 else {}
    ledger = documents[2] if len(documents) > 2 else {}
    journal = documents[3] if len(documents) > 3 else {}
    if sys.argv[1] == "summary":
        summary(stats, sched)
        ledger_summary(ledger, journal)
        if len(sys.argv) > 2:
            client_summary(sys.argv[2])
    else:
        progress(stats, sched, float(sys.argv[1]))


if __name__ == "__main__":
    main()
