/* GRO on and off with the ethtool ioctl (ETHTOOL_GGRO / ETHTOOL_SGRO on
 * an AF_INET datagram socket), what `ethtool -K <nic> gro on|off` does,
 * without a process per NIC on every pass of the kernel side. */
#include "networkd/ethtool.h"

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "networkd/jsonutil.h"

static int gro_ioctl(const char *ifname, __u32 cmd, __u32 *data)
{
    struct ethtool_value ev = {.cmd = cmd, .data = *data};
    struct ifreq ifr;

    if (strlen(ifname) >= IFNAMSIZ)
        return -EINVAL;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    ifr.ifr_data = (void *)&ev;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int r = ioctl(fd, SIOCETHTOOL, &ifr) < 0 ? -errno : 0;
    close(fd);
    if (r == 0)
        *data = ev.data;
    return r;
}

int ethtool_get_gro(const char *ifname, bool *ret_on)
{
    __u32 v = 0;
    int r = gro_ioctl(ifname, ETHTOOL_GGRO, &v);
    if (r == 0)
        *ret_on = v != 0;
    return r;
}

int ethtool_set_gro(const char *ifname, bool on)
{
    __u32 v = on;
    return gro_ioctl(ifname, ETHTOOL_SGRO, &v);
}

void ethtool_converge(json_object *doc, struct strbuf *errs)
{
    json_object *nics = NULL;
    json_object_object_get_ex(doc, "nics", &nics);
    json_object_object_foreach(ju_obj(nics), nic, settings)
    {
        const char *gro = ju_str(settings, "gro");
        bool want, have;
        if (!gro)
            continue;
        want = gro[0] == 'o' && gro[1] == 'n';
        int r = ethtool_get_gro(nic, &have);
        if (r == -ENODEV)
            continue;
        if (r == 0 && have == want)
            continue;
        if (r == 0)
            r = ethtool_set_gro(nic, want);
        if (r < 0)
            strbuf_addf(errs, "%scannot turn GRO %s on %s: %s", errs->len ? "; " : "", gro, nic,
                        strerror(-r));
    }
}
