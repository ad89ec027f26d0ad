"""The server starts, answers, and stops cleanly on SIGTERM."""


def test_ping_set_get(hf):
    assert hf.ping() is True
    assert hf.set("k", "v") is True
    assert hf.get("k") == b"v"


def test_sigterm_exits_cleanly(holdfast_factory):
    srv = holdfast_factory()
    assert srv.client().ping()
    assert srv.stop() == 0
    assert "bye bye" in srv.log()
