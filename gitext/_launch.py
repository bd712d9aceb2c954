"""Fast start for the commands git runs on every operation (filter, hooks).

Run as ``python -S .../gitext/_launch.py ARGS``: -S skips site's processing of
every .pth file in site-packages (editable-install finders, vendored CA
bundles: 30-40 ms per start). This file puts the directory holding ``gitext``
and the interpreter's site-packages on sys.path itself, and falls back to the
full site set-up when a dependency cannot be found that way.
"""
import sys
from os.path import abspath, dirname, isdir


def _setup() -> None:
    here = dirname(dirname(abspath(__file__)))
    if here not in sys.path:
        sys.path.insert(0, here)
    if "site" in sys.modules and not sys.flags.no_site:
        return  # started without -S: site did its job
    import site  # with -S, importing site does not process .pth files

    dirs = list(site.getsitepackages())
    user = site.getusersitepackages()
    if isinstance(user, str):
        dirs.append(user)
    for path in dirs:
        if isdir(path) and path not in sys.path:
            sys.path.append(path)
    from importlib.util import find_spec

    if any(find_spec(name) is None for name in ("pygit2", "yaml", "boto3")):
        site.main()  # dependencies live where only .pth files point: do the full set-up


_setup()
from gitext.cli import main  # noqa: E402

sys.exit(main())
