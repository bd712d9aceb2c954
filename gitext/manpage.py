"""A roff man page for git-mlv, generated from the argparse definitions, so
'git mlv --help' (which git turns into 'man git-mlv') matches '-h'."""
from __future__ import annotations

import argparse

from gitext import __version__


def run_manpage(args: argparse.Namespace) -> int:
    """git mlv manpage: print the page (install.sh puts it where man looks)."""
    from gitext.cli import build_parser

    print(render(build_parser()), end="")
    return 0


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("-", "\\-").replace("\n.", "\n\\&.").replace("\n'", "\n\\&'")


def render(parser: argparse.ArgumentParser) -> str:
    parts = [f'.TH GIT-MLV 1 "" "git-mlv {__version__}" "Git Manual"',
             ".SH NAME", "git-mlv \\- version large ML files (data, models) inside Git",
             ".SH SYNOPSIS", ".nf", _escape(parser.format_usage().removeprefix("usage: ")), ".fi",
             ".SH DESCRIPTION", ".nf", _escape(parser.format_help()), ".fi", ".SH COMMANDS"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, child in sub.choices.items():
        parts += [f".SS git mlv {_escape(name)}", ".nf", _escape(child.format_help()), ".fi"]
    return "\n".join(parts) + "\n"
