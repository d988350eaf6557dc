"""The revision chain: the operations language and the frozen revision files."""
