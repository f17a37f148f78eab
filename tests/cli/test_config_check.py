"""`tidemark config check`: valid configs print the effective config; each kind of
bad config gets exactly one line on stderr naming the file, the field and what
was expected, and exit code 2."""

import subprocess

import pytest

from harness.tidemark import binary

UPSTREAM = 'proxy: {upstream: {bootstrap_servers: "kafka-0:9092"}}\n'

CANONICAL = """\
job: {id: wordcount}
proxy:
  listen: 127.0.0.1:19092
  advertised_host: 127.0.0.1
  broker_port_base: 19100
  upstream: {bootstrap_servers: "kafka-0:9092,kafka-1:9092"}
http: {listen: 127.0.0.1:8770}
checkpoint: {interval: 60s, max_messages: 100000}
store: {path: /var/lib/tidemark/tidemark.db}
remote: {kafka: {topic: __tidemark_checkpoints}}
log: {level: info}
"""

# (name, file content, expected stderr line after "tidemark: config error: FILE")
BAD = [
    ("unknown_key", "proxxy: {}\n", ":1: proxxy: unknown field (top level has: job, proxy, http, "
     "checkpoint, store, remote, log, offsets, state, shutdown)"),
    ("unknown_nested_key", UPSTREAM + "checkpoint: {intervall: 5s}\n",
     ":2: checkpoint.intervall: unknown field (checkpoint has: interval, max_messages, min_pause, "
     "retained, tolerable_failures, timeout, app_callback)"),
    ("wrong_type_integer", 'proxy: {broker_port_base: "many", upstream: {bootstrap_servers: k:1}}\n',
     ':1: proxy.broker_port_base: expected a non-negative integer, got "many"'),
    ("wrong_type_section", "checkpoint: 60s\n" + UPSTREAM,
     ':1: checkpoint: expected a mapping, got "60s"'),
    ("negative_interval", UPSTREAM + "checkpoint: {interval: -1s}\n",
     ':2: checkpoint.interval: expected a non-negative duration like 60s, 250ms or 1m30s, got "-1s"'),
    ("interval_without_unit", UPSTREAM + "checkpoint: {interval: 60}\n",
     ':2: checkpoint.interval: expected a non-negative duration like 60s, 250ms or 1m30s, got "60"'),
    ("interval_too_long", UPSTREAM + "checkpoint: {interval: 48h}\n",
     ':2: checkpoint.interval: must be at most 24h, got "48h"'),
    ("bad_listen_address", UPSTREAM + "http: {listen: localhost}\n",
     ':2: http.listen: expected host:port like 127.0.0.1:9092, got "localhost"'),
    ("listen_port_out_of_range", 'proxy: {listen: "127.0.0.1:99999", upstream: '
     '{bootstrap_servers: k:1}}\n',
     ':1: proxy.listen: port must be 0..65535, got "99999" in "127.0.0.1:99999"'),
    ("missing_upstream", "job: {id: wordcount}\n",
     ": proxy.upstream.bootstrap_servers: is required (a comma-separated host:port list)"),
    ("bad_upstream_list", 'proxy: {upstream: {bootstrap_servers: "kafka-0:9092,"}}\n',
     ':1: proxy.upstream.bootstrap_servers: expected a comma-separated host:port list, '
     'got "kafka-0:9092,"'),
    ("unknown_log_level", UPSTREAM + "log: {level: loud}\n",
     ':2: log.level: expected one of: trace, debug, info, warn, error, got "loud"'),
    ("bad_topic_name", UPSTREAM + "remote: {kafka: {topic: ..}}\n",
     ':2: remote.kafka.topic: expected a Kafka topic name ([A-Za-z0-9._-], 1-249 chars), got ".."'),
    ("max_messages_negative", UPSTREAM + "checkpoint: {max_messages: -10}\n",
     ':2: checkpoint.max_messages: expected a non-negative integer, got "-10"'),
    ("blob_limit_too_large", UPSTREAM + "http: {max_blob_bytes: 4GiB}\n",
     ':2: http.max_blob_bytes: must be at most 1GiB, got "4GiB"'),
    ("app_callback_not_http", UPSTREAM + "checkpoint: {app_callback: 'https://app:8080/cp'}\n",
     ':2: checkpoint.app_callback: expected an http:// URL like http://127.0.0.1:8080/checkpoint, '
     'got "https://app:8080/cp"'),
    ("app_callback_without_port", UPSTREAM + "checkpoint: {app_callback: 'http://app/cp'}\n",
     ':2: checkpoint.app_callback: expected host:port like 127.0.0.1:9092, got "app"'),
    ("invalid_yaml", "proxy: [\n", ":2: invalid YAML: end of sequence flow not found"),
    ("same_port_twice", 'proxy: {listen: "127.0.0.1:9000", upstream: {bootstrap_servers: k:1}}\n'
     'http: {listen: "127.0.0.1:9000"}\n',
     ": http.listen: 127.0.0.1:9000 is already proxy.listen; give the HTTP API its own port"),
]


def check(path, *extra):
    return subprocess.run([binary(), "config", "check", str(path), *extra],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("name,content,expected", BAD, ids=[b[0] for b in BAD])
def test_should_reject_a_bad_config_with_one_line_naming_the_field(tmp_path, name, content,
                                                                   expected):
    path = tmp_path / f"{name}.yaml"
    path.write_text(content)
    result = check(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"tidemark: config error: {path}{expected}\n"


def test_should_give_distinct_messages_for_each_bad_config():
    assert len({expected for _, _, expected in BAD}) == len(BAD) >= 12


def test_should_name_the_file_when_it_cannot_be_read(tmp_path):
    path = tmp_path / "absent.yaml"
    result = check(path)
    assert result.returncode == 2
    assert result.stderr == (f"tidemark: config error: {path}: cannot read config file: "
                             "No such file or directory\n")


def test_should_name_the_file_when_it_is_a_directory(tmp_path):
    result = check(tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tidemark: config error: {tmp_path}: ")
    assert result.stderr.count("\n") == 1


def test_should_print_the_effective_config_with_defaults_when_valid(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(CANONICAL)
    result = check(path, "--set", "checkpoint.interval=30s")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"# {path} is valid; effective config:\n")
    assert "  interval: 30s\n" in result.stdout
    assert "  max_frame_bytes: 100MiB\n" in result.stdout  # a default not in the file
    # The effective config is itself a valid config.
    again = tmp_path / "effective.yaml"
    again.write_text(result.stdout)
    assert check(again).returncode == 0


def test_should_name_a_bad_override(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(CANONICAL)
    result = check(path, "--set", "proxy.brokers=3")
    assert result.returncode == 2
    assert result.stderr == ("tidemark: config error: --set proxy.brokers=3: proxy.brokers: unknown "
                             "field (proxy has: listen, advertised_host, broker_port_base, upstream, "
                             "max_frame_bytes)\n")


def test_should_require_cert_and_key_together_for_mutual_tls(tmp_path):
    path = tmp_path / "tls.yaml"
    path.write_text('proxy: {upstream: {bootstrap_servers: "k:1", tls: {enabled: true, '
                    'cert_file: /etc/client.pem}}}\n')
    result = check(path)
    assert result.returncode == 2
    assert result.stderr == (f"tidemark: config error: {path}: proxy.upstream.tls: cert_file and "
                             "key_file go together (mutual TLS needs both)\n")
