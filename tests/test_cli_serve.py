"""``webhooks-lab serve`` as a real process: it enforces signatures, lists, shows, stops cleanly.

Each test starts the command the way a developer would (``python -m webhooks_lab.cli serve``),
on a free port (``--port 0``), reads the address from its first line, talks to it over real HTTP
on 127.0.0.1, and always stops it at the end: Ctrl+C (SIGINT) first, a kill only if that fails.
"""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
from helpers import ROOT, STARTUP_TIMEOUT, command, serving

from webhooks_lab import signing

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
BODY = b'{"type": "order.created", "data": {"order": 7}}'


def signed(scheme: str, secret: str, body: bytes = BODY, *, age: int = 0) -> dict[str, str]:
    timestamp = int(time.time()) - age
    headers = signing.headers_for(scheme, secret, body, msg_id="msg_cli_test", timestamp=timestamp)
    return {**headers, "content-type": "application/json"}


@pytest.mark.parametrize("scheme", ["standard", "github", "stripe"])
def test_serve_enforces_the_chosen_scheme_and_lists_and_shows_what_came(scheme):
    with serving("--secret", SECRET, "--scheme", scheme) as served:
        served.wait_for_line(rf"\({scheme} signatures required\)")
        client = served.client

        genuine = client.post("/webhooks/orders", content=BODY, headers=signed(scheme, SECRET))
        unsigned = client.post(
            "/webhooks/orders", content=BODY, headers={"content-type": "application/json"}
        )

        assert genuine.status_code == 200, genuine.text
        assert unsigned.status_code == 401
        assert unsigned.headers["content-type"] == "application/json"
        assert unsigned.json()["error"] == "invalid_signature"
        assert unsigned.json()["reason"] == "missing_header"
        assert "missing header" in unsigned.json()["detail"]

        listing = client.get("/webhooks/orders")
        assert listing.headers["content-type"] == "application/json"
        deliveries = listing.json()["deliveries"]
        assert [(d["status"], d["verified"]) for d in deliveries] == [(200, True), (401, False)]
        assert deliveries[1]["reason"] == unsigned.json()["detail"]
        assert deliveries[0]["body"] == BODY.decode()

        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "webhooks-lab inbox" in page.text
        assert "rejected" in page.text and "missing header" in page.text

        served.wait_for_line(r"-> 401 rejected\s+missing header")


def test_serve_with_a_secret_and_no_scheme_requires_standard_webhooks_signatures():
    with serving("--secret", SECRET) as served:
        github = served.client.post("/webhooks/a", content=BODY, headers=signed("github", SECRET))
        standard = served.client.post(
            "/webhooks/a", content=BODY, headers=signed("standard", SECRET)
        )
        assert github.status_code == 401
        assert github.json()["detail"] == "missing header 'webhook-signature'"
        assert standard.status_code == 200


def test_serve_without_a_secret_accepts_unsigned_deliveries():
    with serving() as served:
        served.wait_for_line(r"unsigned deliveries accepted")
        assert served.client.post("/webhooks/open", content=BODY).status_code == 200
        assert served.client.get("/webhooks/open").json()["deliveries"][0]["verified"] is None


def test_serve_accepts_every_repeated_secret_during_a_rotation():
    with serving("--secret", SECRET, "--secret", OTHER_SECRET, "--scheme", "stripe") as served:

        def status(secret: str) -> int:
            headers = signed("stripe", secret)
            return served.client.post("/webhooks/pay", content=BODY, headers=headers).status_code

        assert [status(SECRET), status(OTHER_SECRET), status("whsec_someone_else")] == [
            200,
            200,
            401,
        ]


def test_serve_refuses_a_replay_older_than_its_tolerance():
    with serving("--secret", SECRET, "--tolerance", "60") as served:
        headers = signed("standard", SECRET, age=120)
        old = served.client.post("/webhooks/a", content=BODY, headers=headers)
        assert old.status_code == 401
        assert old.json()["reason"] == "stale_timestamp"
        assert "tolerance is 60 s" in old.json()["detail"]


def test_serve_with_a_scheme_but_no_secret_exits_at_once_saying_what_is_missing():
    result = subprocess.run(
        command("--port", "0", "--scheme", "github"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
    )
    assert result.returncode != 0
    assert "--scheme github needs --secret" in result.stderr
    assert "listening" not in result.stdout


def test_serve_on_a_port_already_taken_exits_non_zero_at_once_with_a_clear_message():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            command("--port", str(port), "--secret", SECRET),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT,  # "at once": it must not sit waiting for the port
        )
    assert result.returncode != 0
    # the message, and nothing else: no traceback, no warning about a session left open
    (message,) = result.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "listening" not in result.stdout


def test_ctrl_c_stops_serve_cleanly_and_frees_the_port():
    with serving("--secret", SECRET) as served:
        port = int(served.url.rsplit(":", 1)[1])
        assert served.client.get("/webhooks").status_code == 200
        assert served.stop() == 0
        assert "Traceback" not in served.drain_stderr()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--secret", "my-secret!"], "not valid base64"),
        (["--secret", SECRET, "--tolerance", "-1"], "tolerance"),
    ],
)
def test_serve_with_a_secret_or_tolerance_that_cannot_work_exits_at_once_saying_why(args, words):
    result = subprocess.run(
        command("--port", "0", *args),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("webhooks-lab serve: ")
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening" not in result.stdout
