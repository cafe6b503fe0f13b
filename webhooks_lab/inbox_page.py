"""``GET /``: a small HTML page listing what the inbox holds."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webhooks_lab.receiver import Receiver


def render_inbox_page(receiver: Receiver, limit: int = 200) -> str:
    deliveries = receiver.inbox.snapshot()[-limit:]
    rows = "\n".join(
        f"<tr class='{d.outcome}'><td>{d.seq}</td><td>{escape(d.endpoint)}</td>"
        f"<td>{escape(d.event_type or '-')}</td><td>{d.status}</td><td>{d.outcome}</td>"
        f"<td>{escape(d.reason or '')}</td></tr>"
        for d in reversed(deliveries)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>webhooks-lab inbox</title>
<meta http-equiv="refresh" content="2">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .35rem .6rem; text-align: left; }}
tr.rejected td, tr.failed td {{ color: #a40000; }}
tr.duplicate td {{ color: #6b6b6b; }}
code {{ background: #f3f3f3; padding: .1rem .3rem; }}
</style></head>
<body><h1>webhooks-lab inbox</h1>
<p>POST webhooks to <code>/webhooks/&lt;name&gt;</code>; list them as JSON at
<code>GET /webhooks/&lt;name&gt;</code>. {len(receiver.inbox)} deliveries so far.</p>
<table><thead><tr><th>#</th><th>endpoint</th><th>type</th><th>status</th><th>outcome</th>
<th>why</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>"""
