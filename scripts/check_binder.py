#!/usr/bin/env python3
"""Prove that Binder's environment runs the course: every lesson, under nbval, in a fresh
virtual environment built from ``binder/requirements.txt`` and nothing else.

    python3 scripts/check_binder.py                  # build it in a temp folder, check, delete it
    python3 scripts/check_binder.py --keep DIR       # ... in DIR, and leave it there
    .venv/bin/python scripts/check_binder.py --pin   # rewrite binder/requirements.txt from .venv

Binder builds with repo2docker, which ignores ``pyproject.toml`` once a ``binder/`` folder exists:
it runs ``pip install -r binder/requirements.txt`` from the repository's root (so the ``.`` in it
is this package) and then ``binder/postBuild``. This script does the same in an empty virtual
environment, then runs every lesson of both editions (side by side) the way the test suite
does (pytest and nbval come from ``binder/requirements.txt`` too, so a learner on Binder can run
them as well). It needs the package index, like Binder itself; it prints how long each step and
each edition took (target: 120 s per edition) and exits with nbval's code.

``--pin`` writes every package the course needs at run time (webhooks-lab's dependencies, all the
way down), plus jupyter-server-proxy, pytest and nbval, at the exact versions installed in the
virtual environment it runs in: so Binder gets what the tests here passed with.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "binder" / "requirements.txt"
POST_BUILD = ROOT / "binder" / "postBuild"
# Besides webhooks-lab's own dependencies: what Binder needs to open the inbox page through the
# notebook server, and what runs the lessons as tests.
EXTRA_ROOTS = ["jupyter-server-proxy", "pytest", "nbval"]
#: Each edition of the course and its folder; each must pass nbval within EDITION_SECONDS.
EDITIONS = {"English edition": "notebooks", "Korean edition": "notebooks/ko"}
EDITION_SECONDS = 120
HEADER = """\
# What Binder installs (repo2docker ignores pyproject.toml when binder/ exists).
# Every package the course needs at run time, pinned to the versions its tests pass with, plus
# jupyter-server-proxy (the inbox page on Binder) and pytest + nbval (to run lessons as tests).
# Regenerate from a working .venv:  .venv/bin/python scripts/check_binder.py --pin
# Check a fresh environment built from this file alone:  python3 scripts/check_binder.py
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pin", action="store_true", help="rewrite binder/requirements.txt")
    parser.add_argument("--keep", type=Path, help="build the environment here and keep it")
    args = parser.parse_args(argv)
    if args.pin:
        REQUIREMENTS.write_text(HEADER + "\n".join([*pins(), "."]) + "\n")
        print(f"wrote {REQUIREMENTS.relative_to(ROOT)}")
        return 0
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return check(args.keep)
    with tempfile.TemporaryDirectory(prefix="webhooks-lab-binder-") as folder:
        return check(Path(folder))


def check(folder: Path) -> int:
    environment = folder / "venv"
    python = environment / "bin" / "python"
    timings: list[tuple[str, float]] = []

    def step(name: str, command: list[str], **options: object) -> None:
        print(f"--- {name}", flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True, **options)  # type: ignore[call-overload]
        timings.append((name, time.perf_counter() - started))

    started = time.perf_counter()
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    timings.append(("create a virtual environment", time.perf_counter() - started))
    # -qq: errors only (this machine's pip config otherwise warns about each package).
    pip = [str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
    # From the repository's root, as repo2docker does, so the "." line is this package.
    step("pip install -r binder/requirements.txt", [*pip, "-r", str(REQUIREMENTS)], cwd=ROOT)
    env = {**os.environ, "PATH": f"{environment / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    if POST_BUILD.exists():
        step("binder/postBuild", ["bash", str(POST_BUILD)], cwd=ROOT, env=env)

    # Run a copy of the lessons, away from this checkout: the kernel must import webhooks_lab
    # from the new environment, and nothing may write into notebooks/.
    course = folder / "run"
    shutil.copytree(ROOT / "notebooks", course / "notebooks", dirs_exist_ok=True)
    # Both editions at once, each in its own pytest (as the suite's xdist workers run them):
    # each lab, kernel and redis-server takes a free port. Each one's output is kept in a file
    # and printed whole when it ends, so the two never interleave.
    runs = []
    for edition, folder_name in EDITIONS.items():
        lessons = sorted(p.name for p in (course / folder_name).glob("[0-9][0-9]_*.ipynb"))
        print(f"--- nbval, {edition}: {len(lessons)} lessons: {', '.join(lessons)}", flush=True)
        command = [
            str(python),
            "-m",
            "pytest",
            "--nbval",
            *(f"{folder_name}/{lesson}" for lesson in lessons),
            "--nbval-sanitize-with",
            "notebooks/sanitize.cfg",
            "--nbval-current-env",
            "--nbval-cell-timeout=120",
            "-p",
            "no:cacheprovider",
            "-q",
        ]
        log = folder / f"nbval-{folder_name.replace('/', '-')}.log"
        started = time.perf_counter()
        with log.open("wb") as output:  # the child keeps its own copy of the file
            process = subprocess.Popen(
                command, cwd=course, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        runs.append((edition, process, log, started))
    failed = 0
    for edition, process, log, started in runs:
        code = process.wait()
        seconds = time.perf_counter() - started
        timings.append((f"nbval, {edition} (side by side)", seconds))
        failed = failed or code
        print(f"--- nbval, {edition}:", flush=True)
        sys.stdout.write(log.read_text(errors="replace"))
        if seconds > EDITION_SECONDS:
            print(f"--- {edition} took {seconds:.0f} s, over the {EDITION_SECONDS} s target")

    print("\nBinder check:", "passed" if failed == 0 else "FAILED")
    for name, seconds in timings:
        print(f"  {name:<45} {seconds:6.1f} s")
    return failed


def pins() -> list[str]:
    """``name==version`` for webhooks-lab's run-time dependencies and EXTRA_ROOTS, all the way
    down, as installed in this interpreter's environment."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    versions: dict[str, str] = {}
    done: set[tuple[str, str]] = set()  # (package, extra), "" for the package itself
    import tomllib  # Python 3.11+, like the .venv this runs in

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    queue = [Requirement(r) for r in project["dependencies"]]  # as declared now, not as installed
    queue = [r for r in queue if r.marker is None or r.marker.evaluate({"extra": ""})]
    queue += [Requirement(name) for name in EXTRA_ROOTS]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        todo = [e for e in ["", *requirement.extras] if (name, e) not in done]
        if not todo:
            continue
        distribution = metadata.distribution(requirement.name)
        versions[name] = distribution.version
        for extra in todo:
            done.add((name, extra))
            for needed in map(Requirement, distribution.requires or []):
                if needed.marker is None:
                    if extra == "":
                        queue.append(needed)
                elif needed.marker.evaluate({"extra": extra}):
                    queue.append(needed)
    return sorted(f"{name}=={version}" for name, version in versions.items())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
