import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readmes_two_commands():
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 2, "README.md holds exactly two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text()
    for command in blocks:
        assert command.strip() in ci
