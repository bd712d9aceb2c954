"""What a command works with, set up once: the repository, its configuration,
the cache, the remote. Everything is made on first use, so a command pays
only for what it touches; ``close`` flushes what the stores keep (seals)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitext.git.repo import Repo, find_repo

if TYPE_CHECKING:  # pragma: no cover
    from gitext.config import Config
    from gitext.store import ObjectStore
    from gitext.store.cache import Cache


class Context:
    def __init__(self, repo: Repo | None = None) -> None:
        self.repo = repo or find_repo()
        self._config: Config | None = None
        self._cache: Cache | None = None
        self._stores: dict[str | None, ObjectStore] = {}

    @property
    def root(self) -> str:
        """The working tree (MlvError in a bare repository)."""
        return self.repo.require_worktree()

    @property
    def config(self) -> Config:
        if self._config is None:
            from gitext.config import load_config

            self._config = load_config(self.repo)
        return self._config

    @property
    def cache(self) -> Cache:
        """The repository's cache, or the shared one mlv.cachedir names (gitext/cachedir.py)."""
        if self._cache is None:
            from gitext.cachedir import open_cache

            self._cache = open_cache(self.repo, self.config)
        return self._cache

    def store(self, name: str | None = None) -> ObjectStore:
        """The remote ``name`` (default: MLV_REMOTE, then the default remote)."""
        if name not in self._stores:
            from gitext.store import open_store

            spec = self.config.remote(name)
            spec.check_trust()
            if "url" in spec.committed:
                from gitext.trust import check_store_path

                check_store_path(spec.name, spec.url, self.repo.main_root)
            self._stores[name] = open_store(spec.name, spec.url, spec.options, self.repo.main_root,
                                            seals=self.cache.seals, settings=self.config.settings)
        return self._stores[name]

    def remote_and_refs(self, words: list[str]) -> tuple[str | None, list[str]]:
        """[REMOTE] REF...: the first word is a remote if one has that name. A git remote's
        name (origin) is refused rather than silently read as the ref origin/HEAD."""
        if words and words[0] in self.config.remotes:
            return words[0], words[1:]
        if words:
            from gitext.errors import UsageError
            from gitext.git.refs import git_remotes

            if words[0] in git_remotes(self.repo):
                raise UsageError(f"'{words[0]}' is a git remote, not a git mlv remote",
                                 f"git mlv remotes: {', '.join(sorted(self.config.remotes)) or 'none'} "
                                 f"(see 'git mlv remote list'); for the ref, write {words[0]}/BRANCH")
        return None, words

    def check_writable(self, store: ObjectStore) -> None:
        """A local remote's directory must exist before anything is pushed to it: push
        never makes it, so a typo in a remote's path cannot silently start a new store
        (RemoteError naming the remote and its path, and the fixes). S3 remotes: their
        bucket answers for itself."""
        from gitext.store.directory import DirectoryStore

        store = getattr(store, "backend", store)  # a chunked layout over a directory
        if not isinstance(store, DirectoryStore) or store.create_root or os.path.isdir(store.root):
            return
        import shlex

        from gitext.errors import RemoteError
        from gitext.store import path_in_tree

        spec = self.config.remotes.get(store.name)
        url = spec.url if spec is not None else store.url
        local = "" if spec is None or "url" in spec.committed else " --local"
        rel = path_in_tree(url, self.repo.main_root)
        if rel is not None and rel != ".":
            hint = (f"'{rel}' is a path inside the repository, which a clone does not get: point this clone at "
                    f"the original store, e.g. 'git mlv remote modify --local {store.name} url "
                    f"/path/to/original/{rel}', or start a new store here: mkdir -p {shlex.quote(store.root)}")
        else:
            hint = (f"if that is the right place, create it: mkdir -p {shlex.quote(store.root)} (or 'git mlv remote "
                    f"modify{local} {store.name} url {shlex.quote(url)} --create'); if the path has a typo, fix it: "
                    f"git mlv remote modify{local} {store.name} url PATH")
        raise RemoteError(f"{store.label} does not exist at {store.root}", hint)

    def check_readable(self, store: ObjectStore) -> None:
        """store.check_readable(), naming the fix when a missing local store is a path
        inside the repository (the quick start's stores/blob): clones do not get it."""
        from gitext.errors import RemoteError

        try:
            store.check_readable()
        except RemoteError as exc:
            from gitext.store import path_in_tree

            spec = self.config.remotes.get(store.name)
            url = path_in_tree(spec.url, self.repo.main_root) if spec is not None else None
            if url is None or url == ".":
                raise
            raise RemoteError(exc.message, f"'{url}' is a path inside the repository, which a clone does not get: "
                              f"point this clone at the original store, e.g. 'git mlv remote modify --local "
                              f"{store.name} url /path/to/original/{url}'") from None

    def require_filter(self) -> None:
        """Refuse to write tracked files while git has no mlv filter configured: git
        would record their bytes instead of pointers at the next index update."""
        settings = self.config.settings
        if not (settings.get("filter.mlv.process") or settings.get("filter.mlv.clean")):
            from gitext.errors import MlvError

            raise MlvError("git mlv is not installed for this repository (git config has no filter.mlv): "
                           "written files would be staged as plain data",
                           "run 'git mlv install' (or 'git mlv install --global'), then this command again")

    def jobs(self, store: ObjectStore, requested: int | None = None) -> int:
        """--jobs, else the remote's 'jobs' option, else mlv.jobs, else the store's default."""
        return self.config.jobs(store.name, store.default_jobs, requested)

    def reload(self) -> None:
        """Read the configuration again (after a command changed it), with fresh remotes."""
        for store in self._stores.values():
            store.close()
        self._stores.clear()
        self._config = None

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
