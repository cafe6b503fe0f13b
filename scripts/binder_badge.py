#!/usr/bin/env python3
"""Print the Binder badge for wherever this repository is hosted: it opens lesson 0 in JupyterLab.

    python3 scripts/binder_badge.py                   # from the git remote `origin`
    python3 scripts/binder_badge.py --remote upstream # ... another remote
    python3 scripts/binder_badge.py alice/webhooks-lab  # or say where it is hosted
    python3 scripts/binder_badge.py --ref main        # a branch or tag instead of HEAD
    python3 scripts/binder_badge.py --readme          # also put the badges in both READMEs
    python3 scripts/binder_badge.py --lesson notebooks/ko/00_start_the_lab.ipynb  # Korean lesson 0

A GitHub or GitLab address gets Binder's short form (``/v2/gh/OWNER/REPO/REF``); any other git
address that Binder can clone (``https://...``) its general one (``/v2/git/<address>/REF``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
FIRST_LESSON = "notebooks/00_start_the_lab.ipynb"
#: Each edition's README and the lesson its badge opens.
READMES = {
    ROOT / "README.md": FIRST_LESSON,
    ROOT / "README.ko.md": "notebooks/ko/00_start_the_lab.ipynb",
}
BINDER = "https://mybinder.org/v2"
LOGO = "https://mybinder.org/badge_logo.svg"
# The README's badge sits between these two markers; --readme rewrites what is between them.
MARKERS = re.compile(r"(<!-- binder-badge -->)(.*?)(<!-- /binder-badge -->)", re.DOTALL)

# git@github.com:alice/webhooks-lab.git, ssh://git@gitlab.com/alice/webhooks-lab,
# https://github.com/alice/webhooks-lab(.git), or just alice/webhooks-lab (GitHub).
_HOSTED = re.compile(
    r"^(?:(?:https?|ssh|git)://(?:[^@/]+@)?|[^@/]+@)?"
    r"(?P<host>github\.com|gitlab\.com)[:/](?P<path>[^?#]+?)(?:\.git)?/?$"
)
_SHORT = re.compile(r"^(?P<path>(?!\.)[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?$")


def binder_url(remote: str, ref: str = "HEAD", lesson: str = FIRST_LESSON) -> str:
    """The Binder address that builds ``remote`` at ``ref`` and opens ``lesson`` (lesson 0)."""
    remote = remote.strip()
    opens = f"?urlpath={quote(f'lab/tree/{lesson}', safe='/')}"
    hosted = _HOSTED.match(remote) or _SHORT.match(remote)
    if hosted:
        host = hosted.groupdict().get("host") or "github.com"
        path = hosted["path"]
        if host == "github.com":
            return f"{BINDER}/gh/{path}/{quote(ref, safe='')}{opens}"
        return f"{BINDER}/gl/{quote(path, safe='')}/{quote(ref, safe='')}{opens}"
    if remote.startswith(("https://", "http://")):
        return f"{BINDER}/git/{quote(remote, safe='')}/{quote(ref, safe='')}{opens}"
    raise ValueError(
        f"Binder cannot build {remote!r}: it needs a public address, "
        "such as https://github.com/OWNER/REPO or OWNER/REPO"
    )


def badge(url: str) -> str:
    return f"[![Binder]({LOGO})]({url})"


def git_remote(name: str) -> str:
    found = subprocess.run(
        ["git", "-C", str(ROOT), "remote", "get-url", name], capture_output=True, text=True
    )
    if found.returncode != 0:
        raise ValueError(
            f"this clone has no git remote {name!r}; "
            "say where it is hosted instead: binder_badge.py OWNER/REPO"
        )
    return found.stdout.strip()


def write_readme(readme: Path, markdown: str) -> None:
    text = readme.read_text()
    if not MARKERS.search(text):
        raise ValueError(f"{readme.name} has no <!-- binder-badge --> markers to put it between")
    readme.write_text(MARKERS.sub(lambda m: f"{m[1]}{markdown}{m[3]}", text, count=1))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", nargs="?", help="OWNER/REPO or a git address")
    parser.add_argument("--remote", default="origin", help="git remote to read (default origin)")
    parser.add_argument("--ref", default="HEAD", help="branch, tag or commit (default HEAD)")
    parser.add_argument("--lesson", default=FIRST_LESSON, help="the notebook Binder opens")
    parser.add_argument("--readme", action="store_true", help="put the badges in both READMEs")
    args = parser.parse_args(argv)
    try:
        remote = args.repository or git_remote(args.remote)
        url = binder_url(remote, args.ref, args.lesson)
        if args.readme:
            for readme, lesson in READMES.items():
                write_readme(readme, badge(binder_url(remote, args.ref, lesson)))
    except ValueError as problem:
        print(f"binder_badge: {problem}", file=sys.stderr)
        return 1
    print(url)
    print(badge(url))
    if args.readme:
        print("wrote the badges into", " and ".join(readme.name for readme in READMES))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
