"""The ``webhooks-lab`` command: open the course, run a receiver, send a test event, and
diagnose a delivery whose signature check fails."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from webhooks_lab import signing
from webhooks_lab.course import EDITIONS
from webhooks_lab.i18n import ENV, _, n_, set_language
from webhooks_lab.limits import Limits


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _speak(argv)  # before the parser is made, so its help is in that language too
    parser = _parser()
    # Options the lab command does not know are JupyterLab's (`webhooks-lab lab --no-browser`).
    args, unknown = parser.parse_known_args(argv)
    if args.command in (None, "lab"):
        return _lab(args, [a for a in unknown if a != "--"])
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command == "serve":
        return _serve(args)
    if args.command == "worker":
        return _worker(args)
    if args.command == "deliveries":
        return _deliveries(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "send":
        return _send(args)
    if args.command == "doctor":
        return _doctor(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


def _speak(argv: list[str]) -> None:
    """Speak the ``--lang`` given anywhere on the line; without one, ``$WEBHOOKS_LAB_LANG`` decides
    (``lab`` alone defaults to English, the edition it opens)."""
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg.startswith("--lang="):
            wanted: str | None = arg.partition("=")[2]
        elif arg == "--lang" and index + 1 < len(argv):
            wanted = argv[index + 1]
        else:
            continue
        if wanted in EDITIONS:  # anything else: argparse refuses it in plain words
            set_language(wanted)


def _lang_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang",
        choices=sorted(EDITIONS),
        default=argparse.SUPPRESS,  # `webhooks-lab --lang ko serve` works too
        help=_(
            "the language it prints in (and the inbox page's): en or ko; "
            "default: $WEBHOOKS_LAB_LANG, else en"
        ),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="webhooks-lab",
        description=_(
            "Learn webhooks by running them: open the course, run a receiver, send events."
        ),
    )
    parser.add_argument(
        "--lang", choices=sorted(EDITIONS), default="en", help=_("with no command: as lab --lang")
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    lab = sub.add_parser(
        "lab", help=_("open the course in JupyterLab on the first lesson (default)")
    )
    lab.add_argument(
        "--dir",
        type=Path,
        help=_(
            "working folder for the course "
            "(default: the clone's notebooks, or ~/webhooks-lab-course)"
        ),
    )
    lab.add_argument(
        "--lang",
        choices=sorted(EDITIONS),
        default=argparse.SUPPRESS,  # `webhooks-lab --lang ko` works too (the parser's own option)
        help=_("the course's language: en (default) or ko, the Korean edition (한국어판)"),
    )
    lab.add_argument(
        "--dry-run",
        action="store_true",
        help=_("prepare the course and print the command, but do not start JupyterLab"),
    )

    serve = sub.add_parser("serve", help=_("run a local webhook receiver with an inbox page"))
    _lang_option(serve)
    serve.add_argument(
        "--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)")
    )
    serve.add_argument(
        "--port", type=int, default=8000, help=_("port (default 8000; 0 picks a free one)")
    )
    serve.add_argument(
        "--secret",
        action="append",
        default=[],
        help=_("signing secret; repeat to accept several (rotation)"),
    )
    serve.add_argument(
        "--scheme",
        choices=signing.SCHEMES,
        default=None,
        help=_("signature scheme to enforce (default: standard if a secret is given, else none)"),
    )
    serve.add_argument(
        "--tolerance",
        type=int,
        default=300,
        help=_("seconds a signed timestamp may be off (default 300)"),
    )
    serve.add_argument("--max-body", type=int, help=_("largest body accepted, in bytes (256 KiB)"))
    serve.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=_(
            "change any limit on what clients may send, e.g. --limit max_headers=50; names: "
            "{names}",
            names=", ".join(f.name for f in dataclasses.fields(Limits)),
        ),
    )
    serve.add_argument("--quiet", action="store_true", help=_("do not print a line per delivery"))
    _broker_options(serve, required=False)

    worker = sub.add_parser(
        "worker", help=_("run the course's job kinds from a broker (SAQ on Redis) until stopped")
    )
    _lang_option(worker)
    _broker_options(worker, required=True)
    worker.add_argument(
        "--concurrency", type=int, default=4, help=_("jobs this worker runs at once (default 4)")
    )
    worker.add_argument(
        "--name", help=_("this worker's name, shown on its jobs (default worker-PID)")
    )
    worker.add_argument(
        "--secret", help=_("signing secret for completion webhooks (default: a new one, printed)")
    )
    worker.add_argument(
        "--kinds",
        action="append",
        default=[],
        metavar="MODULE",
        help=_(
            "also run the kinds MODULE registers: it has register_kinds(runner), calling "
            "runner.register('my.kind', fn); repeat for several (looked up from this folder too)"
        ),
    )
    worker.add_argument(
        "--grace",
        type=float,
        default=5.0,
        help=_("seconds running jobs may take to finish when stopped, before they go back (5)"),
    )

    deliveries = sub.add_parser(
        "deliveries",
        help=_("the webhook deliveries on a broker: list them, show one, replay dead letters"),
    )
    _lang_option(deliveries)
    _broker_options(deliveries, required=True)
    deliveries.add_argument(
        "action",
        nargs="?",
        choices=["list", "dead", "show", "replay"],
        default="list",
        help=_("list the newest (default), list the dead letters, show ID's attempts, replay ID"),
    )
    deliveries.add_argument("id", nargs="?", help=_("a delivery id (dlv_...) for show and replay"))
    deliveries.add_argument(
        "--limit", type=int, default=20, help=_("how many to list, newest first (default 20)")
    )

    demo = sub.add_parser(
        "demo", help=_("run one of the course's cases end to end and print what happens")
    )
    _lang_option(demo)
    demo.add_argument("case", choices=["newsletter", "shop", "payments", "chat"])
    demo.add_argument(
        "--speed", type=float, default=10.0, help=_("lab clock speed-up (default 10: 5 s in 0.5 s)")
    )

    send = sub.add_parser(
        "send", help=_("sign and deliver one event with retries; exit 1 if it ends undelivered")
    )
    _lang_option(send)
    send.add_argument("url", help=_("where to POST, e.g. http://127.0.0.1:8000/webhooks/demo"))
    send.add_argument("--secret", help=_("signing secret (whsec_...); without one, unsigned"))
    send.add_argument(
        "--scheme",
        choices=signing.SCHEMES,
        default=None,
        help=_("signature scheme (default: standard if a secret is given, else none)"),
    )
    send.add_argument("--type", default="webhook.test", help=_("event type (default webhook.test)"))
    send.add_argument("--data", default="{}", help=_("event data as a JSON object (default {})"))
    send.add_argument("--id", help=_("event id, sent as webhook-id (default: a new msg_... id)"))
    send.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        help=_("seconds to wait for each answer (default 15)"),
    )
    send.add_argument(
        "--attempts",
        type=int,
        help=_("give up after this many attempts (default: the schedule's 8)"),
    )
    send.add_argument(
        "--schedule",
        help=_(
            "seconds to wait before each attempt, comma-separated "
            "(default 0,5,300,1800,7200,18000,36000,36000)"
        ),
    )
    send.add_argument(
        "--outbox", help=_("keep the outbox in this SQLite file (default: in memory)")
    )
    send.add_argument(
        "--allow-private", action="store_true", help=_("allow private network addresses")
    )

    doctor = sub.add_parser(
        "doctor",
        help=_("say why a delivery's signature check fails; exit 0 if valid, 1 if not"),
        description=_(
            "Diagnose one delivery: a JSON fixture downloaded from the inbox page, or "
            "its headers and raw body in two files. Exit 0 when the signature is valid, 1 when "
            "not (with the reason), 2 when the input cannot be read."
        ),
    )
    _lang_option(doctor)
    doctor.add_argument("fixture", nargs="?", type=Path, help=_("a delivery-N.json fixture"))
    doctor.add_argument(
        "--secret",
        action="append",
        required=True,
        help=_(
            "the secret the check uses; repeat to add others you have (the previous one, the "
            "CLI's): the doctor says if one of those signed it"
        ),
    )
    doctor.add_argument(
        "--accepted",
        type=int,
        default=1,
        help=_("how many of the --secret values the check accepts (default 1, the first)"),
    )
    doctor.add_argument(
        "--scheme", choices=signing.SCHEMES, help=_("signature scheme (default: read the headers)")
    )
    doctor.add_argument(
        "--headers", type=Path, help=_("a file of headers: JSON, or 'Name: value' lines")
    )
    doctor.add_argument("--body", type=Path, help=_("a file holding the raw body, byte for byte"))
    doctor.add_argument(
        "--tolerance", type=int, default=signing.DEFAULT_TOLERANCE, help=_("seconds (default 300)")
    )
    doctor.add_argument(
        "--now",
        type=float,
        help=_(
            "Unix time of the check (default: when the receiver checked it, if the fixture "
            "says, else now)"
        ),
    )
    doctor.add_argument("--json", action="store_true", help=_("print the diagnosis as JSON"))
    return parser


def _broker_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--broker",
        required=required,
        metavar="redis://HOST:PORT",
        help=_("the Redis that SAQ keeps the jobs in")
        if required
        else _(
            "the Redis that SAQ keeps the jobs in; jobs then run in `webhooks-lab worker` processes"
        ),
    )
    parser.add_argument(
        "--allow-remote-broker",
        action="store_true",
        help=_("allow a broker on another machine (default: loopback only)"),
    )


def _limits(args: argparse.Namespace) -> Limits:
    """The serve command's limits: the defaults, then ``--limit NAME=VALUE``, ``--max-body``."""
    types = {f.name: f.type for f in dataclasses.fields(Limits)}
    options: dict[str, float] = {}
    for item in args.limit:
        name, _, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in types:
            raise ValueError(
                _(
                    "--limit {item}: no such limit; choose from {names}",
                    item=repr(item),
                    names=", ".join(types),
                )
            )
        try:
            options[name] = (float if types[name] == "float" else int)(value)
        except ValueError:
            raise ValueError(
                _("--limit {item}: {value} is not a number", item=repr(item), value=repr(value))
            ) from None
    return Limits().with_options(**options, max_body=args.max_body)


