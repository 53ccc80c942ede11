"""ECC: real-time business command center."""
