#!/usr/bin/env python3
"""Formats `ubcctl --json stats` for `make run`: a progress line each second
(argument: elapsed seconds) or the closing summary (argument: summary)."""
import json
import sys


def port_totals(stats):
    port = stats["ports"][0]
    drops = {}
    for queue in port["queues"]:
        for layer, reasons in queue["drops"].items():
            for reason, count in reasons.items():
                key = f"{layer}:{reason}"
                drops[key] = drops.get(key, 0) + count
    return port, drops


def progress(stats, elapsed):
    port, drops = port_totals(stats)
    roles = stats["roles"]
    dropped = sum(drops.values())
    print(f"[{int(elapsed):4d}s] rx {port['rx_packets']:>9,} tx {port['tx_packets']:>9,} "
          f"drops {dropped:>7,}  net {roles['net']['items']:>9,} sched {roles['sched']['items']:>9,}"
          f"  msgs in use {stats['messages']['in_use']:,}", flush=True)


def summary(stats):
    port, drops = port_totals(stats)
    print("summary:")
    print(f"  uptime            {stats['uptime_s']:.1f} s")
    print(f"  port {port['name']:<12} rx {port['rx_packets']:,} packets, tx {port['tx_packets']:,}")
    for reason, count in sorted(drops.items()):
        if count:
            print(f"  dropped {reason:<20} {count:,}")
    for name, role in stats["roles"].items():
        print(f"  role {name:<10} lcore {role['lcore']} items {role['items']:,} "
              f"busy polls {role['busy_polls']:,} of {role['polls']:,}")
    for lcore in stats["lcores"]:
        print(f"  lcore {lcore['lcore']} sleeps {lcore['sleeps']:,}, wake-up late "
              f"avg {lcore['wake_late_us_avg']:.1f} us, max {lcore['wake_late_us_max']:.1f} us")


def main():
    stats = json.load(sys.stdin)
    if sys.argv[1] == "summary":
        summary(stats)
    else:
        progress(stats, float(sys.argv[1]))


if __name__ == "__main__":
    main()
