#!/usr/bin/env python3
"""Writes a Debian security tracker JSON export of the real one's dimensions,
for benchmarks: the sources of a scanned image (from `bulwark sbom --format
json`) plus synthetic ones, up to SOURCES source packages and PAIRS
source x CVE records, each with a record per release. Deterministic (seeded).

Dimensions of the real export (2026): about 6,000 source packages and
250,000 source x CVE records over the releases bullseye, bookworm, trixie,
forky and sid; a few sources (linux, chromium, firefox-esr) hold most
records. Usage: gen-tracker.py SBOM.json OUT.json [SOURCES] [PAIRS]
"""
import json
import random
import sys

sbom, out = sys.argv[1], sys.argv[2]
n_sources = int(sys.argv[3]) if len(sys.argv) > 3 else 6000
n_pairs = int(sys.argv[4]) if len(sys.argv) > 4 else 250_000
rng = random.Random(1)
releases = ["bullseye", "bookworm", "trixie", "forky", "sid"]

installed = {}
for p in json.load(open(sbom))["packages"]:
    src = p.get("source") or p["name"]
    installed[src] = p.get("source_version") or p["version"]
sources = sorted(installed)
while len(sources) < n_sources:
    sources.append(f"synthetic-{len(sources)}")
# Power law: a few sources hold most records (linux has ~10,000).
weights = [1.0 / (i + 1) ** 0.9 for i in range(len(sources))]
rng.shuffle(weights)
counts = [max(1, int(w / sum(weights) * n_pairs)) for w in weights]

def bump(v, up):
    base = v.split(":")[-1]
    return (v.split(":")[0] + ":" if ":" in v else "") + (base + "+deb12u9" if up else "0.1-1")

doc = {}
cve = 0
urg = ["not yet assigned", "unimportant", "low", "medium", "high", "low**", "medium**"]
for src, n in zip(sources, counts):
    recs = {}
    for _ in range(n):
        cve += 1
        rels = {}
        for rel in releases:
            r = rng.random()
            u = rng.choice(urg)
            if r < 0.70:
                fixed = bump(installed.get(src, "1.0-1"), rng.random() < 0.15)
                rels[rel] = {"status": "resolved", "repositories": {rel: fixed}, "fixed_version": fixed, "urgency": u}
            elif r < 0.80:
                rels[rel] = {"status": "open", "repositories": {rel: "1.0-1"}, "urgency": u}
            elif r < 0.90:
                rels[rel] = {"status": "open", "repositories": {rel: "1.0-1"}, "urgency": u,
                             "nodsa": "Minor issue", "nodsa_reason": rng.choice(["", "postponed", "ignored"])}
            elif r < 0.97:
                rels[rel] = {"status": "resolved", "repositories": {rel: "1.0-1"}, "fixed_version": "0", "urgency": u}
            else:
                rels[rel] = {"status": "undetermined", "repositories": {rel: "1.0-1"}, "urgency": u}
        year = 1999 + cve % 28
        recs[f"CVE-{year}-{100000 + cve}"] = {
            "description": "synthetic record of realistic size for benchmarks " * 2,
            "scope": rng.choice(["local", "remote"]),
            "releases": rels,
        }
    doc[src] = recs
with open(out, "w") as f:
    json.dump(doc, f)
print(f"{len(doc)} sources, {cve} source x CVE records", file=sys.stderr)
