#!/usr/bin/python3
"""Networking through the API: the start of a host with and without its
network (scripts/run-host: namespace, private OVS, networkd, the first
start's discovery) and its stop, and the latency, end to end (client, xapi, networkd,
OVS's userspace datapath), of network.create + destroy, VLAN.create +
destroy, VIF.plug + unplug on a running VM, PIF.reconfigure_ip, and the
resynchronisation after a restart with many VIFs attached, pool.create_VLAN,
and how long a NIC's carrier change takes to show in PIF_metrics. Median and max
of ROUNDS each. Starts its own hosts in temporary folders; prints figures,
judges nothing. Needs root (network namespaces).

Environment: XENIA_BUILD (default build/), XENIA_BENCH_NET_ROUNDS (default
10), XENIA_BENCH_NET_VMS (default 20)."""
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from networkdtest import ovs_rows, sh  # noqa: E402
from xeniatest import Host, vm_record, wait_until  # noqa: E402

ROUNDS = int(os.environ.get("XENIA_BENCH_NET_ROUNDS", "10"))
VMS = int(os.environ.get("XENIA_BENCH_NET_VMS", "20"))


def figure(name, samples, unit="ms"):
    ms = [x * 1000 for x in samples]
    print("%-44s median %8.1f %s   max %8.1f %s   (n=%d)" %
          (name, statistics.median(ms), unit, max(ms), unit, len(ms)))


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def netns_of(h):
    line = next((l for l in h.output if l.startswith("NETNS=")), None)
    if not line:
        return None
    kv = dict(p.split("=", 1) for p in line.split())
    return kv["NETNS"], kv["OVS_RUNDIR"]


def outside_of(h):
    line = next(l for l in h.output if l.startswith("NETNS="))
    return dict(p.split("=", 1) for p in line.split())["OUTSIDE_NETNS"]


def host_start(network):
    h = Host(env={"XENIA_NETWORK": "1" if network else "0"})
    try:
        t = time.monotonic()
        h.start()
        if network:
            with h.session() as s:
                wait_until(lambda: len(s("PIF.get_all")) >= 2, 30, what="the PIFs")
        return time.monotonic() - t, h
    except BaseException:
        h.close()
        h.remove_state()
        raise


def main():
    if os.geteuid() != 0:
        print("network_api_bench: needs root (network namespaces); nothing measured")
        return
    for network in (False, True):
        starts, stops = [], []
        for _ in range(3):
            dt, h = host_start(network)
            starts.append(dt)
            stops.append(timed(h.stop))
            h.close()
            h.remove_state()
        what = "with" if network else "without"
        figure("host start %s network" % what, starts)
        figure("host stop (SIGTERM) %s network" % what, stops)

    dt, h = host_start(True)
    try:
        if not netns_of(h):
            print("network_api_bench: the host has no network here; nothing more measured")
            return
        ns, ovs = netns_of(h)
        with h.session() as s:
            pifs = {r["device"]: ref for ref, r in s("PIF.get_all_records").items()}
            eth1 = pifs["eth1"]
            net1 = s("PIF.get_network", eth1)
            rec = {"name_label": "b", "name_description": "", "MTU": "1500", "other_config": {}}

            def net_cycle():
                n = s("network.create", rec)
                s("network.destroy", n)

            figure("network.create + destroy", [timed(net_cycle) for _ in range(ROUNDS)])
            n = s("network.create", rec)

            def vlan_cycle():
                v = s("VLAN.create", eth1, 42, n)
                s("VLAN.destroy", v)

            figure("VLAN.create + destroy", [timed(vlan_cycle) for _ in range(ROUNDS)])
            s("network.destroy", n)

            def reconf(i):
                return lambda: s("PIF.reconfigure_ip", eth1, "Static", "10.99.1.%d" % (10 + i),
                                 "255.255.255.0", "", "")

            figure("PIF.reconfigure_ip (static)", [timed(reconf(i)) for i in range(ROUNDS)])
            s("PIF.reconfigure_ip", eth1, "None", "", "", "", "")

            n = s("network.create", rec)

            def pool_vlan_cycle():
                for p in s("pool.create_VLAN", "eth1", n, 42):
                    s("VLAN.destroy", s("PIF.get_VLAN_master_of", p))

            figure("pool.create_VLAN + VLAN.destroy", [timed(pool_vlan_cycle)
                                                        for _ in range(ROUNDS)])
            s("network.destroy", n)

            # A NIC's carrier, end to end: the link of the outside end goes
            # down or up, networkd's netlink watcher tells xapi through
            # state/wait, xapi writes PIF_metrics (no PIF.scan).
            out = outside_of(h)
            metrics = s("PIF.get_metrics", eth1)
            carrier = []
            for i in range(ROUNDS):
                up = i % 2 == 1
                t = time.monotonic()
                sh("ip", "-n", out, "link", "set", "peer1", "up" if up else "down")
                wait_until(lambda: s("PIF_metrics.get_carrier", metrics) is up, 30,
                           interval=0.01, what="PIF_metrics.carrier")
                carrier.append(time.monotonic() - t)
            sh("ip", "-n", out, "link", "set", "peer1", "up")
            figure("carrier change to PIF_metrics.carrier", carrier)

            vms = []
            for i in range(VMS):
                vm = s("VM.create", vm_record(name_label="bench%d" % i, memory_static_max="268435456",
                                              memory_dynamic_max="268435456",
                                              memory_dynamic_min="268435456",
                                              memory_static_min="268435456", VCPUs_max="1"))
                vif = s("VIF.create", {"device": "0", "network": net1, "VM": vm, "MAC": "",
                                       "MTU": "0", "other_config": {}, "qos_algorithm_type": "",
                                       "qos_algorithm_params": {}})
                vms.append((vm, vif))
            figure("VM.start with one VIF", [timed(lambda: s("VM.start", vm, False, False))
                                             for vm, _ in vms])
            vm, vif = vms[0]

            def plug_cycle():
                s("VIF.unplug", vif)
                s("VIF.plug", vif)

            figure("VIF.unplug + plug (running VM)", [timed(plug_cycle) for _ in range(ROUNDS)])

        # The resynchronisation: a restart, until every VIF port is back.
        def restored():
            names = {r["name"] for r in ovs_rows(netns_of(h)[0], netns_of(h)[1], "Interface")}
            return sum(1 for n in names if n.startswith("vif")) >= VMS

        t = time.monotonic()
        h.restart()
        wait_until(restored, 120, interval=0.05, what="the VIF ports")
        figure("host restart until %d VIF ports are back" % VMS, [time.monotonic() - t])
        with h.session() as s:
            t = time.monotonic()
            for vm, _ in vms:
                s("VM.hard_shutdown", vm)
            figure("VM.hard_shutdown (port removed), mean", [(time.monotonic() - t) / VMS])
    finally:
        h.close()
        h.remove_state()


if __name__ == "__main__":
    main()
