#!/usr/bin/env python3
"""Failover latency from the -trace_msg files of two SIPp UAS.
usage: failover.py MODE DIR_A DIR_B TIMEOUT_MS
MODE 503: per call, time from UAS A sending its 503 to UAS B receiving the INVITE.
MODE silence: time from UAS A receiving the INVITE to UAS B receiving it, minus TIMEOUT_MS
(the trunk's invite_timeout_ms), i.e. the overshoot. Calls are paired by the Request-URI
user (the bench UAC puts its call number there).
prints "p50 X ms, p99 Y ms, max Z ms (n N)"
"""
import glob, re, sys
from datetime import datetime

SEP = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)")


def messages(d):
    for path in glob.glob(d + "/*_messages.log"):
        ts, kind, buf = None, None, []
        for line in open(path, errors="replace"):
            m = SEP.match(line)
            if m:
                if ts is not None:
                    yield ts, kind, buf
                ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
                kind, buf = None, []
                continue
            if kind is None and ("message received" in line or "message sent" in line):
                kind = "recv" if "received" in line else "sent"
                continue
            buf.append(line.rstrip("\r\n"))
        if ts is not None:
            yield ts, kind, buf


def key(buf):
    for l in buf:
        m = re.search(r"sip:\+?(\d+)@", l)
        if l.startswith(("INVITE ", "To:", "t:")) and m:
            return m.group(1)
    return None


def first_line(buf):
    for l in buf:
        if l.strip():
            return l.strip()
    return ""


mode, da, db, tmo = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
a_ev, b_inv = {}, {}
for ts, kind, buf in messages(da):
    fl, k = first_line(buf), key(buf)
    if not k:
        continue
    if mode == "503" and kind == "sent" and fl.startswith("SIP/2.0 503"):
        a_ev.setdefault(k, ts)
    if mode == "silence" and kind == "recv" and fl.startswith("INVITE "):
        a_ev.setdefault(k, ts)
for ts, kind, buf in messages(db):
    fl, k = first_line(buf), key(buf)
    if k and kind == "recv" and fl.startswith("INVITE "):
        b_inv.setdefault(k, ts)
d = sorted((b_inv[k] - a_ev[k]) * 1000 - (tmo if mode == "silence" else 0) for k in a_ev if k in b_inv)
if not d:
    print("no paired calls")
    sys.exit(0)
pct = lambda q: d[min(len(d) - 1, max(0, int(round(q * len(d) + 0.5)) - 1))]
print(f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {d[-1]:.1f} ms (n {len(d)})")
