"""networkd benchmark: prints figures, never pass/fail. Needs root, OVS,
and XENIA_BUILD pointing at a build with networkd.

  /usr/bin/python3 bench/networkd_bench.py [bridges] [vifs]

1. bridge/set + port/set + vif/plug (veth stand-in) until the VIF port
   forwards (one ICMP echo through it answered);
2. a configuration of N bridges and M VIFs (OVS internal stand-ins) pushed
   with config/replace;
3. the same VIFs locked (locking_mode locked, one allowed IPv4 and one
   IPv6 address each) with config/replace: the OpenFlow tables installed
   over OpenFlow, every bridge at once, and their size;
   then a reconcile of the converged host;
4. ovs-vswitchd and ovsdb-server stopped, their database deleted, and
   started again: the time until networkd has rebuilt every VIF port, and
   until its convergence (with every bridge's locking rules) is done."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from networkdtest import NetHost, ovs_rows, ping, sh, start_ovs, stop_ovs, vsctl  # noqa: E402


def last_convergence(h):
    """networkd's own account of its last convergence: where the time went."""
    lines = [l for l in h.log_tail(400).splitlines() if "converged in" in l]
    return "... networkd: " + (lines[-1].split("converged in", 1)[1].strip() if lines else
                               "(no convergence logged)")


def main():
    nbr = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    nvif = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    h = NetHost()
    try:
        sh("ip", "-n", h.ns, "addr", "flush", "dev", "eth0")
        g = h.netns("g")
        t0 = time.monotonic()
        h.call("bridge/set", name="xenbr0")
        h.call("port/set", bridge="xenbr0", name="eth0")
        h.call("vif/plug", bridge="xenbr0", name="vif1.0", mac="00:16:3e:00:00:01",
               stand_in={"type": "veth", "peer": "eth0", "netns": g.name})
        t1 = time.monotonic()
        g.run("ip", "addr", "add", "10.99.0.50/24", "dev", "eth0")
        g.run("ip", "link", "set", "eth0", "up")
        ok = ping(g.name, "10.99.0.1", timeout=20)
        t2 = time.monotonic()
        print("bridge/set + port/set + vif/plug answered: %.3f s" % (t1 - t0))
        print("... first echo through the VIF answered: %.3f s (%s)" % (t2 - t0,
              "ok" if ok else "NO ANSWER"))

        cfg = h.call("config/get")
        for i in range(nbr):
            cfg["bridges"]["xapi%d" % i] = {"mtu": 1500, "external_ids": {
                "xs-network-uuids": "net-%d" % i}}
        for j in range(nvif):
            cfg["vifs"]["vif%d.%d" % (j // 8 + 2, j % 8)] = {
                "bridge": "xapi%d" % (j % nbr), "mac": "00:16:3e:%02x:%02x:%02x" % (
                    j >> 16 & 255, j >> 8 & 255, j & 255),
                "stand_in": {"type": "internal"}}
        t0 = time.monotonic()
        h.call("config/replace", config=cfg)
        print("config/replace with %d bridges, %d VIFs, applied: %.2f s" % (
            nbr, nvif, time.monotonic() - t0))

        for j, (name, vif) in enumerate(sorted(cfg["vifs"].items())):
            if name == "vif1.0":
                continue
            vif["locking_mode"] = "locked"
            vif["ipv4_allowed"] = ["10.%d.%d.%d" % (j >> 16 & 255, j >> 8 & 255, j & 255)]
            vif["ipv6_allowed"] = ["fd00::%x" % (j + 1)]
        t0 = time.monotonic()
        h.call("config/replace", config=cfg)
        t1 = time.monotonic()
        rules = 0
        for i in range(nbr):
            out = sh("ip", "netns", "exec", h.ns, "ovs-ofctl", "dump-flows", "--no-stats",
                     "unix:%s/xapi%d.mgmt" % (h.ovs, i)).stdout
            rules += len([l for l in out.splitlines() if "priority=" in l])
        print("config/replace locking %d VIFs, applied: %.2f s (%d OpenFlow rules on %d "
              "bridges)" % (nvif, t1 - t0, rules, nbr))
        print(last_convergence(h))
        t0 = time.monotonic()
        h.call("reconcile")
        print("reconcile of the converged host (no OVSDB transaction, no OpenFlow): "
              "%.2f s" % (time.monotonic() - t0))

        before = h.call("state/get")["reconciler"]["converges"]
        stop_ovs(h.ns, h.ovs)
        (h.ovs / "conf.db").unlink()
        t0 = time.monotonic()
        start_ovs(h.ns, h.ovs)
        t1 = time.monotonic()
        deadline = t1 + 600
        while time.monotonic() < deadline:
            st = h.call("state/get")["reconciler"]
            n = len(ovs_rows(h.ns, h.ovs, "Interface", "type=internal"))
            if st["ovsdb_connected"] and n >= nvif + nbr + 1:
                break
            time.sleep(0.2)
        t2 = time.monotonic()
        # then until a convergence after the reconnection finished cleanly:
        # the locking rules are back on every bridge
        while time.monotonic() < deadline:
            st = h.call("state/get")["reconciler"]
            if st["converges"] > before and st["applied_generation"] >= st["generation"]:
                break
            time.sleep(0.2)
        t3 = time.monotonic()
        rules2 = 0
        for i in range(nbr):
            out = sh("ip", "netns", "exec", h.ns, "ovs-ofctl", "dump-flows", "--no-stats",
                     "unix:%s/xapi%d.mgmt" % (h.ovs, i)).stdout
            rules2 += len([l for l in out.splitlines() if "priority=" in l])
        print("OVS restart (empty database): OVS up in %.2f s, networkd rebuilt "
              "%d bridges and %d VIF ports %.2f s later, and their %d OpenFlow rules "
              "%.2f s later (last convergence %.2f s)" % (
                  t1 - t0, nbr + 1, nvif, t2 - t1, rules2, t3 - t1,
                  st["last_converge_seconds"]))
        print(last_convergence(h))
        if st["last_error"]:
            print("... that convergence reported: %s" % st["last_error"])
    except Exception:
        print("networkd's log ends with:\n" + h.log_tail(40))
        raise
    finally:
        h.close()
        h.remove()


if __name__ == "__main__":
    main()
