"""The names DVC may have given a file's bytes: DVC 3.x uses the md5 of the raw
bytes; DVC 2.x named text files by the md5 of their CRLF -> LF normalised text
(deciding 'text' on the first 512 bytes; DVC 3.x reading a 2.x output decides
per chunk). Import accepts bytes under any name DVC could have recorded, then
stores them under their raw md5."""
from __future__ import annotations

import hashlib

TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"
TEXT_SNIFF = 512


def is_text_block(block: bytes) -> bool:
    """DVC 2.x's text test: empty, or no NUL and at most 30% non-text bytes."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, TEXT_CHARS)) / len(block) <= 0.30


class RecordHashes:
    """The md5s DVC may have recorded for a stream of bytes, fed in 1 MiB chunks:
    the raw md5 (DVC 3.x; DVC 2.x binary files) and, for a legacy (2.x) record,
    the md5 with CRLF -> LF per chunk, 'text' decided on the file's first 512
    bytes (DVC 2.x) or on each chunk's (DVC 3.x reading a 2.x output)."""

    def __init__(self, legacy: bool) -> None:
        self.raw = hashlib.md5()
        self.size = 0
        self._legacy = (hashlib.md5(), hashlib.md5()) if legacy else None
        self._file_is_text: bool | None = None

    def update(self, chunk: bytes) -> None:
        self.raw.update(chunk)
        self.size += len(chunk)
        if self._legacy is None:
            return
        if self._file_is_text is None:
            self._file_is_text = is_text_block(chunk[:TEXT_SNIFF])
        per_file, per_chunk = self._legacy
        per_file.update(chunk.replace(b"\r\n", b"\n") if self._file_is_text else chunk)
        per_chunk.update(chunk.replace(b"\r\n", b"\n") if is_text_block(chunk[:TEXT_SNIFF]) else chunk)

    def names(self) -> set[str]:
        return {self.raw.hexdigest()} | {h.hexdigest() for h in self._legacy or ()}
