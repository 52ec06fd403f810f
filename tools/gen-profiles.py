#!/usr/bin/env python3
"""Generate the profile tables mappings/profiles/*.tsv from UZ Core StructureDefinitions.

Dev-time tool (Python 3 standard library only); the engine only reads the generated
tables. Format: docs/mapping-spec.md section 5.

Usage:
    python3 tools/gen-profiles.py [UZCORE_DIR] [-o OUT_DIR] [--md-fallback]

UZCORE_DIR is the shared `uzcore` reference folder (default: ../shared/uzcore relative to
the repository root). OUT_DIR defaults to mappings/profiles/ of this repository.

Inputs (all under UZCORE_DIR):
  sd/StructureDefinition-uz-core-*.json   UZ Core profiles (snapshot) -> <sd-id>.tsv
  sd/hl7-r5-vitalsigns/*.json             HL7 R5 vital-signs profiles -> vitalsigns-<id>.tsv
  terminology-json/*.json                 ValueSets/CodeSystems used to enumerate required bindings
  required-valuesets.md                   only with --md-fallback (see enumerate_from_md)

One row per snapshot element (the root element excepted):
    path  min  max  types  flags  fixed  binding
Elements under an unsliced `extension` / `modifierExtension` are left out; named extension
slices (`extension:name`) and their children are kept.

`datatypes.tsv` in the same folder is written by hand and is not touched by this script.
The output is deterministic: same inputs, byte-identical files.
"""

import argparse
import glob
import json
import os
import re
import sys

CANONICAL = "https://dhp.uz/fhir/core"
UZ_SOURCE_NOTE = ("UZ Core IG, canonical https://dhp.uz/fhir/core, build = upstream main "
                  "2026-08-07 + newer profile files, approximating 0.9.2")
VS_SOURCE_NOTE = "HL7 FHIR R5 core 5.0.0 vital-signs profile, CC0"
COLUMNS = ["path", "min", "max", "types", "flags", "fixed", "binding"]

# Specialised profiles that are not @default: the general profile of their resource type is.
NOT_DEFAULT = {"uz-core-socioeconomic-observation"}
# Superseded profile, never generated even if its file turns up in the glob.
SKIP_PROFILES = {"uz-core-servicerequest-laboratory"}

# Mandatory patient links: a Data Absent Reason here would create an orphan clinical record
# (uzcore/README.md section 4, "Where DAR does not work").
PATIENT_LINKS = {
    "uz-core-condition": ["Condition.subject"],
    "uz-core-procedure": ["Procedure.subject"],
    "uz-core-immunization": ["Immunization.patient"],
    "uz-core-allergy-intolerance": ["AllergyIntolerance.patient"],
    "uz-core-episodeofcare": ["EpisodeOfCare.patient"],
    "uz-core-medicationrequest": ["MedicationRequest.subject"],
    "uz-core-medication-dispense": ["MedicationDispense.subject"],
    "uz-core-servicerequest": ["ServiceRequest.subject"],
    "uz-core-socioeconomic-observation": ["Observation.subject"],
    "uz-core-relatedperson": ["RelatedPerson.patient"],
}

# The system-sliced mandatory codings named in uzcore/README.md section 4; the generic rule
# in system_sliced_nodar() must find at least these (checked, warning otherwise).
EXPECTED_SYSTEM_SLICED = {
    "uz-core-encounter": ["Encounter.type", "Encounter.type:nationalType"],
    "uz-core-episodeofcare": ["EpisodeOfCare.type", "EpisodeOfCare.type:serviceType"],
    "uz-core-socioeconomic-observation": ["Observation.code",
                                          "Observation.code.coding:socioeconomicType"],
}

# A whole CodeSystem included by a required value set is enumerated below this size.
MAX_WHOLE_CS = 200

