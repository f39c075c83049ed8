"""Model store: manifest parsing, HTTP and mirror installs, archives, verification, CLI."""

from __future__ import annotations

import functools
import hashlib
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from voicebot.cli_models import models
from voicebot.errors import ModelMissingError, ModelStoreError
from voicebot.model_fetch import member_path
from voicebot.model_store import ModelStatus, ModelStore, load_manifest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"

ONNX = b"fake onnx weights " * 100
ONNX_JSON = b'{"audio": {"sample_rate": 22050}}'
MDL = b"acoustic model " * 50
CONF = b"--sample-frequency=16000\n"
README = b"unlisted file, shipped in the archive but not checked\n"
EMB = {
    "model.bin": b"embedding weights " * 64,
    "config.json": b'{"a": 1}',
    "sub/config.json": b'{"pooling": "mean"}',
}


def sha256(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    """Hex md5 of `data`."""
    return hashlib.md5(data).hexdigest()


def make_zip(entries: dict[str, bytes]) -> bytes:
    """A zip archive holding `entries` (member name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def good_zip() -> bytes:
    """The test ASR archive: one top folder with two checked files and one unchecked."""
    return make_zip(
        {"asr-1.0/am/final.mdl": MDL, "asr-1.0/conf/model.conf": CONF, "asr-1.0/README": README}
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@pytest.fixture()
def www(tmp_path: Path) -> Path:
    """Folder the loopback HTTP server serves, filled with the test model files."""
    root = tmp_path / "www"
    (root / "voices").mkdir(parents=True)
    (root / "voices" / "a.onnx").write_bytes(ONNX)
    (root / "voices" / "a.onnx.json").write_bytes(ONNX_JSON)
    (root / "asr-1.0.zip").write_bytes(good_zip())
    return root


@pytest.fixture()
def server(www: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving `www`; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def manifest_text(base: str, onnx_sha: str | None = None) -> str:
    """A small manifest: a two-file voice, a zip ASR model and a mirror-only embedding model."""
    emb_files = "".join(
        f'\n[[models.files]]\npath = "{p}"\nsize = {len(d)}\nsha256 = "{sha256(d)}"\n'
        for p, d in EMB.items()
    )
    return f"""
schema = 1
[defaults]
asr = "asr"
tts = "voice-a"
embedding = "emb"

[[models]]
name = "voice-a"
kind = "tts"
language = "ru"
license = "MIT"
description = "test voice"
entry = "a.onnx"
[[models.files]]
path = "a.onnx"
url = "{base}/voices/a.onnx"
size = {len(ONNX)}
sha256 = "{onnx_sha or sha256(ONNX)}"
[[models.files]]
path = "a.onnx.json"
url = "{base}/voices/a.onnx.json"
size = {len(ONNX_JSON)}
md5 = "{md5(ONNX_JSON)}"

[[models]]
name = "asr"
kind = "asr"
language = "ru"
license = "Apache-2.0"
description = "test asr"
[models.archive]
url = "{base}/asr-1.0.zip"
root = "asr-1.0"
[[models.files]]
path = "am/final.mdl"
size = {len(MDL)}
sha256 = "{sha256(MDL)}"
[[models.files]]
path = "conf/model.conf"
size = {len(CONF)}
md5 = "{md5(CONF)}"

[[models]]
name = "emb"
kind = "embedding"
language = "ru"
license = "MIT"
description = "test embeddings"
mirror_only = true
{emb_files}
"""


@pytest.fixture()
def models_dir(tmp_path: Path, server: str) -> Path:
    """A models folder (manifest.toml + store/) pointing at the loopback server."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "manifest.toml").write_text(manifest_text(server), encoding="utf-8")
    return folder


@pytest.fixture()
def store(models_dir: Path) -> ModelStore:
    """An empty store for the test manifest."""
    return ModelStore(models_dir / "store", load_manifest(models_dir / "manifest.toml"))


@pytest.fixture()
def mirror(tmp_path: Path) -> Path:
    """A mirror folder in the nested layout: <model name>/<file path>."""
    folder = tmp_path / "mirror"
    for path, data in EMB.items():
        (folder / "emb" / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / "emb" / path).write_bytes(data)
    return folder


def leftovers(store: ModelStore) -> list[Path]:
    """Anything left in the store's staging folder."""
    tmp = store.root / ".tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


# ------------------------------------------------------------------ HTTP downloads


def test_download_over_http_then_verify(store: ModelStore) -> None:
    events: list[tuple[str, int, int | None]] = []
    assert store.status("voice-a") is ModelStatus.MISSING
    assert store.download("voice-a", progress=lambda *e: events.append(e)) is True
    assert store.status("voice-a", full=True) is ModelStatus.INSTALLED
    assert store.verify("voice-a") == []
    assert (store.path_of("voice-a") / "a.onnx").read_bytes() == ONNX
    assert store.entry_path("voice-a") == store.root / "voice-a" / "a.onnx"
    assert ("voice-a: a.onnx", len(ONNX), len(ONNX)) in events
    assert ("voice-a: a.onnx.json", 0, len(ONNX_JSON)) in events
    assert leftovers(store) == []
    assert store.download("voice-a") is False  # already installed and verified


def test_wrong_sha256_installs_nothing(models_dir: Path, server: str) -> None:
    (models_dir / "manifest.toml").write_text(manifest_text(server, onnx_sha="0" * 64))
    bad = ModelStore(models_dir / "store", load_manifest(models_dir / "manifest.toml"))
    with pytest.raises(ModelStoreError, match=r"a\.onnx.*sha256 mismatch.*nothing was installed"):
        bad.download("voice-a")
    assert not (models_dir / "store" / "voice-a").exists()
    assert leftovers(bad) == []


def test_corrupt_download_keeps_the_good_install(store: ModelStore, www: Path) -> None:
    store.download("voice-a")
    (www / "voices" / "a.onnx").write_bytes(b"X" * len(ONNX))  # same size, other bytes
    with pytest.raises(ModelStoreError, match="sha256 mismatch"):
        store.download("voice-a", force=True)
    assert store.verify("voice-a") == []
    assert (store.root / "voice-a" / "a.onnx").read_bytes() == ONNX
    assert leftovers(store) == []


def test_oversized_download_is_cut_off(store: ModelStore, www: Path) -> None:
    (www / "voices" / "a.onnx").write_bytes(ONNX + b"trailing junk")
    with pytest.raises(ModelStoreError, match="more than the expected"):
        store.download("voice-a")
    assert store.status("voice-a") is ModelStatus.MISSING


def test_http_error_is_reported(store: ModelStore, www: Path) -> None:
    (www / "voices" / "a.onnx.json").unlink()
    with pytest.raises(ModelStoreError, match=r"a\.onnx\.json: HTTP 404"):
        store.download("voice-a")
    assert store.status("voice-a") is ModelStatus.MISSING


def test_interrupted_swap_restores_the_previous_install(store: ModelStore) -> None:
    store.download("voice-a")
    displaced = store.root / ".tmp" / "voice-a@crashed" / "previous"
    displaced.parent.mkdir(parents=True)
    (store.root / "voice-a").rename(displaced)
    assert store.download("voice-a") is False  # restored from .tmp, verified, kept
    assert store.verify("voice-a") == []
    assert leftovers(store) == []


# ------------------------------------------------------------------ mirrors


def test_mirror_install_nested_layout(store: ModelStore, mirror: Path) -> None:
    assert store.download("emb", mirror=mirror) is True
    assert store.verify("emb") == []
    assert (store.path_of("emb") / "sub" / "config.json").read_bytes() == EMB["sub/config.json"]


def test_mirror_install_flat_layout(store: ModelStore, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.onnx").write_bytes(ONNX)
    (flat / "a.onnx.json").write_bytes(ONNX_JSON)
    (flat / "asr-1.0.zip").write_bytes(good_zip())
    assert store.download("voice-a", mirror=flat) is True
    assert store.download("asr", mirror=flat) is True
    assert store.verify("voice-a") == [] and store.verify("asr") == []


def test_store_folder_works_as_a_mirror(store: ModelStore, tmp_path: Path) -> None:
    store.download("asr")
    other = ModelStore(tmp_path / "other-store", store.manifest)
    assert other.download("asr", mirror=store.root) is True  # unpacked folder, no zip
    assert other.verify("asr") == []
    assert (other.root / "asr" / "README").read_bytes() == README


def test_mirror_only_model_needs_a_mirror(store: ModelStore) -> None:
    with pytest.raises(ModelStoreError, match=r"mirror-only.*download emb --mirror DIR"):
        store.download("emb")


def test_file_missing_from_mirror(store: ModelStore, mirror: Path) -> None:
    (mirror / "emb" / "sub" / "config.json").unlink()
    with pytest.raises(ModelStoreError, match=r"sub/config.json is not in the mirror"):
        store.download("emb", mirror=mirror)
    assert store.status("emb") is ModelStatus.MISSING


# ------------------------------------------------------------------ archives


def test_archive_download_checks_inner_files(store: ModelStore) -> None:
    assert store.download("asr") is True
    where = store.path_of("asr")
    assert (where / "am" / "final.mdl").read_bytes() == MDL
    assert (where / "README").exists()  # unlisted files are installed, just not checked
    assert not (where / "asr-1.0.zip").exists()
    assert store.verify("asr") == []


def test_archive_with_bad_inner_file_installs_nothing(store: ModelStore, www: Path) -> None:
    bad = make_zip({"asr-1.0/am/final.mdl": MDL[::-1], "asr-1.0/conf/model.conf": CONF})
    (www / "asr-1.0.zip").write_bytes(bad)
    with pytest.raises(ModelStoreError, match=r"am/final.mdl: sha256 mismatch"):
        store.download("asr")
    assert store.status("asr") is ModelStatus.MISSING
    assert leftovers(store) == []


@pytest.mark.parametrize(
    "member",
    [
        "../evil.txt",
        "asr-1.0/../../evil.txt",
        "/etc/evil.txt",
        "C:/evil.txt",
        "asr-1.0\\..\\evil.txt",
    ],
)
def test_archive_path_traversal_is_refused(
    store: ModelStore, www: Path, tmp_path: Path, member: str
) -> None:
    entries = {"asr-1.0/am/final.mdl": MDL, "asr-1.0/conf/model.conf": CONF, member: b"pwned"}
    (www / "asr-1.0.zip").write_bytes(make_zip(entries))
    with pytest.raises(ModelStoreError, match="unsafe archive member"):
        store.download("asr")
    assert not list(tmp_path.rglob("evil.txt"))
    assert store.status("asr") is ModelStatus.MISSING


def test_tar_symlink_member_is_refused(tmp_path: Path) -> None:
    from voicebot.model_fetch import extract_archive

    archive = tmp_path / "m.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        link = tarfile.TarInfo("m/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(ModelStoreError, match="link or device, refused"):
        extract_archive(archive, "tar.gz", tmp_path / "out")


def test_member_path_accepts_ordinary_names() -> None:
    assert str(member_path("./a/b/c.txt")) == "a/b/c.txt"
    assert str(member_path("dir/")) == "dir"


# ------------------------------------------------------------------ status and errors


def test_status_and_verify_detect_corruption(store: ModelStore) -> None:
    store.download("voice-a")
    onnx = store.root / "voice-a" / "a.onnx"
    onnx.write_bytes(b"Y" * len(ONNX))  # same size: only a digest check sees it
    assert store.status("voice-a") is ModelStatus.INSTALLED
    assert store.status("voice-a", full=True) is ModelStatus.CORRUPT
    assert any("a.onnx: sha256 mismatch" in p for p in store.verify("voice-a"))
    onnx.write_bytes(b"short")
    assert store.status("voice-a") is ModelStatus.CORRUPT
    with pytest.raises(ModelMissingError, match=r"incomplete or damaged.*download voice-a"):
        store.path_of("voice-a")
    (store.root / "voice-a" / "a.onnx.json").unlink()
    assert "a.onnx.json: missing" in store.verify("voice-a")


def test_missing_model_error_names_the_fix(store: ModelStore) -> None:
    with pytest.raises(ModelMissingError) as caught:
        store.path_of("voice-a")
    message = str(caught.value)
    assert "voicebot models download voice-a" in message
    assert "voicebot models download voice-a --mirror DIR" in message
    assert caught.value.code == "model_missing"
    with pytest.raises(ModelMissingError, match=r"download emb --mirror DIR"):
        store.path_of("emb")


def test_unknown_model_lists_known_ones(store: ModelStore) -> None:
    with pytest.raises(ModelStoreError, match=r"unknown model 'nope'.*voice-a, asr, emb"):
        store.status("nope")


# ------------------------------------------------------------------ manifest validation

_GOOD_FILE = f'path = "x.bin"\nsize = 1\nsha256 = "{"a" * 64}"\nurl = "https://e.org/x.bin"'


@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        ('path = "x.bin"\nsize = 1\nurl = "https://e.org/x"', "", "needs sha256"),
        (_GOOD_FILE.replace("x.bin", "../x.bin", 1), "", "unsafe or empty path"),
        (_GOOD_FILE.replace('url = "https://e.org/x.bin"', ""), "", "needs a url"),
        (_GOOD_FILE.replace("https", "ftp"), "", "url must be http"),
        (_GOOD_FILE.replace("size = 1", "size = -1"), "", "size must be a byte count"),
        (_GOOD_FILE.replace("a" * 64, "A" * 64), "", "sha256 must be lowercase hex"),
        (_GOOD_FILE, '[models.archive]\nurl = "https://e.org/m.zip"\n', "no url"),
        (_GOOD_FILE, '[defaults]\ntts = "m"\n', "is of kind asr"),
        (_GOOD_FILE, '[defaults]\nasr = "other"\n', "not a model of the manifest"),
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, files: str, extra: str, message: str) -> None:
    head = 'name = "m"\nkind = "asr"\nlanguage = "ru"\nlicense = "MIT"\ndescription = "d"\n'
    archive, defaults = (extra, "") if extra.startswith("[models") else ("", extra)
    text = f"{defaults}[[models]]\n{head}{archive}[[models.files]]\n{files}\n"
    path = tmp_path / "manifest.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelStoreError, match=message):
        load_manifest(path)


def test_unreadable_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match="not found"):
        load_manifest(tmp_path / "absent.toml")
    (tmp_path / "bad.toml").write_text("[[models]\n")
    with pytest.raises(ModelStoreError, match="cannot read model manifest"):
        load_manifest(tmp_path / "bad.toml")


