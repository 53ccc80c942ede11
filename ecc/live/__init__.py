"""The live store: events to Redis counters (Lua) and the wall's snapshot back out."""
