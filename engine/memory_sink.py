"""A consumer of the write stream that keeps it in memory: DEBUG PROPAGATED
attaches one, and tests replay what it caught into an empty server. A
consumer has `feed(bytes)`, `db` (the last SELECTed db of its stream) and
`replication` (whether it also takes replication-only writes); see
Server.add_propagation_target."""


class MemorySink:
    """Collects the propagated stream in memory (DEBUG PROPAGATED), so tests
    can replay exactly what the AOF and replicas would receive."""

    replication = True  # it stands for what replicas receive

    def __init__(self):
        self.chunks = []
        self.db = -1

    def feed(self, data):
        self.chunks.append(data)

    def getvalue(self):
        return b"".join(self.chunks)
