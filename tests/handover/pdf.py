"""Helpers for reading handover PDFs in tests: text through poppler's ``pdftotext``, pages as
PNG through ``pdftoppm`` (kept under ``test-artifacts/`` for a person to look at)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts" / "handover"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: apt-get install poppler-utils")
    return path


def pdf_text(pdf: bytes, *, layout: bool = False) -> str:
    """The text of ``pdf``; with ``layout`` the physical layout is kept (table rows on one line)."""
    args = [_tool("pdftotext"), *(["-layout"] if layout else []), "-enc", "UTF-8", "-", "-"]
    return subprocess.run(args, input=pdf, capture_output=True, check=True, timeout=60).stdout.decode()


def flat(text: str) -> str:
    """``text`` with every run of whitespace made one space, so wrapped lines read as one."""
    return " ".join(text.split())


def page_count(pdf: bytes) -> int:
    return pdf_text(pdf).count("\f")


def keep_pages(pdf: bytes, name: str) -> list[Path]:
    """Write ``pdf`` and its pages as PNG (60 dpi) to ``test-artifacts/handover/``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run([_tool("pdftoppm"), "-png", "-r", "60", str(path), str(ARTIFACTS / name)],
                   check=True, timeout=120)
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))
