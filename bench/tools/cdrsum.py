#!/usr/bin/env python3
"""Sum the RTP counters of Trunkline's CDRs newer than an id.
usage: cdrsum.py API_URL TOKEN AFTER_ID -> "caller_to_callee callee_to_caller n_cdrs"
"""
import json, sys, urllib.request

api, token, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
fwd = back = n = 0
before = None
while True:
    url = f"{api}/api/v1/cdrs?limit=500" + (f"&before={before}" if before else "")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    page = json.load(urllib.request.urlopen(req, timeout=30))
    cdrs = page.get("cdrs") or []
    done = False
    for c in cdrs:
        if c["id"] <= after:
            done = True
            break
        fwd += c.get("rtp_caller_to_callee", 0)
        back += c.get("rtp_callee_to_caller", 0)
        n += 1
    before = page.get("next_before")
    if done or not cdrs or not before:
        break
print(fwd, back, n)
