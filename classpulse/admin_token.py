"""The admin token: from CLASSPULSE_ADMIN_TOKEN, else DATA_DIR/admin.token (0600), generated once."""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from classpulse.private_file import write_private


def resolve(configured: str | None, data_dir: Path) -> tuple[str, Path | None, bool]:
    """(token, file it lives in or None, whether it was generated now)."""
    if configured:
        return configured, None, False
    path = data_dir / "admin.token"
    if path.exists():
        kept = path.read_text().strip()
        if kept:
            os.chmod(path, 0o600)  # a copy restored with looser rights is tightened again
            return kept, path, False
        # empty (a crash right after it was created): an empty admin token would lock admin out
    token = "cpa_" + secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    write_private(path, token + "\n")
    return token, path, True


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