# FHIRPath system types that carry no structuredefinition-fhir-type extension.
SYSTEM_TYPES = {
    "http://hl7.org/fhirpath/System.String": "string",
    "http://hl7.org/fhirpath/System.Boolean": "boolean",
    "http://hl7.org/fhirpath/System.Integer": "integer",
    "http://hl7.org/fhirpath/System.Decimal": "decimal",
    "http://hl7.org/fhirpath/System.Date": "date",
    "http://hl7.org/fhirpath/System.DateTime": "dateTime",
    "http://hl7.org/fhirpath/System.Time": "time",
}
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"


def warn(msg):
    print("gen-profiles: warning: " + msg, file=sys.stderr)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- terminology

class Terminology:
    """ValueSets and CodeSystems of terminology-json, indexed by canonical URL."""

    def __init__(self, folder, md_codes=None):
        self.valuesets = {}
        self.codesystems = {}
        self.md_codes = md_codes or {}
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            res = load_json(path)
            kind = res.get("resourceType")
            if kind == "ValueSet":
                self.valuesets[res["url"]] = res
            elif kind == "CodeSystem" and res.get("content") == "complete":
                # Supplements (content = supplement) only add designations; they do not
                # tell which codes the supplemented system has.
                self.codesystems[res["url"]] = res
        self._cache = {}

    def enumerate(self, url):
        """Codes of value set URL (list, in composition order), or None if unknown."""
        if url not in self._cache:
            self._cache[url] = None  # guards against include cycles
            codes = self._expand(url, set())
            if codes is None:
                codes = self.md_codes.get(url)
            self._cache[url] = codes
        return self._cache[url]

    def _expand(self, url, seen):
        vs = self.valuesets.get(url)
        if vs is None or url in seen:
            return None
        seen = seen | {url}
        compose = vs.get("compose") or {}
        codes = []
        for inc in compose.get("include", []):
            part = self._include(inc, seen)
            if part is None:
                return None
            codes.extend(part)
        excluded = set()
        for exc in compose.get("exclude", []):
            part = self._include(exc, seen)
            if part is None:
                return None
            excluded.update(part)
        out, done = [], set()
        for code in codes:
            if code not in excluded and code not in done:
                out.append(code)
                done.add(code)
        return out

    def _include(self, inc, seen):
        if inc.get("filter"):
            return None
        if inc.get("valueSet"):
            if inc.get("system") or inc.get("concept"):
                return None  # intersection of a system and value sets: not handled
            codes = []
            for ref in inc["valueSet"]:
                part = self._expand(ref.split("|")[0], seen)
                if part is None:
                    return None
                codes.extend(part)
            return codes
        if inc.get("concept"):
            return [c["code"] for c in inc["concept"]]
        cs = self.codesystems.get(inc.get("system"))
        if cs is None:
            return None
        codes = flatten_concepts(cs.get("concept", []))
        if len(codes) >= MAX_WHOLE_CS:
            return None
        return codes


def flatten_concepts(concepts):
    """Codes of a CodeSystem concept tree, depth first, parents before children."""
    out = []
    for c in concepts:
        out.append(c["code"])
        out.extend(flatten_concepts(c.get("concept", [])))
    return out


def enumerate_from_md(path):
    """Complete code lists of required-valuesets.md (opt-in fallback, --md-fallback).

    That file was generated with the HL7 terminology packages at hand, so it can list the
    codes of HL7 code systems that terminology-json lacks. A section is used only if it has
    no "Composition notes" (i.e. nothing was left unexpanded) and its table holds exactly
    the announced "N codes".
    """
    result = {}
    with open(path, encoding="utf-8") as f:
        sections = re.split(r"^## ", f.read(), flags=re.M)[1:]
    for sec in sections:
        url = re.search(r"^- URL: `([^`]+)`", sec, re.M)
        count = re.search(r"^- (\d+) codes from:", sec, re.M)
        if not url or not count or re.search(r"^- Composition notes:", sec, re.M):
            continue
        rows = re.findall(r"^\| `[^`]*` \| `([^`]*)` \|", sec, re.M)
        if len(rows) == int(count.group(1)):
            result[url.group(1)] = rows
    return result


