"""The `tidemark` binary's command surface: help, version, exit codes."""

import subprocess

import pytest

from harness.tidemark import binary


def run(*args):
    return subprocess.run([binary(), *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("command", [["serve"], ["dev"], ["config"], ["version"]])
def test_should_print_help_and_exit_0_for_every_subcommand(command):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: tidemark " + command[0])


def test_should_print_usage_and_exit_2_without_a_command():
    result = run()
    assert result.returncode == 2
    assert "Commands:" in result.stdout


def test_should_exit_2_on_an_unknown_command():
    result = run("frobnicate")
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in result.stderr


def test_should_exit_2_on_an_unknown_flag():
    result = run("serve", "--confg", "x.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("tidemark: unknown flag --confg\n")


def test_should_exit_2_when_serve_has_no_config():
    result = run("serve")
    assert result.returncode == 2
    assert result.stderr.startswith("tidemark: serve needs --config FILE\n")


def test_should_report_its_version_and_libraries():
    result = run("version")
    assert result.returncode == 0
    assert result.stdout.startswith("tidemark ")
    for lib in ("librdkafka", "libevent", "SQLite", "protobuf"):
        assert lib in result.stdout
