"""The same store against a real `chroma run` server started by the test."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.service import Paperbot
from rag.settings import load_settings
from rag.storage.vectors import search_breadth
from tests.conftest import write_listing
from tests.rag.test_ingest import PAPERS, assert_in_step


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path_factory.mktemp("chroma-server")), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("chroma run did not start")
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_search_through_chroma_server(chroma_server, paperbot_home, tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERBOT_CHROMA__URL", chroma_server)
    settings = load_settings()
    bot = Paperbot(settings)
    source = write_listing(tmp_path / "day.txt", PAPERS)
    assert bot.ingest([str(source)]).added == 3
    assert not (paperbot_home / "chroma").exists()  # vectors went to the server, not the home
    assert search_breadth(bot.store.vectors.collection) == bot.settings.chroma.ef_search  # set through the server too
    assert bot.search("molecular property prediction", k=1)[0].title == PAPERS[1][0]
    assert bot.ingest([str(source)]).unchanged == 3
    assert_in_step(bot)
