"""`[cluster]` (issue 14): absent, a single node on SQLite; with `postgres`, the store of record
in PostgreSQL, in the schema `name`, claims recorded as `node_id`."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensmsc.config import ClusterConfig, check, load


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opensmsc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_cluster_section_is_a_single_node(tmp_path: Path) -> None:
    assert load(_write(tmp_path, "[node]\n")).cluster is None


def test_cluster_section_names_the_node_the_store_and_the_schema(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[cluster]\nnode_id = "node-a"\nname = "sms_eu"\n'
        'postgres = "postgresql://smsc:pw@db.example:5432/opensmsc"\n',
    )
    assert load(path).cluster == ClusterConfig(
        node_id="node-a",
        name="sms_eu",
        postgres="postgresql://smsc:pw@db.example:5432/opensmsc",
    )
    defaults = load(_write(tmp_path, '[cluster]\nnode_id = "b"\n')).cluster
    assert defaults == ClusterConfig(node_id="b", name="opensmsc", postgres=None)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[cluster]\npostgres = "postgresql://127.0.0.1/x"\n',
            "opensmsc.toml:1: cluster.node_id: missing; expected a name of 1 to 48 letters,"
            " digits, '_', '-'",
        ),
        (
            '[cluster]\nnode_id = "a"\npostgres = "mysql://127.0.0.1/x"\n',
            "opensmsc.toml:3: cluster.postgres: expected a PostgreSQL URL"
            " (postgresql://[user[:password]@]host[:port]/database), got"
            ' "mysql://127.0.0.1/x"',
        ),
        (
            '[cluster]\nnode_id = "a"\nname = "my cluster"\n',
            "opensmsc.toml:3: cluster.name: expected a name of 1 to 48 letters, digits, '_',"
            " '-', got \"my cluster\"",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, toml: str, expected: str) -> None:
    assert [str(e) for e in check(_write(tmp_path, toml))] == [f"{tmp_path}/{expected}"]
