"""Everything that talks to git, by job:

- ``process``  runs the ``git`` binary (``GitError`` on failure);
- ``repo``     finds the repository (``Repo``), fast enough for hooks;
- ``config``   reads and writes git config files;
- ``worktree`` the index and the working tree: staged changes, ls-files,
               check-attr, checkout-index, update-index, ...;
- ``refs``     branches, tags, remotes;
- ``objects``  pygit2 reads of commits, trees, blobs, history and reflogs,
               returning plain values (hex ids, dataclasses);
- ``scanner``  finds pointers in trees, the index and commit ranges.

pygit2 is imported by ``objects`` and ``scanner`` only, and lazily. This
package imports nothing of git mlv but errors and pointer. Import the
submodule you need; this file imports none of them (hooks start fast).
"""
