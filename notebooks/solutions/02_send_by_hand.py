payload = {
    "type": "order.shipped",
    "timestamp": "2026-11-28T10:00:00Z",
    "data": {"order": "A-1001", "carrier": "ParcelPost", "tracking": "PP123456"},
}
body = json.dumps(payload).encode()
webhook_id = "msg_parcel_A1001"
timestamp = int(time.time())
headers = {
    "content-type": "application/json",
    "webhook-id": webhook_id,
    "webhook-timestamp": str(timestamp),
    "webhook-signature": signing.sign(parcels_secret, webhook_id, timestamp, body),
}
httpx.post(lab.receiver.url_for("parcels"), content=body, headers=headers)
