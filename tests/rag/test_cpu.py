import os
import subprocess
import sys
import time

from rag.cpu import idle_cores, resolve_threads, usable_cores


def test_a_configured_thread_count_is_used_as_is():
    assert resolve_threads(3) == 3


def test_idle_cores_is_between_one_and_the_usable_cores():
    assert 1 <= idle_cores() <= usable_cores()


def test_a_core_kept_busy_by_another_process_is_not_counted():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it take its core
        assert idle_cores(sample_s=0.5) <= max(1, (os.cpu_count() or 1) - 1)
    finally:
        spinner.kill()
        spinner.wait()