# ------------------------------------------------------------------ CLI


def run(*args: str) -> Any:
    """Invoke the `models` group without a real environment's mirror setting."""
    return CliRunner().invoke(models, list(args), env={"VOICEBOT_MODELS_MIRROR": None})


def test_cli_list_download_verify(models_dir: Path, mirror: Path) -> None:
    listed = run("list", "--models-dir", str(models_dir))
    assert listed.exit_code == 0, listed.output
    assert "voice-a *" in listed.stdout and "missing" in listed.stdout
    assert "mirror-only" in listed.stdout

    got = run("download", "voice-a", "asr", "--models-dir", str(models_dir))
    assert got.exit_code == 0, got.output
    assert "voice-a: installed in" in got.stdout and "asr: installed in" in got.stdout
    assert "voice-a: a.onnx" in got.stderr  # the progress bar's label

    got = run("download", "emb", "--mirror", str(mirror), "--models-dir", str(models_dir))
    assert got.exit_code == 0, got.output

    checked = run("verify", "--models-dir", str(models_dir))  # default models
    assert checked.exit_code == 0, checked.output
    assert [line.split() for line in checked.stdout.splitlines()] == [
        ["OK", "asr"],
        ["OK", "voice-a"],
        ["OK", "emb"],
    ]
    assert "installed" in run("list", "--models-dir", str(models_dir)).stdout

    (models_dir / "store" / "asr" / "am" / "final.mdl").write_bytes(MDL[::-1])
    checked = run("verify", "asr", "--models-dir", str(models_dir))
    assert checked.exit_code == 1
    assert "FAILED  asr" in checked.stdout and "am/final.mdl: sha256 mismatch" in checked.stdout


