"""The failure report: cards, plain-language bounds, plots, markdown, comparison, and the
page opened in headless Chromium (no console errors, every image loads)."""

import re
import shutil
import subprocess

import pytest

from examiner.report import compare, write_report
from examiner.search.run import run_search

SPACE = """
image: {width: 96, height: 96}
search: [pose.left_shoulder.abduct, camera.yaw, camera.pitch]
dims:
  pose.left_shoulder.abduct: [0, 160]
  camera.yaw: [-90, 90]
  camera.pitch: [-20, 40]
fixed:
  camera.distance: 3.5
"""
PLANTED = """
regions:
  - name: raised_left_arm_from_the_left
    bounds: {pose.left_shoulder.abduct: [100, 150], camera.yaw: [20, 70]}
    effect: jitter
"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    (d / "space.yaml").write_text(SPACE)
    (d / "planted.yaml").write_text(PLANTED)
    run_search(f"planted:{d / 'planted.yaml'}", d / "space.yaml", "random", 400, d / "run", seed=2, tensorboard=False)
    html, md = write_report(d / "run", examples=2)
    return d, html, md


def test_report_cards_and_markdown(searched):
    d, html, md = searched
    text = html.read_text()
    assert "Region 0:" in text and "left shoulder abduction" in text and "camera angle around the person" in text
    assert re.search(r"fails \d+%", text) and "data:image/png;base64," in text
    assert "http://" not in text and "https://" not in text  # self-contained: nothing to fetch
    mdt = md.read_text()
    for name in re.findall(r"\]\((report_files/[^)]+)\)", mdt):
        assert (d / "run" / name).is_file()
    assert "per_dim.png" in mdt


def test_compare_page(searched, tmp_path):
    d, _, _ = searched
    page = compare(d / "run", d / "run", tmp_path / "cmp.html").read_text()
    assert page.count("left shoulder abduction") >= 2


def test_report_in_headless_chromium(searched, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    _, html, _ = searched
    url = html.resolve().as_uri()
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p1'}", "--enable-logging=stderr",
                          "--v=0", "--virtual-time-budget=10000", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    loaded = re.search(r'data-images="(\d+)/(\d+)"', dom.stdout)
    assert loaded, dom.stderr[-2000:]
    assert int(loaded.group(2)) > 0 and loaded.group(1) == loaded.group(2), "some images did not load"
    console_errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console_errors, console_errors
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'p2'}", "--window-size=1200,2400",
                    f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000
