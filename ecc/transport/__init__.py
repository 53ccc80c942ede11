"""Kafka: topics, producers and consumers, and the door that publishes ingested events."""
