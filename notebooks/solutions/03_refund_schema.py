@dataclass
class RefundCreated:
    refund: str
    invoice: str
    amount: int  # cents
    reason: str = "requested_by_customer"
