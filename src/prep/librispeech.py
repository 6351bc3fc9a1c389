"""LibriSpeech from nothing (or from tarballs, or from an extracted tree) to training manifests.

Stages per part (``train-clean-100`` ...), each skipped when already done, so the whole thing can
be interrupted anywhere and re-run: fetch the tarball (checked against its MD5) -> unpack it ->
convert flac to 16 kHz wav + upper-case txt -> record the part as finished (then the unpacked
flac tree is deleted). Finally the manifests of the touched splits are (re)written from the
records, in deepspeech.pytorch's layout and names:

``<target>/<split>/wav|txt``, ``libri_<split>_manifest.json`` and ``libri_<split>_manifest.csv`` for
split = train (the three train parts), val (dev-clean + dev-other), test_clean, test_other.
Mini LibriSpeech (OpenSLR resource 31, 5 h for quick experiments) adds train-clean-5 to train and
dev-clean-2 to val; it is prepared only when named (or when the source holds it).
Only the train manifests are filtered by duration (as deepspeech.pytorch does); all are sorted
shortest first. Every utterance is converted, so other limits later only rewrite manifests.
"""
import argparse
import os
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

from src.common.errors import run_main
from src.prep.common import PrepError, filter_by_duration, log, require_dir, write_manifests
from src.prep.download import MINI_BASE_URL, OFFICIAL_BASE_URL, OFFICIAL_MD5, download, read_checksums, verify_md5
from src.prep.librispeech_tree import convert_part, find_parts, parts_root, read_record, split_rows
from src.prep.tar_extract import extract_tarball, is_extracted

FULL_PARTS: Dict[str, str] = {  # OpenSLR resource 12: what a download gets by default
    "train-clean-100": "train", "train-clean-360": "train", "train-other-500": "train",
    "dev-clean": "val", "dev-other": "val", "test-clean": "test_clean", "test-other": "test_other",
}
MINI_PARTS: Dict[str, str] = {"train-clean-5": "train", "dev-clean-2": "val"}  # OpenSLR resource 31
PART_SPLIT: Dict[str, str] = {**FULL_PARTS, **MINI_PARTS}
FILTERED_SPLITS = ("train",)


def parse_parts(text: str) -> List[str]:
    """``--files-to-use``: comma/space separated part names, with or without ``.tar.gz`` (checked later)."""
    parts = []
    for item in text.replace(",", " ").split():
        part = item[:-len(".tar.gz")] if item.endswith(".tar.gz") else item
        if part not in parts:
            parts.append(part)
    if not parts:
        raise PrepError("--files-to-use names no part")
    return parts


def _default_parts(libri_root: Optional[str], tarball_dir: Optional[str]) -> List[str]:
    """What to prepare when ``--files-to-use`` is not given: what the source has (all 7 for downloads)."""
    if libri_root is not None:
        found = find_parts(libri_root)  # a part this tool does not know is refused with the named ones
        if not found:
            raise PrepError(f"no LibriSpeech part ({', '.join(PART_SPLIT)}) with "
                            f"<speaker>/<chapter>/*.trans.txt under {parts_root(libri_root)}")
        return found
    if tarball_dir is not None:
        found = [p for p in PART_SPLIT if os.path.isfile(os.path.join(require_dir(tarball_dir, "tarball folder"),
                                                                      p + ".tar.gz"))]
        if not found:
            raise PrepError(f"no LibriSpeech tarball (<part>.tar.gz, e.g. test-clean.tar.gz) in {tarball_dir}")
        return found
    return list(FULL_PARTS)


def official_url(part: str) -> str:
    """Where OpenSLR publishes the tarball of ``part`` (resource 31 for Mini LibriSpeech, else 12)."""
    return (MINI_BASE_URL if part in MINI_PARTS else OFFICIAL_BASE_URL) + part + ".tar.gz"


def _tarball_tree(tar_path: str, part: str, work_dir: str, expected_md5: Optional[str]) -> str:
    """Unpack a checked tarball into ``work_dir`` and return its ``LibriSpeech/<part>`` folder."""
    if not is_extracted(tar_path, work_dir):
        verify_md5(tar_path, expected_md5, " (for an archive of your own, pass --checksums or --skip-checksums)")
    extract_tarball(tar_path, work_dir)
    part_dir = os.path.join(work_dir, "LibriSpeech", part)
    if not os.path.isdir(part_dir):
        raise PrepError(f"archive {tar_path} has no LibriSpeech/{part}/ folder; is it the right file?")
    return part_dir


