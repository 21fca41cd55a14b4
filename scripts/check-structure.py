#!/usr/bin/env python3
"""The project's structure rules, checked over the source tree (issue 20).

  scripts/check-structure.py [--root DIR] [--rules product,sleep,test-functions]

product:        a product file (C++ or .proto under the product directories)
                passes 400 lines, or a function in product C++ passes 60.
sleep:          a test calls sleep (absl::SleepFor, std::this_thread::sleep_for
                or sleep_until, usleep, nanosleep, sleep(), `sleep N` in a
                shell script) outside tests/support/wait.{h,cc}, the one wait
                helper.
test-functions: a function in tests/ passes 60 lines.

Each offence is printed as FILE:LINE: what is wrong; what to do. Exit status
1 when there is any, 0 when none, 2 on a usage or tool error.

Function extents come from Universal Ctags (--fields=+ne: the line of the
name to the line of the closing brace; lambdas count toward the function
they are written in). pg_sleep in SQL is not a sleep of the test: it makes
the server hold a lock or run long, and the test still waits on a condition.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60

# Product code: everything that ships or measures what ships. proto/google
# and proto/grpc are upstream's files, copied as published.
PRODUCT_DIRS = ["common", "booking-service", "history-service", "history-verify", "migrator",
                "tools", "bench", "proto"]
VENDORED = ["proto/google/", "proto/grpc/"]
CXX_SUFFIXES = (".cc", ".h", ".cpp", ".hpp")
PRODUCT_SUFFIXES = CXX_SUFFIXES + (".proto",)

TESTS_DIR = "tests"
WAIT_HELPER = {"tests/support/wait.h", "tests/support/wait.cc"}
TEST_SUFFIXES = CXX_SUFFIXES + (".sh", ".py", ".cjs", ".js")
SKIP_DIRS = {"node_modules", "corpus", "build", ".git"}

CXX_SLEEP = re.compile(
    r"\b(SleepFor|sleep_for|sleep_until|usleep|nanosleep)\s*\(|(?<![\w.])(?:::)?sleep\s*\(")
SHELL_SLEEP = re.compile(r"(^|[;&|({]|\bthen|\bdo|\belse)\s*sleep\s+\S")
JS_SLEEP = re.compile(r"\b(setTimeout|Atomics\.wait)\s*\(")


def tracked_files(root, top, suffixes):
    """Files under root/top with one of `suffixes`, as paths relative to root."""
    out = []
    base = os.path.join(root, top)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("build"))
        for name in sorted(filenames):
            if name.endswith(suffixes):
                out.append(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def count_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for _ in f)


def functions(root, rel_paths):
    """(path, name, start, end) of every function definition, from ctags."""
    if not rel_paths:
        return []
    ctags = shutil.which("ctags")
    if ctags is None:
        sys.exit("check-structure: ctags not found (Debian package universal-ctags)")
    version = subprocess.run([ctags, "--version"], capture_output=True, text=True).stdout
    if "Universal Ctags" not in version:
        sys.exit("check-structure: needs Universal Ctags (end lines); found: " +
                 version.splitlines()[0])
    cmd = [ctags, "--output-format=json", "--fields=+neS", "--kinds-C++=f", "--language-force=C++",
           "-f", "-"] + rel_paths
    run = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("check-structure: ctags failed: " + run.stderr)
    out = []
    for line in run.stdout.splitlines():
        tag = json.loads(line)
        if tag.get("_type") != "tag" or "end" not in tag:
            continue
        if tag["name"].startswith("__anon"):  # a lambda: part of its function
            continue
        name = tag["name"]
        if name.startswith("TEST"):  # gtest's macros: name the test
            name += tag.get("signature", "")
        out.append((tag["path"], name, int(tag["line"]), int(tag["end"])))
    return out


def long_functions(root, rel_paths, what_to_do):
    offences = []
    for path, name, start, end in sorted(functions(root, rel_paths)):
        length = end - start + 1
        if length > MAX_FUNCTION_LINES:
            offences.append(f"{path}:{start}: function {name} is {length} lines "
                            f"(limit {MAX_FUNCTION_LINES}); {what_to_do}")
    return offences


def check_product(root):
    offences = []
    files = []
    for top in PRODUCT_DIRS:
        files += [p for p in tracked_files(root, top, PRODUCT_SUFFIXES)
                  if not any(p.startswith(v) for v in VENDORED)]
    for path in files:
        n = count_lines(os.path.join(root, path))
        if n > MAX_FILE_LINES:
            offences.append(f"{path}:{MAX_FILE_LINES + 1}: file is {n} lines (limit {MAX_FILE_LINES}); "
                            "split it by concept into files of its own")
    offences += long_functions(root, [p for p in files if p.endswith(CXX_SUFFIXES)],
                               "split it into named steps (helpers in the same file)")
    return offences


def strip_comment(line, suffix):
    if suffix in (".sh", ".py"):
        return line.split("#", 1)[0] if not line.lstrip().startswith("#!") else ""
    # C++ and JavaScript: drop a // comment (a rough cut, enough for this rule).
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', line)
    return code.split("//", 1)[0]


def check_sleep(root):
    offences = []
    files = tracked_files(root, TESTS_DIR, TEST_SUFFIXES)
    for path in files:
        if path in WAIT_HELPER:
            continue
        suffix = os.path.splitext(path)[1]
        pattern = {".sh": SHELL_SLEEP, ".py": SHELL_SLEEP, ".cjs": JS_SLEEP,
                   ".js": JS_SLEEP}.get(suffix, CXX_SLEEP)
        if suffix == ".py":
            pattern = re.compile(r"\btime\.sleep\s*\(")
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            in_block = False
            for number, line in enumerate(f, 1):
                if suffix in CXX_SUFFIXES + (".cjs", ".js"):
                    # Skip /* ... */ blocks.
                    if in_block:
                        if "*/" not in line:
                            continue
                        line, in_block = line.split("*/", 1)[1], False
                    if "/*" in line and "*/" not in line.split("/*", 1)[1]:
                        line, in_block = line.split("/*", 1)[0], True
                if pattern.search(strip_comment(line, suffix)):
                    offences.append(
                        f"{path}:{number}: sleeps outside tests/support/wait.h; wait on the "
                        "condition with WaitFor(condition, timeout, what); pace a load with "
                        "Pace(interval), or hold a scenario's window with HoldFor(window)")
    return offences


def check_test_functions(root):
    files = tracked_files(root, TESTS_DIR, CXX_SUFFIXES)
    return long_functions(root, files, "move its steps into helpers (tests/support when shared)")


RULES = {"product": check_product, "sleep": check_sleep, "test-functions": check_test_functions}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--root", default=default_root, help="source tree (default: this one)")
    parser.add_argument("--rules", default=",".join(RULES), help="comma-separated: " +
                        ", ".join(RULES))
    args = parser.parse_args()
    rules = args.rules.split(",")
    unknown = set(rules) - set(RULES)
    if unknown:
        print(f"check-structure: unknown rules {sorted(unknown)}; known: {', '.join(RULES)}",
              file=sys.stderr)
        return 2
    offences = []
    for rule in rules:
        offences += RULES[rule](args.root)
    for o in offences:
        print(o)
    print(f"check-structure ({args.rules}): {len(offences)} offence(s)")
    return 1 if offences else 0


if __name__ == "__main__":
    sys.exit(main())
