"""Which committed remote settings git mlv honours as they are, and which wait
for the user's approval on this machine.

A committed file (.mlvconfig, DVC's .dvc/config) arrives with every clone, so
whoever wrote it chooses its values. Where the data goes is fine to share (a
bucket on the provider's own endpoint, a directory); where the user's
credentials go and how they are checked is not: a custom ``endpointurl``, a
named AWS ``profile``, ``verify_ssl``. A remote whose effective value of any of
those comes from a committed file is not contacted until ``git mlv remote
trust NAME`` records, in .git/config, a digest of exactly the values approved;
a later change to any of them needs approval again. Values the user set in
.git/config are the user's own choice and need none.
"""
from __future__ import annotations

import hashlib
import os
import re

from gitext.errors import ConfigError
from gitext.output import quote_path

# Options that choose where the ambient credentials are sent or how the server is checked.
GUARDED = ("endpointurl", "profile", "verify_ssl")
TRUST_KEY = "trusted"  # mlv.remote.<name>.trusted = sha256:<digest of the approved values>
REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")


class UntrustedRemote(ConfigError):
    """A committed remote setting that needs the user's approval before use."""


def guarded(options: dict[str, str], committed: frozenset[str]) -> dict[str, str]:
    """The guarded options whose effective value comes from a committed file."""
    return {key: options[key] for key in GUARDED if key in committed and key in options}


def digest(name: str, url: str, values: dict[str, str]) -> str:
    """What an approval is bound to: the remote, its URL and each guarded value."""
    text = "\n".join([name, url, *(f"{key}={values[key]}" for key in sorted(values))])
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def describe(values: dict[str, str]) -> str:
    """'points at http://…', 'selects AWS profile p', 'turns off TLS certificate checks'."""
    parts = []
    if "endpointurl" in values:
        parts.append(f"points at {quote_path(values['endpointurl'])}")
    if "profile" in values:
        parts.append(f"selects AWS profile {quote_path(values['profile'])}")
    if "verify_ssl" in values:
        off = values["verify_ssl"].strip().lower() in ("0", "false", "no", "off")
        parts.append("turns off TLS certificate checks" if off else f"sets verify_ssl={quote_path(values['verify_ssl'])}")
    return " and ".join(parts)


def check(name: str, url: str, options: dict[str, str], committed: frozenset[str], approved: str | None,
          source: str = ".mlvconfig") -> None:
    """UntrustedRemote unless every committed guarded value of remote ``name`` was
    approved as it is now; ConfigError for a committed region that is no region."""
    region = options.get("region")
    if "region" in committed and region is not None and not REGION.fullmatch(region):
        raise ConfigError(f"remote '{name}' in {source} has region {quote_path(region)}, which is not a region name",
                          f"fix it, or set yours: git mlv remote modify --local {name} region us-east-1")
    values = guarded(options, committed)
    if not values or approved == digest(name, url, values):
        return
    again = " again (its settings changed since you approved it)" if approved else ""
    raise UntrustedRemote(f"remote '{name}' in {source} {describe(values)}, which you have not approved{again}; "
                          f"run 'git mlv remote trust {name}' to use it")


def check_store_path(name: str, url: str, base: str) -> None:
    """A committed local remote inside the working tree (as in the quick start's
    stores/blob) must not lie below a symbolic link the clone brought, nor inside
    .git (the cache would be its own remote, and prune would trust it)."""
    from gitext.paths import unsafe_reason
    from gitext.store import path_in_tree

    rel = path_in_tree(url, base)
    if rel is None:
        return  # outside the working tree: a place on the user's own file system
    why = "it is the working tree itself" if rel == "." else unsafe_reason(base, rel)
    if why is None and os.path.islink(os.path.join(base, rel)):
        why = f"'{rel}' is a symbolic link"
    if why is not None:
        raise ConfigError(f"remote '{name}' in .mlvconfig is inside the working tree at {rel}, but {why}",
                          f"point it elsewhere: git mlv remote modify --local {name} url PATH")
