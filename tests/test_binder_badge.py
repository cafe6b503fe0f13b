"""scripts/binder_badge.py: the Binder badge for wherever the repository is hosted."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "binder_badge.py"
_spec = importlib.util.spec_from_file_location("binder_badge", SCRIPT)
binder_badge = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(binder_badge)  # type: ignore[union-attr]

LESSON_0 = "?urlpath=lab/tree/notebooks/00_start_the_lab.ipynb"
ALICE = f"https://mybinder.org/v2/gh/alice/webhooks-lab/HEAD{LESSON_0}"


@pytest.mark.parametrize(
    "remote",
    [
        "git@github.com:alice/webhooks-lab.git",
        "https://github.com/alice/webhooks-lab.git",
        "https://github.com/alice/webhooks-lab",
        "ssh://git@github.com/alice/webhooks-lab.git",
        "alice/webhooks-lab",
    ],
)
def test_every_way_of_writing_a_github_remote_gives_the_same_badge(remote):
    assert binder_badge.binder_url(remote) == ALICE


def test_a_branch_gitlab_and_any_other_public_git_host():
    assert binder_badge.binder_url("alice/webhooks-lab", "main") == ALICE.replace("HEAD", "main")
    assert binder_badge.binder_url("git@gitlab.com:team/sub/webhooks-lab.git") == (
        f"https://mybinder.org/v2/gl/team%2Fsub%2Fwebhooks-lab/HEAD{LESSON_0}"
    )
    assert binder_badge.binder_url("https://git.example.org/webhooks-lab.git") == (
        f"https://mybinder.org/v2/git/https%3A%2F%2Fgit.example.org%2Fwebhooks-lab.git/HEAD{LESSON_0}"
    )


@pytest.mark.parametrize("remote", ["/work/main", "../webhooks-lab", "file:///srv/repo.git"])
def test_a_local_clone_is_refused_with_what_to_do(remote):
    with pytest.raises(ValueError, match="public address"):
        binder_badge.binder_url(remote)


def test_readme_mode_fills_the_markers_and_can_run_again(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("Try it <!-- binder-badge --><!-- /binder-badge --> now.\n")
    binder_badge.write_readme(readme, binder_badge.badge(ALICE))
    binder_badge.write_readme(readme, binder_badge.badge(ALICE))
    assert readme.read_text() == (
        "Try it <!-- binder-badge -->"
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({ALICE})"
        "<!-- /binder-badge --> now.\n"
    )


@pytest.mark.parametrize("readme", ["README.md", "README.ko.md"])
def test_each_readme_has_the_markers_and_no_placeholder(readme):
    text = (ROOT / readme).read_text()
    assert binder_badge.MARKERS.search(text)
    assert "OWNER/webhooks-lab" not in text


def test_the_korean_readme_gets_a_badge_that_opens_the_korean_lesson_0(tmp_path, monkeypatch):
    readmes = {}
    for name, lesson in binder_badge.READMES.items():
        copy = tmp_path / name.name
        copy.write_text(name.read_text())
        readmes[copy] = lesson
    monkeypatch.setattr(binder_badge, "READMES", readmes)
    assert binder_badge.main(["alice/webhooks-lab", "--readme"]) == 0
    korean = (tmp_path / "README.ko.md").read_text()
    english = (tmp_path / "README.md").read_text()
    assert f"({ALICE.replace('notebooks/', 'notebooks/ko/')})<!-- /binder-badge -->" in korean
    assert f"({ALICE})<!-- /binder-badge -->" in english


def test_the_script_reads_the_clones_remote(tmp_path):
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    (clone / "scripts" / "binder_badge.py").write_bytes(SCRIPT.read_bytes())
    subprocess.run(["git", "init", "-q", str(clone)], check=True)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(clone / "scripts" / "binder_badge.py")],
            capture_output=True,
            text=True,
        )

    missing = run()
    assert missing.returncode == 1 and "no git remote 'origin'" in missing.stderr
    remote = ["git", "-C", str(clone), "remote", "add", "origin"]
    subprocess.run([*remote, "git@github.com:alice/webhooks-lab.git"], check=True)
    found = run()
    assert found.returncode == 0
    assert found.stdout.splitlines() == [ALICE, binder_badge.badge(ALICE)]
