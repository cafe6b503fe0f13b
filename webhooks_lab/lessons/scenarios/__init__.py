"""The source material's use cases, as small webhook integrations you can run and read.

    from webhooks_lab.lessons.scenarios import Newsletter, Shop, Payments, Chat
    newsletter = Newsletter(lab)   # a signed subscription + a verified, idempotent endpoint
    newsletter.run()               # the platform emits its events; your app handles them
    newsletter.journal             # what happened, line by line
    newsletter.preferences         # what your app now knows

Each case is one module: :mod:`~webhooks_lab.lessons.scenarios.newsletter`,
:mod:`~webhooks_lab.lessons.scenarios.shop`, :mod:`~webhooks_lab.lessons.scenarios.payments` and
:mod:`~webhooks_lab.lessons.scenarios.chat`. From a terminal, ``webhooks-lab demo <case>`` runs one
in a lab of its own and prints what happens (:func:`demo`).
"""

from __future__ import annotations

from collections.abc import Callable

from webhooks_lab.i18n import _
from webhooks_lab.lessons.scenarios.base import Journal, Line, Report, Scenario, need, table
from webhooks_lab.lessons.scenarios.chat import Chat
from webhooks_lab.lessons.scenarios.newsletter import Newsletter
from webhooks_lab.lessons.scenarios.payments import Payments
from webhooks_lab.lessons.scenarios.shop import Shop

CASES: dict[str, type[Scenario]] = {
    "newsletter": Newsletter,
    "shop": Shop,
    "payments": Payments,
    "chat": Chat,
}
"""Every case by name, in the order the course tells them."""


def demo(name: str, *, speed: float = 10.0, write: Callable[[str], object] = print) -> Report:
    """Run one case in a lab of its own on 127.0.0.1, writing each step as it happens.

    ``speed`` is the lab clock's speed-up: at 10, a retry due in 5 s comes after half a second.
    The lab is stopped at the end, whatever happens.
    """
    from webhooks_lab.lab import Lab

    if name not in CASES:
        raise ValueError(f"unknown case {name!r}; choose one of {', '.join(CASES)}")
    lab = Lab(speed=speed)
    try:
        case = CASES[name](lab)
        write(f"{case.title}: {case.source} -> {case.app}")
        write(_("  {source} delivers {types}", source=case.source, types=", ".join(case.types)))
        write(
            _(
                "  to {url}, {scheme} signatures, lab clock x{speed:g}",
                url=case.url,
                scheme=case.scheme,
                speed=speed,
            )
        )
        write("")
        case.journal.subscribe(lambda line: write(str(line)))
        report = case.run()
        write("")
        write(_("What {app} now holds:", app=case.app))
        write(case.state())
        if len(case.emails):
            write(repr(case.emails))
        write("")
        write(table([report]))
        return report
    finally:
        lab.stop()


__all__ = [
    "CASES",
    "Chat",
    "Journal",
    "Line",
    "Newsletter",
    "Payments",
    "Report",
    "Scenario",
    "Shop",
    "demo",
    "need",
    "table",
]
