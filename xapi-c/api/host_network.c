/* The host messages about its management interface that are network
 * changes: host.management_disable (no PIF of this host is the
 * management one any more, until host.management_reconfigure names one)
 * and host.local_management_reconfigure (only for a pool member in
 * emergency mode, which a Xenia host never is: it answers as an XCP host
 * that is not in that mode). host.c holds the other host messages. */
#include <stdio.h>
#include <string.h>

#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/config.h"
#include "xapi-c/db.h"
#include "xapi-c/network.h"

static struct api_error *management_disable(struct call *c)
{
    struct net_tx *tx = net_tx_new();
    size_t it = 0;
    const struct row *r;
    struct api_error *e = NULL;
    db_wrlock();
    while (!e && db_next(C_pool, &it, &r))
        if (streq(r->v[FIDX(pool, ha_enabled)], "true"))
            e = api_fail(HA_IS_ENABLED);
    it = 0;
    while (!e && db_next(C_PIF, &it, &r))
        if (streq(r->v[FIDX(PIF, host)], xapi_state.host_ref))
            net_tx_set(tx, r, FIDX(PIF, management), "false");
    /* The addresses, the default route and resolv.conf stay, as on XCP:
     * the gateway and DNS interfaces are chosen apart from the flag
     * (network.c, choose_interface). */
    return net_tx_finish(tx, e, c->out);
}

static struct api_error *local_management_reconfigure(struct call *c)
{
    (void)c;
    /* XCP lets this through only on a pool member that lost its master
     * (emergency mode); everywhere else host.management_reconfigure is
     * the way. */
    return api_fail(NOT_IN_EMERGENCY_MODE);
}

void host_network_register(void);
void host_network_register(void)
{
    api_register(M_host_management_disable, management_disable);
    api_register(M_host_local_management_reconfigure, local_management_reconfigure);
}
