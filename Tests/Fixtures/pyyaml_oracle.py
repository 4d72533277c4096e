# cloud-init's YAML reader as an oracle for the tests: yaml.safe_load (Debian python3-yaml, as
# cloud-init runs it), one process for a whole batch.
#
#   python3 pyyaml_oracle.py values CASES.json OUT.json
#       CASES: a list of YAML texts; OUT: for each, its normalised value or {"error": ...}.
#   python3 pyyaml_oracle.py loads CASES.json OUT.json
#       CASES: a list of YAML texts; OUT: for each, whether safe_load reads it.
#   python3 pyyaml_oracle.py compare CASES.json OUT.json
#       CASES: a list of [original, merged] texts; OUT: for each, null when every top-level key of
#       `original` has the same value in `merged` (types included, bytes for !!binary), else why not.
#       Mapping entries whose value is null are left out of `original` first: seedgen drops them
#       by design (README, `extra: {key: null}` removes a generated key).
#   python3 pyyaml_oracle.py schema CASES.json OUT.json
#       CASES: a list of user-data texts; OUT: for each, null when cloud-init's strict schema
#       check accepts it, else the complaint.
import base64, datetime, json, math, struct, sys
import yaml

def norm(v):
    if v is None: return ["null"]
    if isinstance(v, bool): return ["bool", v]
    if isinstance(v, int): return ["int", str(v)]
    if isinstance(v, float):
        return ["float", "nan" if math.isnan(v) else str(struct.unpack("<Q", struct.pack("<d", v))[0])]
    if isinstance(v, str): return ["str", v]
    if isinstance(v, bytes): return ["bytes", base64.b64encode(v).decode()]
    if isinstance(v, datetime.datetime): return ["datetime", v.isoformat()]
    if isinstance(v, datetime.date): return ["date", v.isoformat()]
    if isinstance(v, list): return ["list", [norm(x) for x in v]]
    if isinstance(v, tuple): return ["tuple", [norm(x) for x in v]]
    if isinstance(v, dict): return ["dict", [[norm(k), norm(x)] for k, x in v.items()]]
    if isinstance(v, set): return ["set", sorted(json.dumps(norm(x)) for x in v)]
    return ["other", repr(v)]

def without_null_entries(v):
    if isinstance(v, dict):
        return {k: without_null_entries(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [without_null_entries(x) for x in v]
    return v

def load(text):
    return yaml.safe_load(text)

def main():
    mode, cases_path, out_path = sys.argv[1:4]
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)
    out = []
    if mode == "schema":
        # What validate_cloudconfig_schema(strict=True) does, with the validator built once
        # (building it is most of the cost of a check).
        from cloudinit.config.schema import get_schema, get_jsonschema_validator
        validator_class, format_checker = get_jsonschema_validator()
        validator = validator_class(get_schema(), format_checker=format_checker())
    for case in cases:
        if mode == "schema":
            try:
                problems = ["%s: %s" % (".".join(str(p) for p in e.path), e.message) for e in validator.iter_errors(load(case))]
                out.append("; ".join(problems) if problems else None)
            except Exception as e:
                out.append(str(e))
        elif mode == "loads":
            try:
                load(case)
                out.append(True)
            except Exception:
                out.append(False)
        elif mode == "values":
            try:
                out.append(norm(load(case)))
            except Exception as e:
                out.append({"error": type(e).__name__ + ": " + str(e).splitlines()[0]})
        else:
            original, merged = case
            try:
                a = load(original)
            except Exception as e:
                out.append("original does not load: %s" % e)
                continue
            try:
                b = load(merged)
            except Exception as e:
                out.append("merged does not load: %s" % e)
                continue
            problem = None
            a = without_null_entries(a)
            for key, value in (a or {}).items():
                if not isinstance(b, dict) or key not in b:
                    problem = "key %r missing from the merged document" % (key,)
                    break
                if norm(b[key]) != norm(value):
                    problem = "key %r: %s != %s" % (key, json.dumps(norm(value))[:400], json.dumps(norm(b[key]))[:400])
                    break
            out.append(problem)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f)

main()