def _fetch_part(part: str, work_dir: str, libri_root: Optional[str], tarball_dir: Optional[str],
                base_url: Optional[str], download_dir: str,
                checksums: Optional[Dict[str, str]]) -> Tuple[str, Optional[str]]:
    """The flac tree of ``part`` from the chosen source, and the tarball if it was downloaded."""
    if libri_root is not None:
        return os.path.join(parts_root(libri_root), part), None
    name = part + ".tar.gz"
    expected = None if checksums is None else checksums.get(name)
    if tarball_dir is not None:
        tar_path = os.path.join(tarball_dir, name)
        if not os.path.isfile(tar_path):
            raise PrepError(f"tarball {tar_path} not found (--tarball-dir holds the <part>.tar.gz files)")
        return _tarball_tree(tar_path, part, work_dir, expected), None
    url = base_url.rstrip("/") + "/" + name if base_url else official_url(part)
    tar_path = download(url, os.path.join(download_dir, name), expected)
    return _tarball_tree(tar_path, part, work_dir, None), tar_path  # download() checked it


def _remove_tree(work_dir: str) -> None:
    """Delete an unpacked part (and the ``extracted`` folder once empty); the wavs are made from it."""
    if os.path.isdir(work_dir):
        shutil.rmtree(work_dir)
    parent = os.path.dirname(work_dir)
    if os.path.isdir(parent) and not os.listdir(parent):
        os.rmdir(parent)


def prepare_librispeech(target_dir: str, parts: Optional[Sequence[str]] = None, libri_root: Optional[str] = None,
                        tarball_dir: Optional[str] = None, base_url: Optional[str] = None,
                        download_dir: Optional[str] = None, checksums: Optional[Dict[str, str]] = OFFICIAL_MD5,
                        workers: int = 2, min_duration: Optional[float] = 1.0, max_duration: Optional[float] = 15.0,
                        manifest_dir: Optional[str] = None, keep_extracted: bool = False,
                        delete_downloads: bool = False) -> Dict[str, Dict[str, str]]:
    """Prepare ``parts`` from one source and return ``{split: {"csv": path, "json": path}}`` of the
    splits they belong to.

    Source: ``libri_root`` (an extracted tree), else ``tarball_dir`` (``<part>.tar.gz`` files there),
    else download ``<base_url>/<part>.tar.gz`` (default: from OpenSLR, :func:`official_url`) into
    ``download_dir`` (default ``<target>/downloads``).
    ``checksums`` maps tarball names to MD5 (None: do not check). Downloads are kept for re-use
    unless ``delete_downloads``; tarballs in ``tarball_dir`` are never touched. A split's manifests
    cover every part finished in its folder, also by earlier runs.
    """
    if libri_root is not None and tarball_dir is not None:
        raise PrepError("give either an extracted tree or a tarball folder, not both")
    target_dir = os.path.abspath(target_dir)
    manifest_dir = os.path.abspath(manifest_dir or target_dir)
    parts = list(parts) if parts else _default_parts(libri_root, tarball_dir)
    for part in parts:
        if part not in PART_SPLIT:
            raise PrepError(f"unknown LibriSpeech part '{part}' (known: {', '.join(PART_SPLIT)}; "
                            f"--files-to-use picks the parts to prepare)")
    if libri_root is not None:
        available = find_parts(libri_root)
        missing = [p for p in parts if p not in available]
        if missing:
            raise PrepError(f"LibriSpeech part(s) {', '.join(missing)} not found under {parts_root(libri_root)} "
                            f"(found: {', '.join(available) or 'none'})")
    log(f"LibriSpeech: {', '.join(parts)} -> {target_dir}")
    for part in parts:
        split_dir = os.path.join(target_dir, PART_SPLIT[part])
        work_dir = os.path.join(target_dir, "extracted", part)
        if read_record(split_dir, part) is not None:
            log(f"{part}: already prepared in {split_dir}")
            if libri_root is None and not keep_extracted:
                _remove_tree(work_dir)  # left behind if the last run was stopped just before removing it
            continue
        part_dir, downloaded = _fetch_part(part, work_dir, libri_root, tarball_dir, base_url,
                                           download_dir or os.path.join(target_dir, "downloads"), checksums)
        convert_part(part_dir, split_dir, workers)
        if downloaded is not None and delete_downloads:
            os.remove(downloaded)
        if libri_root is None and not keep_extracted:
            _remove_tree(work_dir)
    return write_split_manifests(target_dir, sorted({PART_SPLIT[p] for p in parts}), manifest_dir,
                                 min_duration, max_duration)


