#!/usr/bin/python3
"""The baseline our rules must beat: a keyword per finding, absent when 'no'/'without'/'negative for'
appears earlier in the same sentence, else present. Usage: baseline_labeler.py REPORTS_CSV OUT_CSV"""
import csv
import re
import sys

KEYWORDS = {"Atelectasis": r"atelecta", "Cardiomegaly": r"cardiomegaly|enlarged (?:heart|cardiac)",
            "Consolidation": r"consolidat", "Edema": r"edema", "Pleural Effusion": r"effusion",
            "Pneumothorax": r"pneumothora"}
NEGATION = re.compile(r"\b(?:no|without|negative for)\b")

with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["uid"] + list(KEYWORDS))
    for row in csv.DictReader(f):
        text = (row["findings"] + "\n" + row["impression"]).lower()
        values = []
        for pattern in KEYWORDS.values():
            found = [NEGATION.search(s[:m.start()]) is None for s in re.split(r"[.\n]", text) for m in re.finditer(pattern, s)]
            values.append("" if not found else ("1.0" if any(found) else "0.0"))
        w.writerow([row["uid"]] + values)
