"""The SSRF guard refuses internal targets before any connection is made.

No test here sends a packet anywhere but 127.0.0.1: every refused target is a literal private
or special address, or a made-up name answered by a stub resolver, and ``no_connections``
records (and blocks) any socket connect that would leave loopback, so a guard that let one
through would fail the test without reaching the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from webhooks_lab.events import Event
from webhooks_lab.jobs.completion import post_once
from webhooks_lab.jobs.runner import JobRunner
from webhooks_lab.sender.sender import Sender
from webhooks_lab.sender.ssrf import THIS_MACHINE, UnsafeURL, URLGuard, address_problem


@pytest.fixture
def no_connections(monkeypatch):
    """Every socket connect is recorded; one to anything but loopback is blocked, not made."""
    tried: list[object] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(real):
        def connect(self, address):
            tried.append(address)
            host = address[0] if isinstance(address, tuple) else address
            if not ipaddress.ip_address(host).is_loopback:
                raise OSError("the test blocked a connection that must never be made")
            return real(self, address)

        return connect

    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    return tried


def stub_dns(table: dict[str, list[str]]):
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return table[host]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://10.0.0.1/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://172.16.5.4/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://[::1]:8000/hook", "loopback"),
        ("http://[::ffff:10.0.0.1]/hook", "private"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[fd00::1]/hook", "private"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://0.0.0.0:8000/hook", "unspecified"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://100.64.0.1/hook", "not a public address"),
    ],
)
def test_literal_internal_addresses_are_refused_by_default(url, why):
    with pytest.raises(UnsafeURL, match=why):
        URLGuard().check_url(url)


@pytest.mark.parametrize(
    "url, why",
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://10.0.0.1:70/", "only http and https"),
        ("ftp://files.example/x", "only http and https"),
        ("http:///no-host", "no host"),
        ("http://user:pw@hooks.example/x", "credentials"),
        ("http://hooks.example:99999/x", "not a valid URL"),
    ],
)
def test_other_schemes_and_malformed_urls_are_refused(url, why):
    with pytest.raises(UnsafeURL, match=why):
        URLGuard().check_url(url)


def test_loopback_is_allowed_only_when_asked_and_private_stays_refused():
    guard = URLGuard(allow_loopback=True)
    assert guard.check_url("http://127.0.0.1:9/x").host == "127.0.0.1"
    assert guard.check_url("http://[::1]:9/x").port == 9
    with pytest.raises(UnsafeURL, match="private"):
        guard.check_url("http://10.1.2.3/x")
    with pytest.raises(UnsafeURL, match="link-local"):
        URLGuard(allow_loopback=True, allow_private=True).check_url("http://169.254.169.254/")


def test_a_public_address_is_fine_as_a_value():
    # A pure classification: nothing here is resolved or contacted.
    assert address_problem(ipaddress.ip_address("93.184.216.34")) is None
    assert address_problem(ipaddress.ip_address("2606:4700::1111")) is None


def test_a_name_is_refused_when_any_of_its_addresses_is_internal():
    # Loopback is allowed here, so only the private address can be the reason.
    dns = stub_dns({"internal.example": ["127.0.0.1", "10.0.0.5"]})
    guard = URLGuard(allow_loopback=True, resolve=dns)
    target = guard.check_url("https://internal.example/hook")  # a name passes the first look
    with pytest.raises(UnsafeURL, match="internal.example resolves to 10.0.0.5"):
        asyncio.run(guard.resolve(target.host, target.port))
    assert dns.asked == ["internal.example"]


def test_the_sender_refuses_a_callback_url_without_connecting(no_connections):
    async def scenario():
        sender = Sender(outbox=":memory:")
        await sender.start()
        try:
            return await sender.deliver_to(
                "http://169.254.169.254/latest/meta-data/", Event("job.done", {"id": 1})
            )
        finally:
            await sender.close()

    delivery = asyncio.run(scenario())
    assert delivery.state == "dead"
    assert "link-local" in delivery.attempts[0].error
    assert no_connections == []


def test_a_name_that_resolves_inside_is_refused_at_connect_time_without_connecting(
    no_connections,
):
    dns = stub_dns({"hooks.customer.example": ["192.168.1.1"]})

    async def scenario():
        sender = Sender(outbox=":memory:", resolve=dns)
        await sender.start()
        try:
            return await sender.deliver_to(
                "http://hooks.customer.example/webhook", Event("job.done", {"id": 1})
            )
        finally:
            await sender.close()

    delivery = asyncio.run(scenario())
    assert delivery.state == "dead"
    assert len(delivery.attempts) == 1  # refused for good, not retried
    assert "resolves to 192.168.1.1 is a private address" in delivery.attempts[0].error
    assert dns.asked == ["hooks.customer.example"]
    assert no_connections == []


def test_registering_an_internal_endpoint_fails_at_once():
    sender = Sender(outbox=":memory:")
    with pytest.raises(UnsafeURL, match="private"):
        sender.add_endpoint("http://10.0.0.1/hook")
    assert sender.endpoints == []


def test_the_connection_spy_does_see_connections(no_connections, lab):
    # Control: the spy used above is not blind. Loopback is allowed in the lab, and connects.
    async def scenario():
        return await lab.sender.deliver_to(lab.receiver.url_for("spy"), Event("a.b", {}))

    delivery = lab.loop.run(scenario())
    assert delivery.state == "delivered"
    assert any(address[0] == "127.0.0.1" for address in no_connections)


def test_the_lab_allows_its_own_loopback_receiver_but_nothing_private(lab):
    assert lab.sender.add_endpoint(lab.receiver.url_for("ok")).url.startswith("http://127.0.0.1:")
    with pytest.raises(UnsafeURL, match="192.168.1.1 is a private address"):
        lab.sender.add_endpoint("http://192.168.1.1/hook")


# -- this machine only: where a job's completion webhook may go ------------------------------------


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://93.184.216.34/hook", "not on this machine"),
        ("http://[2606:4700::1111]/hook", "not on this machine"),
        ("http://10.0.0.1/hook", "private"),
        ("http://hooks.example/x", "is a host name"),
        ("http://127.0.0.1.nip.io/x", "is a host name"),
        ("http://" + "a" * 2100 + ".example/", "longer than 2048"),
        (None, "not a URL"),
        (8000, "not a URL"),
        (["http://127.0.0.1/"], "not a URL"),
        ("", "not a URL"),
        ("http://[::1", "not a valid URL"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
def test_this_machine_refuses_everything_off_it_saying_why(url, why):
    with pytest.raises(UnsafeURL, match=why) as refused:
        THIS_MACHINE.check_url(url)
    assert len(str(refused.value)) < 400, "a refusal quotes the URL, it does not repeat a huge one"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://127.9.9.9/x", "http://[::1]:9/x", "http://LOCALHOST./x"]
)
def test_this_machine_allows_loopback_and_localhost(url):
    assert THIS_MACHINE.check_url(url).url == url


def test_an_unsafe_url_is_a_webhooks_lab_error_and_a_value_error():
    import webhooks_lab

    assert issubclass(UnsafeURL, webhooks_lab.Error)
    assert issubclass(UnsafeURL, ValueError)
    assert repr(THIS_MACHINE) == "URLGuard(loopback; no host names but localhost)"
    assert repr(URLGuard(allow_loopback=True)) == "URLGuard(public addresses + loopback)"


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/hook", "http://169.254.169.254/latest/", "http://hooks.example/x"]
)
def test_a_completion_webhook_posted_once_is_refused_before_connecting(
    no_connections, monkeypatch, url
):
    looked_up: list[object] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kw: looked_up.append(args) or [])
    with pytest.raises(UnsafeURL):
        asyncio.run(post_once(url, Event("job.succeeded", {"id": "job_1"})))
    assert no_connections == []
    assert looked_up == [], "not even a name was looked up"


def test_a_runner_refuses_a_callback_off_this_machine_before_queueing_anything():
    async def scenario() -> JobRunner:
        runner = JobRunner()
        with pytest.raises(UnsafeURL, match="private"):
            runner.options(callback_url="http://192.168.1.1/hook").submit(str, "x")
        await runner.aclose()
        return runner

    assert len(asyncio.run(scenario())) == 0
