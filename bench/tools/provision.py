#!/usr/bin/env python3
"""Bench users: write the SIPp CSVs and the Kamailio db_text tables (subscriber for auth_db,
htable for the default htable lookup), and optionally create
the same extensions in Trunkline through its REST API (POST /api/v1/extensions/import,
batches of 20,000).

usage: provision.py --users N --procs P --out DIR [--contact-ip IP]
                    [--api URL --token TOKEN --batch 20000]
Users are 7-digit numbers 3000000+i with password "pw<number>x". SIPp process k
(1..P) reads DIR/users.k.csv (SEQUENTIAL): user;[authentication ...];expires;contact.
Prints the time the API creation took.
"""
import argparse, http.client, json, os, sys, time, urllib.parse

BASE = 3000000


def user(i):
    n = str(BASE + i)
    return n, "pw" + n + "x"


def write_files(a):
    os.makedirs(a.out, exist_ok=True)
    files = [open(os.path.join(a.out, f"users.{k}.csv"), "w") for k in range(1, a.procs + 1)]
    for f in files:
        f.write("SEQUENTIAL\n")
    for i in range(a.users):
        n, pw = user(i)
        files[i % a.procs].write(
            f"{n};[authentication username={n} password={pw}];3600;{a.contact_ip}:5099\n")
    for f in files:
        f.close()
    db = os.path.join(a.out, "kamdb")
    os.makedirs(db, exist_ok=True)
    with open(os.path.join(db, "version"), "w") as f:
        f.write("id(int,auto) table_name(string) table_version(int) \n")
        f.write("0:version:1\n0:subscriber:7\n0:location:9\n0:htable:2\n")
    # the same users as a Kamailio htable (number -> plain password), loaded once at start
    # (registrar.cfg, default): a hash lookup per REGISTER whatever the number of users
    with open(os.path.join(db, "htable"), "w") as f:
        f.write("id(int,auto) key_name(string) key_type(int) value_type(int) "
                "key_value(string) expires(int) \n")
        for i in range(a.users):
            n, pw = user(i)
            f.write(f"{i + 1}:{n}:0:0:{pw}:0\n")
    with open(os.path.join(db, "subscriber"), "w") as f:
        f.write("id(int,auto) username(string) domain(string) password(string) "
                "ha1(string,null) ha1b(string,null) \n")
        for i in range(a.users):
            n, pw = user(i)
            f.write(f"{i + 1}:{n}:bench:{pw}::\n")


def create(a):
    u = urllib.parse.urlparse(a.api)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    hdr = {"Authorization": "Bearer " + a.token, "Content-Type": "application/json"}
    t0 = time.time()
    for lo in range(0, a.users, a.batch):
        exts = []
        for i in range(lo, min(lo + a.batch, a.users)):
            n, pw = user(i)
            exts.append({"number": n, "password": pw, "name": "bench " + n})
        c.request("POST", "/api/v1/extensions/import", json.dumps({"extensions": exts}), hdr)
        r = c.getresponse()
        data = r.read()
        if r.status != 201:
            sys.exit(f"extension import failed: {r.status} {data[:300]!r}")
    dt = time.time() - t0
    print(f"created {a.users} extensions in {dt:.1f} s ({a.users / dt:.0f}/s)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--contact-ip", default="127.0.11.250")
    p.add_argument("--api")
    p.add_argument("--token")
    p.add_argument("--batch", type=int, default=20000)
    a = p.parse_args()
    write_files(a)
    if a.api:
        create(a)


if __name__ == "__main__":
    main()