# ---------------------------------------------------------------- elements

def keep_element(elem_id):
    """False for the root and for anything under an unsliced (modifier)extension."""
    parts = elem_id.split(".")
    if len(parts) == 1:
        return False
    return not any(p in ("extension", "modifierExtension") for p in parts[1:])


def type_codes(elem):
    if "contentReference" in elem:
        return "@" + elem["contentReference"].split("#", 1)[1]
    out = []
    for t in elem.get("type", []):
        code = t["code"]
        if code.startswith("http://hl7.org/fhirpath/"):
            fhir = [x.get("valueUrl") or x.get("valueUri")
                    for x in t.get("extension", []) if x.get("url") == FHIR_TYPE_EXT]
            code = fhir[0] if fhir else SYSTEM_TYPES.get(code, code)
        if code not in out:
            out.append(code)
    return ",".join(out) if out else "-"


def fixed_value(elem):
    for key in sorted(elem):
        if key.startswith("fixed"):
            return "fixed:" + compact(elem[key])
        if key.startswith("pattern"):
            return "pattern:" + compact(elem[key])
    return "-"


def binding_text(elem, term):
    b = elem.get("binding")
    if not b or not b.get("valueSet"):
        return "-"
    url = b["valueSet"].split("|")[0]
    text = "%s %s" % (b["strength"], url)
    if b["strength"] == "required":
        codes = term.enumerate(url)
        if codes:
            text += " = " + " ".join(codes)
    return text


def parent_id(elem_id):
    """Id of the parent element: `A.b:s.c` -> `A.b:s`, `A.b:s` -> `A.b` (the sliced element)."""
    last = elem_id.rsplit(".", 1)
    if ":" in last[-1]:
        return elem_id.rsplit(":", 1)[0]
    return last[0] if len(last) == 2 else None


def system_sliced_nodar(elements):
    """Ids of system-sliced codings with a mandatory slice (cannot be filled by DAR).

    For an element sliced with a value/pattern discriminator on `system` (`coding.system`,
    `system`) that has a slice with min >= 1: the sliced element, its mandatory slices and
    the chain of its mandatory ancestors up to the resource.
    """
    by_id = {e["id"]: e for e in elements}
    out = set()
    for e in elements:
        discs = (e.get("slicing") or {}).get("discriminator", [])
        if not any(d.get("type") in ("value", "pattern") and
                   (d.get("path") == "system" or d.get("path", "").endswith(".system"))
                   for d in discs):
            continue
        slices = [s for s in elements
                  if s["id"].startswith(e["id"] + ":") and "." not in s["id"][len(e["id"]):]
                  and s.get("min", 0) >= 1]
        if not slices:
            continue
        out.update(s["id"] for s in slices)
        out.add(e["id"])
        p = parent_id(e["id"])
        while p and "." in p and by_id.get(p, {}).get("min", 0) >= 1:
            out.add(p)
            p = parent_id(p)
    return out


def nodar_ids(sd, elements):
    ids = {e["id"] for e in elements if e.get("isModifier") and e.get("min", 0) >= 1}
    ids |= system_sliced_nodar(elements)
    for path in PATIENT_LINKS.get(sd["id"], []):
        elem = next((e for e in elements if e["id"] == path), None)
        if elem is None or elem.get("min", 0) < 1:
            warn("%s: patient link %s is missing or not mandatory" % (sd["id"], path))
        else:
            ids.add(path)
    for path in EXPECTED_SYSTEM_SLICED.get(sd["id"], []):
        if path not in ids:
            warn("%s: expected system-sliced nodar element %s not found" % (sd["id"], path))
    return ids


def element_row(elem, nodar, term):
    flags = []
    if elem.get("mustSupport"):
        flags.append("MS")
    if elem.get("isModifier"):
        flags.append("modifier")
    if elem["id"] in nodar:
        flags.append("nodar")
    # JSON shape follows the base definition: an element the base lets repeat
    # stays an array even where the profile narrows max to 1.
    if elem.get("base", {}).get("max", "1") != "1" and elem.get("max") == "1":
        flags.append("array")
    return [
        elem["id"],
        str(elem.get("min", 0)),
        str(elem.get("max", "*")),
        type_codes(elem),
        ",".join(flags) or "-",
        fixed_value(elem),
        binding_text(elem, term),
    ]


