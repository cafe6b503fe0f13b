"""The lab's running parts: the scalable clock, the lab loop thread,
the pre-bound uvicorn server."""
