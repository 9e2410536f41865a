"""Ray actors wrapping the engine: the runtime of classpulse."""
