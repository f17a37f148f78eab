"""docs/configuration.md lists every field of the config schema."""

import re
import subprocess

from harness.tidemark import REPO, binary


def schema_field_paths(tmp_path):
    """Field paths from the effective config, which prints every field in schema order."""
    path = tmp_path / "c.yaml"
    path.write_text('proxy: {upstream: {bootstrap_servers: "k:1"}}\n')
    out = subprocess.run([binary(), "config", "check", str(path)], capture_output=True, text=True,
                         check=True).stdout
    paths, stack = [], []
    for line in out.splitlines()[1:]:
        indent = (len(line) - len(line.lstrip())) // 2
        key, _, value = line.strip().partition(":")
        stack = stack[:indent] + [key]
        if value.strip():
            paths.append(".".join(stack))
    return paths


def test_should_document_every_config_field(tmp_path):
    doc = (REPO / "docs" / "configuration.md").read_text()
    doc = doc.split("## Fields", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", doc, re.MULTILINE))
    fields = schema_field_paths(tmp_path)
    assert len(fields) >= 14
    assert sorted(set(fields) - documented) == []
    assert sorted(documented - set(fields)) == []
