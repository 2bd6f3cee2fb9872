/* The network commands of xe (xe-cli.md 3.6, 3.9-3.12, 4.3): networks,
 * PIF addresses, VLANs, tunnels, bonds and VIFs. Each looks its objects up in the
 * order XCP's CLI does (so the first bad uuid is the one reported), parses
 * enum and integer parameters as XCP does, runs the API message XCP runs
 * through cli_call, and prints what XCP prints: the uuid of what it made,
 * records, or nothing. The commands that only call one message on one
 * object (pif-plug, host-management-reconfigure, ...) are entries of ops.c's
 * table; the table of these is at the end of the file. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "cli.h"
#include "lib/strlist.h"
#include "lib/util.h"
#include "xapi-c/api.h"
#include "xapi-c/db.h"
#include "xapi-c/model.h"

#define PARAMS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *tf(bool b)
{
    return b ? "true" : "false";
}

/* The value of the first argument whose name is name in any case (XCP
 * reads pif-reconfigure-ip's IP and DNS so: ip= and dns= work too). */
static const char *arg_anycase(const struct cli_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->n_args; i++)
        if (strcasecmp(ctx->args[i].name, name) == 0)
            return ctx->args[i].value;
    return NULL;
}

static const char *arg_or_empty(const struct cli_ctx *ctx, const char *name)
{
    const char *v = cli_arg(ctx, name);
    return v ? v : "";
}

/* An integer parameter as OCaml's Int64.of_string reads it (decimal, or
 * 0x/0o/0b prefixed, optional sign, '_' allowed after the first digit);
 * false if it is not one. */
static bool parse_int64(const char *s, long long *ret)
{
    char buf[80];
    size_t n = 0;
    const char *p = s;
    int base = 10;
    char *end;

    if (*p == '-' || *p == '+')
        buf[n++] = *p++;
    if (p[0] == '0' && p[1] && strchr("xXoObB", p[1])) {
        base = strchr("xX", p[1]) ? 16 : strchr("oO", p[1]) ? 8 : 2;
        p += 2;
    }
    if (!isalnum((unsigned char)*p))
        return false;
    for (; *p && n < sizeof(buf) - 1; p++)
        if (*p != '_')
            buf[n++] = *p;
    if (*p)
        return false;
    buf[n] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, base);
    if (errno || *end)
        return false;
    *ret = v;
    return true;
}

/* ---- networks ---- */

static int cmd_network_create(struct cli_ctx *ctx)
{
    const char *mtu_text = cli_arg(ctx, "MTU");
    _cleanup_free_ char *mtu = NULL;
    long long v;

    if (mtu_text) {
        /* XCP parses MTU with Int64.of_string; its failure is an internal
         * error there. */
        if (!parse_int64(mtu_text, &v))
            return cli_fail_api(ctx, api_failf(INTERNAL_ERROR, "Failure: Int64.of_string"));
        mtu = xasprintf("%lld", v);
    } else
        mtu = xstrdup("1500");
    const struct cli_fv fv[] = {
        {FIDX(network, name_label), cli_arg(ctx, "name-label")},
        {FIDX(network, name_description), arg_or_empty(ctx, "name-description")},
        {FIDX(network, MTU), mtu},
        {FIDX(network, other_config), "{}"},
        {FIDX(network, bridge), arg_or_empty(ctx, "bridge")},
        {FIDX(network, managed), tf(cli_arg_bool(ctx, "managed", true))},
        {FIDX(network, tags), "[]"},
    };
    return cli_create_print(ctx, C_network, fv, ELEMENTSOF(fv));
}

/* ---- PIFs ---- */