def _lab(args: argparse.Namespace, extra: list[str]) -> int:
    from webhooks_lab.course import first_lesson, jupyter_command, prepare_course

    lang = set_language(args.lang)
    folder = prepare_course(getattr(args, "dir", None))
    command = jupyter_command(folder, extra, first_lesson(lang))
    if getattr(args, "dry_run", False):
        print(" ".join(command))
        return 0
    print(_("Opening the course in {folder}", folder=folder))
    if lang != "en":  # every kernel JupyterLab starts inherits it: each lesson speaks the edition's
        os.environ[ENV] = lang
    os.execv(command[0], command)
    return 0  # not reached


def _serve(args: argparse.Namespace) -> int:
    from webhooks_lab.events import Event
    from webhooks_lab.jobs.kinds import register_lesson_kinds
    from webhooks_lab.jobs.runner import JobRunner
    from webhooks_lab.receiver.console import DeliveryLog
    from webhooks_lab.receiver.receiver import Receiver
    from webhooks_lab.runtime.server import PortInUseError, Server
    from webhooks_lab.runtime.trace import Trace, lab_server_party, use
    from webhooks_lab.sender.sender import Sender
    from webhooks_lab.service.app import create_app, job_routes

    scheme = args.scheme or ("standard" if args.secret else "none")
    if scheme != "none" and not args.secret:
        print("webhooks-lab serve: " + _needs_secret(scheme), file=sys.stderr)
        return 2
    try:
        limits = _limits(args)
    except ValueError as exc:
        print(f"webhooks-lab serve: {exc}", file=sys.stderr)
        return 2
    receiver = Receiver(limits=limits)
    if scheme != "none":
        try:
            receiver.require_all(args.secret, scheme, tolerance=args.tolerance)
        except ValueError as exc:  # e.g. a Standard Webhooks secret that is not base64
            print(f"webhooks-lab serve: {exc}", file=sys.stderr)
            return 2
    log = None if args.quiet else DeliveryLog(lambda text: print(text, flush=True))
    if log is not None:
        receiver.inbox.subscribe(log)

    async def run() -> None:
        # Jobs run on this loop. Their completion webhooks go out through a sender (signed with
        # the first --secret, retried, loopback only), as they do in the lab.
        trace = use(Trace())
        if args.broker:  # on a broker they are deliveries kept there, attempted by the workers
            from webhooks_lab.jobs.broker_sender import BrokerSender

            sender: Any = BrokerSender(
                url=args.broker, allow_loopback=True, allow_remote=args.allow_remote_broker
            )
        else:
            sender = Sender(outbox=":memory:", allow_loopback=True, trace=trace)
        await sender.start()
        if log is not None:
            log.start()

        async def notify(url: str, event: Event, *, secret: str | None = None) -> object:
            return await sender.deliver_to(url, event, secret=secret, wait=False, party="Jobs API")

        first_secret = args.secret[0] if args.secret else None
        broker_note = None
        if args.broker:
            from webhooks_lab.jobs.broker import BrokerRunner
            from webhooks_lab.jobs.model import Unavailable

            jobs = BrokerRunner(
                args.broker,
                secret=first_secret,
                notify=notify,
                allow_remote=args.allow_remote_broker,
            )
            try:
                await jobs.connect()
            except Unavailable as exc:  # serve anyway: /jobs answers 503 until it is back
                broker_note = _("{error}; /jobs answers 503 until it does", error=exc)
        else:
            jobs = JobRunner(secret=first_secret, notify=notify)
        register_lesson_kinds(jobs)  # type: ignore[arg-type]
        app = create_app(receiver, extra_routes=[job_routes(jobs)], limits=limits, trace=trace)
        served = trace.serve(app, lab_server_party, inbox=receiver.inbox)
        refused = served.record_refusal
        server = Server(served, args.host, args.port, limits=limits, on_refusal=refused)
        try:
            await server.start()  # a port already taken raises here: the finally closes all
            served.watch(server.port)
            receiver.url = server.url
            print(_listening(server.url, scheme, jobs, args, broker_note), flush=True)
            await server.stopping_begun()
        finally:
            # On Ctrl+C uvicorn starts its own shutdown and waits for open responses: end the
            # inbox pages' endless live feeds first, so it need not wait (or cancel them).
            await app.close_streams()
            if log is not None:
                await log.aclose()
            await jobs.aclose()
            await sender.close()
            await server.stop()

    try:
        asyncio.run(run())
    except PortInUseError as exc:
        print(f"webhooks-lab serve: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _listening(url: str, scheme: str, jobs: Any, args: argparse.Namespace, note: str | None) -> str:
    """What `serve` prints once it listens: where to deliver, the inbox, the jobs API."""
    say = _("webhooks-lab receiver listening on {url}", url=url)  # the URL ends the line
    say += "\n" + _(
        "  deliver:  POST {url}/webhooks/<name>   ({how})", url=url, how=_describe(scheme)
    )
    say += "\n" + _("  inbox:    {url}/", url=url)
    kinds = ", ".join(kind.name for kind in jobs.kinds())
    say += "\n" + _("  jobs:     POST {url}/jobs   (kinds: {kinds})", url=url, kinds=kinds)
    if args.broker:
        say += "\n" + _("            run by workers on {broker}", broker=args.broker)
        if note:
            say += "\n            " + note
    if not args.secret:
        say += "\n" + _("            job webhooks are signed with {secret}", secret=jobs.secret)
    say += "\n" + _("  api:      {url}/openapi.json", url=url)
    say += "\n" + _("  stop:     Ctrl+C")
    return say


def _worker(args: argparse.Namespace) -> int:
    """Run the lesson kinds (and those of ``--kinds`` modules) from the broker until SIGTERM or
    Ctrl+C."""
    from webhooks_lab.jobs.broker import check_broker_url
    from webhooks_lab.jobs.broker_worker import (
        KindsNotFound,
        learner_kinds,
        make_worker,
        run_worker,
    )
    from webhooks_lab.jobs.kinds import lesson_kinds

    def fail(message: str, code: int = 2) -> int:
        print(f"webhooks-lab worker: {message}", file=sys.stderr, flush=True)
        return code

    if args.concurrency < 1:
        return fail(_("--concurrency must be at least 1, got {count}", count=args.concurrency))
    try:
        check_broker_url(args.broker, allow_remote=args.allow_remote_broker)
    except ValueError as exc:
        return fail(str(exc))
    secret = args.secret or signing.generate_secret()
    kinds = lesson_kinds()
    try:
        kinds += learner_kinds(args.kinds, taken={kind.name for kind in kinds})
    except KindsNotFound as exc:
        return fail(str(exc))

    async def run() -> None:
        # Completion webhooks go out as deliveries on the broker: durable, signed, retried.
        worker = make_worker(
            args.broker,
            kinds,
            concurrency=args.concurrency,
            name=args.name,
            secret=secret,
            grace=args.grace,
            allow_remote=args.allow_remote_broker,
            log=lambda line: print(line, flush=True),
        )

        def ready() -> None:
            names = ", ".join(kind.name for kind in kinds)
            say = _("webhooks-lab worker {id} on {broker}", id=worker.id, broker=args.broker)
            say += "\n" + _("  kinds:       {names}", names=names)
            say += "\n" + _("  concurrency: {count}", count=args.concurrency)
            if not args.secret:
                say += "\n" + _("  completion webhooks are signed with {secret}", secret=secret)
            say += "\n" + _("  stop:        Ctrl+C or SIGTERM (running jobs finish or go back)")
            print(say, flush=True)

        await run_worker(worker, ready=ready)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        return fail(_silent_broker(args.broker, exc), 1)
    except Exception as exc:
        from webhooks_lab.jobs.broker import _is_connection_error

        if _is_connection_error(exc):
            return fail(_silent_broker(args.broker, exc), 1)
        raise
    print(_("webhooks-lab worker stopped"), flush=True)
    return 0


def _deliveries(args: argparse.Namespace) -> int:
    """List, show or replay the webhook deliveries kept on a broker; 1 if there is no such one."""
    from webhooks_lab.jobs.broker import check_broker_url
    from webhooks_lab.jobs.broker_sender import DEAD, INDEX, BrokerSender

    def fail(message: str, code: int = 2) -> int:
        print(f"webhooks-lab deliveries: {message}", file=sys.stderr, flush=True)
        return code

    try:
        check_broker_url(args.broker, allow_remote=args.allow_remote_broker)
    except ValueError as exc:
        return fail(str(exc))
    if args.action in ("show", "replay") and not args.id:
        return fail(
            _("{action} needs a delivery id: deliveries {action} dlv_...", action=args.action)
        )
    if args.action in ("list", "dead") and args.id:
        return fail(
            _("{action} takes no id; did you mean show {id}?", action=args.action, id=args.id)
        )
    if not 1 <= args.limit <= 1000:
        return fail(_("--limit is from 1 to 1000, got {limit}", limit=args.limit))

    async def run() -> int:
        sender = await BrokerSender(url=args.broker, allow_remote=args.allow_remote_broker).start()
        try:
            if args.action in ("list", "dead"):
                index = DEAD if args.action == "dead" else INDEX
                found = await sender.newest(index, limit=args.limit)
                for delivery in found:
                    print(repr(delivery), flush=True)
                if not found:
                    print(_("no dead letters") if args.action == "dead" else _("no deliveries yet"))
                return 0
            if args.action == "show":
                delivery = await sender.fetch(args.id)
                if delivery is None:
                    return fail(_("no delivery {id} on the broker", id=repr(args.id)), 1)
                print(delivery.timeline(), flush=True)
                return 0
            try:
                delivery = await sender.requeue(args.id)
            except KeyError:
                return fail(_("no delivery {id} on the broker", id=repr(args.id)), 1)
            said = _(
                "replaying {id} ({event_id}) to {url}",
                id=delivery.id,
                event_id=delivery.event_id,
                url=delivery.url,
            )
            print(said, flush=True)
            return 0
        finally:
            await sender.close()

    try:
        return asyncio.run(run())
    except Exception as exc:
        from webhooks_lab.jobs.broker import _is_connection_error

        if isinstance(exc, OSError) or _is_connection_error(exc):
            return fail(
                _("the broker at {url} does not answer ({reason})", url=args.broker, reason=exc), 1
            )
        raise


def _demo(args: argparse.Namespace) -> int:
    from webhooks_lab.lessons.scenarios import demo

    if args.speed <= 0:
        said = _("--speed must be positive, got {speed:g}", speed=args.speed)
        print("webhooks-lab demo: " + said, file=sys.stderr)
        return 2
    demo(args.case, speed=args.speed, write=lambda line: print(line, flush=True))
    return 0


def _send(args: argparse.Namespace) -> int:
    """Deliver one event with the lab's sender and retry policy; print every attempt."""
    import json

    from webhooks_lab.events import Event, EventError
    from webhooks_lab.retry import DEFAULT_SCHEDULE, RetryPolicy, describe_seconds
    from webhooks_lab.sender.sender import Sender
    from webhooks_lab.sender.ssrf import UnsafeURL

    def fail(message: str, code: int = 2) -> int:
        print(f"webhooks-lab send: {message}", file=sys.stderr, flush=True)
        return code

    scheme = args.scheme or ("standard" if args.secret else "none")
    if scheme != "none" and not args.secret:
        return fail(_needs_secret(scheme))
    try:
        data = json.loads(args.data)
        event = Event(args.type, data, **({"id": args.id} if args.id else {}))
        waits = [float(s) for s in args.schedule.split(",")] if args.schedule else DEFAULT_SCHEDULE
        if args.attempts is not None:
            if args.attempts < 1:
                return fail(_("--attempts must be at least 1"))
            waits = list(waits)[: args.attempts]
        policy = RetryPolicy(waits)
    except (ValueError, EventError) as exc:
        return fail(f"{exc}")
    sender = Sender(
        outbox=args.outbox or ":memory:",
        policy=policy,
        timeout=args.timeout,
        allow_loopback=True,  # a local receiver is what this command is for
        allow_private=args.allow_private,
    )
    try:
        sender.guard.check_url(args.url)
    except UnsafeURL as refused:
        return fail(str(refused))

    def show(attempt) -> None:  # type: ignore[no-untyped-def]
        latency = ""
        if attempt.latency_ms is not None:
            latency = _(" in {ms:.0f} ms", ms=attempt.latency_ms)
        said = ""
        if not attempt.ok and attempt.response:
            said = f"  {attempt.response[:120]}"
        then = ""
        if attempt.state == "retrying" and attempt.backoff is not None:
            then = _(", next attempt in {wait}", wait=describe_seconds(attempt.backoff))
        line = _(
            "attempt {number}: {outcome}{latency} -> {state}{then}",
            number=attempt.number,
            outcome=attempt.outcome,
            latency=latency,
            state=attempt.state,
            then=then,
        )
        print(line + said, flush=True)

    async def deliver():  # type: ignore[no-untyped-def]
        await sender.start()
        sender.subscribe(show)
        try:
            return await sender.deliver_to(args.url, event, secret=args.secret, scheme=scheme)
        finally:
            await sender.close()

    sending = _(
        "sending {type} {id} to {url} ({scheme})",
        type=event.type,
        id=event.id,
        url=args.url,
        scheme=scheme,
    )
    print(sending, flush=True)
    try:
        delivery = asyncio.run(deliver())
    except KeyboardInterrupt:
        return fail(_("interrupted before the delivery ended"), 130)
    tries = n_("{count} attempt", "{count} attempts", len(delivery.attempts))
    if delivery.state == "delivered":
        print(_("delivered {id} after {tries}", id=event.id, tries=tries), flush=True)
        return 0
    last = delivery.last.outcome if delivery.last else _("no answer")
    if delivery.state == "disabled":
        return fail(
            _("{url} answered 410 Gone: the endpoint is gone, so no more retries", url=args.url), 1
        )
    return fail(
        _(
            "gave up: {id} was not delivered after {tries} (last: {last}); "
            "it ended as a dead letter",
            id=event.id,
            tries=tries,
            last=last,
        ),
        1,
    )


def _doctor(args: argparse.Namespace) -> int:
    """Read one delivery, diagnose it, print the diagnosis; 0 valid, 1 refused, 2 unreadable."""
    import json

    from webhooks_lab.signing.doctor import read_delivery

    def fail(message: str) -> int:
        print(f"webhooks-lab doctor: {message}", file=sys.stderr, flush=True)
        return 2

    if (args.fixture is None) == (args.headers is None or args.body is None):
        return fail(_("give a FIXTURE.json, or both --headers FILE and --body FILE"))
    try:
        if args.fixture is not None:
            headers, body, checked_at = read_delivery(args.fixture.read_bytes())
        else:
            headers, body, checked_at = read_delivery(
                args.body.read_bytes(), headers=args.headers.read_bytes()
            )
        now = args.now if args.now is not None else checked_at
        found = signing.diagnose(
            args.secret,
            headers,
            body,
            scheme=args.scheme,
            tolerance=args.tolerance,
            now=now,
            accepted=args.accepted,
        )
    except (OSError, ValueError, TypeError) as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(found.as_dict(), indent=2))
    else:
        print(found)
        if found.reason == "timestamp_too_old" and now is None:
            print(_("(checked against the time now; pass --now for the time it arrived)"))
    return 0 if found.ok else 1


def _describe(scheme: str) -> str:
    if scheme == "none":
        return _("unsigned deliveries accepted")
    return _("{scheme} signatures required", scheme=scheme)


def _needs_secret(scheme: str) -> str:
    return _("--scheme {scheme} needs --secret", scheme=scheme)


def _silent_broker(broker: str, error: BaseException) -> str:
    return _("the broker at {broker} does not answer ({error})", broker=broker, error=error)


if __name__ == "__main__":
    sys.exit(main())
