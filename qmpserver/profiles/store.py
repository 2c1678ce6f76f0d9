"""The user profile store: the one module that writes profile files.

Layout (the loader's, see :mod:`qmpserver.profiles.loader`)::

    ROOT/profiles/<name>.yaml
    ROOT/hosts/<name>.yaml

``ROOT`` is the first root of :func:`qmpserver.profiles.loader.search_roots`
with the server's ``--profile-dir``: the first ``--profile-dir``, else the user
store (:func:`qmpserver.profiles.loader.store_root`:
``$QMPSERVER_PROFILE_STORE``, else the first directory of
``$QMPSERVER_PROFILE_PATH``, else ``$XDG_DATA_HOME/qmpserver``, default
``~/.local/share/qmpserver``).  Every command searches the same roots in the same
order, so a stored name means the stored file to ``qmpserver profiles``,
``serve``, the launcher and the rest; this module only writes, the loader owns
the lookup.

Rules:

* names are the loader's (:func:`qmpserver.profiles.loader.is_name`:
  ``[A-Za-z0-9][A-Za-z0-9._-]*``, at most 128 characters, no ``..``, not ending
  in ``.yaml`` or ``.yml``, which would be read as a file path), and the resolved path must stay inside ``ROOT``: a name can never
  reach another directory, and symbolic links in the store are refused;
* content is validated (JSON Schema, references, ``extends``, compilation)
  *before* anything is written; a bad file never lands;
* a write is atomic: a temporary file in the same directory (locked while in use; a dead
  writer's is removed when the store opens), ``fsync``,
  ``os.replace``, ``fsync`` of the directory; readers see the old or the new
  file, never a mix;
* built-in profiles (``models/``) are read-only, and so are files of other
  search directories: only files of this store can be replaced or deleted.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import tempfile
import time

from .. import models
from ..errors import UsageError
from . import loader

# matched whole (fullmatch): "$" would also match before a trailing newline ("a\n", D13);
# loader.is_name is this pattern plus the rules of check_name (test_lookup checks they agree)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
KINDS = {"profile": "profiles", "host": "hosts"}
FILE_SUFFIXES = loader.NAME_SUFFIXES  # what loader.resolve_spec takes as a file path
STALE_TEMP_AGE = 60  # seconds: an unlocked temp file older than this is a dead writer's


class StoreError(UsageError):
    """``reason``: ``invalid-name``, ``not-found``, ``read-only``, ``invalid`` or ``io``."""

    file: object  # set by invalid(): the file and the path in it
    path: object

    def __init__(self, message, reason):
        super().__init__(message)
        self.reason = reason


def invalid(file, path, message) -> StoreError:
    """A content error, worded like the loader's: ``file: path: message``."""
    err = StoreError(str(loader.ProfileError(file, path, message)), "invalid")
    err.file, err.path = file, path
    return err


def default_root() -> str:
    """The user store (the loader's :func:`~qmpserver.profiles.loader.store_root`)."""
    return loader.store_root()


def check_name(name) -> str:
    """``name`` if it is a store name (:func:`qmpserver.profiles.loader.is_name`), else a
    StoreError saying which rule it breaks."""
    if loader.is_name(name):
        return name
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or ".." in name:
        raise StoreError(
            "invalid name %r: use letters, digits, '.', '_' and '-' (at most 128, "
            "starting with a letter or digit)" % (name,),
            "invalid-name",
        )
    if name.endswith(FILE_SUFFIXES):
        # loader.resolve_spec takes such a spec as a file path, so 'x.yaml' stored as
        # profiles/x.yaml.yaml could never be read back by name (D13)
        raise StoreError(
            "invalid name %r: a name ending in .yaml or .yml is read as a file path; "
            "use %r" % (name, os.path.splitext(name)[0]),
            "invalid-name",
        )
    return name


