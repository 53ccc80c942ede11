"""The event contract: the event, its checks at the door, personal data, the metric formulas."""
