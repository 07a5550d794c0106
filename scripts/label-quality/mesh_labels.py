#!/usr/bin/python3
"""Reference labels for the IU X-ray reports from their MeSH column (manual coding by NLM indexers).

Usage: mesh_labels.py REPORTS_CSV OUT_CSV
A finding is 1.0 when a MeSH term's heading (before the first '/') names it, -1.0 when that term
carries the qualifier 'borderline', and 0.0 otherwise (the indexers list what the report states; a
finding they did not code counts as absent). Headings follow the CheXpert labeler's own mention
lists: Edema includes 'Pulmonary Congestion' and 'Heart Failure' (its phrases 'vascular/pulmonary
congestion', 'heart failure'), Cardiomegaly includes 'Cardiac Shadow/enlarged'.
"""
import csv
import sys

HEADINGS = {
    "Atelectasis": {"Pulmonary Atelectasis", "Atelectasis"},
    "Cardiomegaly": {"Cardiomegaly"},
    "Consolidation": {"Consolidation"},
    "Edema": {"Pulmonary Edema", "Edema", "Pulmonary Congestion", "Heart Failure"},
    "Pleural Effusion": {"Pleural Effusion"},
    "Pneumothorax": {"Pneumothorax"},
}


def label(mesh, finding):
    value = "0.0"
    for term in mesh.split(";"):
        parts = [p.strip() for p in term.split("/")]
        heading, qualifiers = parts[0], parts[1:]
        hit = heading in HEADINGS[finding] or (
            finding == "Cardiomegaly" and heading == "Cardiac Shadow" and ("enlarged" in qualifiers or "borderline" in qualifiers))
        if hit:
            value = "-1.0" if "borderline" in qualifiers else "1.0"
            if value == "1.0":
                break
    return value


with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["uid"] + list(HEADINGS))
    for row in csv.DictReader(f):
        w.writerow([row["uid"]] + [label(row["MeSH"], name) for name in HEADINGS])
