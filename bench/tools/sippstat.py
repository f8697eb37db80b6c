#!/usr/bin/env python3
"""Summarise the SIPp outputs of one uac_multi run (bench/lib.sh).

usage: sippstat.py DIR [HOLD_S]   (DIR/1, DIR/2, ... each hold stat.csv and *_rtt.csv of one SIPp)
rate = successful calls / (longest elapsed time - HOLD_S), HOLD_S being the call length.
prints one line of shell assignments: ok= failed= retrans= unexpected= elapsed= rate=
p50= p99= max= (response times in ms: RTD 1 = INVITE->200 / REGISTER->200)
stale401= (register_auth.xml: 401s to the REGISTER that already carried credentials, i.e.
stale=true challenges answered once more; from SIPp -trace_counts, every 401 column of the
scenario after the first)
"""
import re
import csv, glob, os, sys


def last_row(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) < 2:
        return None
    hdr, row = rows[0], rows[-1]
    return dict(zip(hdr, row))


def num(d, key):
    try:
        return float(d.get(key, "0") or 0)
    except ValueError:
        return 0.0


def main():
    top = sys.argv[1]
    hold = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    ok = failed = retr = unexp = 0
    elapsed = 0.0
    rtts = []
    procs = 0
    stale = 0
    for d in sorted(glob.glob(os.path.join(top, "*"))):
        st = os.path.join(d, "stat.csv")
        if not os.path.exists(st):
            continue
        procs += 1
        r = last_row(st)
        if r is None:
            failed += 1  # a SIPp that wrote nothing is a failure of the step
            continue
        ok += num(r, "SuccessfulCall(C)")
        failed += num(r, "FailedCall(C)")
        retr += num(r, "Retransmissions(C)")
        unexp += num(r, "FailedUnexpectedMessage(C)")
        # ElapsedTime(C) is "HH:MM:SS:mmm..." ; take the longest process
        et = r.get("ElapsedTime(C)", "0:0:0")
        parts = et.split(":")
        try:
            secs = int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
            if len(parts) > 3:
                secs += float(parts[3]) / 1e6 if len(parts[3]) > 3 else float(parts[3]) / 1e3
        except (ValueError, IndexError):
            secs = 0
        elapsed = max(elapsed, secs)
        for cf in glob.glob(os.path.join(d, "*_counts.csv")):
            c = last_row(cf)
            if c:
                cols = sorted((int(k.split("_")[0]), k) for k in c if re.fullmatch(r"\d+_401_Recv", k))
                stale += sum(num(c, k) for _, k in cols[1:])
        for rf in glob.glob(os.path.join(d, "*_rtt.csv")):
            with open(rf) as f:
                for line in f:
                    p = line.strip().split(";")
                    if len(p) >= 3 and p[2] == "1":
                        try:
                            rtts.append(float(p[1]))
                        except ValueError:
                            pass
    rtts.sort()

    def pct(q):
        if not rtts:
            return -1
        i = min(len(rtts) - 1, max(0, int(round(q * len(rtts) + 0.5)) - 1))
        return rtts[i]

    span = elapsed - hold
    rate = ok / span if span > 0 else 0
    print(
        f"procs={procs} ok={int(ok)} failed={int(failed)} retrans={int(retr)} unexpected={int(unexp)} "
        f"elapsed={elapsed:.1f} rate={rate:.0f} p50={pct(0.50):.2f} p99={pct(0.99):.2f} "
        f"max={rtts[-1] if rtts else -1:.2f} nrtt={len(rtts)} stale401={int(stale)}"
    )


if __name__ == "__main__":
    main()
