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
_language = "en"


def set_language(lang: str) -> str:
    """Speak ``lang`` ("en" or "ko") from now on; returns the language chosen."""
    global _language
    lang = lang.strip().lower().replace("_", "-").split("-")[0]
    if lang not in LANGUAGES:
        raise ValueError(f"no such language {lang!r}; choose from {', '.join(LANGUAGES)}")
    _catalog(lang)  # a missing catalog fails here, not in the middle of a check
    _language = lang
    return lang


def language() -> str:
    """The language the lab speaks now."""
    return _language


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
    text = _catalog(_language).gettext(message)
    return text.format(**values) if values else text


def n_(singular: str, plural: str, count: int, /, **values: object) -> str:
    """``singular`` or ``plural`` by ``count``, translated; ``{count}`` is filled too."""
    text = _catalog(_language).ngettext(singular, plural, count)
    return text.format(count=count, **values)


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is defined; translate it with ``_`` where used."""
    return message


if os.environ.get(ENV):
    set_language(os.environ[ENV])

__all__ = ["ENV", "LANGUAGES", "N_", "_", "language", "n_", "set_language"]
