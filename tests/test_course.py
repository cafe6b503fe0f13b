"""The course ships inside the package and opens on lesson 0, from a clone or from a wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from webhooks_lab import course
from webhooks_lab.lessons.environment import check_environment

ROOT = Path(__file__).resolve().parent.parent


def test_from_a_clone_the_course_is_the_repositorys_notebooks_folder():
    assert course.prepare_course() == ROOT / "notebooks"
    assert (ROOT / "notebooks" / course.FIRST_LESSON).is_file()


def test_a_working_copy_never_overwrites_a_learners_edited_notebook(tmp_path):
    edited = tmp_path / course.FIRST_LESSON
    edited.write_text("my notes")
    copied = course.prepare_course(tmp_path)
    assert copied == tmp_path
    assert edited.read_text() == "my notes"
    assert (tmp_path / "sanitize.cfg").is_file()
    assert (tmp_path / "solutions").is_dir()


def test_webhooks_lab_lab_opens_jupyterlab_on_the_first_lesson(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", "lab", "--dir", str(tmp_path), "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "-m jupyterlab" in result.stdout
    assert result.stdout.strip().endswith(str(tmp_path / course.FIRST_LESSON))
    assert (tmp_path / course.FIRST_LESSON).is_file()


def test_webhooks_lab_lab_lang_ko_opens_the_korean_lesson_0(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", "lab", "--lang", "ko", "--dir", str(tmp_path)]
        + ["--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    )
    korean = tmp_path / "ko" / course.FIRST_LESSON
    assert result.stdout.strip().endswith(str(korean))
    assert korean.is_file()


def test_the_built_wheel_carries_the_course(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    import zipfile

    (wheel,) = tmp_path.glob("webhooks_lab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert f"webhooks_lab/course/notebooks/{course.FIRST_LESSON}" in names
    assert "webhooks_lab/course/notebooks/sanitize.cfg" in names
    assert "webhooks_lab/i18n/ko/LC_MESSAGES/webhooks_lab.mo" in names  # the Korean words


def test_the_environment_check_says_all_is_well_here():
    report = check_environment()
    assert report
    assert "All set" in repr(report)


def test_options_webhooks_lab_lab_does_not_know_go_to_jupyterlab(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "webhooks_lab.cli",
            "lab",
            "--dir",
            str(tmp_path),
            "--dry-run",
            "--no-browser",
            "--ServerApp.port=8899",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--no-browser --ServerApp.port=8899" in result.stdout


def test_other_commands_still_refuse_options_they_do_not_know():
    result = subprocess.run(
        [sys.executable, "-m", "webhooks_lab.cli", "serve", "--bogus"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr


def test_as_root_jupyterlab_is_told_to_allow_it(monkeypatch, tmp_path):
    # JupyterLab exits at once as root without --allow-root (Docker, many cloud machines).
    monkeypatch.setattr(course.os, "geteuid", lambda: 0, raising=False)
    command = course.jupyter_command(tmp_path, ["--no-browser"])
    assert command.count("--allow-root") == 1
    assert command[-2:] == [str(tmp_path / course.FIRST_LESSON), "--no-browser"]
    assert course.jupyter_command(tmp_path, ["--allow-root"]).count("--allow-root") == 1


def test_as_another_user_jupyterlab_keeps_its_own_guard(monkeypatch, tmp_path):
    monkeypatch.setattr(course.os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-root" not in course.jupyter_command(tmp_path)
