"""Coming over from DVC (git mlv import-dvc), by job:

- ``formats``  DVC's config, .dvc and dvc.yaml/lock files, path rules
- ``legacy``   the names DVC 2.x gave CRLF text (md5 of LF-normalised text)
- ``model``    the project as read, and what was found for each file
- ``plan``     reading a project into that model
- ``sources``  finding the recorded bytes: working tree, DVC cache, DVC remotes
- ``apply``    changing the repository: files, .gitignore, attributes, remotes, index
- ``undo``     the journal that puts all of it back when an import fails half-way
- ``report``   what the user is told
"""
