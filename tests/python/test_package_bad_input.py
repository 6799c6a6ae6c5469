"""Hostile files through the Python package's entry points: the corruption tables of the C++ format
tests (tests/formats/test_*_corrupt.cpp, test_safetensors.cpp), not a second copy of them. Each
table's test writes its files when CELLAR_CORRUPT_CASES_DIR is set (tests/corrupt_cases.h); every
file must raise the same error, as a cellar.Error subclass naming the file, never crash."""
import json
import os
import subprocess
from pathlib import Path

import pytest

import cellar

TABLES = {
    "ckpt": ("test_ckpt_corrupt", "CkptCorrupt.EveryHandMadeCorruptionIsACleanErrorNamingTheFile"),
    "ckpt-encrypted": ("test_ckpt_encrypted_corrupt",
                       "CkptEncryptedCorrupt.EveryHandMadeCorruptionIsATypedErrorNamingTheFile"),
    "safetensors": ("test_safetensors", "Safetensors.RefusesEveryHandMadeCorruptFile"),
    "mindir": ("test_mindir_corrupt", "MindIRCorrupt.EveryHandMadeCorruptionIsAnErrorNamingTheFile"),
}

# cellar::to_string(ErrorCode) → the Python class the package raises for it.
CLASSES = {
    "invalid argument": cellar.InvalidArgumentError,
    "I/O error": cellar.FileAccessError,
    "format error": cellar.FormatError,
    "unsupported": cellar.UnsupportedError,
    "shape mismatch": cellar.ShapeMismatchError,
    "dtype mismatch": cellar.DTypeMismatchError,
    "export error": cellar.ExportError,
    "not found": cellar.NotFoundError,
    "crypto error": cellar.CryptoError,
}


@pytest.fixture(scope="session")
def corrupt_cases(tmp_path_factory):
    build = os.environ.get("CELLAR_BUILD_DIR")
    if not build:
        pytest.fail("CELLAR_BUILD_DIR is not set (./dev test sets it to the build folder)")
    out = tmp_path_factory.mktemp("corrupt_cases")
    for binary, test in TABLES.values():
        exe = Path(build) / "tests" / binary
        if not exe.is_file():
            pytest.fail(f"{exe} does not exist: build the tests")
        env = dict(os.environ, CELLAR_CORRUPT_CASES_DIR=str(out))
        proc = subprocess.run([str(exe), f"--gtest_filter={test}"], env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{binary} failed:\n{proc.stdout[-3000:]}"
    lines = (out / "manifest.jsonl").read_text().splitlines()
    return out, [json.loads(line) for line in lines]


def _checkpoint_kwargs(options):
    kw = {"crc_check": options.get("crc_check", False)}
    if "dec_key" in options:
        kw["dec_key"] = bytes.fromhex(options["dec_key"]) if options["dec_key"] else None
        kw["dec_mode"] = options["dec_mode"]
    return kw


@pytest.mark.parametrize("table", ["ckpt", "ckpt-encrypted", "safetensors"])
def test_checkpoint_tables_raise_the_same_error_in_python(corrupt_cases, table):
    folder, cases = corrupt_cases
    cases = [c for c in cases if c["table"] == table]
    assert len(cases) >= 20, f"the {table} table wrote {len(cases)} files"
    wrong = []
    for c in cases:
        path = str(folder / c["file"])
        want = CLASSES[c["code"]]
        kw = _checkpoint_kwargs(c["options"])
        for entry in ("load_checkpoint", "safe_open"):
            try:
                if entry == "load_checkpoint":
                    cellar.load_checkpoint(path, **kw)
                else:
                    with cellar.safe_open(path, framework="np", **kw) as f:
                        [f.get_tensor(k) for k in f.keys()]
                wrong.append(f"{c['what']} ({entry}): loaded")
            except cellar.Error as e:
                if type(e) is not want:
                    wrong.append(f"{c['what']} ({entry}): {type(e).__name__}, want "
                                 f"{want.__name__}: {e}")
                elif c["code"] != "invalid argument" and c["file"] not in str(e):
                    wrong.append(f"{c['what']} ({entry}): the message does not name the file: {e}")
    assert not wrong, "\n".join(wrong)


def test_mindir_table_raises_cellar_errors_naming_the_file(corrupt_cases):
    folder, cases = corrupt_cases
    cases = [c for c in cases if c["table"] == "mindir"]
    assert len(cases) >= 20
    wrong = []
    for c in cases:
        path = folder / c["file"]
        try:
            cellar.nn.GraphCell(cellar.load(str(path)))
            wrong.append(f"{c['what']}: loaded")
        except cellar.Error as e:
            if path.stat().st_size and c["file"] not in str(e):
                wrong.append(f"{c['what']}: the message does not name the file: {e}")
            if c["options"]["expect"] and c["options"]["expect"] not in str(e):
                wrong.append(f"{c['what']}: {e!s} does not mention {c['options']['expect']!r}")
    assert not wrong, "\n".join(wrong)
