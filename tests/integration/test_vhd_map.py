"""storaged's vdi_map, driven over its socket as test_storaged.py does: the
blocks of a VDI that hold data (what a format=vhd export sends), and with
base_uuid the blocks where two VDIs of one chain may differ (a delta
export), with its refusals."""
import pytest

from test_storaged import (MIB, RpcError, file_sr, sd, tmp, vdi, write)  # noqa: F401


def blocks(answer):
    out = []
    for first, count in answer["blocks"]:
        out += range(first, first + count)
    return out


def test_map_lists_the_blocks_with_data(sd, tmp):
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=16 * MIB)
    write(loc / v["location"], 0xaa, 0, 4096)
    write(loc / v["location"], 0xbb, 5 * MIB, 2 * MIB)  # blocks 2 and 3
    write(loc / v["location"], 0x00, 15 * MIB, 512)  # zeros written are data too
    m = sd("vdi_map", sr_uuid=sr, vdi_uuid=v["uuid"])
    assert m["virtual_size"] == 16 * MIB and m["block_size"] == 2 * MIB
    assert blocks(m) == [0, 2, 3, 7]
    # Runs: adjacent blocks come as one.
    assert [0, 1] in m["blocks"] and [2, 2] in m["blocks"]
    m = sd("vdi_map", sr_uuid=sr, vdi_uuid=v["uuid"], block_size=MIB)
    assert blocks(m) == [0, 5, 6, 15]


def test_map_of_an_empty_vdi_is_empty(sd, tmp):
    sr, _ = file_sr(sd, tmp)
    v = vdi(sd, sr, size=16 * MIB)
    assert sd("vdi_map", sr_uuid=sr, vdi_uuid=v["uuid"])["blocks"] == []


def test_map_against_a_base(sd, tmp):
    """Snapshot S1, write, snapshot S2: S2 against S1 is what was written
    between them (zeros written included); against itself, nothing."""
    sr, loc = file_sr(sd, tmp)
    v = vdi(sd, sr, size=16 * MIB)
    write(loc / v["location"], 0xaa, 0, 4 * MIB)
    s1 = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    leaf = sd("sr_scan", sr_uuid=sr)
    (cur,) = [x for x in leaf["vdis"] if x["uuid"] == v["uuid"]]
    write(loc / cur["location"], 0x00, 8 * MIB, 4096)
    write(loc / cur["location"], 0xcc, 12 * MIB, 4096)
    s2 = sd("vdi_snapshot", sr_uuid=sr, vdi_uuid=v["uuid"])
    m = sd("vdi_map", sr_uuid=sr, vdi_uuid=s2["uuid"], base_uuid=s1["uuid"])
    assert blocks(m) == [4, 6]
    # Against itself, nothing differs.
    assert blocks(sd("vdi_map", sr_uuid=sr, vdi_uuid=s2["uuid"], base_uuid=s2["uuid"])) == []
    # The other way round: the same blocks differ.
    assert blocks(sd("vdi_map", sr_uuid=sr, vdi_uuid=s1["uuid"], base_uuid=s2["uuid"])) == [4, 6]


def test_map_refuses_an_unrelated_base_and_bad_parameters(sd, tmp):
    sr, _ = file_sr(sd, tmp)
    a = vdi(sd, sr, size=4 * MIB)
    b = vdi(sd, sr, size=4 * MIB)
    e = sd.error("vdi_map", sr_uuid=sr, vdi_uuid=a["uuid"], base_uuid=b["uuid"])
    assert e.app == "SR_BACKEND_FAILURE_1"
    e = sd.error("vdi_map", sr_uuid=sr, vdi_uuid=a["uuid"], block_size=3000)
    assert e.code == -32602
    e = sd.error("vdi_map", sr_uuid=sr, vdi_uuid=a["uuid"], base_uuid="nope")
    assert e.code == -32602
    e = sd.error("vdi_map", sr_uuid=sr, vdi_uuid="00000000-0000-0000-0000-000000000000")
    assert e.app == "VDI_MISSING"
