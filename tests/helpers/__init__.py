"""Test doubles of the outside world (hostile services, header-recording hosts) and shared helpers."""
