"""Is this environment ready for the course? Answers in plain words, one line per thing checked."""

from __future__ import annotations

import importlib.util
import socket
import sys
from dataclasses import dataclass

from webhooks_lab.i18n import _

NEEDED = ("httpx", "starlette", "uvicorn", "ipywidgets", "nest_asyncio")


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def __repr__(self) -> str:
        return f"{'✅' if self.ok else '❌'} {self.text}"


class EnvironmentReport(list):
    """The findings; shows as one line each, and ``bool(report)`` says whether all is well."""

    def __bool__(self) -> bool:
        return all(f.ok for f in self)

    def __repr__(self) -> str:
        lines = [repr(f) for f in self]
        lines.append(
            _("All set: you are ready for the course.")
            if self
            else _("Something is missing: fix the ❌ lines above, then run this cell again.")
        )
        return "\n".join(lines)


def check_environment() -> EnvironmentReport:
    report = EnvironmentReport()
    ok_python = sys.version_info >= (3, 10)
    report.append(
        Finding(
            ok_python, _("Python 3.10 or newer") if ok_python else _("Python is older than 3.10")
        )
    )
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    report.append(
        Finding(
            not missing,
            _("httpx, starlette, uvicorn, ipywidgets and nest-asyncio are installed")
            if not missing
            else _(
                "not installed: {missing} (run: pip install webhooks-lab)",
                missing=", ".join(missing),
            ),
        )
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
        report.append(Finding(True, _("this machine can run a server on 127.0.0.1")))
    except OSError as exc:
        report.append(Finding(False, _("cannot listen on 127.0.0.1: {error}", error=exc)))
    return report
