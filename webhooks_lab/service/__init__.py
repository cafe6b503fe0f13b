"""The one ASGI app the lab and ``webhooks-lab serve`` run, and its OpenAPI document."""
