/* Checking and finding the nics of a domain's configuration for hot-plug
 * (see nic.h): the rules of domain/create's nics elements, which both
 * backends apply before they change anything. */
#include "hypervisor/nic.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "lib/util.h"

static bool valid_mac(const char *s)
{
    if (strlen(s) != 17)
        return false;
    for (size_t i = 0; i < 17; i++)
        if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
            return false;
    /* the low bit of the first octet makes a group address: no NIC's */
    int first = isdigit((unsigned char)s[1]) ? s[1] - '0' : tolower((unsigned char)s[1]) - 'a' + 10;
    return !(first & 1);
}

/* A Linux interface name: 1..15 of [A-Za-z0-9_.-]. */
static bool valid_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    return true;
}

struct dm_error *dm_nic_check(json_object *o, const char *label, int *ret_devid)
{
    static const char *const allowed[] = {"devid", "mac", "bridge", "mtu", "script", NULL};
    json_object *devid, *mac, *bridge, *mtu, *script;
    struct dm_error *e;

    if (!o || !json_object_is_type(o, json_type_object))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s: an object expected", label);
    json_object_object_foreach(o, key, val)
    {
        (void)val;
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = streq(key, allowed[i]);
        if (!known)
            return dm_failf(DM_ERR_INVALID_PARAMS, "%s.%s: unknown member", label, key);
    }
    if ((e = dm_member(o, label, "devid", json_type_int, &devid)) ||
        (e = dm_member(o, label, "mac", json_type_string, &mac)) ||
        (e = dm_member(o, label, "bridge", json_type_string, &bridge)) ||
        (e = dm_member(o, label, "mtu", json_type_int, &mtu)) ||
        (e = dm_member(o, label, "script", json_type_string, &script)))
        return e;
    if (!devid)
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.devid: required", label);
    int64_t id = json_object_get_int64(devid);
    if (id < 0 || id > DM_NIC_MAX_DEVID)
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.devid: %lld is not in 0..%d", label,
                        (long long)id, DM_NIC_MAX_DEVID);
    if (mac && !valid_mac(json_object_get_string(mac)))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.mac: a unicast MAC aa:bb:cc:dd:ee:ff expected",
                        label);
    if (bridge && !valid_ifname(json_object_get_string(bridge)))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.bridge: a bridge name expected", label);
    if (mtu && (json_object_get_int64(mtu) < 68 || json_object_get_int64(mtu) > 65535))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.mtu: %lld is not in 68..65535", label,
                        (long long)json_object_get_int64(mtu));
    if (script && !*json_object_get_string(script))
        return dm_failf(DM_ERR_INVALID_PARAMS, "%s.script: a script name expected", label);
    *ret_devid = (int)id;
    return NULL;
}

json_object *dm_nics_find(json_object *nics, int devid)
{
    size_t n =
        nics && json_object_is_type(nics, json_type_array) ? json_object_array_length(nics) : 0;

    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(nics, i), *v;
        int64_t id = (int64_t)i;
        if (json_object_object_get_ex(o, "devid", &v) && json_object_is_type(v, json_type_int))
            id = json_object_get_int64(v);
        if (id == devid)
            return o;
    }
    return NULL;
}
