"""The PyInstaller bundle's program: the app, or the launcher that starts its local server.

The bundle has no Python of its own to run app.core.childlauncher's few lines, so the
app runs them itself when started as `photo-uploader --launch-child PARENT PROGRAM ...`;
that is handled before anything else is imported, so it costs next to nothing.
"""

import os
import sys

from app.core.childlauncher import BUNDLE_LAUNCH_FLAG, run_in_bundle


def give_other_programs_their_own_libraries() -> None:
    """The bootloader points LD_LIBRARY_PATH at the bundle's libraries. The dynamic
    linker has read it by now; left in the environment it would make the programs the
    app starts (a file manager, through xdg-open) load our Qt and GLib instead of theirs.
    """
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = original


give_other_programs_their_own_libraries()
if sys.argv[1:2] == [BUNDLE_LAUNCH_FLAG]:
    run_in_bundle(sys.argv[2:])

from app.__main__ import run  # noqa: E402  (after the launcher mode, which needs none of it)

run()
