"""`make demo` / `make up`: the main job of ModelFerry on the local cloud (development tool, not deployed)."""
