"""Copy-on-write accounting for a fork child (INFO rdb_last_cow_size and
the log line `Fork CoW for RDB: current N MB, peak N MB`).

What a snapshot costs in memory is the number of pages that stopped being
shared between parent and child: copied because one of them wrote to it.
Redis reads the child's Private_Dirty from smaps. That would also count
the memory this child allocates for itself (its private copy of the
keyspace, see private_view.py), which is not copy-on-write, so Holdfast
counts pages instead: every page of the address ranges that existed at
fork time which the kernel now reports as mapped by this process alone
(/proc/self/pagemap bit 56, "exclusively mapped"). Pages the child maps
after the fork are left out, whether or not the kernel merged them into
an older mapping.
"""

import os

PAGE = os.sysconf("SC_PAGE_SIZE")
_PRESENT = 1 << 63
_EXCLUSIVE = 1 << 56


def mappings():
    """The writable private address ranges of this process, as (start, end)."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            perms = parts[1]
            if "w" not in perms or "p" not in perms:
                continue
            name = parts[5].strip() if len(parts) > 5 else ""
            if name.startswith("[v"):  # [vvar], [vdso], [vsyscall]
                continue
            lo, hi = parts[0].split("-")
            out.append((int(lo, 16), int(hi, 16)))
    return out


def copied_bytes(ranges):
    """Bytes of `ranges` (taken at fork time) now mapped by this process
    alone. None when pagemap cannot be read."""
    try:
        fd = os.open("/proc/self/pagemap", os.O_RDONLY)
    except OSError:
        return None
    try:
        exclusive = 0
        for lo, hi in ranges:
            pages = (hi - lo) // PAGE
            offset = (lo // PAGE) * 8
            done = 0
            while done < pages:
                n = min(pages - done, 1 << 16)
                data = os.pread(fd, n * 8, offset + done * 8)
                if not data:
                    break
                entries = memoryview(data).cast("Q")
                for e in entries:
                    if e & _EXCLUSIVE and e & _PRESENT:
                        exclusive += 1
                done += len(entries)
        return exclusive * PAGE
    except OSError:
        return None
    finally:
        os.close(fd)
