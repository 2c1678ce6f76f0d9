"""Compile cache of profiles: the names the launcher and ``install-launcher`` use.

The cache itself (where it lives, its file format, the freshness rule: an entry
records every source file it was compiled from, with mtime and size, and is used
only while all of them are unchanged) is :mod:`qmpserver.models`' precompiled-data
part; :func:`qmpserver.profiles.loader.load_profile` looks profiles up in it and
:func:`qmpserver.profiles.loader.compile_code` lists the code a compiled profile
depends on.
"""

from __future__ import annotations

from ..models import cache_dir, entry_key
from ..models import load_compiled as load_file
from ..models import save_compiled as save_file
from ..models import stamp as _stamp
from .loader import compile_code

# _stamp: launcher/install.py (not this module's owner) still uses the old private name
__all__ = ["cache_dir", "entry_key", "load_file", "save_file", "compile_code", "_stamp"]
