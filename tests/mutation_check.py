"""Check that the reliability and security tests fail when the protection they
test is removed: each mutation below breaks one protection in a scratch copy
of the tree, runs the tests that guard it, and expects them to fail.

    python tests/mutation_check.py            # all mutations (a few minutes)
    python tests/mutation_check.py md5-check  # the ones whose name contains this

The copy is imported instead of this checkout through PYTHONPATH (git-mlv's
console script and every git child process inherit it); this checkout is never
modified. Not part of the test suite: docs/reliability.md records the results.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INT = "tests/integration/"
C = "test_corruption.py::"
SEC = "tests/security/"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = [
    Mutation("md5-check-on-read", "gitext/store/reader.py",
             "        if got != self.oid:\n            raise reject", "        if False:\n            raise reject",
             (INT + C + "test_corrupt_remote_object_never_reaches_pull_or_checkout",
              INT + C + "test_corrupt_cached_object_is_never_uploaded",
              INT + C + "test_corrupt_cached_object_is_never_smudged")),
    Mutation("size-check-on-read", "gitext/store/reader.py",
             "        if self.size is not None and (longer or self.pos != self.size):",
             "        if False:",
             ("tests/unit/test_cache.py::test_a_read_never_goes_past_the_declared_size",
              "tests/security/test_bounded_reads.py::test_a_remote_body_is_read_at_most_one_byte_past_the_pointer")),
    Mutation("stored-size-settled-before-reading", "gitext/store/reader.py",
             "        if not self.check or declared is None or stored is None or stored == declared:\n            return",
             "        if True:\n            return",
             ("tests/unit/test_cache.py::test_receive_right_md5_wrong_size",
              "tests/security/test_bounded_reads.py::test_a_wrong_size_pointer_is_reported_and_the_object_kept")),
    Mutation("remote-copy-of-another-size-not-downloaded", "gitext/store/reader.py",
             "        if not self.store.cheap_reads:\n            self._refusal = SizeMismatch",
             "        if False:\n            self._refusal = SizeMismatch",
             ("tests/security/test_bounded_reads.py::test_a_remote_body_is_read_at_most_one_byte_past_the_pointer",)),
    Mutation("store-entries-never-followed", "gitext/store/directory.py",
             "    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)", "    return os.open(path, flags)",
             ("tests/security/test_bounded_reads.py::test_a_cache_entry_that_is_no_object_is_refused_by_name",)),
    Mutation("s3-replies-bounded", "gitext/store/s3.py",
             "        if streamed and response.status_code < 300:\n            return response",
             "        if True:\n            return response",
             ("tests/security/test_bounded_reads.py::test_an_endless_s3_reply_is_refused_before_it_is_read",)),
    Mutation("reads-stop-at-the-declared-size", "gitext/store/reader.py",
             "        return self.size if self.size is not None else MAX_UNSIZED", "        return MAX_UNSIZED",
             ("tests/unit/test_cache.py::test_a_read_never_goes_past_the_declared_size",)),
    Mutation("seal-includes-ctime", "gitext/store/seals.py",
             "st.st_mtime_ns, st.st_ctime_ns)", "st.st_mtime_ns, 0)",
             (INT + C + "test_object_damaged_after_sealing_is_never_pushed_or_checked_out",)),
    Mutation("kernel-copy-only-when-sealed", "gitext/store/reader.py",
             "        if self.trusted and self.pos == 0 and self.size is not None",
             "        if self.pos == 0 and self.size is not None",
             (INT + C + "test_corrupt_cached_object_is_never_uploaded",
              INT + C + "test_corrupt_cached_object_is_never_written_to_the_working_tree")),
    Mutation("push-checks-the-size-there", "gitext/store/transfer.py",
             "        if copy is not None and copy.size == pointer.size and copy.intact is not False:",
             "        if copy is not None:",
             ("tests/contract/test_store_contract.py::test_s3_push_replaces_a_truncated_multipart_copy",)),
    Mutation("push-reads-unsealed-copies", "gitext/store/transfer.py",
             "            if copy.intact or not store.cheap_reads:", "            if True:",
             (INT + C + "test_damaged_copy_in_a_directory_remote_is_replaced_by_push",)),
    Mutation("push-judges-s3-etags", "gitext/store/s3.py",
             "        if not self._etags_are_md5 or not _MD5_ETAG.fullmatch(etag):", "        if True:",
             ("tests/contract/test_store_contract.py::test_s3_push_replaces_a_truncated_or_damaged_copy",)),
    Mutation("damaged-copy-kept-before-replacing", "gitext/store/transfer.py",
             '            reject(store, pointer.oid, "?", damaged[pointer.oid], quarantine=True)', "            pass",
             (INT + C + "test_damaged_copy_in_a_directory_remote_is_replaced_by_push",)),
    Mutation("temp-then-rename-in-remote", "gitext/store/directory.py",
             'fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{oid[2:]}.", suffix=".tmp")',
             "tmp = final; fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)",
             (INT + "test_faults.py::test_kill9_push",)),
    Mutation("temp-then-rename-in-cache", "gitext/store/cache.py",
             "        f, tmp = self.temp_file()\n        try:\n            try:\n                with f:\n"
             "                    reader.copy_to(f)",
             "        os.makedirs(os.path.dirname(self.path(oid)), exist_ok=True)\n"
             "        tmp = self.path(oid); f = open(tmp, 'wb')\n        try:\n            try:\n"
             "                with f:\n                    reader.copy_to(f)",
             (INT + "test_faults.py::test_kill9_pull",)),
    Mutation("temp-files-removed-on-failure", "gitext/store/cache.py",
             "            self.install(tmp, oid)\n        finally:\n            if os.path.exists(tmp):\n"
             "                os.unlink(tmp)",
             "            self.install(tmp, oid)\n        finally:\n            pass",
             (INT + "test_disk_faults.py::test_file_size_limit_during_pull",)),
    Mutation("refresh-after-interrupted-pull", "gitext/workdir.py",
             "    if not same:\n        return", "    if True:\n        return",
             (INT + "test_faults.py::test_kill9_pull",)),
    Mutation("clear-disk-errors", "gitext/store/cache.py",
             "    if exc.errno not in WRITE_ERRNOS:\n        return exc", "    return exc",
             (INT + "test_disk_faults.py::test_file_size_limit_during_pull",
              INT + "test_disk_faults.py::test_file_size_limit_during_add")),
    Mutation("s3-retries", "gitext/store/s3.py",
             "OWN_ATTEMPTS = 3 ", "OWN_ATTEMPTS = 1 ",
             (INT + "test_s3_faults.py::test_push_and_pull_complete_through_a_flaky_s3",),),
    Mutation("never-write-through-symlinks", "gitext/paths.py",
             "        if os.path.islink(lead):\n            return",
             "        if False:\n            return",
             (INT + "test_security.py::test_pull_never_writes_through_a_symlinked_directory",
              INT + "test_security.py::test_crafted_pending_record_never_writes_outside_the_working_tree")),
    Mutation("no-dot-dot-in-written-paths", "gitext/paths.py",
             'if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts)', "if False",
             (INT + "test_security.py::test_crafted_pending_record_never_writes_outside_the_working_tree",)),
    Mutation("oid-validated-before-path", "gitext/store/layout.py",
             "    if not is_oid(oid) or suffix not in (\"\", DIR_SUFFIX):\n        raise MlvError(f\"refusing",
             "    if False:\n        raise MlvError(f\"refusing",
             ("tests/fuzz/test_fuzz_pointer.py::test_only_object_ids_become_store_paths",)),
    Mutation("strict-pointer-parser", "gitext/pointer.py",
             'rb"mlv: 1\\nmd5: ([0-9a-f]{32})\\nsize: ([1-9][0-9]{0,19})\\n"',
             'rb"mlv: 1\\nmd5: ([0-9a-fA-F]{32})\\nsize: ([0-9]{1,20})\\n?"',
             ("tests/fuzz/test_fuzz_pointer.py::test_parser_accepts_exactly_the_canonical_encodings",)),
    Mutation("pointer-size-fits-parser", "gitext/pointer.py",
             "not 0 < self.size <= MAX_OBJECT_SIZE", "not 0 < self.size",
             ("tests/fuzz/test_fuzz_pointer.py::test_every_pointer_that_can_be_made_round_trips",)),
    Mutation("pkt-length-is-four-hex-digits", "gitext/pktline.py",
             "        if _LENGTH.fullmatch(raw) is None:", "        if False:",
             ("tests/fuzz/test_fuzz_protocol.py::test_pkt_reader_ends_cleanly_on_any_bytes",)),
    Mutation("pkt-length-limit", "gitext/pktline.py",
             "        if length > MAX_PACKET:", "        if False:",
             ("tests/fuzz/test_fuzz_protocol.py::test_every_length_near_the_limit",)),
    Mutation("malformed-request-is-protocol-error", "gitext/filter_process.py",
             "        key, sep, value = line.partition(\"=\")\n        if not sep:",
             "        key, sep, value = line.partition(\"=\")\n        if not sep: {}[key]\n        if False:",
             ("tests/fuzz/test_fuzz_protocol.py::test_filter_protocol_loop_survives_any_session",)),
    Mutation("fsck-quarantines-not-deletes", "gitext/store/directory.py",
             "        os.replace(self.path(oid), dest)", "        os.unlink(self.path(oid))",
             (INT + "test_maintenance.py::test_fsck_remote_never_deletes_the_only_copy",)),
    Mutation("prune-needs-the-remote-copy", "gitext/commands/prune.py",
             "        deletable = [oid for oid in candidates if oid in present]", "        deletable = candidates",
             (INT + "test_maintenance.py::test_prune_keeps_what_the_remote_lacks",)),
    Mutation("prune-keeps-reflog-stash-worktrees", "gitext/git/objects.py",
             "    for git_dir in worktree_git_dirs(repo):\n        try:\n            pygit = pygit2.Repository(git_dir)",
             "    for git_dir in worktree_git_dirs(repo)[:0]:\n        try:\n            pygit = pygit2.Repository(git_dir)",
             (INT + "test_maintenance.py::test_prune_keeps_recent_reflog_entries_branches_stash_and_worktrees",)),
    Mutation("prune-keeps-pending-large-files", "gitext/live.py",
             "        found.update({entry.pointer.oid: entry.pointer for entry in read_pending(git_dir)})",
             "        pass",
             (INT + "test_maintenance.py::test_prune_keeps_recent_reflog_entries_branches_stash_and_worktrees",)),
    Mutation("botocore-never-retries-timeouts", "gitext/store/s3.py",
             "    if caught_exception is not None and _is_timeout(caught_exception):\n        return False",
             "    if False:\n        return False",
             (INT + "test_no_hang.py::test_a_server_that_stops_answering_is_retried_a_bounded_number_of_times",)),
    Mutation("gc-never-deletes-what-no-record-declared", "gitext/registry.py",
             "        if retired is None:\n            return \"never\"",
             "        if retired is None:\n            retired = 0.0",
             (INT + "test_remote_gc.py::test_objects_no_record_ever_declared_are_never_deleted",)),
    Mutation("defer-only-when-git-can-wait", "gitext/filters.py",
             "        if may_defer and pointer.size >= self.large_threshold():",
             "        if pointer.size >= self.large_threshold():",
             (INT + "test_deferred_files.py::test_requests_that_cannot_wait_get_the_bytes",)),
    Mutation("deferred-files-wait-while-git-holds-the-index", "gitext/filters.py",
             '        if os.path.exists(index_path(self.repo.git_dir) + ".lock"):', "        if False:",
             (INT + "test_deferred_files.py::test_files_deferred_by_a_failing_checkout_are_kept_for_git_mlv_checkout",)),
    Mutation("written-files-never-racy", "gitext/workdir.py",
             "    boundary = int(newest) + 1.02", "    boundary = 0.0",
             (INT + "test_deferred_files.py::test_written_files_are_never_left_racy_in_the_index",)),
    Mutation("another-version-is-never-staged", "gitext/workdir.py",
             "if path in todo_paths and path not in foreign]", "if path in todo_paths]",
             (INT + "test_deferred_files.py::test_status_lists_pointer_text_and_checkout_writes_it_however_it_got_there",)),
    Mutation("hooks-leave-a-live-filters-files-to-it", "gitext/commands/hook.py",
             "    files = [f for f in files if f.path not in live]", "    files = files",
             (INT + "test_deferred_files.py::test_a_live_filters_journal_is_left_to_it",)),
    Mutation("symlinks-are-never-pointers", "gitext/git/worktree.py",
             "if len(meta) == 5 and int(meta[1], 8) in FILE_MODES:", "if len(meta) == 5:",
             (INT + "test_security.py::test_working_tree_symlink_matching_a_pattern_is_stored_as_a_link",)),
    Mutation("paths-quoted-in-listings", "gitext/output.py",
             "    if path.isprintable() and '\"' not in path and \"\\\\\" not in path:", "    if True:",
             (INT + "test_security.py::test_odd_file_names_work_everywhere",)),
    Mutation("non-utf8-names-kept-out-of-sqlite", "gitext/workdir.py",
             "        if not path.isascii() and any(", "        if False and any(",
             (INT + "test_security.py::test_odd_file_names_work_everywhere",)),
    Mutation("secrets-refused-in-mlvconfig", "gitext/options.py",
             'SECRET_KEYS = frozenset({"access_key_id", "secret_access_key", "session_token"})',
             "SECRET_KEYS = frozenset()",
             (INT + "test_security.py::test_secrets_never_land_in_mlvconfig_logs_or_messages",
              "tests/fuzz/test_fuzz_config.py::test_any_mlvconfig_gives_a_config_or_one_clean_error")),
    Mutation("committed-endpoint-needs-approval", "gitext/context.py",
             "            spec.check_trust()\n", "            pass\n",
             (SEC + "test_trust.py::test_clone_never_contacts_an_endpoint_from_mlvconfig",)),
    Mutation("approval-bound-to-the-values", "gitext/trust.py",
             "    if not values or approved == digest(name, url, values):", "    if not values or approved:",
             (SEC + "test_trust.py::test_approval_is_bound_to_the_values_approved",)),
    Mutation("committed-approval-ignored", "gitext/config.py",
             '            if source is shared and option == "trusted":', "            if False:",
             (SEC + "test_trust.py::test_a_committed_approval_is_ignored",)),
    Mutation("committed-store-path-not-through-a-link", "gitext/context.py",
             '            if "url" in spec.committed:', "            if False:",
             (SEC + "test_trust.py::test_a_committed_store_in_the_tree_is_not_reached_through_a_committed_link",)),
    Mutation("mlvconfig-link-never-written-through", "gitext/config.py",
             "        if not local and os.path.islink(path):", "        if False:",
             (SEC + "test_trust.py::test_mlvconfig_symlink_is_neither_read_nor_written_through",)),
    Mutation("gitattributes-link-refused", "gitext/attributes.py",
             "        if os.path.islink(self.path):", "        if False:",
             (SEC + "test_writes.py::test_track_never_writes_through_a_symlinked_gitattributes",)),
    Mutation("import-dvc-paths-checked", "gitext/dvc/plan.py",
             "            why = unsafe_reason(root, path)\n", "            why = None\n",
             (SEC + "test_import_dvc.py::test_relative_symlinked_directory_is_never_written_through",
              SEC + "test_import_dvc.py::test_absolute_symlinked_directory_is_never_written_through")),
    Mutation("params-never-read-through-a-link", "gitext/commands/params_metrics.py",
             "    if why is not None:\n        raise MlvError(f\"not read: {why}\")", "    if False:\n        pass",
             (SEC + "test_writes.py::test_params_from_a_committed_list_are_not_read_through_links_or_outside",)),
    Mutation("pull-refuses-a-locked-index", "gitext/workdir.py",
             "    if not worktree.wait_for_index(repo):", "    if False:",
             (SEC + "test_writes.py::test_pull_with_the_index_locked_fails_before_writing",)),
]


def copy_tree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    for rel in filter(None, files):
        src = ROOT / os.fsdecode(rel)
        if src.is_file():
            (dest / os.fsdecode(rel)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(rel))


def run(mutation: Mutation, tree: Path) -> tuple[str, str]:
    path = tree / mutation.file
    original = path.read_text()
    if mutation.old not in original:
        return "STALE", f"the protected code was not found in {mutation.file}; update the mutation"
    path.write_text(original.replace(mutation.old, mutation.new, 1))
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
                               *mutation.tests], cwd=tree, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(tree)})
    finally:
        path.write_text(original)
    lines = proc.stdout.strip().splitlines() or ["?"]
    why = next((line.strip() for line in lines if line.startswith("E  ")), "")
    return ("CAUGHT" if proc.returncode != 0 else "MISSED"), f"{lines[-1]}  {why[:150]}"


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m.name for a in argv)]
    missed = 0
    with tempfile.TemporaryDirectory(prefix="mlv-mutants-") as scratch:
        tree = Path(scratch)
        copy_tree(tree)
        for mutation in chosen:
            verdict, detail = run(mutation, tree)
            missed += verdict != "CAUGHT"
            print(f"{verdict:7} {mutation.name:38} {detail}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
