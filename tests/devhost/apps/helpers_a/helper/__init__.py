"""Helper package of sample app A (same package name as app B's)."""

WHO = "a"
