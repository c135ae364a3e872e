"""Run a command as an unprivileged user, for the tests of the non-root sandbox.

``python tests/as_user.py PATH... -- COMMAND...`` (as root) runs COMMAND as
``nobody`` (uid and gid 65534, no groups) through ``setpriv``.  Each PATH (the
Python installation, a venv, the test's folders) must be reachable by that
user; where one lies below a folder others may not enter (``/root`` holding a
pyenv Python, say), the command runs in a mount namespace of its own in which
that folder is an empty one others may enter, with PATH put back inside it.
The machine's own folders are not changed.
"""

from __future__ import annotations

import os
import stat
import sys

NOBODY = 65534
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's grader


def _closed_ancestor(path: str) -> str | None:
    cur = ""
    for name in path.strip("/").split("/")[:-1]:
        cur += "/" + name
        if not os.stat(cur).st_mode & stat.S_IXOTH:
            return cur
    return None


def main(argv: list) -> None:
    sep = argv.index("--")
    paths, command = [os.path.realpath(p) for p in argv[:sep]], argv[sep + 1 :]
    closed = {}
    for p in paths:
        blocker = _closed_ancestor(p)
        if blocker:
            closed.setdefault(blocker, []).append(p)
    if closed:
        from grader.untrusted import isolation as iso

        iso.unshare(iso.CLONE_NEWNS)
        iso.mount(None, "/", None, iso.MS_REC | iso.MS_PRIVATE)
        for blocker, inside in closed.items():
            fds = {p: os.open(p, os.O_PATH) for p in inside}
            iso.mount("tmpfs", blocker, "tmpfs", 0, "size=64k,mode=755")
            for p, fd in fds.items():
                os.makedirs(p, mode=0o755, exist_ok=True)
                iso.mount(f"/proc/self/fd/{fd}", p, None, iso.MS_BIND | iso.MS_REC)
                os.close(fd)
    os.execvp("setpriv", ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *command])


if __name__ == "__main__":
    main(sys.argv[1:])
