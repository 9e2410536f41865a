"""The HTTP / WebSocket / SSE edge of classpulse, on Ray Serve."""
