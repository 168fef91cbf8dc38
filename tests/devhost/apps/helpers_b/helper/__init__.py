"""Helper package of sample app B (same package name as app A's)."""

WHO = "b"
