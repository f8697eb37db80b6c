#!/usr/bin/env python3
"""Packets relayed by rtpengine between two `rtpengine-ctl list totals` outputs.
usage: rtpe_totals.py BEFORE AFTER -> packets (0 if not found)
"""
import re, sys


def total(path):
    # 10.5 prints e.g. "Total relayed packets                            :12345" (userspace + kernel)
    best = 0
    for line in open(path, errors="replace"):
        m = re.match(r"\s*Total relayed packets\s*:\s*(\d+)", line)
        if m:
            best = int(m.group(1))
            break
    return best


print(max(0, total(sys.argv[2]) - total(sys.argv[1])))