# ---------------------------------------------------------------- tables

def render_table(sd, source, is_default, term):
    elements = sd["snapshot"]["element"]
    nodar = nodar_ids(sd, elements)
    lines = [
        "# Generated by tools/gen-profiles.py from the snapshot of %s. Do not edit." % sd["id"],
        "@profile " + sd["url"],
        "@resource " + sd["type"],
    ]
    if is_default:
        lines.append("@default")
    lines.append("@source " + source)
    lines.append("# " + "\t".join(COLUMNS))
    rows = [element_row(e, nodar, term) for e in elements if keep_element(e["id"])]
    lines.extend("\t".join(r) for r in rows)
    return "\n".join(lines) + "\n", len(rows)


def is_resource_profile(sd):
    return (sd.get("resourceType") == "StructureDefinition" and sd.get("kind") == "resource"
            and sd.get("derivation") == "constraint" and sd.get("type") != "Extension"
            and "snapshot" in sd)


def collect_jobs(uzcore):
    """(sd, out-file name, @source text, default?) for every table to write."""
    jobs = []
    for path in sorted(glob.glob(os.path.join(uzcore, "sd", "StructureDefinition-uz-core-*.json"))):
        sd = load_json(path)
        if not is_resource_profile(sd) or sd["id"] in SKIP_PROFILES:
            continue
        rel = os.path.relpath(path, os.path.dirname(uzcore)).replace(os.sep, "/")
        jobs.append([sd, sd["id"] + ".tsv", "%s (%s)" % (rel, UZ_SOURCE_NOTE),
                     sd["id"] not in NOT_DEFAULT])
    for path in sorted(glob.glob(os.path.join(uzcore, "sd", "hl7-r5-vitalsigns", "*.json"))):
        sd = load_json(path)
        if not is_resource_profile(sd):
            continue
        rel = os.path.relpath(path, os.path.dirname(uzcore)).replace(os.sep, "/")
        jobs.append([sd, "vitalsigns-%s.tsv" % sd["id"], "%s (%s)" % (rel, VS_SOURCE_NOTE),
                     False])
    defaults = {}
    for sd, name, _, is_default in jobs:
        if is_default:
            if sd["type"] in defaults:
                raise SystemExit("gen-profiles: two @default profiles for %s: %s, %s"
                                 % (sd["type"], defaults[sd["type"]], name))
            defaults[sd["type"]] = name
    return jobs


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("uzcore", nargs="?", default=os.path.join(repo, "..", "shared", "uzcore"),
                    help="the shared uzcore folder (default: ../shared/uzcore from the repo)")
    ap.add_argument("-o", "--out", default=os.path.join(repo, "mappings", "profiles"),
                    help="output folder (default: mappings/profiles)")
    ap.add_argument("--md-fallback", action="store_true",
                    help="also enumerate required value sets from required-valuesets.md "
                         "when terminology-json cannot (HL7 code systems)")
    args = ap.parse_args()

    uzcore = os.path.normpath(os.path.abspath(args.uzcore))
    if not os.path.isdir(os.path.join(uzcore, "sd")):
        raise SystemExit("gen-profiles: %s has no sd/ folder" % uzcore)
    md_codes = None
    if args.md_fallback:
        md_codes = enumerate_from_md(os.path.join(uzcore, "required-valuesets.md"))
    term = Terminology(os.path.join(uzcore, "terminology-json"), md_codes)

    os.makedirs(args.out, exist_ok=True)
    for sd, name, source, is_default in collect_jobs(uzcore):
        text, count = render_table(sd, source, is_default, term)
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        print("%-52s %4d rows" % (name, count))


if __name__ == "__main__":
    main()
