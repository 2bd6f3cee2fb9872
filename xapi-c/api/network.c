/* network messages that the API core serves: destroy refuses a network
 * that VIFs or PIFs still use, as xapi does, rather than leave them
 * pointing at nothing. The rest comes with networkd. */
#include <stdlib.h>
#include <string.h>

#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "lib/strlist.h"
#include "lib/util.h"

/* The first ref of a set's canonical text, newly allocated, or NULL. */
static char *first_of(const char *set)
{
    struct strlist_iter it;
    const char *ref;
    char *first = NULL;
    strlist_iter_init(&it, set);
    if (strlist_iter_next(&it, NULL, &ref))
        first = xstrdup(ref);
    strlist_iter_done(&it);
    return first;
}

static struct api_error *network_destroy(struct call *c)
{
    const struct row *n = NULL;
    struct api_error *e;
    struct strbuf vifs, pifs;

    strbuf_init(&vifs, 0);
    strbuf_init(&pifs, 0);
    db_wrlock();
    if (!(e = api_lookup(C_network, arg_str(c, 1), &n))) {
        char *vif = first_of(db_value(n, FIDX(network, VIFs), &vifs));
        char *pif = first_of(db_value(n, FIDX(network, PIFs), &pifs));
        if (vif)
            e = api_fail(NETWORK_CONTAINS_VIF, vif);
        else if (pif)
            e = api_fail(NETWORK_CONTAINS_PIF, pif);
        free(vif);
        free(pif);
        if (!e) {
            struct changeset *cs = changeset_new();
            changeset_delete(cs, C_network, n->ref);
            int r = db_apply(cs);
            changeset_free(cs);
            if (r < 0)
                e = api_failf(INTERNAL_ERROR, "database: %s", strerror(-r));
        }
    }
    db_unlock();
    strbuf_done(&vifs);
    strbuf_done(&pifs);
    if (!e)
        out_void(c->out);
    return e;
}

void network_register(void);
void network_register(void)
{
    api_register_generic(C_network, MK_DESTROY, network_destroy);
}
