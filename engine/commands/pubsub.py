"""Pub/sub commands: SUBSCRIBE family, PUBLISH, PUBSUB introspection.

(Un)subscribe confirmations are pushes: one reply per channel, each carrying
the client's total number of subscriptions, as Redis sends them.
"""

from .. import resp
from ..util import glob_matcher
from . import command, container, subcommand, subcommand_syntax_error


def _confirm(c, kind, name, count):
    items = [resp.bulk(kind), resp.bulk(name) if name is not None else resp.null(c.resp), resp.integer(count)]
    c.write_push(resp.push(items, c.resp))


@command("subscribe", -2, "pubsub noscript loading stale", group="pubsub",
         summary="Listens for messages published to channels.", since="2.0.0")
def subscribe(c, argv):
    ps = c.server.pubsub
    for ch in argv[1:]:
        ps.subscribe(c, ch)
        _confirm(c, b"subscribe", ch, ps.count(c))
    return None


@command("unsubscribe", -1, "pubsub noscript loading stale", group="pubsub",
         summary="Stops listening to messages posted to channels.", since="2.0.0")
def unsubscribe(c, argv):
    ps = c.server.pubsub
    channels = argv[1:] or list(c.subscriptions or ())
    if not channels:
        _confirm(c, b"unsubscribe", None, ps.count(c))
    for ch in channels:
        ps.unsubscribe(c, ch)
        _confirm(c, b"unsubscribe", ch, ps.count(c))
    return None


@command("psubscribe", -2, "pubsub noscript loading stale", group="pubsub",
         summary="Listens for messages published to channels that match one or more patterns.", since="2.0.0")
def psubscribe(c, argv):
    ps = c.server.pubsub
    for pat in argv[1:]:
        ps.psubscribe(c, pat)
        _confirm(c, b"psubscribe", pat, ps.count(c))
    return None


@command("punsubscribe", -1, "pubsub noscript loading stale", group="pubsub",
         summary="Stops listening to messages published to channels that match one or more patterns.",
         since="2.0.0")
def punsubscribe(c, argv):
    ps = c.server.pubsub
    patterns = argv[1:] or list(c.psubscriptions or ())
    if not patterns:
        _confirm(c, b"punsubscribe", None, ps.count(c))
    for pat in patterns:
        ps.punsubscribe(c, pat)
        _confirm(c, b"punsubscribe", pat, ps.count(c))
    return None


@command("publish", 3, "pubsub loading stale fast may-replicate", group="pubsub",
         summary="Posts a message to a channel.", since="2.0.0")
def publish(c, argv):
    srv = c.server
    n = srv.pubsub.publish(argv[1], argv[2])
    # Redis sends PUBLISH to replicas (not to the AOF) so their subscribers,
    # Sentinel's among them, see it too.
    srv.propagate(c.db.id, argv, repl_only=True)
    return resp.integer(n)


container("pubsub", -2, "pubsub loading stale", group="pubsub", summary="A container for Pub/Sub commands.",
          since="2.8.0")


@subcommand("pubsub", "channels", -2, "pubsub loading stale",
            summary="Returns the active channels.", since="2.8.0")
def pubsub_channels(c, argv):
    if len(argv) > 3:
        return subcommand_syntax_error(argv)
    chans = list(c.server.pubsub.channels)
    if len(argv) == 3:
        m = glob_matcher(argv[2])
        chans = [ch for ch in chans if m(ch)]
    return resp.bulk_array(chans)


@subcommand("pubsub", "numsub", -2, "pubsub loading stale",
            summary="Returns a count of subscribers to channels.", since="2.8.0")
def pubsub_numsub(c, argv):
    channels = c.server.pubsub.channels
    # A flat array of channel, count in RESP3 too (Redis 7.0 sends no map).
    out = [resp.array_header(2 * (len(argv) - 2))]
    for ch in argv[2:]:
        out.append(resp.bulk(ch))
        out.append(resp.integer(len(channels.get(ch, ()))))
    return b"".join(out)


@subcommand("pubsub", "numpat", 2, "pubsub loading stale",
            summary="Returns a count of unique pattern subscriptions.", since="2.8.0")
def pubsub_numpat(c, argv):
    return resp.integer(len(c.server.pubsub.patterns))


@subcommand("pubsub", "shardchannels", -2, "pubsub loading stale",
            summary="Returns the active shard channels.", since="7.0.0")
def pubsub_shardchannels(c, argv):
    if len(argv) > 3:
        return subcommand_syntax_error(argv)
    return resp.EMPTY_ARRAY  # sharded pub/sub needs cluster mode, which Holdfast does not run


@subcommand("pubsub", "shardnumsub", -2, "pubsub loading stale",
            summary="Returns the count of subscribers of shard channels.", since="7.0.0")
def pubsub_shardnumsub(c, argv):
    out = [resp.array_header(2 * (len(argv) - 2))]  # flat in RESP3 too, as NUMSUB
    for ch in argv[2:]:
        out.append(resp.bulk(ch))
        out.append(resp.ZERO)
    return b"".join(out)


@subcommand("pubsub", "help", 2, "loading stale", summary="Returns helpful text about the different subcommands.")
def pubsub_help(c, argv):
    lines = [
        b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CHANNELS [<pattern>]",
        b"    Return the currently active channels matching a <pattern> (default: '*').",
        b"NUMPAT",
        b"    Return number of subscriptions to patterns.",
        b"NUMSUB [<channel> ...]",
        b"    Return the number of subscribers for the specified channels, excluding",
        b"    pattern subscriptions(default: no channels).",
        b"SHARDCHANNELS [<pattern>]",
        b"    Return the currently active shard level channels matching a <pattern> (default: '*').",
        b"SHARDNUMSUB [<shardchannel> ...]",
        b"    Return the number of subscribers for the specified shard level channel(s)",
        b"HELP",
        b"    Prints this help.",
    ]
    return resp.array([resp.simple(x) for x in lines])