class Store:
    def __init__(self, root=None, search=()):
        self.root = os.path.abspath(root or default_root())
        self.search = [os.path.abspath(d) for d in search if os.path.abspath(d) != self.root]
        self.removed_stale = self.remove_stale_temps()

    def remove_stale_temps(self, min_age=STALE_TEMP_AGE) -> list:
        """Remove the temporary files of writers that died (kill -9 during a PUT).

        A writer holds an exclusive ``flock`` on its ``.NAME.*.tmp`` until it is renamed or
        removed; a temp file nobody holds and older than ``min_age`` seconds (the window
        between ``mkstemp`` and ``flock``) is left over. Returns the paths removed."""
        removed = []
        now = time.time()
        for sub in KINDS.values():
            d = os.path.join(self.root, sub)
            try:
                entries = os.listdir(d)
            except OSError:
                continue
            for entry in entries:
                if not (entry.startswith(".") and entry.endswith(".tmp")):
                    continue
                p = os.path.join(d, entry)
                try:
                    fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    st = os.fstat(fd)
                    if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < min_age:
                        continue
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    os.unlink(p)
                    removed.append(p)
                except OSError:  # held by a live writer, or already gone
                    continue
                finally:
                    os.close(fd)
        return removed

    @classmethod
    def for_server(cls, server, root=None) -> "Store":
        """The store of a running server: the first of its search roots (its first
        ``--profile-dir``, else the user store), which its loader, and every command run
        with the same ``--profile-dir``, already searches first."""
        dirs = list(server.profile_dirs)
        root = os.path.abspath(root or loader.search_roots(dirs)[0])
        return cls(root, dirs)

    # --- paths ------------------------------------------------------------------------

    def roots(self) -> list:
        return loader.search_roots([self.root] + self.search)

    def _dir(self, kind) -> str:
        if kind not in KINDS:
            raise StoreError("unknown kind %r (expected profile or host)" % (kind,), "invalid")
        return os.path.join(self.root, KINDS[kind])

    def path(self, kind, name) -> str:
        """The store path of a name; StoreError if the name could leave the store."""
        check_name(name)
        d = self._dir(kind)
        p = os.path.join(d, name + ".yaml")
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(p)
        if os.path.commonpath([real_root, real]) != real_root or os.path.dirname(real) != os.path.realpath(d):
            raise StoreError("invalid name %r: outside the store" % name, "invalid-name")
        if os.path.islink(p):
            raise StoreError("%s is a symbolic link; the store does not follow links" % p, "read-only")
        return p

    def is_builtin(self, kind, name) -> bool:
        return loader.find(kind, name, [loader.MODELS_DIR]) is not None

    # --- reading ------------------------------------------------------------------------

    def list(self, kind="profile") -> list:
        rows = []
        for name, path, builtin in loader.list_names(kind, self.roots()):
            try:
                summary = loader.read_yaml(path).get("summary", "")
                valid = True
            except UsageError as e:
                summary, valid = str(e), False
            rows.append(
                {
                    "name": name,
                    "summary": summary,
                    "builtin": builtin,
                    "path": path,
                    "writable": os.path.dirname(path) == self._dir(kind),
                    "valid": valid,
                }
            )
        return rows

    def find(self, kind, name):
        check_name(name)
        return loader.find(kind, name, self.roots())

    def read(self, kind, name) -> tuple:
        """(path, raw data, text) of the file a name resolves to (store first, then built-ins)."""
        path = self.find(kind, name)
        if path is None:
            raise StoreError("no %s '%s'" % (kind, name), "not-found")
        # one reading path (models.read_text): a non-UTF-8 or non-regular file is a
        # ProfileError naming the file, never a UnicodeDecodeError
        text = models.read_text(path, loader.ProfileError)
        return path, models.parse_yaml(text, path, loader.ProfileError), text

    # --- validation -----------------------------------------------------------------------

    def parse(self, kind, name, content):
        """Content (mapping, or YAML/JSON text) -> (data, text to write)."""
        text = None
        if isinstance(content, (bytes, str)):
            text = content.decode("utf-8") if isinstance(content, bytes) else content
            try:
                data = models.parse_yaml(text, name + ".yaml")
            except models.DataFileError as e:
                raise invalid(e.file, e.path, e.expectation) from None
        else:
            data = content
        if not isinstance(data, dict):
            raise invalid(name + ".yaml", "", "expected a mapping at the top level")
        data = dict(data)
        want = "profile" if kind == "profile" else kind
        changed = False
        if data.get("kind", want) != want:
            raise invalid(name + ".yaml", "kind", "expected '%s', found '%s'" % (want, data.get("kind")))
        if "kind" not in data:
            data = {"kind": want, **data}
            changed = True
        if data.get("name", name) != name:
            raise invalid(
                name + ".yaml",
                "name",
                "'%s' differs from the name it is stored under ('%s')" % (data.get("name"), name),
            )
        if "name" not in data:
            items = list(data.items())
            data = dict(items[:1] + [("name", name)] + items[1:])
            changed = True
        if text is None or changed:
            import yaml

            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        return data, text

    def _compile(self, kind, path):
        if kind == "profile":
            prof, _deps = loader.compile_profile(path, self.roots())
            return prof
        r = loader._Resolver(self.roots())
        return loader.compile_host(dict(r.file("host", path), _path=path))

    def validate(self, kind, name, content):
        """Compile content as if stored under ``name`` (nothing is kept); returns the compiled object."""
        return self._write(kind, name, content, keep=False)

    def _checked_compile(self, kind, name, tmp):
        shown = name + ".yaml"
        try:
            return self._compile(kind, tmp)
        except loader.ProfileError as e:
            err = StoreError(str(e).replace(tmp, shown), "invalid")
            err.file = shown if e.file == tmp else str(e.file).replace(tmp, shown)
            err.path = e.path
            raise err from None
        except UsageError as e:
            err = StoreError(str(e).replace(tmp, shown), "invalid")
            err.file, err.path = shown, ""
            raise err from None

    # --- writing --------------------------------------------------------------------------

    def put(self, kind, name, content) -> str:
        """Validate and store atomically; returns the path written."""
        return self._write(kind, name, content, keep=True)

    def _write(self, kind, name, content, keep):
        try:
            return self._write_checked(kind, name, content, keep)
        except OSError as e:
            raise StoreError(
                "cannot write to the store %s: %s" % (self.root, e.strerror or e), "io"
            ) from None

    def _write_checked(self, kind, name, content, keep):
        path = self.path(kind, name)
        if keep and self.is_builtin(kind, name):
            raise StoreError(
                "built-in %s '%s' is read-only; store yours under another name" % (kind, name), "read-only"
            )
        data, text = self.parse(kind, name, content)
        d = os.path.dirname(path)
        os.makedirs(d, exist_ok=True)
        # the temporary file sits next to the final one, so relative references resolve as
        # they will; its name ends in .tmp, which the loader never picks up
        fd, tmp = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=d)
        try:
            # the lock, held until the file is renamed or removed, marks it as in use
            # (remove_stale_temps leaves it alone)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                f.write(text)
                f.flush()
                if keep:
                    os.fsync(f.fileno())
                compiled = self._checked_compile(kind, name, tmp)
                if not keep:
                    return compiled
                os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _fsync_dir(d)
        return path

    def delete(self, kind, name) -> str:
        path = self.path(kind, name)
        if not os.path.exists(path):
            if self.is_builtin(kind, name):
                raise StoreError("built-in %s '%s' is read-only" % (kind, name), "read-only")
            other = self.find(kind, name)
            if other is not None:
                raise StoreError(
                    "%s '%s' is not in the store %s (it is %s); only stored files "
                    "can be deleted" % (kind, name, self.root, other),
                    "read-only",
                )
            raise StoreError("no %s '%s' in the store" % (kind, name), "not-found")
        try:
            os.unlink(path)
        except OSError as e:
            raise StoreError("cannot delete %s: %s" % (path, e.strerror or e), "io") from None
        _fsync_dir(os.path.dirname(path))
        return path


def _fsync_dir(d):
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