static int cmd_pif_reconfigure_ip(struct cli_ctx *ctx)
{
    _cleanup_free_ char *pif = cli_ref_arg(ctx, C_PIF, "uuid");
    const char *mode, *ip = arg_anycase(ctx, "IP"), *dns = arg_anycase(ctx, "DNS");

    if (!pif || !(mode = cli_enum_arg(ctx, "ip_configuration_mode", cli_arg(ctx, "mode"))))
        return 1;
    struct api_error *e =
        cli_call(ctx, "PIF.reconfigure_ip",
                 (const char *const[]){pif, mode, ip ? ip : "", arg_or_empty(ctx, "netmask"),
                                       arg_or_empty(ctx, "gateway"), dns ? dns : ""},
                 6, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_pif_reconfigure_ipv6(struct cli_ctx *ctx)
{
    _cleanup_free_ char *pif = cli_ref_arg(ctx, C_PIF, "uuid");
    const char *mode, *ip = arg_anycase(ctx, "IPv6"), *dns = arg_anycase(ctx, "DNS");

    if (!pif || !(mode = cli_enum_arg(ctx, "ipv6_configuration_mode", cli_arg(ctx, "mode"))))
        return 1;
    struct api_error *e =
        cli_call(ctx, "PIF.reconfigure_ipv6",
                 (const char *const[]){pif, mode, ip ? ip : "", arg_or_empty(ctx, "gateway"),
                                       dns ? dns : ""},
                 5, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_pif_set_primary_address_type(struct cli_ctx *ctx)
{
    _cleanup_free_ char *pif = cli_ref_arg(ctx, C_PIF, "uuid");
    const char *t;

    if (!pif ||
        !(t = cli_enum_arg(ctx, "primary_address_type", cli_arg(ctx, "primary_address_type"))))
        return 1;
    struct api_error *e =
        cli_call(ctx, "PIF.set_primary_address_type", (const char *const[]){pif, t}, 2, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_pif_introduce(struct cli_ctx *ctx)
{
    _cleanup_free_ char *host = cli_ref_arg(ctx, C_host, "host-uuid"), *pif = NULL;

    if (!host)
        return 1;
    struct api_error *e =
        cli_call_str(ctx, "PIF.introduce",
                     (const char *const[]){host, arg_or_empty(ctx, "mac"), cli_arg(ctx, "device"),
                                           tf(cli_arg_bool(ctx, "managed", true))},
                     4, &pif);
    if (e)
        return cli_fail_api(ctx, e);
    return cli_print_new(ctx, C_PIF, pif);
}

/* ---- VLANs ---- */

/* The tag of vlan=; prints XCP's error when it is not an integer. */
static int vlan_arg(struct cli_ctx *ctx, char **ret)
{
    long long v;
    if (!parse_int64(cli_arg(ctx, "vlan"), &v))
        return cli_fail(ctx, "Failed to parse parameter 'vlan': expecting an integer");
    *ret = xasprintf("%lld", v);
    return 0;
}

static int cmd_vlan_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *net = cli_ref_arg(ctx, C_network, "network-uuid");
    _cleanup_free_ char *pif = net ? cli_ref_arg(ctx, C_PIF, "pif-uuid") : NULL;
    _cleanup_free_ char *tag = NULL, *vlan = NULL;

    if (!pif || vlan_arg(ctx, &tag))
        return 1;
    struct api_error *e =
        cli_call_str(ctx, "VLAN.create", (const char *const[]){pif, tag, net}, 3, &vlan);
    if (e)
        return cli_fail_api(ctx, e);
    /* XCP prints the new VLAN PIF, not the VLAN object. */
    _cleanup_free_ char *untagged = cli_field_of(C_VLAN, vlan, FIDX(VLAN, untagged_PIF));
    if (!untagged)
        return cli_fail_api(ctx, api_fail(HANDLE_INVALID, "VLAN", vlan));
    return cli_print_new(ctx, C_PIF, untagged);
}

/* A JSON array of strings (refs) as newly allocated strings; -1 if the text
 * is not one. */
static int json_refs(const char *json, char ***ret, size_t *ret_n)
{
    struct strlist_iter it;
    const char *k, *v;
    char **refs = NULL;
    size_t n = 0;

    /* The canonical text of a ref set is a JSON array of strings. */
    if (!json || json[0] != '[')
        return -1;
    strlist_iter_init(&it, json);
    while (strlist_iter_next(&it, &k, &v)) {
        refs = xrealloc(refs, (n + 1) * sizeof(char *));
        refs[n++] = xstrdup(v);
    }
    strlist_iter_done(&it);
    *ret = refs;
    *ret_n = n;
    return 0;
}

static int cmd_pool_vlan_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *net = cli_ref_arg(ctx, C_network, "network-uuid");
    _cleanup_free_ char *pif = net ? cli_ref_arg(ctx, C_PIF, "pif-uuid") : NULL;
    _cleanup_free_ char *tag = NULL, *json = NULL;
    char **refs;
    size_t n;

    if (!pif || vlan_arg(ctx, &tag))
        return 1;
    struct api_error *e =
        cli_call(ctx, "pool.create_VLAN_from_PIF", (const char *const[]){pif, net, tag}, 3, &json);
    if (e)
        return cli_fail_api(ctx, e);
    if (json_refs(json, &refs, &n) < 0)
        return cli_fail_api(ctx, api_failf(INTERNAL_ERROR, "cli: pool.create_VLAN_from_PIF did "
                                                           "not return a list"));
    for (size_t i = 0; i < n; i++) {
        cli_print_new(ctx, C_PIF, refs[i]);
        free(refs[i]);
    }
    free(refs);
    return 0;
}

/* vlan-destroy: a VLAN, or as XCP still allows, its VLAN PIF. XCP falls
 * back to the PIF when the VLAN lookup or its destroy fails for a reason
 * other than HANDLE_INVALID or HOST_OFFLINE, and reports the first error
 * when the uuid is no PIF's either. */
static int cmd_vlan_destroy(struct cli_ctx *ctx)
{
    const char *uuid = cli_arg(ctx, "uuid");
    _cleanup_free_ char *vlan = cli_ref_of(C_VLAN, uuid);
    struct api_error *e = vlan ? cli_call(ctx, "VLAN.destroy", (const char *const[]){vlan}, 1, NULL)
                               : api_fail(UUID_INVALID, model_classes[C_VLAN].name, uuid);

    if (!e)
        return 0;
    if (streq(e->code, "HANDLE_INVALID") || streq(e->code, "HOST_OFFLINE"))
        return cli_fail_api(ctx, e);
    _cleanup_free_ char *pif = cli_ref_of(C_PIF, uuid);
    if (!pif)
        return cli_fail_api(ctx, e);
    api_error_free(e);
    e = cli_call(ctx, "PIF.destroy", (const char *const[]){pif}, 1, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* ---- tunnels ---- */

static int cmd_tunnel_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *net = cli_ref_arg(ctx, C_network, "network-uuid");
    _cleanup_free_ char *pif = net ? cli_ref_arg(ctx, C_PIF, "pif-uuid") : NULL;
    _cleanup_free_ char *tunnel = NULL;
    const char *proto = cli_arg(ctx, "protocol");

    if (!pif || !(proto = cli_enum_arg(ctx, "tunnel_protocol", proto ? proto : "gre")))
        return 1;
    struct api_error *e =
        cli_call_str(ctx, "tunnel.create", (const char *const[]){pif, net, proto}, 3, &tunnel);
    if (e)
        return cli_fail_api(ctx, e);
    /* XCP prints the tunnel's access PIF. */
    _cleanup_free_ char *access = cli_field_of(C_tunnel, tunnel, FIDX(tunnel, access_PIF));
    if (!access)
        return cli_fail_api(ctx, api_fail(HANDLE_INVALID, "tunnel", tunnel));
    return cli_print_new(ctx, C_PIF, access);
}

/* ---- bonds ---- */

/* The bond mode of mode= as XCP reads it: any case, empty for the default;
 * NULL after printing its error. */
static const char *bond_mode_arg(struct cli_ctx *ctx)
{
    static const char *const modes[] = {"balance-slb", "active-backup", "lacp"};
    const char *m = arg_or_empty(ctx, "mode");

    if (!*m)
        return modes[0];
    for (size_t i = 0; i < ELEMENTSOF(modes); i++)
        if (strcasecmp(m, modes[i]) == 0)
            return modes[i];
    _cleanup_free_ char *lower = xstrdup(m);
    for (char *p = lower; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    cli_fail(ctx, "Invalid bond mode. Got %s", lower);
    return NULL;
}

static int cmd_bond_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *net = cli_ref_arg(ctx, C_network, "network-uuid");
    _cleanup_free_ char *props = cli_read_map(ctx, "properties", false), *bond = NULL;
    const char *mode;
    struct strbuf members;
    int r = 1;

    if (!net)
        return 1;
    /* pif-uuids is split at every comma, as XCP does: an empty item is an
     * invalid uuid. */
    strbuf_init(&members, 128);
    strbuf_addc(&members, '[');
    const char *p = cli_arg(ctx, "pif-uuids");
    for (bool first = true;; first = false) {
        const char *comma = strchr(p, ',');
        _cleanup_free_ char *uuid = comma ? xstrndup(p, (size_t)(comma - p)) : xstrdup(p);
        _cleanup_free_ char *ref = cli_ref_of(C_PIF, uuid);
        if (!ref) {
            cli_fail_api(ctx, api_fail(UUID_INVALID, "PIF", uuid));
            goto out;
        }
        if (!first)
            strbuf_addc(&members, ',');
        strlist_add_quoted(&members, ref, strlen(ref));
        if (!comma)
            break;
        p = comma + 1;
    }
    strbuf_addc(&members, ']');
    if (!(mode = bond_mode_arg(ctx)))
        goto out;
    struct api_error *e = cli_call_str(
        ctx, "Bond.create",
        (const char *const[]){net, members.buf, arg_or_empty(ctx, "mac"), mode, props}, 5, &bond);
    if (e) {
        cli_fail_api(ctx, e);
        goto out;
    }
    r = cli_print_new(ctx, C_Bond, bond);
out:
    strbuf_done(&members);
    return r;
}

static int cmd_bond_set_mode(struct cli_ctx *ctx)
{
    _cleanup_free_ char *bond = cli_ref_arg(ctx, C_Bond, "uuid");
    const char *mode;

    if (!bond || !(mode = bond_mode_arg(ctx)))
        return 1;
    struct api_error *e =
        cli_call(ctx, "Bond.set_mode", (const char *const[]){bond, mode}, 2, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* ---- VIFs ---- */

/* mac=random: a locally administered unicast MAC made here, as XCP's CLI
 * makes it: one random byte in all six octets, the first one adjusted. */
static char *random_mac(void)
{
    unsigned char b = 0;
    if (getrandom(&b, 1, 0) != 1)
        b = (unsigned char)(now_monotonic() * 1e6);
    unsigned first = (b | 0x02u) & ~0x01u;
    return xasprintf("%02x:%02x:%02x:%02x:%02x:%02x", first, b, b, b, b, b);
}

static int cmd_vif_create(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vm = cli_ref_arg(ctx, C_VM, "vm-uuid");
    _cleanup_free_ char *net = vm ? cli_ref_arg(ctx, C_network, "network-uuid") : NULL;
    _cleanup_free_ char *mac = NULL, *mtu = NULL;
    const char *m = arg_or_empty(ctx, "mac");

    if (!net)
        return 1;
    mac = streq(m, "random") ? random_mac() : xstrdup(m);
    if (!(mtu = cli_field_of(C_network, net, FIDX(network, MTU))))
        return cli_fail_api(ctx, api_fail(HANDLE_INVALID, "network", net));
    const struct cli_fv fv[] = {
        {FIDX(VIF, device), cli_arg(ctx, "device")},
        {FIDX(VIF, network), net},
        {FIDX(VIF, VM), vm},
        {FIDX(VIF, MAC), mac},
        {FIDX(VIF, MTU), mtu},
        {FIDX(VIF, other_config), "{}"},
        {FIDX(VIF, currently_attached), "false"},
        {FIDX(VIF, qos_algorithm_type), ""},
        {FIDX(VIF, qos_algorithm_params), "{}"},
        {FIDX(VIF, locking_mode), "network_default"},
        {FIDX(VIF, ipv4_allowed), "[]"},
        {FIDX(VIF, ipv6_allowed), "[]"},
    };
    return cli_create_print(ctx, C_VIF, fv, ELEMENTSOF(fv));
}

static int cmd_vif_move(struct cli_ctx *ctx)
{
    _cleanup_free_ char *vif = cli_ref_arg(ctx, C_VIF, "uuid");
    _cleanup_free_ char *net = vif ? cli_ref_arg(ctx, C_network, "network-uuid") : NULL;

    if (!net)
        return 1;
    struct api_error *e = cli_call(ctx, "VIF.move", (const char *const[]){vif, net}, 2, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

/* vif-configure-ipv4 / -ipv6: a static mode needs an address. */
static int vif_configure(struct cli_ctx *ctx, const char *enum_name, const char *wire)
{
    _cleanup_free_ char *vif = cli_ref_arg(ctx, C_VIF, "uuid");
    const char *mode, *address = arg_or_empty(ctx, "address");

    if (!vif || !(mode = cli_enum_arg(ctx, enum_name, cli_arg(ctx, "mode"))))
        return 1;
    if (streq(mode, "Static") && !*address)
        return cli_fail(ctx, "Required parameter not found: address");
    struct api_error *e =
        cli_call(ctx, wire, (const char *const[]){vif, mode, address, arg_or_empty(ctx, "gateway")},
                 4, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

static int cmd_vif_configure_ipv4(struct cli_ctx *ctx)
{
    return vif_configure(ctx, "vif_ipv4_configuration_mode", "VIF.configure_ipv4");
}

static int cmd_vif_configure_ipv6(struct cli_ctx *ctx)
{
    return vif_configure(ctx, "vif_ipv6_configuration_mode", "VIF.configure_ipv6");
}

/* The VIFs of a VM, in the VM's order (newly allocated refs). */
static size_t vm_vifs(const char *vm, char ***ret)
{
    struct strbuf scratch;
    struct strlist_iter it;
    const char *k, *v;
    char **refs = NULL;
    size_t n = 0;

    strbuf_init(&scratch, 0);
    db_rdlock();
    const struct row *r = db_get(C_VM, vm);
    strlist_iter_init(&it, r ? db_value(r, FIDX(VM, VIFs), &scratch) : "[]");
    while (strlist_iter_next(&it, &k, &v)) {
        refs = xrealloc(refs, (n + 1) * sizeof(char *));
        refs[n++] = xstrdup(v);
    }
    strlist_iter_done(&it);
    db_unlock();
    strbuf_done(&scratch);
    *ret = refs;
    return n;
}

/* vm-vif-list: the VIFs of every VM the selectors pick (several without
 * --multiple, as in XCP), each a record of XCP's columns or of params=. */
static int cmd_vm_vif_list(struct cli_ctx *ctx)
{
    char **vms;
    size_t n_vms;

    /* XCP puts multiple=true first, where it wins over the user's. */
    ctx->args = xrealloc(ctx->args, (ctx->n_args + 1) * sizeof(*ctx->args));
    memmove(ctx->args + 1, ctx->args, ctx->n_args * sizeof(*ctx->args));
    ctx->args[0] = (struct cli_arg){xstrdup("multiple"), xstrdup("true")};
    ctx->n_args++;
    if (cli_select(ctx, cli_view_by_name("vm"), PARAMS("params"), false, &vms, &n_vms))
        return 1;
    for (size_t i = 0; i < n_vms; i++) {
        char **vifs;
        size_t n = vm_vifs(vms[i], &vifs);
        for (size_t j = 0; j < n; j++) {
            cli_print_object(ctx, "vif", vifs[j],
                             PARAMS("uuid", "device", "MAC", "network-uuid", "network-name-label",
                                    "vm-name-label"),
                             cli_arg(ctx, "params"));
            free(vifs[j]);
        }
        free(vifs);
        free(vms[i]);
    }
    free(vms);
    return 0;
}

/* XCP's command for a pool member in emergency mode (it lost its
 * master); the message refuses on any other host. */
static int cmd_host_emergency_management_reconfigure(struct cli_ctx *ctx)
{
    const char *iface = cli_arg(ctx, "interface");
    struct api_error *e = cli_call(ctx, "host.local_management_reconfigure",
                                   (const char *const[]){iface ? iface : ""}, 1, NULL);
    return e ? cli_fail_api(ctx, e) : 0;
}

const struct cli_cmd cli_network_cmds[] = {
    {"network-create", PARAMS("name-label"), PARAMS("name-description", "MTU", "bridge", "managed"),
     "Create a new network.", 0, cmd_network_create, -1, NULL},
    {"pif-reconfigure-ip", PARAMS("uuid", "mode"), PARAMS("IP", "netmask", "gateway", "DNS"),
     "Reconfigure the IP address settings on a PIF.", 0, cmd_pif_reconfigure_ip, -1,
     "PIF.reconfigure_ip"},
    {"pif-reconfigure-ipv6", PARAMS("uuid", "mode"), PARAMS("IPv6", "gateway", "DNS"),
     "Reconfigure the IPv6 address settings on a PIF.", 0, cmd_pif_reconfigure_ipv6, -1,
     "PIF.reconfigure_ipv6"},
    {"pif-set-primary-address-type", PARAMS("uuid", "primary_address_type"), NULL,
     "Change the primary address type used by this PIF.", 0, cmd_pif_set_primary_address_type, -1,
     "PIF.set_primary_address_type"},
    {"pif-introduce", PARAMS("host-uuid", "device"), PARAMS("mac", "managed"),
     "Create a new PIF object representing a physical interface on a host.", 0, cmd_pif_introduce,
     -1, "PIF.introduce"},
    {"vlan-create", PARAMS("pif-uuid", "vlan", "network-uuid"), NULL,
     "Create a new VLAN on a host.", 0, cmd_vlan_create, -1, "VLAN.create"},
    {"pool-vlan-create", PARAMS("pif-uuid", "vlan", "network-uuid"), NULL,
     "Create a new VLAN on each host in a pool.", 0, cmd_pool_vlan_create, -1,
     "pool.create_VLAN_from_PIF"},
    {"vlan-destroy", PARAMS("uuid"), NULL, "Destroy a VLAN.", 0, cmd_vlan_destroy, -1,
     "VLAN.destroy"},
    {"tunnel-create", PARAMS("pif-uuid", "network-uuid"), PARAMS("protocol"),
     "Create a new tunnel on a host.", 0, cmd_tunnel_create, -1, "tunnel.create"},
    {"bond-create", PARAMS("network-uuid", "pif-uuids"), PARAMS("mac", "mode", "properties:"),
     "Create a bonded interface from a list of existing PIF objects.", 0, cmd_bond_create, -1,
     "Bond.create"},
    {"bond-set-mode", PARAMS("uuid", "mode"), NULL, "Change the bond mode.", 0, cmd_bond_set_mode,
     -1, "Bond.set_mode"},
    {"vif-create", PARAMS("device", "network-uuid", "vm-uuid"), PARAMS("mac"),
     "Create a VIF. Appropriate values for the device are listed in the parameter "
     "'allowed-VIF-devices' on the VM. If specified, the MAC parameter is of the form "
     "aa:bb:cc:dd:ee:ff. If MAC is not specified the server will choose an appropriate MAC "
     "automatically.",
     0, cmd_vif_create, -1, NULL},
    {"vif-move", PARAMS("uuid", "network-uuid"), NULL, "Move the VIF to another network.", 0,
     cmd_vif_move, -1, "VIF.move"},
    {"vif-configure-ipv4", PARAMS("uuid", "mode"), PARAMS("address", "gateway"),
     "Configure IPv4 settings on a VIF.", 0, cmd_vif_configure_ipv4, -1, "VIF.configure_ipv4"},
    {"vif-configure-ipv6", PARAMS("uuid", "mode"), PARAMS("address", "gateway"),
     "Configure IPv6 settings on a VIF.", 0, cmd_vif_configure_ipv6, -1, "VIF.configure_ipv6"},
    {"host-emergency-management-reconfigure", PARAMS("interface"), NULL,
     "Reconfigure the management interface of this node: only use if the node is in emergency "
     "mode.",
     0, cmd_host_emergency_management_reconfigure, -1, "host.local_management_reconfigure"},
    {"vm-vif-list", NULL, NULL, "List the VIFs present on selected VM.", CMD_VM_SEL | CMD_STANDARD,
     cmd_vm_vif_list, -1, NULL},
    {NULL, NULL, NULL, NULL, 0, NULL, -1, NULL},
};
