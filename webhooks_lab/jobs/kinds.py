"""The lessons' job kinds: the long-running work that async APIs exist for.

* ``image.resize`` and ``video.encode`` are *simulated*: they wait on the lab clock instead of
  touching pixels, so they take a realistic, predictable time and report realistic progress
  ("tile 3/8", "frame 120/240"). A source named ``corrupt...`` fails the way a real bad file
  would: an image at once, a video part-way through.
* ``primes.count`` is real CPU work in pure Python. It is a plain ``def``, so the runner puts it in
  a worker thread; written as ``async def`` it would hold the lab loop (and its server) hostage
  until it finished.
* ``sleep`` just waits, and can be told to fail: handy for trying status codes.

``register_lesson_kinds(runner)`` registers them all; the lab and ``webhooks-lab serve`` do.
"""

from __future__ import annotations

from typing import Any

from webhooks_lab.jobs.model import Kind, Progress
from webhooks_lab.jobs.runner import JobRunner, make_kind
from webhooks_lab.runtime.clock import Clock


async def resize_image(
    source: str = "photo.jpg",
    width: int = 800,
    height: int = 600,
    *,
    progress: Progress,
    clock: Clock,
) -> dict[str, Any]:
    """Resize an image (simulated), tile by tile, at about 0.4 lab seconds per megapixel."""
    if "corrupt" in source.lower():
        raise ValueError(f"cannot decode {source}: not a valid image file")
    tiles = 8
    seconds = max(0.2, width * height / 1_000_000 * 0.4)
    for tile in range(1, tiles + 1):
        await clock.sleep(seconds / tiles)
        progress(tile, f"tile {tile}/{tiles}", of=tiles)
    stem = source.rsplit(".", 1)[0]
    return {
        "source": source,
        "width": width,
        "height": height,
        "url": f"/images/{stem}_{width}x{height}.jpg",
        "bytes": width * height * 3 // 20,
    }


async def encode_video(
    source: str = "holiday.mov",
    seconds: float = 10.0,
    fps: int = 24,
    codec: str = "h264",
    speed: float = 5.0,
    *,
    progress: Progress,
    clock: Clock,
) -> dict[str, Any]:
    """Encode a video (simulated) some times faster than real time, frame by frame."""
    frames = max(1, round(seconds * fps))
    steps = min(frames, 20)
    corrupt_at = steps * 3 // 5 if "corrupt" in source.lower() else None
    for step in range(1, steps + 1):
        await clock.sleep(seconds / speed / steps)
        done = frames * step // steps
        if step == corrupt_at:
            raise ValueError(f"{source}: frame {done} is corrupt; encoding stopped")
        progress(done, f"frame {done}/{frames}", of=frames)
    stem = source.rsplit(".", 1)[0]
    return {
        "source": source,
        "codec": codec,
        "frames": frames,
        "duration_s": seconds,
        "url": f"/videos/{stem}.{codec}.mp4",
        "bytes": int(seconds * 625_000),
    }


def count_primes(below: int = 200_000, *, progress: Progress) -> int:
    """Count primes by trial division: real CPU work, so it runs in a worker thread.

    ``below`` bounds the search; ``progress`` is told how far it has got every 1 %.
    """
    count = 1 if below > 2 else 0
    step = max(1, below // 100)
    for number in range(3, below, 2):
        if number % step < 2:
            progress(number, of=below)  # also where a cancelled job learns to stop
        divisor, prime = 3, True
        while divisor * divisor <= number:
            if number % divisor == 0:
                prime = False
                break
            divisor += 2
        count += prime
    return count


async def sleep(
    seconds: float = 1.0, fail: bool = False, *, progress: Progress, clock: Clock
) -> dict[str, Any]:
    """Wait some seconds of lab time in ten steps, then succeed (or fail, if asked to)."""
    for step in range(1, 11):
        await clock.sleep(seconds / 10)
        progress(step, of=10)
    if fail:
        raise RuntimeError("this job was asked to fail (fail=true)")
    return {"slept": seconds}


_SOURCE = {"type": "string", "minLength": 1, "maxLength": 200}

LESSON_KINDS: dict[str, tuple[Any, dict[str, Any]]] = {
    "image.resize": (
        resize_image,
        {
            "source": {**_SOURCE, "default": "photo.jpg", "description": "file to resize"},
            "width": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 800},
            "height": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 600},
        },
    ),
    "video.encode": (
        encode_video,
        {
            "source": {**_SOURCE, "default": "holiday.mov", "description": "file to encode"},
            "seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 3600,
                "default": 10,
                "description": "length of the video",
            },
            "fps": {"type": "integer", "minimum": 1, "maximum": 120, "default": 24},
            "codec": {"type": "string", "enum": ["h264", "h265", "av1"], "default": "h264"},
            "speed": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1000,
                "default": 5,
                "description": "how many times faster than real time the encoder runs",
            },
        },
    ),
    "primes.count": (
        count_primes,
        {"below": {"type": "integer", "minimum": 2, "maximum": 5_000_000, "default": 200_000}},
    ),
    "sleep": (
        sleep,
        {
            "seconds": {"type": "number", "minimum": 0, "maximum": 3600, "default": 1},
            "fail": {"type": "boolean", "default": False},
        },
    ),
}


def lesson_kinds() -> list[Kind]:
    """The lesson kinds as records, for whoever runs them without a runner (a worker process)."""
    return [make_kind(name, fn, params=params) for name, (fn, params) in LESSON_KINDS.items()]


def register_lesson_kinds(runner: JobRunner) -> JobRunner:
    """Register ``image.resize``, ``video.encode``, ``primes.count`` and ``sleep``."""
    for name, (fn, params) in LESSON_KINDS.items():
        runner.register(name, fn, params=params)
    return runner


__all__ = [
    "LESSON_KINDS",
    "count_primes",
    "encode_video",
    "lesson_kinds",
    "register_lesson_kinds",
    "resize_image",
    "sleep",
]
