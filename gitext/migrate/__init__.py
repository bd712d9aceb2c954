"""Moving existing history into git mlv: ``git mlv migrate import|info`` (history.py
scans what the refs hold, rewrite.py rewrites it through git-filter-repo) and
``git mlv import-lfs`` (lfs.py: git-lfs pointers, objects and attributes).
See docs/commands/migrate.md and docs/commands/import-lfs.md."""
