/* Unit tests of the OpenFlow rules of VIF locking (networkd/flows.c): a
 * bridge without locked or disabled VIFs has no table of networkd's; a
 * locked VIF may send only from its MAC and allowed addresses (XCP's
 * rules and priorities); a disabled one nothing; VIFs of a VLAN count on
 * its parent bridge; and the table ends with the plain switch. Tables
 * are installed by several ovs-ofctl at a time (a stand-in script here),
 * each with its own result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/jsonrpc.h"
#include "lib/util.h"
#include "networkd/config.h"
#include "networkd/flows.h"

typedef struct jsonrpc_error *(*setter_fn)(json_object *doc, json_object *p,
                                           const struct cfg_check *c);

static void apply(json_object *doc, setter_fn fn, const char *params)
{
    json_object *p = json_tokener_parse(params);
    assert_non_null(p);
    struct jsonrpc_error *e = fn(doc, p, NULL);
    if (e)
        fail_msg("%s refused: %s", params, e->app_code ? e->app_code : e->message);
    json_object_put(p);
}

static json_object *doc_with_vlan(void)
{
    json_object *doc = cfg_new();
    apply(doc, cfg_bridge_set, "{\"name\": \"xenbr0\"}");
    apply(doc, cfg_bridge_set, "{\"name\": \"xenbr1\"}");
    apply(doc, cfg_vlan_set, "{\"bridge\": \"xapi1\", \"parent_bridge\": \"xenbr0\", \"tag\": 5}");
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xenbr1\", \"name\": \"vif1.0\", \"mac\": "
          "\"00:16:3e:00:00:01\", \"locking_mode\": \"unlocked\"}");
    return doc;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_no_table_without_locked_vifs(void **state)
{
    (void)state;
    json_object *doc = doc_with_vlan();
    assert_null(flows_for_bridge(doc, "xenbr0"));
    assert_null(flows_for_bridge(doc, "xenbr1"));
    assert_null(flows_for_bridge(doc, "nosuch"));
    json_object_put(doc);
}

static void test_locked_vif_sends_only_from_what_it_is_allowed(void **state)
{
    (void)state;
    json_object *doc = doc_with_vlan();
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xapi1\", \"name\": \"vif2.0\", \"mac\": \"00:16:3e:00:00:02\", "
          "\"locking_mode\": \"locked\", \"ipv4_allowed\": [\"10.0.0.2\", \"10.0.0.3\"], "
          "\"ipv6_allowed\": [\"fd00::2\"]}");
    /* On the VLAN's parent, where its port is. */
    assert_null(flows_for_bridge(doc, "xenbr1"));
    char *t = flows_for_bridge(doc, "xenbr0");
    assert_non_null(t);
    assert_non_null(strstr(t, "priority=8000,in_port=\"vif2.0\",udp,dl_src=00:16:3e:00:00:02,"
                              "tp_dst=67,actions=normal\n"));
    assert_non_null(strstr(t, "arp_spa=0.0.0.0,actions=normal"));
    assert_non_null(strstr(t, "priority=6000,in_port=\"vif2.0\",ip,dl_src=00:16:3e:00:00:02,"
                              "nw_src=10.0.0.3,actions=normal\n"));
    assert_int_equal(count(t, ",ip,"), 2);
    assert_int_equal(count(t, "ipv6_src=fd00::2"), 5);
    assert_non_null(strstr(t, "icmp_type=134,actions=drop"));
    assert_non_null(strstr(t, "priority=4000,in_port=\"vif2.0\",actions=drop\n"));
    /* Nothing of an unlocked VIF; the plain switch last. */
    assert_null(strstr(t, "vif1.0"));
    size_t len = strlen(t);
    const char *tail = "priority=0,actions=normal\n";
    assert_true(len > strlen(tail) && streq(t + len - strlen(tail), tail));
    free(t);
    json_object_put(doc);
}

static void test_disabled_vif_sends_nothing(void **state)
{
    (void)state;
    json_object *doc = doc_with_vlan();
    apply(doc, cfg_vif_plug,
          "{\"bridge\": \"xenbr1\", \"name\": \"vif1.0\", \"mac\": "
          "\"00:16:3e:00:00:01\", \"locking_mode\": \"disabled\", "
          "\"ipv4_allowed\": [\"10.0.0.9\"]}");
    char *t = flows_for_bridge(doc, "xenbr1");
    assert_non_null(t);
    assert_string_equal(t, "priority=4000,in_port=\"vif1.0\",actions=drop\n"
                           "priority=0,actions=normal\n");
    free(t);
    json_object_put(doc);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return f ? xstrdup(buf) : NULL;
}

/* A stand-in ovs-ofctl: keeps the flow file it is given under the target
 * socket's name, and fails, saying why, for bridge "bad". */
static void test_tables_are_installed_together_each_with_its_result(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-networkd-flows-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *ofctl = xasprintf("%s/ofctl", dir);
    FILE *f = fopen(ofctl, "we");
    assert_non_null(f);
    /* args: -t 30 -O OpenFlow14 --bundle replace-flows unix:<dir>/<br>.mgmt <file> */
    fprintf(f, "#!/bin/sh\n"
               "[ \"$5\" = --bundle ] && [ \"$6\" = replace-flows ] || exit 3\n"
               "t=${7#unix:}\n"
               "case \"$t\" in */bad.mgmt) echo \"bad: no such bridge\" >&2; exit 1;; esac\n"
               "cp \"$8\" \"$t.got\"\n");
    fclose(f);
    assert_int_equal(chmod(ofctl, 0700), 0);

    struct flows_job jobs[12];
    char names[12][16];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof(names[i]), i == 5 ? "bad" : "br%d", i);
        jobs[i] = (struct flows_job){.bridge = names[i],
                                     .text = i % 2 ? "priority=0,actions=normal\n" : "odd\n"};
    }
    flows_apply_all(ofctl, dir, dir, jobs, 12, 4);
    for (int i = 0; i < 12; i++) {
        if (i == 5) {
            assert_int_equal(jobs[i].result, -EIO);
            assert_non_null(strstr(jobs[i].why, "bad: no such bridge"));
        } else {
            char *path = xasprintf("%s/%s.mgmt.got", dir, names[i]);
            char *got = slurp(path);
            assert_int_equal(jobs[i].result, 0);
            assert_null(jobs[i].why);
            assert_non_null(got);
            assert_string_equal(got, jobs[i].text);
            unlink(path);
            free(path);
            free(got);
        }
        free(jobs[i].why);
    }
    /* every child reaped, the flow and error files gone */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    unlink(ofctl);
    assert_int_equal(rmdir(dir), 0);
    free(ofctl);

    /* an ovs-ofctl that cannot be run */
    struct flows_job j = {.bridge = "br0", .text = "x\n"};
    flows_apply_all("/nonexistent/ovs-ofctl", "/tmp", "/tmp", &j, 1, 8);
    assert_true(j.result < 0);
    assert_non_null(j.why);
    free(j.why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_table_without_locked_vifs),
        cmocka_unit_test(test_locked_vif_sends_only_from_what_it_is_allowed),
        cmocka_unit_test(test_disabled_vif_sends_nothing),
        cmocka_unit_test(test_tables_are_installed_together_each_with_its_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