def write_split_manifests(target_dir: str, splits: Sequence[str], manifest_dir: str, min_duration: Optional[float],
                          max_duration: Optional[float]) -> Dict[str, Dict[str, str]]:
    """JSON + CSV manifests of each split from its finished parts; train filtered by duration."""
    manifests = {}
    for split in splits:
        split_dir = os.path.join(target_dir, split)
        rows = split_rows(split_dir)
        if split in FILTERED_SPLITS:
            rows = filter_by_duration(rows, min_duration, max_duration, split)
        paths = write_manifests(manifest_dir, f"libri_{split}", split_dir, rows)
        manifests[split] = paths
    return manifests


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="librispeech.py", allow_abbrev=False,
        description="Download (or take from a folder or an extracted tree) LibriSpeech, convert it to 16 kHz "
                    "wav + txt and write JSON and CSV manifests. Safe to interrupt and re-run.")
    parser.add_argument("--target-dir", "--target_dir", dest="target_dir", default="data",
                        help="output folder: <target>/<split>/wav|txt (default: data)")
    parser.add_argument("--manifest-dir", "--manifest_dir", dest="manifest_dir", default=None,
                        help="where the libri_*_manifest.{json,csv} go (default: the target dir)")
    parser.add_argument("--files-to-use", "--files_to_use", dest="files_to_use", default=None,
                        help="comma-separated parts, e.g. 'train-clean-100.tar.gz,dev-clean.tar.gz' "
                             f"(known: {', '.join(PART_SPLIT)}; default: the first 7 for downloads, "
                             "else all the source has)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--libri-root", "--libri_root", dest="libri_root", default=None,
                        help="an extracted tree: the LibriSpeech folder or its parent (nothing downloaded)")
    source.add_argument("--tarball-dir", "--tarball_dir", dest="tarball_dir", default=None,
                        help="a folder with downloaded <part>.tar.gz files (nothing downloaded)")
    parser.add_argument("--base-url", "--base_url", dest="base_url", default=None,
                        help=f"where to download the tarballs, e.g. a mirror (default: {OFFICIAL_BASE_URL}, "
                             f"{MINI_BASE_URL} for {' and '.join(MINI_PARTS)})")
    parser.add_argument("--download-dir", "--download_dir", dest="download_dir", default=None,
                        help="where downloads go (default: <target>/downloads)")
    parser.add_argument("--delete-downloads", "--delete_downloads", dest="delete_downloads", action="store_true",
                        help="delete each downloaded tarball once its part is converted (default: keep it)")
    parser.add_argument("--checksums", default=None,
                        help="md5sum-style list (path or URL) replacing the built-in official MD5s")
    parser.add_argument("--skip-checksums", "--skip_checksums", dest="skip_checksums", action="store_true",
                        help="do not check MD5s (size and archive integrity are still checked)")
    parser.add_argument("--min-duration", "--min_duration", dest="min_duration", type=float, default=1.0,
                        help="train manifest: drop utterances shorter than this, seconds (default: 1)")
    parser.add_argument("--max-duration", "--max_duration", dest="max_duration", type=float, default=15.0,
                        help="train manifest: drop utterances longer than this, seconds (default: 15)")
    parser.add_argument("--num-workers", "--num_workers", dest="num_workers", type=int,
                        default=min(4, os.cpu_count() or 1), help="parallel sox conversions (default: min(4, CPUs))")
    parser.add_argument("--keep-extracted", "--keep_extracted", dest="keep_extracted", action="store_true",
                        help="keep the unpacked flac trees under <target>/extracted")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, str]]:
    args = build_parser().parse_args(argv)
    if args.num_workers < 1:
        raise PrepError(f"--num-workers must be at least 1, got {args.num_workers}")
    if args.min_duration > args.max_duration:
        raise PrepError(f"--min-duration {args.min_duration} is above --max-duration {args.max_duration}")
    if args.skip_checksums:
        checksums = None
    else:
        checksums = read_checksums(args.checksums) if args.checksums else OFFICIAL_MD5
    return prepare_librispeech(
        args.target_dir, parse_parts(args.files_to_use) if args.files_to_use else None, args.libri_root,
        args.tarball_dir, args.base_url, args.download_dir, checksums, args.num_workers, args.min_duration,
        args.max_duration, args.manifest_dir, args.keep_extracted, args.delete_downloads)


def convert_librispeech_tree(libri_root: str, target_dir: str, splits: Optional[Sequence[str]] = None,
                             workers: int = 2, min_duration: Optional[float] = None,
                             max_duration: Optional[float] = None) -> Dict[str, str]:
    """The first API, kept for its callers: prepare the given parts (default: all found) of an extracted
    tree, no duration filter unless given; returns {split: CSV manifest}."""
    manifests = prepare_librispeech(target_dir, parts=splits, libri_root=libri_root, workers=workers,
                                    min_duration=min_duration, max_duration=max_duration)
    return {split: paths["csv"] for split, paths in manifests.items()}


if __name__ == "__main__":
    raise SystemExit(run_main(main, prefix="[prep] ", resumable=True))
