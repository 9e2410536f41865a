"""classpulse: real-time student progress monitoring for professors."""

__version__ = "0.1.0"
