"""HTTP layer: routers and exception handlers."""
