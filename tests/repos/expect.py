#!/usr/bin/env python3
"""Checks a module result (the JSON offline_repo_config prints) against Python expressions.

  expect.py RESULT.json 'EXPR' ...

Each EXPR is evaluated with:
  r                     the result (a dict)
  files(action=None)    paths in r["files"] (only those with that action, if given)
  has(suffix, action)   some r["files"] entry's path ends with suffix (and has that action)
  diff_text             r["diff"] as one JSON string ("" without a diff)
Prints the result, then every EXPR that is false, and exits 1 if any is.
"""
import json
import sys


def main(path, exprs):
    with open(path) as f:
        text = f.read()
    print(text.rstrip())
    try:
        r = json.loads(text)
    except ValueError as e:
        print("not one JSON document: %s" % e)
        return 1

    def files(action=None):
        return [f.get("path", "") for f in r.get("files") or [] if action is None or f.get("action") == action]

    def has(suffix, action=None):
        return any(p.endswith(suffix) for p in files(action))

    env = {"r": r, "files": files, "has": has, "diff_text": json.dumps(r.get("diff", ""))}
    bad = 0
    for expr in exprs:
        try:
            ok = eval(expr, env)  # noqa: S307 - test expressions written in run.sh
        except Exception as e:  # a missing key is a failed expectation, not a crash
            ok, expr = False, "%s  (%s: %s)" % (expr, type(e).__name__, e)
        if not ok:
            print("expected: " + expr)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
