"""`webhooks-lab doctor`: a fixture downloaded from the inbox page, or headers and body files, in;
the diagnosis out; exit 0 valid, 1 refused, 2 unreadable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from webhooks_lab import signing
from webhooks_lab.cli import main

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_dGhlIHByZXZpb3VzIHNlY3JldCBvZiB0aGUgcm90YXRpb24="
BODY = b'{"type":"order.paid","data":{"total":12}}'
NOW = 1_700_000_000
ROOT = Path(__file__).resolve().parent.parent


def files(tmp_path: Path, headers: dict[str, str] | str, body: bytes) -> list[str]:
    (tmp_path / "headers").write_text(headers if isinstance(headers, str) else json.dumps(headers))
    (tmp_path / "body").write_bytes(body)
    return ["--headers", str(tmp_path / "headers"), "--body", str(tmp_path / "body")]


def test_headers_and_body_files_that_are_genuine_exit_0(tmp_path, capsys):
    headers = signing.sign_headers(SECRET, BODY, msg_id="m", timestamp=NOW)
    code = main(["doctor", "--secret", SECRET, "--now", str(NOW), *files(tmp_path, headers, BODY)])
    assert code == 0
    assert capsys.readouterr().out.startswith("valid (valid)")


def test_curl_style_header_lines_with_another_secret_exit_1_and_say_which(tmp_path, capsys):
    headers = signing.headers_for("github", OTHER, BODY, msg_id="m", timestamp=NOW)
    lines = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    argv = ["doctor", "--secret", SECRET, "--secret", OTHER, *files(tmp_path, lines, BODY)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "other_secret" in out and "second secret" in out


def test_json_output_is_the_diagnosis(tmp_path, capsys):
    headers = signing.sign_headers(SECRET, BODY, msg_id="m", timestamp=NOW - 1000)
    argv = ["doctor", "--json", "--secret", SECRET, "--now", str(NOW)]
    assert main([*argv, *files(tmp_path, headers, BODY)]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["reason"] == "timestamp_too_old" and found["ok"] is False


def test_unreadable_input_exits_2_with_a_reason(tmp_path, capsys):
    (tmp_path / "f.json").write_text("not json")
    assert main(["doctor", str(tmp_path / "f.json"), "--secret", SECRET]) == 2
    assert "not JSON" in capsys.readouterr().err
    (tmp_path / "g.json").write_text('{"body": "x"}')
    assert main(["doctor", str(tmp_path / "g.json"), "--secret", SECRET]) == 2
    assert main(["doctor", "--secret", SECRET]) == 2
    assert "FIXTURE" in capsys.readouterr().err
    assert main(["doctor", "--secret", SECRET, *files(tmp_path, "no colon here", BODY)]) == 2
    assert main(["doctor", str(tmp_path / "missing.json"), "--secret", SECRET]) == 2


def test_a_fixture_downloaded_from_the_inbox_page_is_diagnosed_as_the_receiver_saw_it(
    lab, client, tmp_path
):
    lab.receiver.endpoint("shop").require(SECRET)
    headers = signing.sign_headers(SECRET, BODY, timestamp=int(lab.clock.wall()))
    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    assert client.post("/webhooks/shop", content=pretty, headers=headers).status_code == 401
    fixture = tmp_path / "delivery.json"
    fixture.write_bytes(client.get("/inbox/1", params={"download": 1}).content)

    command = [sys.executable, "-m", "webhooks_lab.cli", "doctor", str(fixture)]
    done = subprocess.run(
        [*command, "--secret", SECRET], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert "body_reserialised" in done.stdout and "raw bytes" in done.stdout
    assert "timestamp" not in done.stdout  # judged at the time it arrived, not now
    wrong = subprocess.run(
        [*command, "--secret", OTHER], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert wrong.returncode == 1 and "no_match" in wrong.stdout


def test_a_genuine_fixture_exits_0(lab, client, tmp_path):
    headers = signing.sign_headers(SECRET, BODY, timestamp=int(lab.clock.wall()))
    assert httpx.post(f"{lab.receiver.url}/webhooks/open", content=BODY, headers=headers)
    fixture = tmp_path / "delivery.json"
    fixture.write_bytes(client.get("/inbox/1").content)
    assert main(["doctor", str(fixture), "--secret", SECRET]) == 0
