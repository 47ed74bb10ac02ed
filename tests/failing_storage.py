"""Stand-ins for a full or read-only disk, for where a test cannot make one: not root (no mount),
or root in a container that may not mount a tmpfs. They fail the way such a disk does."""

import errno
import os
from pathlib import Path

from django.core.files.storage import FileSystemStorage


class FullDiskStorage(FileSystemStorage):
    """Writes the first 4 KiB of each file, then runs out of space (ENOSPC), as a full disk does."""

    def _save(self, name, content):
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.read()[:4096])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class ReadOnlyStorage(FileSystemStorage):
    """Refuses every write (EROFS), as a file system mounted read-only does."""

    def _save(self, name, content):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
