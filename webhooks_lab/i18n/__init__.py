"""The learner's language: every word the lab says to a learner goes through here.

The words are English in the source and translated through the standard library's gettext, from
the catalogs in ``webhooks_lab/i18n/<lang>/LC_MESSAGES/webhooks_lab.mo`` (written as ``.po``
files, compiled with Babel: ``pybabel compile -d webhooks_lab/i18n -D webhooks_lab``). English is
the default; ``set_language("ko")``, ``start(lang="ko")`` or ``WEBHOOKS_LAB_LANG=ko`` chooses
Korean. Facts on the wire (JSON reasons, headers) stay English: they are what a real client reads.

A module marks a string with ``_`` where it is used, so the words follow the language chosen
after import. Placeholders are named and filled by ``_`` itself:

>>> _("{count} requests", count=3)
'3 requests'
>>> set_language("ko"); _("Right: {message}", message="…")
'정답입니다: …'
>>> set_language("en")
"""

from __future__ import annotations

import gettext
import os
import threading
from pathlib import Path

DOMAIN = "webhooks_lab"
LOCALE_DIR = Path(__file__).resolve().parent
LANGUAGES = ("en", "ko")
#: Set this to a language (``ko``) to start every lab in it, e.g. in a course's environment.
ENV = "WEBHOOKS_LAB_LANG"

_lock = threading.Lock()
_catalogs: dict[str, gettext.NullTranslations] = {}
_chosen: str | None = None  # set_language's choice; until then, the environment's or English


def set_language(lang: str) -> str:
    """Speak ``lang`` ("en" or "ko") from now on; returns the language chosen."""
    global _chosen
    _chosen = _known(lang)
    _catalog(_chosen)  # a missing catalog fails here, not in the middle of a check
    return _chosen


def language() -> str:
    """The language the lab speaks now: the one set, else ``$WEBHOOKS_LAB_LANG``, else English.

    The variable is read when words are needed, so ``%env WEBHOOKS_LAB_LANG=ko`` in a lesson's
    first cell (the Korean edition's way) takes effect whatever was imported before it."""
    if _chosen is not None:
        return _chosen
    wanted = os.environ.get(ENV, "")
    try:
        return _known(wanted) if wanted else "en"
    except ValueError:  # a variable set to a language we lack: speak English, never fail
        return "en"


def _known(lang: str) -> str:
    lang = lang.strip().lower().replace("_", "-").split("-")[0]
    if lang not in LANGUAGES:
        raise ValueError(f"no such language {lang!r}; choose from {', '.join(LANGUAGES)}")
    return lang


def _catalog(lang: str) -> gettext.NullTranslations:
    with _lock:
        found = _catalogs.get(lang)
        if found is None:
            found = (
                gettext.NullTranslations()
                if lang == "en"
                else gettext.translation(DOMAIN, LOCALE_DIR, [lang])
            )
            _catalogs[lang] = found
        return found


def _(message: str, /, **values: object) -> str:
    """``message`` in the learner's language, its ``{named}`` placeholders filled in."""
    text = _catalog(language()).gettext(message)
    return text.format(**values) if values else text


def n_(singular: str, plural: str, count: int, /, **values: object) -> str:
    """``singular`` or ``plural`` by ``count``, translated; ``{count}`` is filled too."""
    text = _catalog(language()).ngettext(singular, plural, count)
    return text.format(count=count, **values)


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; translate it with ``_`` where used."""
    return message


__all__ = ["ENV", "LANGUAGES", "N_", "_", "language", "n_", "set_language"]
