"""Pure domain of classpulse: students, courses, events, statuses, alerts.

Nothing here knows about Ray or HTTP; actors wrap these objects.
"""