def test_cli_errors_are_one_line_without_traceback(models_dir: Path) -> None:
    unknown = run("download", "nope", "--models-dir", str(models_dir))
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("Error: unknown model 'nope'")
    assert "Traceback" not in unknown.output

    defaults = run("download", "--models-dir", str(models_dir))  # emb is mirror-only: fails
    assert defaults.exit_code == 1
    assert "asr: installed" in defaults.stdout and "voice-a: installed" in defaults.stdout
    assert (
        "mirror-only" in defaults.stderr and "1 of 3 models were not installed" in defaults.stderr
    )

    absent = run("list", "--models-dir", str(models_dir / "nowhere"))
    assert absent.exit_code == 1 and "model manifest not found" in absent.stderr


def test_cli_download_all(models_dir: Path, mirror: Path) -> None:
    got = run("download", "--all", "--mirror", str(mirror), "--models-dir", str(models_dir))
    assert got.exit_code == 1  # the mirror holds only emb
    assert "emb: installed" in got.stdout and "2 of 3 models" in got.stderr


# ------------------------------------------------------------------ the real manifest


def test_real_manifest_is_complete() -> None:
    manifest = load_manifest(REPO / "models" / "manifest.toml")
    assert set(manifest.defaults) == {"asr", "tts", "embedding"}
    assert manifest.default_names() == [
        "vosk-model-small-ru-0.22",
        "ru_RU-irina-medium",
        "multilingual-e5-small-q4-ru",
    ]
    for model in manifest.models:
        assert model.license and model.description and model.language == "ru"
        has_url = model.archive.url if model.archive else all(f.url for f in model.files)
        assert has_url or model.mirror_only, model.name
        for spec in model.files:
            assert spec.size > 0, (model.name, spec.path)
            assert spec.sha256 or spec.md5, (model.name, spec.path)
            if model.archive is None and spec.url:
                assert spec.url.startswith("https://"), spec.url
    vosk = manifest.get("vosk-model-small-ru-0.22")
    assert vosk.archive is not None and vosk.archive.root == "vosk-model-small-ru-0.22"
    assert {f.path for f in vosk.files} == {
        "am/final.mdl",
        "graph/HCLr.fst",
        "graph/Gr.fst",
        "ivector/final.ie",
    }
    voices = [m for m in manifest.models if m.kind == "tts"]
    assert {m.name for m in voices} == {
        f"ru_RU-{v}-medium" for v in ("irina", "denis", "dmitri", "ruslan")
    }
    for voice in voices:
        onnx = voice.files[0]
        assert onnx.url == (
            "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/ru/ru_RU/"
            f"{voice.name.split('-')[1]}/medium/{voice.name}.onnx"
        )
        assert onnx.sha256 and onnx.size == 63201294
    embedding = manifest.get("multilingual-e5-small-q4-ru")
    assert embedding.mirror_only and len(embedding.files) == 10


@pytest.mark.skipif(
    not (SHARED_MODELS / "multilingual-e5-small-q4-ru").is_dir(),
    reason=f"no shared model mirror at {SHARED_MODELS} (only present in the dev environment)",
)
def test_real_embedding_model_installs_from_the_shared_mirror(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store", load_manifest(REPO / "models" / "manifest.toml"))
    assert store.download("multilingual-e5-small-q4-ru", mirror=SHARED_MODELS) is True
    assert store.verify("multilingual-e5-small-q4-ru") == []
    where = store.path_of("multilingual-e5-small-q4-ru")
    assert (where / "1_Pooling" / "config.json").is_file()
    assert (where / "model.safetensors").stat().st_size == 78702048
