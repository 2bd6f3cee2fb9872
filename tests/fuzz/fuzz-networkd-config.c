/* libFuzzer target for what networkd takes from xapi: the configuration
 * document of config/replace and of its file (cfg_rebuild), and the params
 * of each change method (cfg_bridge_set... on a populated document, with
 * params of any JSON types, as the method table passes unlisted ones
 * through). The first byte chooses. Besides the sanitizers it checks what
 * the checks promise: a refusal leaves the document as it was, an accepted
 * document rebuilds to itself, and plan_build turns every accepted
 * document into a transaction, with one default gateway at most. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jsonrpc.h"
#include "lib/log.h"
#include "networkd/config.h"
#include "networkd/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct jsonrpc_error *(*setter_fn)(json_object *doc, json_object *p,
                                           const struct cfg_check *c);
typedef struct jsonrpc_error *(*remover_fn)(json_object *doc, json_object *p);

static const setter_fn setters[] = {cfg_bridge_set, cfg_port_set, cfg_vlan_set,
                                    cfg_bond_set,   cfg_ip_set,   cfg_vif_plug};
static const remover_fn removers[] = {cfg_bridge_remove, cfg_port_remove, cfg_vlan_remove,
                                      cfg_bond_remove,   cfg_ip_remove,   cfg_vif_unplug};

/* Names that start with "eth" are NICs. */
static bool nic_exists(const char *name, void *userdata)
{
    (void)userdata;
    return strncmp(name, "eth", 3) == 0;
}

static const struct cfg_check check = {.nic_exists = nic_exists};

static void must(json_object *doc, setter_fn fn, const char *params)
{
    json_object *p = json_tokener_parse(params);
    struct jsonrpc_error *e = fn(doc, p, &check);
    assert(!e);
    json_object_put(p);
}

static json_object *host_doc(void)
{
    json_object *doc = cfg_new();
    must(doc, cfg_bridge_set, "{\"name\": \"xenbr0\"}");
    must(doc, cfg_bridge_set, "{\"name\": \"xenbr1\", \"mtu\": 9000}");
    must(doc, cfg_port_set, "{\"bridge\": \"xenbr0\", \"name\": \"eth0\"}");
    must(doc, cfg_bond_set,
         "{\"bridge\": \"xenbr1\", \"name\": \"bond1\", \"members\": "
         "[\"eth2\", \"eth3\"], \"mode\": \"lacp\"}");
    must(doc, cfg_vlan_set, "{\"bridge\": \"xapi1\", \"parent_bridge\": \"xenbr0\", \"tag\": 42}");
    must(doc, cfg_vif_plug,
         "{\"bridge\": \"xapi1\", \"name\": \"vif1.0\", \"mac\": \"00:16:3e:00:00:01\"}");
    must(doc, cfg_ip_set, "{\"interface\": \"xenbr0\", \"ipv4\": {\"mode\": \"dhcp\"}}");
    return doc;
}

/* plan_build must take every document the checks accept, and one
 * interface at most holds the default route. */
static void plan(json_object *doc)
{
    int gateways = 0;
    json_object_object_foreach(cfg_section(doc, "ips"), name, ip)
    {
        json_object *gw = NULL;
        (void)name;
        json_object_object_get_ex(ip, "default_gateway", &gw);
        gateways += json_object_get_boolean(gw);
    }
    assert(gateways <= 1);
    static const char empty[] = "[{\"rows\": [{\"_uuid\": [\"uuid\", \"r\"], \"next_cfg\": 1}]},"
                                "{\"rows\": []}, {\"rows\": []}, {\"rows\": []}]";
    json_object *snap = json_tokener_parse(empty), *ops = NULL;
    int64_t next_cfg = 0;
    int r = plan_build(doc, snap, "system", &ops, &next_cfg);
    assert(r == 0 && ops && next_cfg == 2);
    json_object_put(ops);
    json_object_put(snap);
}

static void whole_document(json_object *in)
{
    json_object *out = NULL, *again = NULL;
    struct jsonrpc_error *e = cfg_rebuild(in, &check, &out);
    if (e) {
        assert(!out && e->message);
        jsonrpc_error_free(e);
        return;
    }
    e = cfg_rebuild(out, &check, &again);
    assert(!e);
    assert(strcmp(json_object_to_json_string(out), json_object_to_json_string(again)) == 0);
    plan(out);
    json_object_put(again);
    json_object_put(out);
}

static void one_change(unsigned which, json_object *params)
{
    json_object *doc = host_doc();
    char *before = strdup(json_object_to_json_string(doc));
    size_t n = sizeof(setters) / sizeof(setters[0]);
    struct jsonrpc_error *e = which % 2 ? removers[(which / 2) % n](doc, params)
                                        : setters[(which / 2) % n](doc, params, &check);
    if (e) {
        assert(strcmp(json_object_to_json_string(doc), before) == 0);
        jsonrpc_error_free(e);
    } else
        plan(doc);
    free(before);
    json_object_put(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        log_set_level("*", "err");
        quiet = true;
    }
    if (size < 1)
        return 0;
    json_tokener *tok = json_tokener_new_ex(32);
    json_object *in = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
    json_tokener_free(tok);
    if (!in)
        return 0;
    if (data[0] == 0xff)
        whole_document(in);
    else
        one_change(data[0], in);
    json_object_put(in);
    return 0;
}
